import { PermanentError } from '../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase-runner';
import { sshKeyParameterName, type Job } from '../job';
import type { RescueParams } from '../ports';

const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/**
 * Run the rescue script on the helper through Run Command. SendCommand takes no idempotency token:
 * a command already sent for this job is found by its comment before a new one is sent. The
 * private key is made and stored on the helper; only the public key and a fingerprint come back.
 */
export async function runRescue(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const target = job.target!;
  const helperId = job.resources.helperInstanceId!;
  const params: RescueParams = {
    jobId: job.jobId,
    helperInstanceId: helperId,
    targetInstanceId: job.instanceId,
    platform: target.platform,
    volumeId: target.rootVolumeId,
    parameterName: sshKeyParameterName(job.instanceId),
    keyType: job.request.keyType,
  };
  let commandId = job.resources.rescueCommandId ?? (await ports.rescue.find(params));
  if (!commandId) {
    await assertBackupUsable(job, ports);
    commandId = await ports.rescue.start(params);
  }
  const sent = commandId;
  const record = (draft: Job) => {
    draft.resources.rescueCommandId = sent;
  };
  if (!job.resources.rescueCommandId) return wait('rescue script to run', record);

  const result = await ports.rescue.result(sent, helperId);
  if (!result || RUNNING.has(result.status)) return wait(`rescue script to finish (${result?.status ?? 'not yet known to SSM'})`);
  const summary = result.summary;
  if (result.status !== 'Success' || !summary?.ok) {
    const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
    throw new PermanentError(`RESCUE_${code}`, summary?.message ?? `rescue script ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`);
  }
  return done((draft) => {
    if (target.platform === 'linux') {
      draft.outputs.sshKeyParameter = params.parameterName;
      draft.outputs.sshKeyFingerprint = summary.fingerprint;
      draft.outputs.usersWithNewKey = summary.users?.map((u) => u.user);
    }
  });
}

/** The script changes the customer's volume: never without a backup that can still succeed. */
async function assertBackupUsable(job: Job, ports: PhasePorts): Promise<void> {
  const imageId = job.resources.backupImageId;
  const image = imageId ? await ports.compute.describeImage(imageId) : undefined;
  if (!image || image.state === 'failed' || image.state === 'error' || image.state === 'invalid' || image.state === 'deregistered') {
    throw new PermanentError('BACKUP_FAILED', `backup image ${imageId ?? '(none)'} is ${image?.state ?? 'missing'}${image?.stateReason ? ` (${image.stateReason})` : ''}; the volume was not changed`);
  }
}
