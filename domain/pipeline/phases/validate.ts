import { PermanentError } from '../../errors';
import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { optInRefusal, requiredOptInTags } from '../../preflight/opt-in';
import { freshPreflight, gatherPreflightFacts, refreshPreflightFacts, withAgentStatus } from '../../preflight/preflight';
import { decideMode } from '../../preflight/reset-mode';
import { rootDevice, snapshotTarget } from '../../preflight/validation';

/**
 * Validate: the target is checked again (the API checked it too, but time has passed) and what
 * rollback must restore is recorded. Nothing is changed. Moments after the API's preflight (the
 * usual case) only what may have changed since is read again (`refreshPreflightFacts`), and the
 * agent's state is the one the API saw; later, or without the API's record, everything is read.
 */
export async function validateTarget(job: Job, ports: PhasePorts<'networks' | 'online' | 'keys'>): Promise<PhaseResult> {
  const recorded = freshPreflight(job.preflight, ports.clock.now());
  const facts = recorded ? await refreshPreflightFacts(job.request, recorded, ports) : await gatherPreflightFacts(job.request, ports);
  if (!facts) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} does not exist`);
  // The tag may have gone since the start was admitted (or an event raced its removal): the job
  // fails here, before any change, rather than at the first call IAM refuses.
  const notOptedIn = optInRefusal(facts.instance, requiredOptInTags('api', ports.config));
  if (notOptedIn) throw new PermanentError('NOT_OPTED_IN', notOptedIn);
  // Online or the swap (reset-mode.ts), chosen again on the state read now. An online attempt whose
  // agent went away since the API asked fails and falls over to the swap (online-reset.ts).
  const online = withAgentStatus(ports.online, recorded?.agent);
  const decision = await decideMode(job.request, facts, { config: ports.config, online });
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

declare module '../../job/job' {
  interface PhaseNames {
    validate: true;
  }
}

export const validatePhase = definePhase({
  name: 'validate',
  step: validateTarget,
  paths: ['offline', 'online'],
  after: [],
  // The preflight: does the rescue VPC exist, is the root's KMS key usable, is the target's agent Online.
  ports: ['networks', 'online', 'keys'],
  grants: [],
  // Reads only; long enough for SQS to redeliver a delivery that crashed (test/infra/deploy/deadlines.test.ts).
  deadlineSeconds: 10 * 60,
  wokenBy: [],
});
