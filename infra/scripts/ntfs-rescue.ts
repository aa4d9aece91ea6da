/**
 * The NTFS rescue command: what the run-rescue phase sends to a LINUX helper through SSM Run
 * Command (`AWS-RunShellScript`) when a Windows target's root volume is attached to it, and how it
 * reads the script's one-line JSON summary back. The script turns password generation back on with
 * the same per-agent edits as the Windows script (`windows-rescue.ps1`), made on the NTFS volume
 * with ntfs-3g, so that a Windows reset need not wait for a Windows helper to boot.
 *
 * When it cannot be sure of a volume (BitLocker, dynamic disk, hibernated or unclean NTFS, a
 * configuration its rules do not cover, EC2Launch v1 without its task, no ntfs-3g…) it refuses with
 * `fallback: true`: the volume was not changed (or was changed and cleanly unmounted) and the Windows
 * helper may take over. Facts and sources: docs/ntfs-rescue.md.
 *
 * The script itself is `ntfs-rescue.sh`; bundles carry the generated copy in
 * `ntfs-rescue.generated.ts` (`node --import tsx infra/scripts/generate.ts`; a test fails when the
 * two differ). What it changes on the volume is modelled by `infra/sim/ntfs-rescue-model.ts`.
 */
import type { AgentReset } from '../sim/windows-rescue-model';
import { NTFS_RESCUE_SCRIPT_SOURCE } from './ntfs-rescue.generated';
import { bashScriptCommands, scriptText, shippedBash } from './shipped-text';

/** The summary's `"script"` field: tells it apart from the Linux and the Windows script's. */
export const NTFS_RESCUE_SCRIPT_NAME = 'ntfs-rescue';

/** The summary's `"helper"` field: the kind of helper that made the edits. */
export const NTFS_RESCUE_HELPER = 'linux';

export interface NtfsRescueParams {
  jobId: string;
  targetInstanceId: string;
  /** The target's root volume, now attached to the (Linux) helper. */
  volumeId: string;
  /** Device names the volume was attached as (Xen); default `/dev/sdf /dev/xvdf`. */
  deviceHints?: string[];
  /** How long the script waits for the disk to appear (seconds; default 30). */
  deviceWaitSeconds?: number;
}

/**
 * Failures the script tells apart. Each summary says whether the Windows helper may take over
 * (`fallback`): true unless the input was invalid or the volume may still be mounted.
 */
export const NTFS_RESCUE_ERROR_CODES = [
  'INVALID_INPUT',
  /** The helper has no ntfs-3g (or no /dev/fuse). */
  'NTFS3G_MISSING',
  'DEVICE_NOT_FOUND',
  'MOUNT_FAILED',
  /** A partition carries BitLocker's "-FVE-FS-" signature and no readable Windows partition was found. */
  'BITLOCKER',
  /** MBR partition type 0x42, or GPT LDM metadata/data or Storage Spaces partitions. */
  'DYNAMIC_DISK',
  'WINDOWS_VOLUME_NOT_FOUND',
  /** Windows is hibernated or was stopped with Fast Startup (hiberfil.sys). */
  'HIBERNATED',
  /** The volume is marked dirty, its journal is not clean, or ntfs-3g would only mount it read-only. */
  'UNCLEAN_VOLUME',
  'NO_LAUNCH_AGENT',
  /** A configuration file the rules do not cover (also: agent-config.yml written as JSON, UTF-16 files). */
  'CONFIG_NOT_UNDERSTOOD',
  /** The only agent is EC2Launch v1 and its initialization task is not scheduled. */
  'AGENT_NOT_RESETTABLE_OFFLINE',
  /** More than one agent is installed and the SYSTEM hive could not tell which one Windows starts. */
  'SERVICE_STATE_UNKNOWN',
  /** More than one agent is installed and none is set to run at boot. */
  'NO_ACTIVE_AGENT',
  'WRITE_FAILED',
  /** The volume could not be unmounted or its ntfs-3g process did not exit: never detach it then. */
  'UNMOUNT_FAILED',
  'INTERNAL_ERROR',
] as const;
export type NtfsRescueErrorCode = (typeof NTFS_RESCUE_ERROR_CODES)[number];

export interface NtfsRescueSuccess {
  ok: true;
  script: typeof NTFS_RESCUE_SCRIPT_NAME;
  helper: typeof NTFS_RESCUE_HELPER;
  volumeId: string;
  /** The device path the volume was found at (by-id link or /dev/xvdf…). */
  device: string;
  /** The block device it resolves to. */
  disk: string;
  partitionStyle: 'MBR' | 'GPT' | 'none';
  /** The block device of the Windows partition. */
  partition: string;
  /** As the Windows script reports them: every installed agent, whether it makes a password at the next boot, what changed. */
  agents: AgentReset[];
  /** When more than one agent is installed: the Start value of each agent service in the SYSTEM hive (null: not registered). */
  serviceStart?: Record<string, number | null>;
  /** Files written, as the instance names them (`C:\ProgramData\…`). */
  filesChanged: string[];
  filesRemoved: string[];
  /** Notes for the owner (every once-task of EC2Launch v2 runs again, an agent left alone…). */
  warnings: string[];
}

export interface NtfsRescueFailure {
  ok: false;
  script: typeof NTFS_RESCUE_SCRIPT_NAME;
  helper: typeof NTFS_RESCUE_HELPER;
  error: NtfsRescueErrorCode | (string & {});
  message: string;
  /** The volume is released (unmounted, ntfs-3g gone) and as it was or cleanly edited: the Windows helper may take over. */
  fallback: boolean;
  /** Whether the volume was mounted read-write (and so may have been changed). */
  volumeWritten: boolean;
}

export type NtfsRescueSummary = NtfsRescueSuccess | NtfsRescueFailure;

/** The variable whose export marks a command as this script (the simulated region's runner looks for it). */
export const NTFS_RESCUE_MARKER = 'RA_SCRIPT';

/** The script as shipped (shipped-text.ts): `ntfs-rescue.sh` beside this module (tests, tsx), else the bundle's generated copy. */
export const NTFS_RESCUE_SCRIPT: string = shippedBash(scriptText('ntfs-rescue.sh', NTFS_RESCUE_SCRIPT_SOURCE));

/**
 * The `commands` parameter of AWS-RunShellScript. The agent writes the lines to a file and runs it
 * with `sh`: the header exports the inputs and hands the script to bash through a private temporary
 * file (a quoted here-document keeps the text literal), as the Linux rescue command does.
 */
export function buildNtfsRescueCommands(params: NtfsRescueParams): string[] {
  validate(params);
  const env: Array<[string, string]> = [
    [NTFS_RESCUE_MARKER, NTFS_RESCUE_SCRIPT_NAME],
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_VOLUME_ID', params.volumeId],
  ];
  if (params.deviceHints && params.deviceHints.length > 0) env.push(['RA_DEVICE_HINTS', params.deviceHints.join(' ')]);
  if (params.deviceWaitSeconds !== undefined) env.push(['RA_DEVICE_WAIT_SECONDS', String(params.deviceWaitSeconds)]);
  return bashScriptCommands('ntfs-rescue', NTFS_RESCUE_SCRIPT, env);
}

function validate(p: NtfsRescueParams): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(p.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(p.targetInstanceId)) problems.push('targetInstanceId');
  if (!/^vol-[0-9a-f]{8,32}$/.test(p.volumeId)) problems.push('volumeId');
  if (p.deviceHints?.some((h) => !/^\/dev\/[a-z0-9]+$/.test(h))) problems.push('deviceHints');
  if (p.deviceWaitSeconds !== undefined && !(Number.isInteger(p.deviceWaitSeconds) && p.deviceWaitSeconds >= 0 && p.deviceWaitSeconds <= 3600)) {
    problems.push('deviceWaitSeconds');
  }
  if (problems.length > 0) throw new Error(`invalid NTFS rescue parameters: ${problems.join(', ')}`);
}

/** Whether a summary line came from this script. */
export function isNtfsRescueSummary(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { script?: unknown }).script === NTFS_RESCUE_SCRIPT_NAME;
}

/**
 * Reads the script's summary: the last stdout line that is a JSON object with
 * `"script":"ntfs-rescue"`. Throws when there is none (the script was killed, or its output was
 * truncated) or when it is malformed.
 */
export function parseNtfsRescueSummary(stdout: string): NtfsRescueSummary {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim();
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !isNtfsRescueSummary(value)) continue;
    return asSummary(value as Record<string, unknown>, line);
  }
  throw new Error(`the NTFS rescue script printed no JSON summary line (stdout: ${JSON.stringify(stdout.slice(-300))})`);
}

function asSummary(v: Record<string, unknown>, line: string): NtfsRescueSummary {
  const bad = (what: string): never => {
    throw new Error(`the NTFS rescue summary has ${what}: ${line.slice(0, 300)}`);
  };
  if (v.helper !== NTFS_RESCUE_HELPER) bad('no "helper": "linux"');
  if (v.ok === false) {
    if (typeof v.error !== 'string' || typeof v.message !== 'string') bad('no error code or message');
    if (typeof v.fallback !== 'boolean' || typeof v.volumeWritten !== 'boolean') bad('no "fallback" or "volumeWritten"');
    return v as unknown as NtfsRescueFailure;
  }
  if (v.ok !== true) bad('no boolean "ok"');
  for (const key of ['volumeId', 'device', 'disk', 'partition'] as const) if (typeof v[key] !== 'string') bad(`no "${key}"`);
  if (v.partitionStyle !== 'MBR' && v.partitionStyle !== 'GPT' && v.partitionStyle !== 'none') bad('an unknown "partitionStyle"');
  if (!Array.isArray(v.agents) || v.agents.length === 0) bad('no "agents"');
  for (const a of v.agents as unknown[]) {
    const agent = a as Record<string, unknown> | null;
    if (
      !agent ||
      typeof agent.agent !== 'string' ||
      typeof agent.config !== 'string' ||
      typeof agent.generatesPassword !== 'boolean' ||
      !Array.isArray(agent.changes)
    ) {
      bad('a malformed agent entry');
    }
  }
  for (const key of ['filesChanged', 'filesRemoved', 'warnings'] as const) {
    if (!Array.isArray(v[key]) || (v[key] as unknown[]).some((s) => typeof s !== 'string')) bad(`no "${key}" list`);
  }
  return v as unknown as NtfsRescueSuccess;
}
