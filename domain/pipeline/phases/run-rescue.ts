import { PermanentError } from '../../errors';
import { definePhase, done, waitForEvent, type PhasePorts, type PhaseResult } from '../phase';
import { sshKeyParameterName, type Job, type JobOutputs } from '../../job/job';
import { lineFingerprint } from '../../key-placement';
import type { RescueParams, RescueResult, RescueSummary } from '../../ports';
import { helperPlatformOf } from './volume-moves';
import { agentNames, passwordRetrievalCommand } from './windows-outputs';

const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/**
 * Run the rescue script on the helper through Run Command. SendCommand takes no idempotency token:
 * a command already sent for this job is found by its comment before a new one is sent. The
 * private key is made and stored on the helper; only the public key and a fingerprint come back.
 * With the caller's own public key nothing is made or stored: the script only appends that line.
 * On Windows the script re-enables password generation; nothing secret exists at this point.
 */
export async function runRescue(job: Job, ports: PhasePorts<'rescue'>): Promise<PhaseResult> {
  const target = job.target!;
  const helperId = job.resources.helperInstanceId!;
  const { user, publicKey, kmsKeyId } = job.request;
  const params: RescueParams = {
    jobId: job.jobId,
    helperInstanceId: helperId,
    targetInstanceId: job.instanceId,
    platform: target.platform,
    volumeId: target.rootVolumeId,
    // The caller's own key: nothing is generated, so no parameter is named or written.
    ...(publicKey === undefined ? { parameterName: sshKeyParameterName(job.instanceId) } : { publicKey }),
    keyType: job.request.keyType,
    ...(user !== undefined ? { user } : {}),
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    // A Windows volume on a Linux helper: the NTFS rescue (the fast path, docs/ntfs-rescue.md).
    ...(target.platform === 'windows' && helperPlatformOf(job) === 'linux' ? { script: 'ntfs-rescue' as const } : {}),
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
  if (!job.resources.rescueCommandId) return waitForEvent('rescue script to run', record);

  const result = await ports.rescue.result(sent, helperId);
  if (!result || RUNNING.has(result.status)) return waitForEvent(`rescue script to finish (${result?.status ?? 'not yet known to SSM'})`);
  if (params.script === 'ntfs-rescue') return ntfsOutcome(job, result, ports);
  const summary = result.summary;
  if (result.status !== 'Success' || !summary?.ok) {
    const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
    throw new PermanentError(`RESCUE_${code}`, summary?.message ?? `rescue script ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`);
  }
  return done((draft) => {
    if (target.platform === 'linux') {
      Object.assign(draft.outputs, linuxOutputs(params, summary));
    } else {
      Object.assign(draft.outputs, windowsOutputs(job, summary, ports.config.region));
    }
  });
}

/**
 * What a Linux owner needs: the account, its file and the key's fingerprint, and where the private
 * half is only when the key was generated. A caller's key's fingerprint is the service's own
 * reading of it (the script's may be empty: an ssh-keygen older than 6.8 prints MD5 only).
 */
function linuxOutputs(params: RescueParams, summary: RescueSummary): Partial<JobOutputs> {
  return {
    ...(params.parameterName ? { sshKeyParameter: params.parameterName } : {}),
    sshKeyFingerprint: (params.publicKey !== undefined ? lineFingerprint(params.publicKey) : undefined) ?? summary.fingerprint,
    ...(summary.user ? { sshUser: summary.user } : {}),
    ...(summary.file ? { authorizedKeysFile: summary.file } : {}),
    usersWithNewKey: summary.users?.map((u) => u.user),
  };
}

/**
 * The NTFS rescue's end. Done: the Windows outputs, as the Windows helper's script gives them. A
 * refusal (`fallback: true`: BitLocker, dynamic disk, hibernated or unclean NTFS, a configuration
 * it does not understand…) hands the volume to the Windows helper (windows-fallback.ts), with the
 * reason in the job. An end that does not say the volume is unmounted (`UNMOUNT_FAILED`, a command
 * that failed, timed out or printed no summary) falls back too, but the volume leaves the Linux
 * helper only once a release says it is unmounted (ntfs-release.ts): detaching a volume still
 * mounted can corrupt it (docs/aws-facts.md#volumes). Only `INVALID_INPUT`, refused before anything
 * was mounted, fails the job: the input, or the helper image, is wrong.
 */
function ntfsOutcome(job: Job, result: RescueResult, ports: PhasePorts): PhaseResult {
  const summary = result.summary;
  if (result.status === 'Success' && summary?.ok) {
    return done((draft) => void Object.assign(draft.outputs, windowsOutputs(job, summary, ports.config.region)));
  }
  const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
  const reason = summary?.message ?? `the NTFS rescue command ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`;
  if (code === 'INVALID_INPUT') throw new PermanentError('RESCUE_INVALID_INPUT', `${reason}; the volume was not mounted`);
  const released = summary?.fallback === true;
  const at = ports.clock.now().toISOString();
  const helperId = job.resources.helperInstanceId!;
  return done((draft) => {
    draft.resources.windowsFallback = { code, reason, at, linuxHelperInstanceId: helperId, ...(released ? {} : { mayBeMounted: true }) };
  });
}

/**
 * What a Windows owner needs: which agents make the new password, how to read it (GetPasswordData
 * decrypts with the key pair the instance was launched with), and what else the next boot does.
 */
export function windowsOutputs(job: Job, summary: RescueSummary, region: string): Pick<JobOutputs, 'launchAgents' | 'passwordRetrieval' | 'rescueNotes'> {
  const warnings = Array.isArray(summary.warnings) ? summary.warnings.filter((w): w is string => typeof w === 'string') : [];
  const notes = [...warnings];
  if (job.target!.state === 'stopped') {
    notes.push(
      'The instance was stopped before the reset and stays stopped: the new password is made when it next starts (allow up to 15 minutes after the start).',
    );
  }
  notes.push(
    'Without the key pair the instance was launched with, launch the password-enabled image (passwordEnabledImageId) with a key pair you own instead.',
  );
  return {
    launchAgents: agentNames(summary),
    passwordRetrieval: passwordRetrievalCommand(job.instanceId, region),
    rescueNotes: notes,
  };
}

/** The script changes the customer's volume: never without a backup that can still succeed. */
export async function assertBackupUsable(job: Job, ports: PhasePorts): Promise<void> {
  const imageId = job.resources.backupImageId;
  const image = imageId ? await ports.compute.describeImage(imageId) : undefined;
  if (!image || image.state === 'failed' || image.state === 'error' || image.state === 'invalid' || image.state === 'deregistered') {
    throw new PermanentError(
      'BACKUP_FAILED',
      `backup image ${imageId ?? '(none)'} is ${image?.state ?? 'missing'}${image?.stateReason ? ` (${image.stateReason})` : ''}; the volume was not changed`,
    );
  }
}

declare module '../../job/job' {
  interface PhaseNames {
    'run-rescue': true;
  }
}

export const runRescuePhase = definePhase({
  name: 'run-rescue',
  step: runRescue,
  paths: ['offline'],
  after: ['attach-to-helper'],
  ports: ['rescue'],
  grants: ['run-rescue-command'],
  deadlineSeconds: 20 * 60,
  firstPollSeconds: 5,
  wokenBy: ['helper'],
});
