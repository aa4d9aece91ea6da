/**
 * The release command: what the service sends (AWS-RunShellScript) to the Linux helper of a Windows
 * fast path when the NTFS rescue could not confirm that the volume was unmounted, before the volume
 * may leave that helper (domain/pipeline/phases/ntfs-release.ts). The script is `ntfs-release.sh`; bundles
 * carry the generated copy (`node --import tsx infra/scripts/generate.ts`; a test fails when the
 * two differ). The simulated region models it in `infra/sim/ntfs-release-runner.ts`.
 */
import { NTFS_RELEASE_SCRIPT_SOURCE } from './ntfs-release.generated';
import { bashScriptCommands, scriptText, shippedBash } from './shipped-text';

/** The summary's `"script"` field. */
export const NTFS_RELEASE_SCRIPT_NAME = 'ntfs-release';

/** The variable whose export marks a command as this script (the simulated region's runner looks for it). */
export const NTFS_RELEASE_MARKER = 'RA_SCRIPT';

export interface NtfsReleaseParams {
  jobId: string;
  volumeId: string;
  /** Device names the volume was attached as (Xen); default `/dev/sdf /dev/xvdf`. */
  deviceHints?: string[];
}

export type NtfsReleaseSummary =
  | { ok: true; script: typeof NTFS_RELEASE_SCRIPT_NAME; helper: 'linux'; released: true; volumeId: string; unmounted: string[] }
  | { ok: false; script: typeof NTFS_RELEASE_SCRIPT_NAME; helper: 'linux'; released: false; error: string; message: string };

/** `ntfs-release.sh` beside this module when present (tests, tsx), otherwise the generated copy (bundles). */
export const NTFS_RELEASE_SCRIPT: string = shippedBash(scriptText('ntfs-release.sh', NTFS_RELEASE_SCRIPT_SOURCE));

/** The `commands` of AWS-RunShellScript: the inputs exported, the script handed to bash, as the rescue commands do. */
export function buildNtfsReleaseCommands(params: NtfsReleaseParams): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(params.jobId)) problems.push('jobId');
  if (!/^vol-[0-9a-f]{8,32}$/.test(params.volumeId)) problems.push('volumeId');
  if (params.deviceHints?.some((h) => !/^\/dev\/[a-z0-9]+$/.test(h))) problems.push('deviceHints');
  if (problems.length > 0) throw new Error(`invalid NTFS release parameters: ${problems.join(', ')}`);
  const env: Array<[string, string]> = [
    [NTFS_RELEASE_MARKER, NTFS_RELEASE_SCRIPT_NAME],
    ['RA_JOB_ID', params.jobId],
    ['RA_VOLUME_ID', params.volumeId],
  ];
  if (params.deviceHints && params.deviceHints.length > 0) env.push(['RA_DEVICE_HINTS', params.deviceHints.join(' ')]);
  return bashScriptCommands('ntfs-release', NTFS_RELEASE_SCRIPT, env);
}

/** Reads the release summary: the last stdout line that is a JSON object with `"script":"ntfs-release"`. */
export function parseNtfsReleaseSummary(stdout: string): NtfsReleaseSummary {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim();
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (value?.script !== NTFS_RELEASE_SCRIPT_NAME) continue;
    if (value.ok === true && value.released === true && Array.isArray(value.unmounted)) return value as unknown as NtfsReleaseSummary;
    if (value.ok === false && typeof value.error === 'string' && typeof value.message === 'string') return value as unknown as NtfsReleaseSummary;
    throw new Error(`the NTFS release summary is malformed: ${line.slice(0, 300)}`);
  }
  throw new Error(`the NTFS release printed no JSON summary line (stdout: ${JSON.stringify(stdout.slice(-300))})`);
}
