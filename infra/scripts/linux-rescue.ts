/**
 * The Linux rescue command: what the run-rescue phase sends to the helper through SSM Run Command
 * (`AWS-RunShellScript`), and how it reads the script's one-line JSON summary back.
 *
 * The script itself is `linux-rescue.sh`. Bundled code (esbuild) has no .sh file beside it, so the
 * text also lives in `linux-rescue.generated.ts`; `node --import tsx infra/scripts/generate.ts`
 * regenerates it and a test fails when the two differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LINUX_RESCUE_SCRIPT_SOURCE } from './linux-rescue.generated';

export type LinuxKeyType = 'ed25519' | 'rsa';

export interface LinuxRescueParams {
  jobId: string;
  targetInstanceId: string;
  /** The target's root volume, now attached to the helper. */
  volumeId: string;
  /** Where the private key goes: `/ec2rl/openssh/<target id>/key`. */
  parameterName: string;
  /** `rsa` is RSA 4096; the script also falls back to it when the volume's OpenSSH is older than 6.5. */
  keyType: LinuxKeyType;
  /** KMS key for the SecureString; the account's `aws/ssm` key when absent. */
  kmsKeyId?: string;
  region: string;
  /** Device names the volume was attached as (Xen); default `/dev/sdf /dev/xvdf`. */
  deviceHints?: string[];
}

/** Failures the script tells apart. All are permanent for the job: running it again would fail the same way. */
export const RESCUE_ERROR_CODES = [
  'DEVICE_NOT_FOUND',
  'FILESYSTEM_NOT_RECOGNISED',
  'ROOT_NOT_FOUND',
  'MOUNT_FAILED',
  'NO_LOGIN_USER',
  'PARAMETER_STORE_REFUSED',
  'KEYGEN_FAILED',
  'INVALID_INPUT',
  'INTERNAL_ERROR',
  // Online mode only.
  'KEY_TYPE_UNSUPPORTED',
  'SELINUX_LABEL_FAILED',
] as const;
export type RescueErrorCode = (typeof RESCUE_ERROR_CODES)[number];

export interface RescueUserResult {
  user: string;
  /** Path inside the volume's root filesystem. */
  file: string;
  /** false when the same public key was already there. */
  added: boolean;
}

export interface RescueSuccess {
  ok: true;
  volumeId: string;
  /** The device path the volume was found at (by-id link or /dev/xvdf…). */
  device: string;
  /** The block device it resolves to. */
  disk: string;
  /** The block device holding the root filesystem (a partition, the disk, or an LV). */
  partition: string;
  filesystem: string;
  /** btrfs subvolume of the root, when not the default one. */
  subvolume?: string;
  /** LVM root: `vg/lv`, and how it was opened (`vgchange`, or `loop` over a linear LV's extents). */
  lvm?: { volume: string; activation: string; note?: string };
  selinux: { mode: string; labelled: boolean };
  users: RescueUserResult[];
  parameterName: string;
  keyType: LinuxKeyType;
  fingerprint: string;
  publicKey: string;
}

export interface RescueFailure {
  ok: false;
  /** One of RESCUE_ERROR_CODES; a newer script may send others. */
  error: RescueErrorCode | (string & {});
  message: string;
}

export type RescueSummary = RescueSuccess | RescueFailure;

/** Online mode: the script ran on the target itself, against its running root filesystem. */
export interface LinuxOnlineParams {
  jobId: string;
  targetInstanceId: string;
  /** `type base64` of the key pair the service made; the script appends this job's comment. */
  publicKey: string;
  /** The running system's root: `/` in production; a test may point it at a tree of its own. */
  targetRoot?: string;
}

export interface OnlineSuccess {
  ok: true;
  mode: 'online';
  root: string;
  selinux: { mode: string; labelled: boolean };
  users: RescueUserResult[];
  keyType: LinuxKeyType;
  /** `SHA256:…`; empty when the instance has no ssh-keygen (the service knows it anyway). */
  fingerprint: string;
  /** The line as written to authorized_keys (with the job's comment). */
  publicKey: string;
}

export type OnlineSummary = OnlineSuccess | RescueFailure;

const SCRIPT_END_MARKER = 'RA_LINUX_RESCUE_SCRIPT_END';

/**
 * The script text: `linux-rescue.sh` beside this module when present (tests, tsx), otherwise the
 * generated copy (bundles).
 */
export const LINUX_RESCUE_SCRIPT: string = readScriptBesideModule() ?? LINUX_RESCUE_SCRIPT_SOURCE;

function readScriptBesideModule(): string | undefined {
  try {
    return fs.readFileSync(path.join(__dirname, 'linux-rescue.sh'), 'utf8');
  } catch {
    return undefined;
  }
}

/** POSIX shell single-quoting. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `commands` parameter of AWS-RunShellScript. The agent writes the lines to a file and runs it
 * with `sh`, so the header only exports the inputs and hands the script to bash through a private
 * temporary file; the quoted here-document keeps the script text literal.
 */
export function buildLinuxRescueCommands(params: LinuxRescueParams): string[] {
  validate(params);
  const env: Array<[string, string]> = [
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_VOLUME_ID', params.volumeId],
    ['RA_PARAMETER_NAME', params.parameterName],
    ['RA_KEY_TYPE', params.keyType],
    ['RA_REGION', params.region],
  ];
  if (params.kmsKeyId) env.push(['RA_KMS_KEY_ID', params.kmsKeyId]);
  if (params.deviceHints && params.deviceHints.length > 0) env.push(['RA_DEVICE_HINTS', params.deviceHints.join(' ')]);
  return scriptCommands(env);
}

/**
 * The `commands` of the online reset: the same script in online mode (`RA_TARGET_ROOT`), run on the
 * target itself, with the public half of a key pair the service made. No private key is in it.
 */
export function buildLinuxOnlineCommands(params: LinuxOnlineParams): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(params.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(params.targetInstanceId)) problems.push('targetInstanceId');
  if (!/^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/.test(params.publicKey.split(' ').slice(0, 2).join(' '))) problems.push('publicKey');
  if (/PRIVATE KEY/.test(params.publicKey)) problems.push('publicKey');
  const root = params.targetRoot ?? '/';
  if (!/^\/[A-Za-z0-9_.\-/]*$/.test(root)) problems.push('targetRoot');
  if (problems.length > 0) throw new Error(`invalid Linux online parameters: ${[...new Set(problems)].join(', ')}`);
  return scriptCommands([
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_TARGET_ROOT', root],
    ['RA_PUBLIC_KEY', params.publicKey.split(' ').slice(0, 2).join(' ')],
  ]);
}

function scriptCommands(env: Array<[string, string]>): string[] {
  const script = LINUX_RESCUE_SCRIPT.replace(/\n$/, '').split('\n');
  if (script.includes(SCRIPT_END_MARKER)) throw new Error(`the rescue script contains the line ${SCRIPT_END_MARKER}`);
  return [
    ...env.map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    'RA_SCRIPT_FILE=$(mktemp "${TMPDIR:-/tmp}/ra-linux-rescue.XXXXXXXX") || exit 1',
    `cat >"$RA_SCRIPT_FILE" <<'${SCRIPT_END_MARKER}'`,
    ...script,
    SCRIPT_END_MARKER,
    'RA_STATUS=0',
    'bash "$RA_SCRIPT_FILE" || RA_STATUS=$?',
    'rm -f "$RA_SCRIPT_FILE"',
    'exit "$RA_STATUS"',
  ];
}

function validate(p: LinuxRescueParams): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(p.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(p.targetInstanceId)) problems.push('targetInstanceId');
  if (!/^vol-[0-9a-f]{8,32}$/.test(p.volumeId)) problems.push('volumeId');
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(p.parameterName)) problems.push('parameterName');
  if (p.keyType !== 'ed25519' && p.keyType !== 'rsa') problems.push('keyType');
  if (!/^[a-z]{2}(-[a-z]+)+-[0-9]+$/.test(p.region)) problems.push('region');
  if (p.kmsKeyId !== undefined && !/^[A-Za-z0-9:/_+=,.@-]+$/.test(p.kmsKeyId)) problems.push('kmsKeyId');
  if (p.deviceHints?.some((h) => !/^\/dev\/[a-z0-9]+$/.test(h))) problems.push('deviceHints');
  if (problems.length > 0) throw new Error(`invalid Linux rescue parameters: ${problems.join(', ')}`);
}

/**
 * Reads the script's summary: the last stdout line that is a JSON object. Throws when there is
 * none (the script was killed, or its output was truncated) or when it is not a summary.
 */
export function parseRescueSummary(stdout: string): RescueSummary {
  const { value, line } = lastJsonLine(stdout);
  return asSummary(value, line);
}

/** Reads the summary of an online run (`buildLinuxOnlineCommands`); throws like `parseRescueSummary`. */
export function parseOnlineSummary(stdout: string): OnlineSummary {
  const { value: v, line } = lastJsonLine(stdout);
  const bad = (what: string): never => {
    throw new Error(`the Linux online summary has ${what}: ${line.slice(0, 300)}`);
  };
  if (v.ok === false) return asSummary(v, line) as RescueFailure;
  if (v.ok !== true || v.mode !== 'online') bad('no "ok": true with "mode": "online"');
  for (const key of ['root', 'fingerprint', 'publicKey'] as const) if (typeof v[key] !== 'string') bad(`no "${key}"`);
  if (v.keyType !== 'ed25519' && v.keyType !== 'rsa') bad('an unknown "keyType"');
  checkUsers(v.users, bad);
  return v as unknown as OnlineSuccess;
}

function lastJsonLine(stdout: string): { value: Record<string, unknown>; line: string } {
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
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    return { value: value as Record<string, unknown>, line };
  }
  throw new Error(`the Linux rescue script printed no JSON summary line (stdout: ${JSON.stringify(stdout.slice(-300))})`);
}

function asSummary(v: Record<string, unknown>, line: string): RescueSummary {
  const bad = (what: string): never => {
    throw new Error(`the Linux rescue summary has ${what}: ${line.slice(0, 300)}`);
  };
  if (v.ok === false) {
    if (typeof v.error !== 'string' || typeof v.message !== 'string') bad('no error code or message');
    return { ok: false, error: v.error as string, message: v.message as string };
  }
  if (v.ok !== true) bad('no boolean "ok"');
  for (const key of ['device', 'partition', 'filesystem', 'parameterName', 'fingerprint', 'publicKey'] as const) {
    if (typeof v[key] !== 'string') bad(`no "${key}"`);
  }
  if (v.keyType !== 'ed25519' && v.keyType !== 'rsa') bad('an unknown "keyType"');
  checkUsers(v.users, bad);
  return v as unknown as RescueSuccess;
}

function checkUsers(users: unknown, bad: (what: string) => never): void {
  if (!Array.isArray(users)) bad('no "users" list');
  for (const u of users as unknown[]) {
    const user = u as Record<string, unknown> | null;
    if (!user || typeof user.user !== 'string' || typeof user.file !== 'string' || typeof user.added !== 'boolean') {
      bad('a malformed user entry');
    }
  }
}
