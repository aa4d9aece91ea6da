import { NTFS_RELEASE_MARKER, NTFS_RELEASE_SCRIPT_NAME, type NtfsReleaseSummary } from '../scripts/ntfs-release';
import { readExportedVariables, type ScriptOutcome, type ScriptRun, type ScriptRunner } from './script-runners';

/**
 * `infra/scripts/ntfs-release.sh` as a model, for `AWS-RunShellScript` commands that export
 * `RA_SCRIPT='ntfs-release'`: a volume this helper's OS still has mounted is unmounted (a detach
 * stuck `busy` meanwhile goes on), unless the volume is flagged `unmountFails: 'always'`; one that
 * is not mounted is released at once. The same summary and exit codes as the script.
 */
export const ntfsReleaseRunner: ScriptRunner = {
  name: 'ntfs-release',
  documentName: 'AWS-RunShellScript',
  matches: (commands) => readExportedVariables(commands, 'RA_')[NTFS_RELEASE_MARKER] === NTFS_RELEASE_SCRIPT_NAME,
  durationMs: (timings) => timings.defaultScriptMs,
  run({ commands, instanceId, host }: ScriptRun): ScriptOutcome {
    const env = readExportedVariables(commands, 'RA_');
    const jobId = env.RA_JOB_ID ?? '';
    const volumeId = env.RA_VOLUME_ID ?? '';
    const out = (summary: NtfsReleaseSummary, stderr: string[]): ScriptOutcome => ({
      status: summary.ok ? 'Success' : 'Failed',
      stdout: `${JSON.stringify(summary)}\n`,
      stderr: [...stderr, ''].join('\n'),
      responseCode: summary.ok ? 0 : 1,
    });
    const failure = (error: string, message: string) =>
      out({ ok: false, script: NTFS_RELEASE_SCRIPT_NAME, helper: 'linux', released: false, error, message }, [`ra: error ${error}: ${message}`]);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId))
      return failure('INVALID_INPUT', "RA_JOB_ID is missing or has characters other than letters, digits, '.', '_', '-'");
    if (!/^vol-[0-9a-f]{8,32}$/.test(volumeId)) return failure('INVALID_INPUT', 'RA_VOLUME_ID must look like vol-0123456789abcdef0');
    const mounted = host.mount?.(instanceId, volumeId) ?? false;
    const mountPoint = `/mnt/ra-${jobId}/root`;
    if (mounted && host.findAttachedVolume(instanceId, volumeId)?.ntfs?.unmountFails === 'always') {
      return failure('STILL_MOUNTED', `/dev/nvme1n1 is still mounted at ${mountPoint}`);
    }
    if (mounted) host.mount?.(instanceId, volumeId, 'unmounted');
    const unmounted = mounted ? [mountPoint] : [];
    return out(
      { ok: true, script: NTFS_RELEASE_SCRIPT_NAME, helper: 'linux', released: true, volumeId, unmounted },
      unmounted.map((m) => `ra: unmounted ${m}`),
    );
  },
};
