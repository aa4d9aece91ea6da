import { WINDOWS_ONLINE_MODE, WINDOWS_RESCUE_SCRIPT_NAME, type WindowsRescueFailure, type WindowsRescueSuccess } from '../scripts/windows-rescue';
import type { ScriptOutcome, ScriptRun, ScriptRunner } from './script-runners';
import { applyWindowsPasswordReset, type WindowsRescueErrorCode } from './windows-rescue-model';

/** The variable whose `$env:` assignment marks a command as the Windows rescue script. */
export const WINDOWS_RESCUE_MARKER = 'RA_VOLUME_ID';

/**
 * Reads `$env:NAME = 'value'` lines (PowerShell single-quoted strings, `''` for a quote inside)
 * from the command lines; only names matching `prefix` are kept, the first assignment wins.
 */
export function readPowerShellEnv(commands: readonly string[], prefix: string): Record<string, string> {
  const variables: Record<string, string> = {};
  const line = /^\s*\$env:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'((?:[^']|'')*)'\s*;?\s*$/;
  for (const text of commands.flatMap((c) => c.split(/\r?\n/))) {
    const m = line.exec(text);
    if (!m || !m[1].startsWith(prefix) || m[1] in variables) continue;
    variables[m[1]] = m[2].replace(/''/g, "'");
  }
  return variables;
}

/** The script's failure (either mode): its log on stderr, then the one-line JSON error on stdout, exit 1. */
export function failed(error: WindowsRescueErrorCode, message: string, log: string[]): ScriptOutcome {
  const summary: WindowsRescueFailure = { ok: false, script: WINDOWS_RESCUE_SCRIPT_NAME, error, message };
  return {
    status: 'Failed',
    stdout: `${JSON.stringify(summary)}\n`,
    stderr: [...log, `ra: error ${error}: ${message}`, ''].join('\n'),
    responseCode: 1,
  };
}

/**
 * `infra/scripts/windows-rescue.ps1` as a model, for `AWS-RunPowerShellScript` commands that set
 * `$env:RA_VOLUME_ID` and are not in online mode (`windows-online-runner.ts` runs those): the same input checks, the disk found only when the volume is attached to
 * this helper, the Windows partition checked, and the file edits of `applyWindowsPasswordReset`;
 * the same output (log lines on stderr, the one-line JSON summary on stdout). What it leaves out:
 * disk numbers, partitions and signatures (a `VolumeFiles` is the Windows partition already; the
 * model reports disk 1, partition 1, MBR, and no signature collision).
 */
export const windowsRescueRunner: ScriptRunner = {
  name: 'windows-rescue',
  documentName: 'AWS-RunPowerShellScript',
  matches: (commands) => {
    const env = readPowerShellEnv(commands, 'RA_');
    return WINDOWS_RESCUE_MARKER in env && env.RA_MODE !== WINDOWS_ONLINE_MODE;
  },
  durationMs: (timings) => timings.rescueScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readPowerShellEnv(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const volumeId = env.RA_VOLUME_ID ?? '';
    const device = env.RA_DEVICE || 'xvdf';
    const log: string[] = [];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if ((env.RA_MODE || 'offline') !== 'offline') return failed('INVALID_INPUT', "RA_MODE must be 'online' or 'offline' (or unset)", log);
    if (!/^vol-[0-9a-f]{8,32}$/.test(volumeId)) return failed('INVALID_INPUT', 'RA_VOLUME_ID must look like vol-0123456789abcdef0', log);
    if (!/^xvd[a-z]{1,2}$/.test(device)) return failed('INVALID_INPUT', 'RA_DEVICE must look like xvdf', log);
    log.push(`ra: job ${jobId}: looking for ${volumeId} of ${env.RA_TARGET_INSTANCE_ID ?? ''}`);

    const volume = host.findAttachedVolume(instanceId, volumeId);
    if (!volume) {
      const wait = env.RA_DEVICE_WAIT_SECONDS || '120';
      return failed('DISK_NOT_FOUND', `no disk for ${volumeId} after ${wait}s (serial number ${volumeId.replace('-', '')}, or AWS PV device ${device})`, log);
    }
    log.push('ra: found disk 1 (MBR, online)');
    if (volume.filesystem !== 'ntfs') {
      return failed(
        'WINDOWS_VOLUME_NOT_FOUND',
        `no Windows installation on ${volumeId} (partition 1: ${volume.filesystem}, no Windows\\System32\\config\\SYSTEM)`,
        log,
      );
    }
    const result = applyWindowsPasswordReset(volume.files);
    if (result.error) return failed(result.error.code, result.error.message, log);
    log.push('ra: Windows partition 1 at C:\\ra-rescue-' + jobId + '\\p1\\');
    if (result.filesChanged.length > 0 || result.filesRemoved.length > 0) host.writeVolumeFiles(volume.volumeId, result.files);
    for (const f of result.filesChanged) log.push(`ra: wrote ${f}`);
    for (const f of result.filesRemoved) log.push(`ra: removed ${f}`);
    const summary: WindowsRescueSuccess = {
      ok: true,
      script: WINDOWS_RESCUE_SCRIPT_NAME,
      volumeId,
      disk: { number: 1, partitionStyle: 'MBR', signatureCollision: false, signatureRestored: false },
      partition: 1,
      agents: result.agents,
      filesChanged: result.filesChanged,
      filesRemoved: result.filesRemoved,
      warnings: result.warnings,
    };
    return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
  },
};
