import { PermanentError } from '../errors';
import { done, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job } from '../job';
import { gatherPreflightFacts } from '../preflight';
import { refusals, snapshotTarget } from '../validation';

/**
 * Validate: the target is checked again (the API checked it too, but time has passed) and what
 * rollback must restore is recorded. Nothing is changed.
 */
export async function validateTarget(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const facts = await gatherPreflightFacts(job.request, ports);
  if (!facts) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} does not exist`);
  const refused = refusals(job.request, facts, ports.config);
  if (refused.length > 0) throw new PermanentError(refused[0]!.code, refused[0]!.message);
  if (!facts.rootVolume) throw new PermanentError('ROOT_VOLUME_MISSING', 'the root volume could not be described');
  const target = snapshotTarget(facts.instance, facts.rootVolume);
  return done((draft) => {
    draft.platform = target.platform;
    draft.target = target;
    draft.outputs.publicIpWillChange = target.publicIpWillChange;
  });
}
