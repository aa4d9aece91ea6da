import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { backupImageName, serviceTags } from '../../naming';

/**
 * Back up the stopped target as an AMI. CreateImage takes no ClientToken; the image's name (unique
 * per account and region, and per job here) makes it idempotent: a repeat is refused with
 * `InvalidAMIName.Duplicate` and the adapter answers the image that has the name (ec2-compute.ts),
 * so no lookup is needed before the call. An AMI is point-in-time at the call: the volume may be
 * detached while the image is still pending, so this phase does not wait for `available`
 * (run-rescue refuses to run if the image has failed).
 */
export async function createBackup(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const name = backupImageName(job.instanceId, job.jobId);
  const imageId =
    job.resources.backupImageId ??
    (await ports.compute.createImage({
      instanceId: job.instanceId,
      name,
      description: `Backup taken by reset-access job ${job.jobId} before its root volume was moved`,
      tags: serviceTags('backup-image', ports.config.deployment, { jobId: job.jobId, targetInstanceId: job.instanceId }),
    }));
  return done((draft) => {
    draft.resources.backupImageId = imageId;
    draft.outputs.backupImageId = imageId;
  });
}

declare module '../../job/job' {
  interface PhaseNames {
    'create-backup': true;
  }
}

export const createBackupPhase = definePhase({
  name: 'create-backup',
  step: createBackup,
  paths: ['offline'],
  after: ['stop-target'],
  ports: [],
  grants: ['image-target'],
  pacedOnStart: 'createImage',
  deadlineSeconds: 10 * 60,
  wokenBy: [],
});
