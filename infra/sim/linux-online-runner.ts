import type { OnlineSuccess } from '../scripts/linux-rescue';
import { applyLinuxRescue, chooseKeyType, readSelinuxMode } from './linux-rescue-model';
import { readExportedVariables, type ScriptOutcome, type ScriptRun, type ScriptRunner } from './script-runners';
import { failed, SCRIPT_JOB_ID } from './linux-rescue-runner';
import { sshFingerprint } from './ssh-keys';

/** The variable whose export marks a command as the rescue script in online mode. */
export const LINUX_ONLINE_MARKER = 'RA_TARGET_ROOT';

const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [^\x00-\x1f]*)?$/;

/**
 * `infra/scripts/linux-rescue.sh` in online mode (`RA_TARGET_ROOT`) as a model, run on the target
 * itself: the same input checks, the same refusal of an ed25519 key by an OpenSSH older than 6.5,
 * and `applyLinuxRescue`'s edits to the instance's own root volume (the running system's `/`).
 * No device, no mount, no key generation, no Parameter Store: the service did those.
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
    const log: string[] = [];
    if (!SCRIPT_JOB_ID.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if (!root.startsWith('/')) return failed('INVALID_INPUT', 'RA_TARGET_ROOT must be an existing absolute directory', log);
    if (!PUBLIC_KEY.test(given)) return failed('INVALID_INPUT', 'RA_PUBLIC_KEY must be one OpenSSH public key line (ssh-ed25519 or ssh-rsa)', log);
    log.push(`ra: job ${jobId}: online on ${env.RA_TARGET_INSTANCE_ID ?? 'this instance'}, root ${root}`);
    const volume = host.findRootVolume(instanceId);
    if (!volume) return failed('ROOT_NOT_FOUND', 'the instance has no root filesystem the model can see', log);

    const [type = '', blob = ''] = given.split(' ');
    const keyType = type === 'ssh-ed25519' ? 'ed25519' : 'rsa';
    const comment = `reset-access-${jobId}`;
    const line = `${type} ${blob} ${comment}`;
    const result = applyLinuxRescue(volume.files, { publicKey: line, comment });
    if (result.error) return failed(result.error.code, result.error.message, log);
    log.push(`ra: users: ${result.users.map((u) => u.user).join(' ')}`);
    if (keyType === 'ed25519' && chooseKeyType(volume.files, 'ed25519') === 'rsa') {
      return failed('KEY_TYPE_UNSUPPORTED', "the instance's OpenSSH is older than 6.5: it cannot use an ed25519 key (ask for keyType rsa)", log);
    }
    host.writeVolumeFiles(volume.volumeId, result.files);
    const selinuxMode = readSelinuxMode(volume.files);
    const summary: OnlineSuccess = {
      ok: true,
      mode: 'online',
      root,
      selinux: { mode: selinuxMode, labelled: selinuxMode === 'enforcing' || selinuxMode === 'permissive' },
      users: result.users,
      keyType,
      fingerprint: sshFingerprint(blob),
      publicKey: line,
    };
    return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
  },
};
