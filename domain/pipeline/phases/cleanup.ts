import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job, JobOutputs } from '../../job/job';
import type { ImageFacts } from '../../ports';
import { clientToken } from '../../naming';
import { heldOnHelper } from './ntfs-release';
import { jobHelperIds } from './volume-moves';

/**
 * Terminate the helper. The backup (and password-enabled) AMIs are kept and reported, the backup
 * with the state it has now: run-rescue goes on while it is still pending (create-backup.ts), so
 * one that failed since is said plainly instead of being reported as a backup.
 */
export async function cleanup(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const backupId = job.resources.backupImageId;
  const backup = backupId ? await ports.compute.describeImage(backupId) : undefined;
  await terminateHelper(job, ports);
  if (!backupId) return done();
  return done((draft) => Object.assign(draft.outputs, backupOutcome(backupId, backup)));
}

/**
 * What the job says of its backup image: its state (`missing` when EC2 knows it no more) and, when
 * it failed or is gone, what that means for the owner. The sweeper writes it again for one that was
 * still pending (domain/sweeper/sweep-backups.ts).
 */
export function backupOutcome(imageId: string, image: ImageFacts | undefined): Pick<JobOutputs, 'backupImageState' | 'backupImageProblem'> {
  const state = image?.state ?? 'missing';
  if (state === 'available' || state === 'pending') return { backupImageState: state };
  const reason = image?.stateReason ? ` (${image.stateReason})` : '';
  return {
    backupImageState: state,
    backupImageProblem: `backup image ${imageId} is ${state}${reason}: it is no backup of the volume as it was before the reset; create an image of the instance now if you need one`,
  };
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
