import {
  NTFS_RESCUE_HELPER,
  NTFS_RESCUE_MARKER,
  NTFS_RESCUE_SCRIPT_NAME,
  type NtfsRescueErrorCode,
  type NtfsRescueFailure,
  type NtfsRescueSuccess,
} from '../scripts/ntfs-rescue';
import { applyNtfsPasswordReset } from './ntfs-rescue-model';
import { readExportedVariables, type ScriptOutcome, type ScriptRun, type ScriptRunner } from './script-runners';

/** Where a Nitro helper sees the swapped volume: the second NVMe disk; its Windows partition. */
const DISK = '/dev/nvme1n1';
const PARTITION = '/dev/nvme1n1p1';

/**
 * The script's failure: its log on stderr, then the one-line JSON error on stdout, exit 1. Every
 * failure of the model leaves the volume released (nothing mounted), so the Windows helper may take
 * over, except for invalid input.
 */
function failed(error: NtfsRescueErrorCode, message: string, log: string[], volumeWritten = false): ScriptOutcome {
  const summary: NtfsRescueFailure = {
    ok: false,
    script: NTFS_RESCUE_SCRIPT_NAME,
    helper: NTFS_RESCUE_HELPER,
    error,
    message,
    // As the script: not the Windows helper's to take when the input was wrong or the volume may still be mounted.
    fallback: error !== 'INVALID_INPUT' && error !== 'UNMOUNT_FAILED',
    volumeWritten,
  };
  return {
    status: 'Failed',
    stdout: `${JSON.stringify(summary)}\n`,
    stderr: [...log, `ra: error ${error}: ${message}`, ''].join('\n'),
    responseCode: 1,
  };
}

/**
 * `infra/scripts/ntfs-rescue.sh` as a model, for `AWS-RunShellScript` commands that export
 * `RA_SCRIPT='ntfs-rescue'` (registered after the Linux rescue runner, which also sees their
 * `RA_VOLUME_ID`, so that this one wins): the same input checks, the volume found only when it is
 * attached to this helper, the refusals and edits of `applyNtfsPasswordReset` (with the volume's
 * `ntfs` flags), and the same output. What it leaves out: partitions (a `VolumeFiles` is the
 * Windows partition already; the model reports an MBR disk with it as its first partition). A
 * volume flagged `unmountFails` is written and then left mounted (`UNMOUNT_FAILED`), as the script
 * reports a umount that failed or an ntfs-3g that did not exit.
 */
export const ntfsRescueRunner: ScriptRunner = {
  name: 'ntfs-rescue',
  documentName: 'AWS-RunShellScript',
  matches: (commands) => readExportedVariables(commands, 'RA_')[NTFS_RESCUE_MARKER] === NTFS_RESCUE_SCRIPT_NAME,
  durationMs: (timings) => timings.rescueScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readExportedVariables(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const volumeId = env.RA_VOLUME_ID ?? '';
    const log: string[] = [];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId)) {
      return failed('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'", log);
    }
    if (!/^vol-[0-9a-f]{8,32}$/.test(volumeId)) return failed('INVALID_INPUT', 'RA_VOLUME_ID must look like vol-0123456789abcdef0', log);
    log.push(`ra: job ${jobId}: looking for ${volumeId} of ${env.RA_TARGET_INSTANCE_ID ?? ''}`);

    const serial = volumeId.replace('-', '');
    const volume = host.findAttachedVolume(instanceId, volumeId);
    if (!volume) {
      const wait = env.RA_DEVICE_WAIT_SECONDS || '30';
      const hints = env.RA_DEVICE_HINTS || '/dev/sdf /dev/xvdf';
      return failed('DEVICE_NOT_FOUND', `no block device for ${volumeId} after ${wait}s (NVMe serial ${serial} under /dev/disk/by-id, or ${hints})`, log);
    }
    const device = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}`;
    log.push(`ra: found ${device} -> ${DISK}`);
    if (volume.filesystem !== 'ntfs') {
      return failed(
        'WINDOWS_VOLUME_NOT_FOUND',
        `no Windows installation on ${volumeId} (nvme1n1p1: ${volume.filesystem}; no Windows\\System32\\config\\SYSTEM)`,
        log,
      );
    }
    const result = applyNtfsPasswordReset(volume.files, volume.ntfs ?? {}, volumeId);
    if (result.error) return failed(result.error.code, result.error.message, log);
    log.push(`ra: Windows partition: ${PARTITION}`);
    if (result.filesChanged.length > 0 || result.filesRemoved.length > 0) host.writeVolumeFiles(volume.volumeId, result.files);
    for (const f of result.filesChanged) log.push(`ra: wrote ${f}`);
    for (const f of result.filesRemoved) log.push(`ra: removed ${f}`);
    if (volume.ntfs?.unmountFails) {
      // Written, then umount failed (or ntfs-3g did not exit): the volume stays mounted on this helper.
      host.mount?.(instanceId, volume.volumeId, 'mounted');
      const message = 'the volume could not be unmounted, or its ntfs-3g process did not exit: do not detach it before it has';
      return failed('UNMOUNT_FAILED', message, log, result.filesChanged.length > 0 || result.filesRemoved.length > 0);
    }
    const summary: NtfsRescueSuccess = {
      ok: true,
      script: NTFS_RESCUE_SCRIPT_NAME,
      helper: NTFS_RESCUE_HELPER,
      volumeId,
      device,
      disk: DISK,
      partitionStyle: 'MBR',
      partition: PARTITION,
      agents: result.agents,
      ...(result.serviceStart ? { serviceStart: result.serviceStart } : {}),
      filesChanged: result.filesChanged,
      filesRemoved: result.filesRemoved,
      warnings: result.warnings,
    };
    return { status: 'Success', stdout: `${JSON.stringify(summary)}\n`, stderr: [...log, ''].join('\n'), responseCode: 0 };
  },
};
