import { sshFingerprint } from '../aws/ssh-key-pair';
import { inspectPublicKeyLine, isLinuxUserName, type OnlineSuccess, type RescueKeyType } from '../scripts/linux-rescue';
import { applyLinuxRescue } from './linux-rescue-model';
import { readExportedVariables, type ScriptOutcome, type ScriptRun, type ScriptRunner } from './script-runners';
import { BAD_USER_MESSAGE, failed, placementOf, SCRIPT_JOB_ID } from './linux-rescue-runner';

/** The variable whose export marks a command as the rescue script in online mode. */
export const LINUX_ONLINE_MARKER = 'RA_TARGET_ROOT';

const SERVICE_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( [^\x00-\x1f]*)?$/;

/**
 * `infra/scripts/linux-rescue.sh` in online mode (`RA_TARGET_ROOT`) as a model, run on the target
 * itself: the same input checks, the same refusal of a key type the instance's OpenSSH predates,
 * and `applyLinuxRescue`'s edits to the instance's own root volume (the running system's `/`).
 * No device, no mount, no key generation, no Parameter Store: the service did those, or the key
 * is the caller's own (`RA_KEY_SOURCE=caller`).
 */
export const linuxOnlineRunner: ScriptRunner = {
  name: 'linux-online',
  documentName: 'AWS-RunShellScript',
  matches: (commands) => LINUX_ONLINE_MARKER in readExportedVariables(commands, 'RA_'),
  // Reading a few files and appending a line: no keygen, no mount.
  durationMs: (timings) => timings.defaultScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readExportedVariables(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const root = env.RA_TARGET_ROOT ?? '';
    const given = env.RA_PUBLIC_KEY ?? '';
    const user = env.RA_USER || undefined;
    const source = env.RA_KEY_SOURCE || 'generated';
    const log: string[] = [];
    if (!SCRIPT_JOB_ID.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if (user !== undefined && !isLinuxUserName(user)) return failed('INVALID_INPUT', BAD_USER_MESSAGE, log);
    if (!root.startsWith('/')) return failed('INVALID_INPUT', 'RA_TARGET_ROOT must be an existing absolute directory', log);
    let line: string;
    let keyType: RescueKeyType;
    let fingerprint: string;
    if (source === 'caller') {
      const inspected = inspectPublicKeyLine(given);
      if (!inspected.ok) return failed('INVALID_PUBLIC_KEY', inspected.reason, log);
      line = given;
      keyType = inspected.keyType;
      fingerprint = inspected.fingerprint;
    } else if (source === 'generated') {
      if (!SERVICE_KEY.test(given)) {
        return failed('INVALID_INPUT', 'RA_PUBLIC_KEY must be one OpenSSH public key line (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)', log);
      }
      const [type = '', blob = ''] = given.split(' ');
      keyType = type === 'ssh-ed25519' ? 'ed25519' : type.startsWith('ecdsa-') ? 'ecdsa' : 'rsa';
      line = `${type} ${blob} reset-access-${jobId}`;
      fingerprint = sshFingerprint(blob);
    } else {
      return failed('INVALID_INPUT', 'RA_KEY_SOURCE must be caller or generated', log);
    }
    log.push(`ra: job ${jobId}: online on ${env.RA_TARGET_INSTANCE_ID ?? 'this instance'}, root ${root}`);
    const volume = host.findRootVolume(instanceId);
    if (!volume) return failed('ROOT_NOT_FOUND', 'the instance has no root filesystem the model can see', log);

    const result = applyLinuxRescue(volume.files, { publicKey: line, user, requireKeyType: keyType, mode: 'online' });
    if (result.error) {
      // The script finds an unlabelled file only after writing it.
      if (result.error.code === 'SELINUX_LABEL_FAILED') host.writeVolumeFiles(volume.volumeId, result.files);
      return failed(result.error.code, result.error.message, log);
    }
    log.push(`ra: account: ${result.placement?.user} (${result.placement?.userSource})`);
    host.writeVolumeFiles(volume.volumeId, result.files);
    const summary: OnlineSuccess = {
      ok: true,
      mode: 'online',
      root,
      ...placementOf(result),
      keySource: source === 'caller' ? 'caller' : 'generated',
      keyType,
      fingerprint,
      publicKey: line,
    };
    return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
  },
};
