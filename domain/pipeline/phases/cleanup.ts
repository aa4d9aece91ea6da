import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { clientToken } from '../../naming';
import { heldOnHelper } from './ntfs-release';
import { jobHelperIds } from './volume-moves';

/** Terminate the helper. The backup (and password-enabled) AMIs are kept and reported. */
export async function cleanup(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  await terminateHelper(job, ports);
  return done();
}

/**
 * Terminates the job's helpers, each found by id or, if the id was never recorded (a crash right
 * after RunInstances), by its launch's ClientToken: the helper, and on a Windows fast path that fell
 * back the Linux helper and the Windows one (windows-fallback.ts). A helper that holds a volume its
 * job could not unmount is kept (ntfs-release.ts). TerminateInstances is idempotent by itself.
 */
export async function terminateHelper(job: Job, ports: PhasePorts): Promise<void> {
  const held = heldOnHelper(job);
  const ids = new Set(jobHelperIds(job));
  if (!job.resources.helperInstanceId) {
    const launched = await ports.compute.findInstanceByClientToken(clientToken(job.jobId, 'launch-helper'));
    if (launched) ids.add(launched.instanceId);
  }
  if (job.resources.windowsFallback && !job.resources.windowsFallback.helper) {
    const launched = await ports.compute.findInstanceByClientToken(clientToken(job.jobId, 'windows-fallback'));
    if (launched) ids.add(launched.instanceId);
  }
  for (const helperId of ids) if (helperId !== held) await ports.compute.terminateInstance(helperId);
}

declare module '../../job/job' {
  interface PhaseNames {
    cleanup: true;
  }
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
