/**
 * The Linux rescue command: what the run-rescue phase sends to the helper through SSM Run Command
 * (`AWS-RunShellScript`), and how it reads the script's one-line JSON summary back.
 *
 * The script itself is `linux-rescue.sh`. Bundled code (esbuild) has no .sh file beside it, so the
 * text also lives in `linux-rescue.generated.ts`; `node --import tsx infra/scripts/generate.ts`
 * regenerates it and a test fails when the two differ.
 */
import { isLinuxUserName, parsePublicKeyLine, type SshKeyType } from '../../domain/key-placement';
import { LINUX_RESCUE_SCRIPT_SOURCE } from './linux-rescue.generated';
import { bashScriptCommands, scriptText, shippedBash } from './shipped-text';

// What the API checks before a job starts is what the script checks on the volume: one declaration.
export {
  LINUX_USER_NAME,
  LINUX_USER_NAME_MAX,
  MAX_PUBLIC_KEY_LINE,
  inspectPublicKeyLine,
  isLinuxUserName,
  parsePublicKeyLine,
  type PublicKeyInspection,
} from '../../domain/key-placement';

/** Key types the script generates. */
export type LinuxKeyType = 'ed25519' | 'rsa';
/** Key types the script writes: a caller's key may also be ECDSA. */
export type RescueKeyType = SshKeyType;
/** `generated`: made by the script on the helper (offline) or by the service (online); `caller`: the caller's own public key. */
export type KeySource = 'generated' | 'caller';
/** How the account was chosen: asked for (`user`), cloud-init's default user, the distribution's convention, or root. */
export type UserSource = 'requested' | 'cloud-init' | 'os-release' | 'root';
/**
 * Where the SELinux contexts of what the script created came from: `policy` (the volume's own
 * file_contexts), `default` (a fallback for at least one item), `unchanged` (nothing created: an
 * existing file was appended to), `none` (SELinux not enforcing or permissive on the volume).
 */
export type ContextSource = 'policy' | 'default' | 'unchanged' | 'none';

export interface LinuxRescueParams {
  jobId: string;
  targetInstanceId: string;
  /** The target's root volume, now attached to the helper. */
  volumeId: string;
  /**
   * The account to give the key to; absent: the instance's default login account (cloud-init's
   * default user, else the distribution's, else root when it already logs in with a key).
   */
  user?: string;
  /**
   * The caller's own public key line (`[options ]type base64[ comment]`), appended as given: then
   * nothing is generated and nothing goes to Parameter Store (parameterName, keyType and kmsKeyId
   * are not used).
   */
  publicKey?: string;
  /** Where the generated private key goes: `/ec2rl/openssh/<target id>/key`. Required without `publicKey`. */
  parameterName?: string;
  /** `rsa` is RSA 4096; the script also falls back to it when the volume's OpenSSH is older than 6.5. Default ed25519. */
  keyType?: LinuxKeyType;
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
  /** The named `user` is not in the volume's /etc/passwd, has no login shell, or is root and sshd refuses root keys. */
  'USER_NOT_FOUND',
  /** The caller's public key is not one valid line, or an RSA key under 3072 bits. */
  'INVALID_PUBLIC_KEY',
  /** The key file leads out of the volume through a symlink, is not a regular file, or cannot be appended to. */
  'KEY_FILE_REFUSED',
  /** The volume's OpenSSH predates the key's type (Ed25519 < 6.5, ECDSA < 5.7). */
  'KEY_TYPE_UNSUPPORTED',
  // Online mode only.
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

export interface RescueSelinux {
  mode: string;
  /** false when a created item could not be labelled (offline: a relabel at the next boot is asked for). */
  labelled: boolean;
  contextSource: ContextSource;
}

/** What both modes report about the one account, its file and the key. */
export interface KeyPlacement {
  selinux: RescueSelinux;
  /** The one account that has the key. */
  user: string;
  userSource: UserSource;
  /** The authorized_keys file (path inside the volume) that has the key. */
  file: string;
  /** false when the account had the same public key already: nothing was written. */
  added: boolean;
  /** The same, as a one-element list (the shape of earlier scripts, which keyed several accounts). */
  users: RescueUserResult[];
  keySource: KeySource;
  keyType: RescueKeyType;
  /** `SHA256:…`; online it may be empty when the instance has no ssh-keygen (the service knows it anyway). */
  fingerprint: string;
  /** The line as written to authorized_keys: a caller's line as given, a generated key with the job's comment. */
  publicKey: string;
}

export interface RescueSuccess extends KeyPlacement {
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
  /** Where the generated private key went; absent with a caller's key. */
  parameterName?: string;
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
  /**
   * `generated` (default): `type base64` of the key pair the service made; the script appends this
   * job's comment. `caller`: the caller's own line, options and comment kept as given.
   */
  publicKey: string;
  keySource?: KeySource;
  /** The account to give the key to; absent: the instance's default login account. */
  user?: string;
  /** The running system's root: `/` in production; a test may point it at a tree of its own. */
  targetRoot?: string;
}

export interface OnlineSuccess extends KeyPlacement {
  ok: true;
  mode: 'online';
  root: string;
}

export type OnlineSummary = OnlineSuccess | RescueFailure;

/** The script as shipped (shipped-text.ts): `linux-rescue.sh` beside this module (tests, tsx), else the bundle's generated copy. */
export const LINUX_RESCUE_SCRIPT: string = shippedBash(scriptText('linux-rescue.sh', LINUX_RESCUE_SCRIPT_SOURCE));

export { shellQuote } from './shipped-text';

/** The `commands` of AWS-RunShellScript for a swap: the inputs, then the script (shipped-text.ts `bashScriptCommands`). */
export function buildLinuxRescueCommands(params: LinuxRescueParams): string[] {
  validate(params);
  const env: Array<[string, string]> = [
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_VOLUME_ID', params.volumeId],
  ];
  if (params.publicKey === undefined) {
    env.push(['RA_PARAMETER_NAME', params.parameterName ?? ''], ['RA_KEY_TYPE', params.keyType ?? 'ed25519']);
  }
  env.push(['RA_REGION', params.region]);
  if (params.publicKey !== undefined) env.push(['RA_PUBLIC_KEY', params.publicKey]);
  else if (params.kmsKeyId) env.push(['RA_KMS_KEY_ID', params.kmsKeyId]);
  if (params.user !== undefined) env.push(['RA_USER', params.user]);
  if (params.deviceHints && params.deviceHints.length > 0) env.push(['RA_DEVICE_HINTS', params.deviceHints.join(' ')]);
  return bashScriptCommands('linux-rescue', LINUX_RESCUE_SCRIPT, env);
}

/**
 * The `commands` of the online reset: the same script in online mode (`RA_TARGET_ROOT`), run on the
 * target itself, with the public half of a key pair the service made. No private key is in it.
 */
export function buildLinuxOnlineCommands(params: LinuxOnlineParams): string[] {
  const problems: string[] = [];
  const caller = params.keySource === 'caller';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(params.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(params.targetInstanceId)) problems.push('targetInstanceId');
  const serviceKey = params.publicKey.split(' ').slice(0, 2).join(' ');
  if (caller ? !parsePublicKeyLine(params.publicKey) : !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/.test(serviceKey)) {
    problems.push('publicKey');
  }
  if (/PRIVATE KEY/.test(params.publicKey)) problems.push('publicKey');
  if (params.keySource !== undefined && params.keySource !== 'caller' && params.keySource !== 'generated') problems.push('keySource');
  if (params.user !== undefined && !isLinuxUserName(params.user)) problems.push('user');
  const root = params.targetRoot ?? '/';
  if (!/^\/[A-Za-z0-9_.\-/]*$/.test(root)) problems.push('targetRoot');
  if (problems.length > 0) throw new Error(`invalid Linux online parameters: ${[...new Set(problems)].join(', ')}`);
  const env: Array<[string, string]> = [
    ['RA_JOB_ID', params.jobId],
    ['RA_TARGET_INSTANCE_ID', params.targetInstanceId],
    ['RA_TARGET_ROOT', root],
    ['RA_PUBLIC_KEY', caller ? params.publicKey : serviceKey],
  ];
  if (caller) env.push(['RA_KEY_SOURCE', 'caller']);
  if (params.user !== undefined) env.push(['RA_USER', params.user]);
  return bashScriptCommands('linux-rescue', LINUX_RESCUE_SCRIPT, env);
}

function validate(p: LinuxRescueParams): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(p.jobId)) problems.push('jobId');
  if (!/^i-[0-9a-f]{8,32}$/.test(p.targetInstanceId)) problems.push('targetInstanceId');
  if (!/^vol-[0-9a-f]{8,32}$/.test(p.volumeId)) problems.push('volumeId');
  if (p.publicKey !== undefined) {
    if (!parsePublicKeyLine(p.publicKey) || /PRIVATE KEY/.test(p.publicKey)) problems.push('publicKey');
  } else if (p.parameterName === undefined || !/^\/[A-Za-z0-9_.\-/]+$/.test(p.parameterName)) {
    problems.push('parameterName');
  }
  if (p.keyType !== undefined && p.keyType !== 'ed25519' && p.keyType !== 'rsa') problems.push('keyType');
  if (p.user !== undefined && !isLinuxUserName(p.user)) problems.push('user');
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
  checkPlacement(v, bad);
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
  for (const key of ['device', 'partition', 'filesystem', 'fingerprint', 'publicKey'] as const) {
    if (typeof v[key] !== 'string') bad(`no "${key}"`);
  }
  // A generated key's private half went to Parameter Store: the summary must say where.
  if (v.keySource !== 'caller' && typeof v.parameterName !== 'string') bad('no "parameterName"');
  checkPlacement(v, bad);
  return v as unknown as RescueSuccess;
}

function checkPlacement(v: Record<string, unknown>, bad: (what: string) => never): void {
  if (v.keyType !== 'ed25519' && v.keyType !== 'rsa' && v.keyType !== 'ecdsa') bad('an unknown "keyType"');
  if (v.keySource !== undefined && v.keySource !== 'generated' && v.keySource !== 'caller') bad('an unknown "keySource"');
  for (const key of ['user', 'file'] as const) if (v[key] !== undefined && typeof v[key] !== 'string') bad(`a malformed "${key}"`);
  checkUsers(v.users, bad);
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
