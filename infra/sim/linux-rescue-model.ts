/**
 * A pure model of what `infra/scripts/linux-rescue.sh` does to the root filesystem of a Linux
 * volume, for the simulated region: the same one account, the same authorized_keys file, the same
 * in-place append, and for what it creates the same owners, modes and SELinux contexts (from the
 * volume's own policy files). The disk tests run the real script and this model on the same
 * fixtures and require identical trees, so a rule changed in one must change in the other; the
 * sources for each rule are in the script's comments.
 *
 * What the model leaves out: finding the device, partitions, filesystems, LVM (a `VolumeFiles` is
 * already the mounted root tree with its /home), generating the key (the caller passes the line),
 * checking a caller's key (`inspectPublicKeyLine`), Parameter Store, and failures of the tools
 * themselves (setfattr, an immutable file).
 */
import type { FileEntry, VolumeFiles } from './volume-files';
import type {
  ContextSource,
  LinuxKeyType,
  RescueErrorCode,
  RescueKeyType,
  RescueSelinux,
  RescueUserResult,
  UserSource,
} from '../scripts/linux-rescue';

/** Fallback contexts for what the script creates when the volume's policy has no entry. */
export const SSH_HOME_CONTEXT = 'system_u:object_r:ssh_home_t:s0';
export const USER_HOME_DIR_CONTEXT = 'system_u:object_r:user_home_dir_t:s0';

const DEFAULT_AUTHORIZED_KEYS_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];
const ROOT_LOGIN_WITH_KEYS = new Set(['yes', 'prohibit-password', 'without-password']);
const NO_LOGIN_SHELLS = new Set(['nologin', 'false', 'sync', 'shutdown', 'halt']);
const MAX_SYMLINK_HOPS = 40;
const MAX_INCLUDE_DEPTH = 16;

export interface LinuxRescueModelInput {
  /** The line to write: a generated key with the job's comment, or the caller's line as given. */
  publicKey: string;
  /** `RA_USER`: the account asked for. */
  user?: string;
  /** The key's type when the volume's sshd must know it (a given key): KEY_TYPE_UNSUPPORTED otherwise. */
  requireKeyType?: RescueKeyType;
  /** offline (default): an unlabelled creation asks for a relabel; online: fails when enforcing. */
  mode?: 'offline' | 'online';
}

export interface KeyPlacementResult {
  user: string;
  userSource: UserSource;
  file: string;
  added: boolean;
  selinux: RescueSelinux;
}

export interface LinuxRescueModelResult {
  /** The volume after the rescue; a new map, the input is not changed. */
  files: VolumeFiles;
  /** The one account and file, as the script's `users` list (empty on a failure). */
  users: RescueUserResult[];
  placement?: KeyPlacementResult;
  error?: { code: RescueErrorCode; message: string };
}

export interface PasswdUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface SshdSettings {
  /** AuthorizedKeysFile patterns, in order; empty for `none`. */
  authorizedKeysFiles: string[];
  permitRootLogin: string;
}

class ModelFailure extends Error {
  constructor(
    readonly code: RescueErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Applies the rescue to a volume: the same account, file and edits as the script, with the given line. */
export function applyLinuxRescue(files: VolumeFiles, input: LinuxRescueModelInput): LinuxRescueModelResult {
  const keyTokens = tokens(input.publicKey);
  const blob = keyBlobOf(input.publicKey);
  if (keyTokens.length < 2 || blob === undefined) throw new Error(`not a public key line: ${input.publicKey}`);
  const vol = new Volume(files);
  if (vol.fileContent('/etc/passwd') === undefined) {
    return fail(files, 'ROOT_NOT_FOUND', 'no filesystem of the volume has /etc/passwd');
  }
  try {
    const users = readPasswd(files);
    const sshd = readSshdSettings(files);
    const chosen = chooseAccount(files, users, sshd, input.user);
    const selinux = readSelinuxConfig(files);
    const plan = planKeyFile(vol, chosen.user, sshd);
    if (input.requireKeyType) checkKeySupported(files, input.requireKeyType);
    const state: LabelState = {
      labels: selinux.mode === 'enforcing' || selinux.mode === 'permissive',
      type: selinux.type,
      labelled: true,
      source: selinux.mode === 'enforcing' || selinux.mode === 'permissive' ? 'unchanged' : 'none',
    };
    const { file, added } = applyKeyFile(vol, chosen.user, plan, input.publicKey, blob, state);
    const placement: KeyPlacementResult = {
      user: chosen.user.name,
      userSource: chosen.source,
      file,
      added,
      selinux: { mode: selinux.mode, labelled: state.labelled, contextSource: state.source },
    };
    const result: LinuxRescueModelResult = { files: vol.files, users: [{ user: chosen.user.name, file, added }], placement };
    if (!state.labelled) {
      if ((input.mode ?? 'offline') === 'offline') {
        const at = vol.resolve('/.autorelabel');
        const before = at === undefined ? undefined : vol.entry(at);
        if (at !== undefined && (before === undefined || before.type === 'file')) {
          vol.set(at, { type: 'file', content: '', mode: before?.mode ?? 0o600, uid: before?.uid ?? 0, gid: before?.gid ?? 0, ...(before?.selinuxLabel ? { selinuxLabel: before.selinuxLabel } : {}) });
        }
      } else if (selinux.mode === 'enforcing') {
        // The script has written the key when it finds this out.
        return {
          files: vol.files,
          users: [],
          error: {
            code: 'SELINUX_LABEL_FAILED',
            message: 'the key was added but its SELinux label could not be set (no policy entry, or setfattr and chcon failed): sshd in enforcing mode would not read it',
          },
        };
      }
    }
    return result;
  } catch (e) {
    if (e instanceof ModelFailure) return fail(files, e.code, e.message);
    throw e;
  }
}

/**
 * The login users that sshd on this volume would let in with `publicKey`: the key is in one of
 * the authorized_keys files sshd reads for them, and that file and its directories pass sshd's
 * StrictModes (owned by the user or root, not writable by group or others).
 */
export function usersAcceptingKey(files: VolumeFiles, publicKey: string): string[] {
  const vol = new Volume(files);
  const blob = keyBlobOf(publicKey);
  if (blob === undefined) return [];
  const sshd = readSshdSettings(files);
  const accepted: string[] = [];
  for (const user of readPasswd(files)) {
    if (!hasLoginShell(user)) continue;
    if (user.name === 'root' && !ROOT_LOGIN_WITH_KEYS.has(sshd.permitRootLogin)) continue;
    const home = vol.resolve(user.home);
    const ok = keyFilesOf(vol, user, sshd).files.some((file) => {
      const content = vol.fileContent(file);
      return content !== undefined && containsKey(content, blob) && passesStrictModes(vol, file, home, user.uid);
    });
    if (ok) accepted.push(user.name);
  }
  return accepted;
}

/** The key type the script generates: RSA when requested or when the volume's OpenSSH predates Ed25519 (6.5). */
export function chooseKeyType(files: VolumeFiles, requested: LinuxKeyType): LinuxKeyType {
  if (requested === 'rsa') return 'rsa';
  const version = volumeOpensshVersion(files);
  if (version && (version.major < 6 || (version.major === 6 && version.minor < 5))) return 'rsa';
  return 'ed25519';
}

/** Whether the volume's sshd knows a key type: Ed25519 since OpenSSH 6.5, ECDSA since 5.7. */
export function keyTypeSupported(files: VolumeFiles, keyType: RescueKeyType): boolean {
  const need = keyType === 'ed25519' ? [6, 5] : keyType === 'ecdsa' ? [5, 7] : undefined;
  const version = volumeOpensshVersion(files);
  if (!need || !version) return true;
  const [major = 0, minor = 0] = need;
  return !(version.major < major || (version.major === major && version.minor < minor));
}

function checkKeySupported(files: VolumeFiles, keyType: RescueKeyType): void {
  if (keyTypeSupported(files, keyType)) return;
  const v = volumeOpensshVersion(files);
  const need = keyType === 'ed25519' ? '6.5' : '5.7';
  throw new ModelFailure('KEY_TYPE_UNSUPPORTED', `the OpenSSH of the volume is ${v?.major}.${v?.minor}, older than ${need}: it cannot use a ${keyType} key`);
}

/** The OpenSSH version of the volume, from the sshd binary or, failing that, dpkg's status file. */
export function volumeOpensshVersion(files: VolumeFiles): { major: number; minor: number } | undefined {
  const vol = new Volume(files);
  const sshd = vol.fileContent('/usr/sbin/sshd');
  let m = sshd === undefined ? null : /OpenSSH_([0-9]+)\.([0-9]+)/.exec(sshd);
  if (!m) {
    const status = vol.fileContent('/var/lib/dpkg/status');
    if (status !== undefined) {
      let pkg = '';
      for (const line of status.split('\n')) {
        if (line.startsWith('Package: ')) pkg = tokens(line)[1] ?? '';
        if (pkg === 'openssh-server' && line.startsWith('Version: ')) {
          m = /^(?:[0-9]+:)?([0-9]+)\.([0-9]+)/.exec(tokens(line)[1] ?? '');
          break;
        }
      }
    }
  }
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** The users of the volume's /etc/passwd, first entry of a name wins. */
export function readPasswd(files: VolumeFiles): PasswdUser[] {
  const content = new Volume(files).fileContent('/etc/passwd');
  if (content === undefined) return [];
  const users: PasswdUser[] = [];
  const seen = new Set<string>();
  for (const line of lines(content)) {
    const [name = '', , uid = '', gid = '', , home = '', ...shell] = line.split(':');
    if (name === '' || name.startsWith('#') || name.startsWith('+') || name.startsWith('-')) continue;
    if (!/^[0-9]+$/.test(uid) || !/^[0-9]+$/.test(gid) || seen.has(name)) continue;
    seen.add(name);
    users.push({ name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell.join(':').replace(/\r$/, '') });
  }
  return users;
}

/**
 * AuthorizedKeysFile and PermitRootLogin as sshd reads them: first value wins, Include in place,
 * Match blocks ignored; PermitRootLogin defaults to prohibit-password (yes before OpenSSH 7.0).
 */
export function readSshdSettings(files: VolumeFiles): SshdSettings {
  const vol = new Volume(files);
  const settings: { akf?: string[]; prl?: string } = {};
  parseSshdFile(vol, '/etc/ssh/sshd_config', 0, settings);
  let prl = settings.prl;
  if (prl === undefined) {
    const version = volumeOpensshVersion(files);
    prl = version && version.major < 7 ? 'yes' : 'prohibit-password';
  }
  return { authorizedKeysFiles: settings.akf ?? DEFAULT_AUTHORIZED_KEYS_FILES, permitRootLogin: prl };
}

/** The login accounts of a distribution's cloud images on EC2, by os-release ID, in the order to try. */
export function distroAccounts(id: string): string[] {
  switch (id) {
    case 'amzn':
    case 'rhel':
    case 'almalinux':
    case 'ol':
    case 'sles':
    case 'sled':
    case 'opensuse':
    case 'opensuse-leap':
    case 'opensuse-tumbleweed':
      return ['ec2-user'];
    case 'ubuntu':
      return ['ubuntu'];
    case 'debian':
      return ['admin'];
    case 'centos':
      return ['centos', 'ec2-user'];
    case 'fedora':
      return ['fedora', 'ec2-user'];
    case 'rocky':
      return ['rocky'];
    default:
      return [];
  }
}

/** The one account the script gives the key to, and how it was chosen; throws the script's failure. */
export function chooseAccount(
  files: VolumeFiles,
  users: PasswdUser[],
  sshd: SshdSettings,
  requested?: string,
): { user: PasswdUser; source: UserSource } {
  const vol = new Volume(files);
  const byName = new Map(users.map((u) => [u.name, u]));
  const rootLogin = ROOT_LOGIN_WITH_KEYS.has(sshd.permitRootLogin);
  if (requested !== undefined) {
    const u = byName.get(requested);
    if (!u) throw new ModelFailure('USER_NOT_FOUND', `no account '${requested}' in the /etc/passwd of the volume`);
    if (!hasLoginShell(u)) throw new ModelFailure('USER_NOT_FOUND', `account '${requested}' on the volume has no login shell (${u.shell})`);
    if (u.name === 'root' && !rootLogin) {
      throw new ModelFailure('USER_NOT_FOUND', `root on the volume cannot log in with a key: sshd has PermitRootLogin ${sshd.permitRootLogin}`);
    }
    return { user: u, source: 'requested' };
  }
  const why: string[] = [];
  const def = cloudDefaultUser(vol);
  if (def !== undefined) {
    const u = byName.get(def);
    if (u && u.name !== 'root' && hasLoginShell(u)) return { user: u, source: 'cloud-init' };
    why.push(`cloud-init's default user '${def}' is not a login account in /etc/passwd`);
  } else {
    why.push('no cloud-init default user');
  }
  const os = readOsRelease(vol);
  const names: string[] = [];
  for (const id of [os.id, ...os.idLike].filter((x) => x !== '')) {
    for (const name of distroAccounts(id)) if (!names.includes(name)) names.push(name);
  }
  for (const name of names) {
    const u = byName.get(name);
    if (u && hasLoginShell(u)) return { user: u, source: 'os-release' };
  }
  why.push(os.id ? `/etc/os-release ID=${os.id} names ${names.join(' ') || 'no known account'}, none of them a login account` : 'no /etc/os-release');
  const root = byName.get('root');
  if (root && hasLoginShell(root) && rootLogin && rootHasUsableKey(vol, root, sshd)) return { user: root, source: 'root' };
  why.push(rootLogin ? 'root has no key it logs in with' : `root may not log in with a key (PermitRootLogin ${sshd.permitRootLogin})`);
  throw new ModelFailure('NO_LOGIN_USER', `no login account to give the key to on the volume: ${why.join('; ')}`);
}

/**
 * Root already logs in with a key: a key line without a forced command. cloud-init's disable_root
 * leaves root only keys with `command="echo 'Please login as the user ...'"`: that root stays locked.
 */
function rootHasUsableKey(vol: Volume, root: PasswdUser, sshd: SshdSettings): boolean {
  return keyFilesOf(vol, root, sshd).existing.some((f) =>
    lines(vol.fileContent(f) ?? '').some((line) => !/^[ \t]*(#|$)/.test(line) && !line.includes('command=')),
  );
}

/** SELINUX= of the volume's /etc/selinux/config (last one wins), `absent` without the file. */
export function readSelinuxMode(files: VolumeFiles): string {
  return readSelinuxConfig(files).mode;
}

function readSelinuxConfig(files: VolumeFiles): { mode: string; type: string } {
  const content = new Volume(files).fileContent('/etc/selinux/config');
  if (content === undefined) return { mode: 'absent', type: 'targeted' };
  let mode = '';
  let type = '';
  for (const line of lines(content)) {
    const m = /^[ \t\n\r\f\v]*SELINUX[ \t\n\r\f\v]*=[ \t\n\r\f\v]*"?([A-Za-z]+)"?/.exec(line);
    if (m?.[1]) mode = m[1];
    const t = /^[ \t\n\r\f\v]*SELINUXTYPE[ \t\n\r\f\v]*=[ \t\n\r\f\v]*"?([A-Za-z0-9_.-]+)"?/.exec(line);
    if (t?.[1]) type = t[1];
  }
  return { mode: mode.toLowerCase() || 'disabled', type: type && !type.includes('..') ? type : 'targeted' };
}

/**
 * The context the volume's SELinux policy gives `path` (`d` directory, `f` file), as libselinux's
 * file backend picks it: file_contexts, .homedirs, .local; an exact (metacharacter-free) entry
 * wins, else the last matching regular expression; `<<none>>` is no context; the path goes
 * through .subs then .subs_dist first.
 */
export function policyContext(files: VolumeFiles, selinuxType: string, path: string, kind: 'd' | 'f'): string | undefined {
  const vol = new Volume(files);
  const dir = `/etc/selinux/${selinuxType}/contexts/files`;
  const specs = ['file_contexts', 'file_contexts.homedirs', 'file_contexts.local']
    .map((name) => vol.fileContent(`${dir}/${name}`))
    .filter((c): c is string => c !== undefined);
  if (specs.length === 0) return undefined;
  let key = applySubs(vol.fileContent(`${dir}/file_contexts.subs`), path);
  key = applySubs(vol.fileContent(`${dir}/file_contexts.subs_dist`), key);
  let literal: string | undefined;
  let regex: string | undefined;
  for (const content of specs) {
    for (const raw of lines(content)) {
      const line = raw.replace(/\r$/, '');
      if (/^[ \t]*(#|$)/.test(line)) continue;
      const f = line.split(/[ \t]+/);
      const i = f[0] === '' ? 1 : 0;
      const n = f.length - i;
      const re = f[i] ?? '';
      let type = '';
      let ctx: string;
      if (n === 3) {
        type = f[i + 1] ?? '';
        ctx = f[i + 2] ?? '';
      } else if (n === 2) {
        ctx = f[i + 1] ?? '';
      } else continue;
      if (type !== '' && !((kind === 'd' && type === '-d') || (kind === 'f' && type === '--'))) continue;
      const lit = literalOf(re);
      if (lit !== undefined) {
        if (lit === key) literal = ctx;
        continue;
      }
      if (/\(\?|\\[A-Za-z0-9]/.test(re)) continue;
      let compiled: RegExp;
      try {
        compiled = new RegExp(`^(${re})$`);
      } catch {
        continue;
      }
      if (compiled.test(key)) regex = ctx;
    }
  }
  const ctx = literal ?? regex;
  return ctx === undefined || ctx === '' || ctx === '<<none>>' ? undefined : ctx;
}

/** The path a metacharacter-free file_contexts entry stands for, or undefined for a regular expression. */
function literalOf(re: string): string | undefined {
  let lit = '';
  for (let j = 0; j < re.length; j++) {
    let c = re[j] as string;
    if (c === '\\') {
      c = re[++j] ?? '';
      if (c === '' || !'.^$?*+|[({])}-_,'.includes(c)) return undefined;
    } else if ('.^$?*+|[]({})'.includes(c)) {
      return undefined;
    }
    lit += c;
  }
  return lit;
}

function applySubs(content: string | undefined, key: string): string {
  if (content === undefined) return key;
  for (const line of lines(content)) {
    const [src = '', dst = ''] = tokens(line.trim());
    if (src === '' || dst === '' || src.startsWith('#')) continue;
    if (key === src || key.startsWith(`${src}/`)) {
      return dst === '/' && key.startsWith(`${src}/`) ? `/${key.slice(src.length + 1)}` : dst + key.slice(src.length);
    }
  }
  return key;
}

// ---------------------------------------------------------------------------------------------

interface LabelState {
  labels: boolean;
  type: string;
  labelled: boolean;
  source: ContextSource;
}

interface KeyFilePlan {
  home: string;
  candidates: string[];
  existing: string[];
  file: string;
  create: boolean;
}

function planKeyFile(vol: Volume, user: PasswdUser, sshd: SshdSettings): KeyFilePlan {
  const home = vol.resolveDetailed(user.home);
  if (home.path === undefined) {
    throw new ModelFailure('KEY_FILE_REFUSED', `the home directory of ${user.name} (${user.home}) leads outside the volume or through too many symlinks`);
  }
  const { files: candidates, existing, escaping } = keyFilesOf(vol, user, sshd);
  if (escaping !== undefined) {
    throw new ModelFailure('KEY_FILE_REFUSED', `${escaping}, which sshd reads for ${user.name}, leads outside the volume through a symlink: not followed`);
  }
  const first = candidates[0];
  if (first === undefined) throw new ModelFailure('NO_LOGIN_USER', 'sshd on the volume reads no authorized_keys file (AuthorizedKeysFile none)');
  const existingFirst = existing[0];
  if (existingFirst !== undefined) return { home: home.path, candidates, existing, file: existingFirst, create: false };
  if (vol.entry(first)) throw new ModelFailure('KEY_FILE_REFUSED', `${first} on the volume is not a regular file`);
  let cur = '';
  for (const comp of parentOf(first).split('/')) {
    if (comp === '') continue;
    cur = `${cur}/${comp}`;
    const e = vol.entry(cur);
    if (e && e.type !== 'dir') throw new ModelFailure('KEY_FILE_REFUSED', `${cur} on the volume is in the way of ${first}: not a directory`);
  }
  return { home: home.path, candidates, existing, file: first, create: true };
}

function applyKeyFile(
  vol: Volume,
  user: PasswdUser,
  plan: KeyFilePlan,
  line: string,
  blob: string,
  state: LabelState,
): { file: string; added: boolean } {
  const holder = plan.existing.find((f) => containsKey(vol.fileContent(f) ?? '', blob));
  if (holder !== undefined) return { file: holder, added: false };
  if (!plan.create) {
    const entry = vol.entry(plan.file) as FileEntry;
    const sep = entry.content !== '' && !entry.content.endsWith('\n') ? '\n' : '';
    vol.set(plan.file, { ...entry, content: `${entry.content}${sep}${line}\n` });
    return { file: plan.file, added: true };
  }
  const inHome = plan.file.startsWith(`${plan.home}/`) && plan.home !== '/' ? plan.home : undefined;
  let cur = '';
  for (const comp of parentOf(plan.file).split('/')) {
    if (comp === '') continue;
    cur = `${cur}/${comp}`;
    if (vol.entry(cur)?.type === 'dir') continue;
    if (inHome !== undefined && (cur === inHome || cur.startsWith(`${inHome}/`))) {
      const fallback = cur === inHome ? USER_HOME_DIR_CONTEXT : SSH_HOME_CONTEXT;
      vol.set(cur, { type: 'dir', content: '', mode: 0o700, uid: user.uid, gid: user.gid, ...labelFor(vol, state, cur, 'd', fallback) });
    } else {
      vol.set(cur, { type: 'dir', content: '', mode: 0o755, uid: 0, gid: 0, ...labelFor(vol, state, cur, 'd', undefined) });
    }
  }
  const label = labelFor(vol, state, plan.file, 'f', inHome !== undefined ? SSH_HOME_CONTEXT : undefined);
  vol.set(plan.file, { type: 'file', content: `${line}\n`, mode: 0o600, uid: user.uid, gid: user.gid, ...label });
  return { file: plan.file, added: true };
}

function labelFor(vol: Volume, state: LabelState, path: string, kind: 'd' | 'f', fallback: string | undefined): Pick<FileEntry, 'selinuxLabel'> {
  if (!state.labels) return {};
  let ctx = policyContext(vol.files, state.type, path, kind);
  if (ctx !== undefined) {
    if (state.source !== 'default') state.source = 'policy';
  } else {
    ctx = fallback;
    state.source = 'default';
  }
  if (ctx === undefined) {
    state.labelled = false;
    return {};
  }
  return { selinuxLabel: ctx };
}

function passesStrictModes(vol: Volume, file: string, home: string | undefined, uid: number): boolean {
  const secure = (path: string): boolean => {
    const e = vol.entry(path);
    return e === undefined || ((e.uid === 0 || e.uid === uid) && (e.mode & 0o022) === 0);
  };
  if (!secure(file)) return false;
  for (let dir = parentOf(file); ; dir = parentOf(dir)) {
    if (!secure(dir)) return false;
    if (dir === home || dir === '/') return true;
  }
}

/** The key's blob is on an active (not commented-out) line, as a whitespace-separated field. */
function containsKey(content: string, blob: string): boolean {
  return lines(content).some((line) => !/^[ \t]*#/.test(line) && tokens(line).includes(blob));
}

/** The base64 blob of a key line with or without options. */
function keyBlobOf(line: string): string | undefined {
  const t = tokens(line);
  const i = t.findIndex((x) => /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$/.test(x));
  return i >= 0 ? t[i + 1] : t[1];
}

function hasLoginShell(user: PasswdUser): boolean {
  const base = user.shell.slice(user.shell.lastIndexOf('/') + 1);
  return !NO_LOGIN_SHELLS.has(base);
}

/** The files sshd reads for a user, resolved in the volume; those that exist; the first path that leaves the volume. */
function keyFilesOf(vol: Volume, user: PasswdUser, sshd: SshdSettings): { files: string[]; existing: string[]; escaping?: string } {
  const out: string[] = [];
  let escaping: string | undefined;
  for (const pattern of sshd.authorizedKeysFiles) {
    const expanded = expandAuthorizedKeysFile(pattern, user);
    const r = vol.resolveDetailed(expanded);
    if (r.escape) {
      escaping ??= expanded;
      continue;
    }
    if (r.path !== undefined && !out.includes(r.path)) out.push(r.path);
  }
  return { files: out, existing: out.filter((f) => vol.entry(f)?.type === 'file'), ...(escaping ? { escaping } : {}) };
}

/** sshd's AuthorizedKeysFile tokens: %h home, %u user name, %U uid, %% a percent sign; relative to the home. */
export function expandAuthorizedKeysFile(pattern: string, user: { name: string; home: string; uid?: number }): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '%' && i + 1 < pattern.length) {
      const n = pattern[i + 1];
      out += n === 'h' ? user.home : n === 'u' ? user.name : n === 'U' ? String(user.uid ?? '') : n === '%' ? '%' : `%${n}`;
      i++;
    } else {
      out += c;
    }
  }
  return out.startsWith('/') ? out : `${user.home.replace(/\/$/, '')}/${out}`;
}

function parseSshdFile(vol: Volume, path: string, depth: number, settings: { akf?: string[]; prl?: string }): void {
  if (depth > MAX_INCLUDE_DEPTH) return;
  const content = vol.fileContent(path);
  if (content === undefined) return;
  let inMatch = false;
  for (const raw of lines(content)) {
    const tok = tokens(raw.replace(/\r$/, ''));
    if (tok.length === 0 || tok[0]?.startsWith('#')) continue;
    let kw = tok[0] ?? '';
    let args = tok.slice(1);
    if (kw.includes('=')) {
      const value = kw.slice(kw.indexOf('=') + 1);
      if (value !== '') args = [value, ...args];
      kw = kw.slice(0, kw.indexOf('='));
    } else if (args[0]?.startsWith('=')) {
      const value = args[0].slice(1);
      args = value === '' ? args.slice(1) : [value, ...args.slice(1)];
    }
    const clean: string[] = [];
    for (const a of args) {
      if (a.startsWith('#')) break;
      clean.push(a.replace(/^"/, '').replace(/"$/, ''));
    }
    kw = kw.toLowerCase();
    if (kw === 'match') {
      inMatch = true;
      continue;
    }
    if (inMatch) continue;
    if (kw === 'include') {
      for (let m of clean) {
        if (!m.startsWith('/')) m = `/etc/ssh/${m}`;
        const dir = m.slice(0, m.lastIndexOf('/')) || '/';
        const pat = m.slice(m.lastIndexOf('/') + 1);
        const rdir = vol.resolve(dir);
        if (rdir === undefined) continue;
        for (const name of vol.glob(rdir, pat)) {
          parseSshdFile(vol, `${rdir === '/' ? '' : rdir}/${name}`, depth + 1, settings);
        }
      }
    } else if (kw === 'authorizedkeysfile') {
      if (settings.akf === undefined && clean.length > 0) {
        settings.akf = clean.length === 1 && clean[0]?.toLowerCase() === 'none' ? [] : clean;
      }
    } else if (kw === 'permitrootlogin') {
      if (settings.prl === undefined && clean[0] !== undefined) settings.prl = clean[0].toLowerCase();
    }
  }
}

function yamlScalar(s: string): string {
  let v = s.replace(/^[ \t]+/, '').replace(/[ \t]+#.*$/, '').replace(/[ \t]+$/, '');
  if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
  return v;
}

function yamlFlowName(s: string): string {
  const m = /[{, \t]name[ \t]*:[ \t]*[^,}]*/.exec(s);
  if (!m) return '';
  return yamlScalar(m[0].replace(/^[{, \t]*name[ \t]*:/, ''));
}

function yamlValueOf(line: string, key: string): string {
  return yamlScalar(line.replace(new RegExp(`^${key}[ \\t]*:`), ''));
}

/**
 * The default user's name in the volume's cloud-init configuration (cloud.cfg, then cloud.cfg.d/*.cfg
 * in order, a later file overriding): a top-level `user:` wins over system_info.default_user.name.
 */
export function cloudDefaultUser(vol: Volume): string | undefined {
  const paths = ['/etc/cloud/cloud.cfg'];
  const d = vol.resolve('/etc/cloud/cloud.cfg.d');
  if (d !== undefined && vol.entry(d)?.type === 'dir') {
    for (const name of vol.glob(d, '*.cfg')) paths.push(`${d === '/' ? '' : d}/${name}`);
  }
  let user = '';
  let def = '';
  for (const path of paths) {
    const content = vol.fileContent(path);
    if (content === undefined) continue;
    let si = false;
    let du = false;
    let ub = false;
    let ubind = -1;
    let duind = 0;
    let dind = -1;
    for (const raw of lines(content)) {
      const text = raw.replace(/\r$/, '');
      if (/^[ \t]*(#|$)/.test(text) || /^(---|\.\.\.)/.test(text)) continue;
      const ind = /^ */.exec(text)?.[0].length ?? 0;
      const line = text.slice(ind);
      if (ind === 0) {
        si = false;
        du = false;
        ub = false;
        if (/^system_info[ \t]*:/.test(line)) si = true;
        else if (/^user[ \t]*:/.test(line)) {
          const v = yamlValueOf(line, 'user');
          if (v.startsWith('{')) {
            const n = yamlFlowName(v);
            if (n !== '') user = n;
          } else if (v === '') {
            ub = true;
            ubind = -1;
          } else user = v;
        }
        continue;
      }
      if (ub) {
        if (ubind < 0) ubind = ind;
        if (ind === ubind && /^name[ \t]*:/.test(line)) {
          const v = yamlValueOf(line, 'name');
          if (v !== '') user = v;
        }
        continue;
      }
      if (!si) continue;
      if (du && ind > duind) {
        if (dind < 0) dind = ind;
        if (ind === dind && /^name[ \t]*:/.test(line)) {
          const v = yamlValueOf(line, 'name');
          if (v !== '') def = v;
        }
        continue;
      }
      du = false;
      if (/^default_user[ \t]*:/.test(line)) {
        const v = yamlValueOf(line, 'default_user');
        if (v.startsWith('{')) {
          const n = yamlFlowName(v);
          if (n !== '') def = n;
        } else if (v === '') {
          du = true;
          duind = ind;
          dind = -1;
        }
      }
    }
  }
  return user || def || undefined;
}

/** ID and ID_LIKE of /etc/os-release, else /usr/lib/os-release. */
function readOsRelease(vol: Volume): { id: string; idLike: string[] } {
  const content = vol.fileContent('/etc/os-release') ?? vol.fileContent('/usr/lib/os-release');
  let id = '';
  let idLike = '';
  for (const raw of lines(content ?? '')) {
    const line = raw.replace(/\r$/, '');
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1).replace(/^["']/, '').replace(/["']$/, '');
    if (k === 'ID') id = v.toLowerCase();
    if (k === 'ID_LIKE') idLike = v.toLowerCase();
  }
  return { id, idLike: tokens(idLike) };
}

function fail(files: VolumeFiles, code: RescueErrorCode, message: string): LinuxRescueModelResult {
  return { files: { ...files }, users: [], error: { code, message } };
}

/** Lines as the script's read loops see them: a final line without a newline still counts. */
function lines(content: string): string[] {
  if (content === '') return [];
  const parts = content.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function tokens(line: string): string[] {
  return line.split(/[ \t]+/).filter((t) => t !== '');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** A copy-on-write view of a volume with in-root symlink resolution, as the script's resolve_in_root. */
export class Volume {
  readonly files: VolumeFiles;

  constructor(files: VolumeFiles) {
    this.files = { ...files };
  }

  entry(path: string): FileEntry | undefined {
    return this.files[path === '' ? '/' : path];
  }

  set(path: string, entry: FileEntry): void {
    this.files[path] = entry;
  }

  /** Follows symlinks as if the volume were "/"; undefined after too many links or a ".." above the root. */
  resolve(path: string): string | undefined {
    return this.resolveDetailed(path).path;
  }

  resolveDetailed(path: string): { path?: string; escape?: boolean } {
    let out = '';
    let hops = 0;
    const rest = path.replace(/^\//, '').split('/');
    while (rest.length > 0) {
      const comp = rest.shift() as string;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        if (out === '') return { escape: true };
        out = out.slice(0, Math.max(0, out.lastIndexOf('/')));
        continue;
      }
      const e = this.files[`${out}/${comp}`];
      if (e?.type === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) return {};
        if (e.content.startsWith('/')) out = '';
        rest.unshift(...e.content.replace(/^\//, '').split('/'));
      } else {
        out = `${out}/${comp}`;
      }
    }
    return { path: out || '/' };
  }

  fileContent(path: string): string | undefined {
    const r = this.resolve(path);
    const e = r === undefined ? undefined : this.entry(r);
    return e?.type === 'file' ? e.content : undefined;
  }

  /** Names in a directory matching a shell glob with `*` and `?`, sorted bytewise like `LC_ALL=C`. */
  glob(dir: string, pattern: string): string[] {
    if (!/[*?]/.test(pattern)) return [pattern];
    const re = new RegExp(
      `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`,
    );
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const names: string[] = [];
    for (const p of Object.keys(this.files)) {
      if (!p.startsWith(prefix) || p === prefix) continue;
      const name = p.slice(prefix.length);
      if (name.includes('/')) continue;
      if (name.startsWith('.') && !pattern.startsWith('.')) continue;
      if (re.test(name)) names.push(name);
    }
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
