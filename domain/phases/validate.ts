import { PermanentError } from '../errors';
import { done, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job } from '../job';
import { gatherPreflightFacts } from '../preflight';
import { decideMode } from '../reset-mode';
import { rootDevice, snapshotTarget } from '../validation';

/**
 * Validate: the target is checked again (the API checked it too, but time has passed) and what
 * rollback must restore is recorded. Nothing is changed.
 */
export async function validateTarget(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const facts = await gatherPreflightFacts(job.request, ports);
  if (!facts) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} does not exist`);
  // Online or the swap (reset-mode.ts): the API chose too, but the agent or the state may have changed.
  const decision = await decideMode(job.request, facts, ports);
  if (decision.refusal) throw new PermanentError(decision.refusal.code, decision.refusal.message);
  const mode = decision.mode;
  if (mode.chosen === 'offline' && !facts.rootVolume) throw new PermanentError('ROOT_VOLUME_MISSING', 'the root volume could not be described');
  // Online needs no snapshot, but one taken now is what a fall-over to the swap restores.
  const target = facts.rootVolume && rootDevice(facts.instance) ? snapshotTarget(facts.instance, facts.rootVolume) : undefined;
  return done((draft) => {
    draft.platform = facts.instance.platform;
    if (target) draft.target = target;
    draft.mode = mode;
    draft.outputs.publicIpWillChange = mode.chosen === 'offline' && (target?.publicIpWillChange ?? false);
  });
}
