import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../job';
import { clientToken } from '../naming';

/** Terminate the helper. The backup (and password-enabled) AMIs are kept and reported. */
export async function cleanup(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  await terminateHelper(job, ports);
  return done();
}

/**
 * Terminates the job's helper, found by id or, if the id was never recorded (a crash right after
 * RunInstances), by the launch's ClientToken. TerminateInstances is idempotent by itself.
 */
export async function terminateHelper(job: Job, ports: PhasePorts): Promise<void> {
  const helperId =
    job.resources.helperInstanceId ?? (await ports.compute.findInstanceByClientToken(clientToken(job.jobId, 'launch-helper')))?.instanceId;
  if (helperId) await ports.compute.terminateInstance(helperId);
}

export const cleanupPhase = definePhase({
  name: 'cleanup',
  step: cleanup,
  paths: ['offline'],
  after: ['restore-target'],
  ports: [],
  grants: ['terminate-helper'],
  deadlineSeconds: 30 * 60,
  wokenBy: [],
});
