import { generateSshKeyPair } from '../aws/ssh-key-pair';
import { inspectPublicKeyLine, isLinuxUserName, type RescueErrorCode, type RescueFailure, type RescueSuccess } from '../scripts/linux-rescue';
import { applyLinuxRescue, chooseKeyType, type LinuxRescueModelResult } from './linux-rescue-model';
import { readExportedVariables, type ScriptOutcome, type ScriptRun, type ScriptRunner } from './script-runners';
import { SimServiceError } from './sim-error';

/** The variable whose export marks a command as the Linux rescue script. */
export const LINUX_RESCUE_MARKER = 'RA_VOLUME_ID';

/** Where a Nitro helper sees the swapped volume: the second NVMe disk, first partition. */
const DISK = '/dev/nvme1n1';
const PARTITION = '/dev/nvme1n1p1';

/** A job id the script accepts (it names files and the key's comment). */
export const SCRIPT_JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const BAD_USER_MESSAGE =
  "RA_USER must be a user name: lower-case letters, digits, '_', '-' (a final '$' allowed), starting with a letter or '_', at most 32 characters";

/** The script's failure: its log on stderr, then the one-line JSON error on stdout, exit 1. */
export function failed(error: RescueErrorCode, message: string, log: string[]): ScriptOutcome {
  const summary: RescueFailure = { ok: false, error, message };
  return {
    status: 'Failed',
    stdout: `${JSON.stringify(summary)}\n`,
    stderr: [...log, `ra: error ${error}: ${message}`, ''].join('\n'),
    responseCode: 1,
  };
}

/** The placement fields of a summary, from the model's result (which has no error). */
export function placementOf(result: LinuxRescueModelResult): Pick<RescueSuccess, 'selinux' | 'user' | 'userSource' | 'file' | 'added' | 'users'> {
  const p = result.placement;
  if (!p) throw new Error('the rescue model gave no placement');
  return { selinux: p.selinux, user: p.user, userSource: p.userSource, file: p.file, added: p.added, users: result.users };
}

/**
 * `infra/scripts/linux-rescue.sh` as a model, for `AWS-RunShellScript` commands that export
 * `RA_VOLUME_ID`: the same input checks, device lookup (the volume must be attached to this
 * helper), key choice (the caller's `RA_PUBLIC_KEY`, or a generated pair whose private half goes
 * to Parameter Store), order (checks, account and file chosen, key generated, private key stored,
 * key added) and output (log lines on stderr, the one-line JSON summary on stdout). The file edits
 * are `applyLinuxRescue`'s.
 */
export const linuxRescueRunner: ScriptRunner = {
  name: 'linux-rescue',
  documentName: 'AWS-RunShellScript',
  matches: (commands) => LINUX_RESCUE_MARKER in readExportedVariables(commands, 'RA_'),
  durationMs: (timings) => timings.rescueScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readExportedVariables(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const volumeId = env.RA_VOLUME_ID ?? '';
    const parameterName = env.RA_PARAMETER_NAME ?? '';
    const requestedKeyType = env.RA_KEY_TYPE || 'ed25519';
    const user = env.RA_USER || undefined;
    const given = env.RA_PUBLIC_KEY || undefined;
    const log: string[] = [];
    if (!SCRIPT_JOB_ID.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if (user !== undefined && !isLinuxUserName(user)) return failed('INVALID_INPUT', BAD_USER_MESSAGE, log);
    if (!/^vol-[0-9a-f]{8,32}$/.test(volumeId)) return failed('INVALID_INPUT', 'RA_VOLUME_ID must look like vol-0123456789abcdef0', log);
    if (given === undefined) {
      if (!parameterName.startsWith('/')) return failed('INVALID_INPUT', 'RA_PARAMETER_NAME must be an absolute parameter name', log);
      if (requestedKeyType !== 'ed25519' && requestedKeyType !== 'rsa') {
        return failed('INVALID_INPUT', 'RA_KEY_TYPE must be ed25519 or rsa', log);
      }
    }
    const caller = given === undefined ? undefined : inspectPublicKeyLine(given);
    if (caller && !caller.ok) return failed('INVALID_PUBLIC_KEY', caller.reason, log);
    log.push(`ra: job ${jobId}: looking for ${volumeId} of ${env.RA_TARGET_INSTANCE_ID ?? ''}`);

    const serial = volumeId.replace('-', '');
    const volume = host.findAttachedVolume(instanceId, volumeId);
    if (!volume) {
      const hints = env.RA_DEVICE_HINTS || '/dev/sdf /dev/xvdf';
      return failed('DEVICE_NOT_FOUND', `no block device for ${volumeId} after 0s (NVMe serial ${serial} under /dev/disk/by-id, or ${hints})`, log);
    }
    const device = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}`;
    log.push(`ra: root filesystem: ${PARTITION} (${volume.filesystem}) at /mnt/ra-${jobId}/root`);
    const common = { ok: true as const, volumeId, device, disk: DISK, partition: PARTITION, filesystem: volume.filesystem };

    if (caller?.ok && given !== undefined) {
      const result = applyLinuxRescue(volume.files, { publicKey: given, user, requireKeyType: caller.keyType });
      if (result.error) return failed(result.error.code, result.error.message, log);
      log.push(`ra: account: ${result.placement?.user} (${result.placement?.userSource})`);
      host.writeVolumeFiles(volume.volumeId, result.files);
      const summary: RescueSuccess = {
        ...common,
        ...placementOf(result),
        keySource: 'caller',
        keyType: caller.keyType,
        fingerprint: caller.fingerprint,
        publicKey: given,
      };
      return success(summary, log);
    }

    const keyType = chooseKeyType(volume.files, requestedKeyType as 'ed25519' | 'rsa');
    const comment = `reset-access-${jobId}`;
    const key = generateSshKeyPair(keyType, comment);
    const result = applyLinuxRescue(volume.files, { publicKey: key.publicKey, user });
    if (result.error) return failed(result.error.code, result.error.message, log);
    log.push(`ra: account: ${result.placement?.user} (${result.placement?.userSource})`);
    try {
      host.putSecureStringParameter(parameterName, key.privateKey, env.RA_KMS_KEY_ID || undefined);
    } catch (error) {
      const message =
        error instanceof SimServiceError ? `An error occurred (${error.code}) when calling the PutParameter operation: ${error.message}` : String(error);
      return failed('PARAMETER_STORE_REFUSED', `put-parameter ${parameterName} failed: ${message}`, log);
    }
    host.writeVolumeFiles(volume.volumeId, result.files);
    const summary: RescueSuccess = {
      ...common,
      ...placementOf(result),
      keySource: 'generated',
      parameterName,
      keyType,
      fingerprint: key.fingerprint,
      publicKey: key.publicKey,
    };
    return success(summary, log);
  },
};

function success(summary: object, log: string[]): ScriptOutcome {
  return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
}
