import { WINDOWS_ONLINE_MODE, WINDOWS_RESCUE_SCRIPT_NAME, type WindowsOnlineSuccess } from '../scripts/windows-rescue';
import type { ScriptOutcome, ScriptRun, ScriptRunner } from './script-runners';
import { applyWindowsPasswordReset } from './windows-rescue-model';
import { failed, readPowerShellEnv } from './windows-rescue-runner';

/** The variable whose `$env:` assignment, set to `online`, marks a command as the script in online mode. */
export const WINDOWS_ONLINE_MARKER = 'RA_MODE';

/** Whether these command lines are the Windows script in online mode (`$env:RA_MODE = 'online'`). */
export function isWindowsOnlineCommand(commands: readonly string[]): boolean {
  return readPowerShellEnv(commands, 'RA_')[WINDOWS_ONLINE_MARKER] === WINDOWS_ONLINE_MODE;
}

/**
 * `infra/scripts/windows-rescue.ps1` in online mode as a model, run on the target itself: the same
 * input checks, and `applyWindowsPasswordReset(files, { online: true })` on the instance's own
 * root volume (the running system's `C:`). No disk, no partition, no signature, and no reboot:
 * the service reboots the instance through the EC2 API, and the boot (`bootWindows`) makes the
 * password.
 */
export const windowsOnlineRunner: ScriptRunner = {
  name: 'windows-online',
  documentName: 'AWS-RunPowerShellScript',
  matches: isWindowsOnlineCommand,
  // Reading and writing a few files (and, for EC2Launch v1, registering a task): no disk to wait for.
  durationMs: (timings) => timings.defaultScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readPowerShellEnv(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const targetInstanceId = env.RA_TARGET_INSTANCE_ID ?? '';
    const log: string[] = [];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if (!/^i-[0-9a-f]{8,32}$/.test(targetInstanceId)) return failed('INVALID_INPUT', 'RA_TARGET_INSTANCE_ID must look like i-0123456789abcdef0', log);
    log.push(`ra: job ${jobId}: online on ${targetInstanceId}, root C:\\`);

    const volume = host.findRootVolume(instanceId);
    if (!volume || volume.filesystem !== 'ntfs') {
      return failed('WINDOWS_VOLUME_NOT_FOUND', 'no Windows installation at C:\\ (no Windows\\System32\\config\\SYSTEM)', log);
    }
    const result = applyWindowsPasswordReset(volume.files, { online: true });
    if (result.error) return failed(result.error.code, result.error.message, log);
    if (result.filesChanged.length > 0 || result.filesRemoved.length > 0) host.writeVolumeFiles(volume.volumeId, result.files);
    for (const f of result.filesChanged) log.push(`ra: wrote ${f}`);
    for (const f of result.filesRemoved) log.push(`ra: removed ${f}`);
    const summary: WindowsOnlineSuccess = {
      ok: true,
      script: WINDOWS_RESCUE_SCRIPT_NAME,
      mode: WINDOWS_ONLINE_MODE,
      agents: result.agents,
      filesChanged: result.filesChanged,
      filesRemoved: result.filesRemoved,
      warnings: result.warnings,
    };
    return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
  },
};
