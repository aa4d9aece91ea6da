import { definePhase, done, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { passwordImageName, serviceTags } from '../../naming';

/**
 * Windows: an AMI of the stopped target with password generation re-enabled (as the runbook keeps).
 * Made idempotent by its name, as the backup is (create-backup.ts).
 */
export async function createPasswordImage(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const name = passwordImageName(job.instanceId, job.jobId);
  const imageId =
    job.resources.passwordImageId ??
    (await ports.compute.createImage({
      instanceId: job.instanceId,
      name,
      description: `Password generation re-enabled by reset-access job ${job.jobId}`,
      tags: serviceTags('password-image', ports.config.deployment, { jobId: job.jobId, targetInstanceId: job.instanceId }),
    }));
  return done((draft) => {
    draft.resources.passwordImageId = imageId;
    draft.outputs.passwordEnabledImageId = imageId;
  });
}

declare module '../../job/job' {
  interface PhaseNames {
    'create-password-image': true;
  }
}

export const createPasswordImagePhase = definePhase({
  name: 'create-password-image',
  step: createPasswordImage,
  paths: ['offline'],
  platforms: ['windows'],
  after: ['reattach-root'],
  before: ['restore-target'],
  ports: [],
  grants: ['image-target'],
  pacedOnStart: 'createImage',
  deadlineSeconds: 30 * 60,
  wokenBy: [],
});
