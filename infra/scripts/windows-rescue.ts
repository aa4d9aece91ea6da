/**
 * The Windows rescue command: what the run-rescue phase sends to a Windows helper through SSM Run
 * Command (`AWS-RunPowerShellScript`), and how it reads the script's one-line JSON summary back.
 * The same script in online mode (`buildWindowsOnlineCommands`) runs on the running target itself
 * and makes the same edits to its own system drive; the service then reboots it.
 *
 * The script itself is `windows-rescue.ps1`; bundles carry the generated copy in
 * `windows-rescue.generated.ts` (`node --import tsx infra/scripts/generate.ts`; a test fails when
 * the two differ). What it changes on the volume is modelled by `infra/sim/windows-rescue-model.ts`.
 */
import type { AgentReset, WindowsRescueErrorCode } from '../sim/windows-rescue-model';
import { WINDOWS_RESCUE_SCRIPT_SOURCE } from './windows-rescue.generated';
import { scriptText } from './shipped-text';

export interface WindowsRescueParams {
  jobId: string;
  targetInstanceId: string;
  /** The target's root volume, now attached to the helper. */
  volumeId: string;
  /** The device name the volume was attached as (`xvdf`), for Xen helpers without NVMe serials. */
  device: string;
  /** How long the script waits for the disk to appear (seconds; default 120). */
  deviceWaitSeconds?: number;
}

/** The script's `"script"` field: tells its summary apart from the Linux one. */
export const WINDOWS_RESCUE_SCRIPT_NAME = 'windows-rescue';

/** `$env:RA_MODE` of an online run (an offline run sets no mode). */
export const WINDOWS_ONLINE_MODE = 'online';

/** Online mode: the script runs on the target itself, against its running system drive. */
export interface WindowsOnlineParams {
  jobId: string;
  targetInstanceId: string;
}

export interface WindowsRescueSuccess {
  ok: true;
  script: typeof WINDOWS_RESCUE_SCRIPT_NAME;
  /** The offline script prints no mode; an offline summary is one without `"mode": "online"`. */
  mode?: 'offline';
  volumeId: string;
  disk: {
    number: number;
    /** `MBR` or `GPT`. */
    partitionStyle: string;
    /** The helper's own disk had the same signature (both from one AMI): it was given a new one… */
    signatureCollision: boolean;
    /** …and the original put back before the disk went offline, so the target's boot entries still match. */
    signatureRestored: boolean;
  };
  /** The Windows partition's number on the disk. */
  partition: number;
  agents: AgentReset[];
  /** Files written, as the instance names them (`C:\ProgramData\…`). */
  filesChanged: string[];
  filesRemoved: string[];
  warnings: string[];
}

export interface WindowsRescueFailure {
  ok: false;
  script: typeof WINDOWS_RESCUE_SCRIPT_NAME;
  error: WindowsRescueErrorCode | (string & {});
  message: string;
}

/**
 * Online success: password generation is on for the next boot of the running target (`agents`
 * with `generatesPassword`); the script did not reboot it. Files are named as the instance names
 * them (`C:\ProgramData\…`).
 */
export interface WindowsOnlineSuccess {
  ok: true;
  script: typeof WINDOWS_RESCUE_SCRIPT_NAME;
  mode: typeof WINDOWS_ONLINE_MODE;
  agents: AgentReset[];
  filesChanged: string[];
  filesRemoved: string[];
  warnings: string[];
}

export type WindowsRescueSummary = WindowsRescueSuccess | WindowsOnlineSuccess | WindowsRescueFailure;

/** The script text: `windows-rescue.ps1` beside this module (tests, tsx), else the bundle's generated copy; shipped as is (shipped-text.ts). */
export const WINDOWS_RESCUE_SCRIPT: string = scriptText('windows-rescue.ps1', WINDOWS_RESCUE_SCRIPT_SOURCE);

/** A PowerShell single-quoted string literal (`'` doubled inside). */
export function powerShellQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The `commands` parameter of AWS-RunPowerShellScript. The agent writes the lines to a .ps1 file
 * and runs it with PowerShell: the header sets the inputs as `$env:RA_*` variables (the script
 * reads nothing else), then the script follows verbatim.
 */
export function buildWindowsRescueCommands(params: WindowsRescueParams): string[] {
  validate(params);
  const env: Array<[string, string]> = [
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_VOLUME_ID', params.volumeId],
    ['RA_DEVICE', params.device],
  ];
  if (params.deviceWaitSeconds !== undefined) env.push(['RA_DEVICE_WAIT_SECONDS', String(params.deviceWaitSeconds)]);
  return withScript(env);
}

/**
 * The `commands` of an online reset, sent to the running target itself through
 * AWS-RunPowerShellScript: the same script in online mode (`$env:RA_MODE = 'online'`). It turns
 * password generation back on for the next boot and does not reboot; the service does.
 */
export function buildWindowsOnlineCommands(params: WindowsOnlineParams): string[] {
  const problems = idProblems(params);
  if (problems.length > 0) throw new Error(`invalid Windows online reset parameters: ${problems.join(', ')}`);
  return withScript([
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_MODE', WINDOWS_ONLINE_MODE],
  ]);
}

/** The `$env:` header lines, then the script verbatim. */
function withScript(env: Array<[string, string]>): string[] {
  const script = WINDOWS_RESCUE_SCRIPT.replace(/\r?\n$/, '').split(/\r?\n/);
  return [...env.map(([name, value]) => `$env:${name} = ${powerShellQuote(value)}`), ...script];
}

function idProblems(p: { jobId: string; targetInstanceId: string }): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(p.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(p.targetInstanceId)) problems.push('targetInstanceId');
  return problems;
}

function validate(p: WindowsRescueParams): void {
  const problems = idProblems(p);
  if (!/^vol-[0-9a-f]{8,32}$/.test(p.volumeId)) problems.push('volumeId');
  if (!/^xvd[a-z]{1,2}$/.test(p.device)) problems.push('device');
  if (p.deviceWaitSeconds !== undefined && !(Number.isInteger(p.deviceWaitSeconds) && p.deviceWaitSeconds >= 0 && p.deviceWaitSeconds <= 3600)) {
    problems.push('deviceWaitSeconds');
  }
  if (problems.length > 0) throw new Error(`invalid Windows rescue parameters: ${problems.join(', ')}`);
}

/**
 * Reads the script's summary: the last stdout line that is a JSON object with
 * `"script":"windows-rescue"`. Throws when there is none (the script was killed, or its output
 * was truncated) or when it is malformed.
 */
export function parseWindowsRescueSummary(stdout: string): WindowsRescueSummary {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim().replace(/^\uFEFF/, '');
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const v = value as Record<string, unknown>;
    if (v.script !== WINDOWS_RESCUE_SCRIPT_NAME) continue;
    return asSummary(v, line);
  }
  throw new Error(`the Windows rescue script printed no JSON summary line (stdout: ${JSON.stringify(stdout.slice(-300))})`);
}

/** Whether a summary line came from the Windows script (as opposed to the Linux one). */
export function isWindowsRescueSummary(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { script?: unknown }).script === WINDOWS_RESCUE_SCRIPT_NAME;
}

function asSummary(v: Record<string, unknown>, line: string): WindowsRescueSummary {
  const bad = (what: string): never => {
    throw new Error(`the Windows rescue summary has ${what}: ${line.slice(0, 300)}`);
  };
  if (v.ok === false) {
    if (typeof v.error !== 'string' || typeof v.message !== 'string') bad('no error code or message');
    return { ok: false, script: WINDOWS_RESCUE_SCRIPT_NAME, error: v.error as string, message: v.message as string };
  }
  if (v.ok !== true) bad('no boolean "ok"');
  if (v.mode !== undefined && v.mode !== 'offline' && v.mode !== WINDOWS_ONLINE_MODE) bad('an unknown "mode"');
  const online = v.mode === WINDOWS_ONLINE_MODE;
  if (!online) {
    if (typeof v.volumeId !== 'string') bad('no "volumeId"');
    const disk = v.disk as Record<string, unknown> | undefined;
    if (!disk || typeof disk.number !== 'number' || typeof disk.signatureCollision !== 'boolean' || typeof disk.signatureRestored !== 'boolean') {
      bad('a malformed "disk"');
    }
    if (typeof v.partition !== 'number') bad('no "partition"');
  }
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
  return online ? (v as unknown as WindowsOnlineSuccess) : (v as unknown as WindowsRescueSuccess);
}
