/**
 * A pure model of what `infra/scripts/linux-rescue.sh` does to the root filesystem of a Linux
 * volume, for the simulated region: the same user selection, the same authorized_keys files, the
 * same owners, modes and SELinux labels. The disk tests run the real script and this model on the
 * same fixtures and require identical trees, so a rule changed in one must change in the other.
 *
 * What the model leaves out: finding the device, partitions, filesystems, LVM (a `VolumeFiles` is
 * already the mounted root tree with its /home), generating the key (the caller passes the public
 * key) and Parameter Store.
 */
import type { FileEntry, VolumeFiles } from './volume-files';
import type { LinuxKeyType, RescueErrorCode, RescueUserResult } from '../scripts/linux-rescue';

/** Cloud images' default login users, used when cloud-init names none that exists on the volume. */
export const KNOWN_LOGIN_USERS = [
  'ec2-user',
  'ubuntu',
  'admin',
  'centos',
  'rocky',
  'cloud-user',
  'fedora',
  'debian',
  'almalinux',
  'bitnami',
  'opc',
] as const;

export const SSH_HOME_CONTEXT = 'system_u:object_r:ssh_home_t:s0';
export const USER_HOME_DIR_CONTEXT = 'system_u:object_r:user_home_dir_t:s0';

const DEFAULT_AUTHORIZED_KEYS_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];
const ROOT_LOGIN_WITH_KEYS = new Set(['yes', 'prohibit-password', 'without-password']);
const NO_LOGIN_SHELLS = new Set(['nologin', 'false', 'sync', 'shutdown', 'halt']);
const MAX_SYMLINK_HOPS = 40;
const MAX_INCLUDE_DEPTH = 16;

export interface LinuxRescueModelInput {
  /** The public key line the script generated, e.g. `ssh-ed25519 AAAA… reset-access-<jobId>`. */
  publicKey: string;
  /** The key's comment; lines of an earlier run with this comment are replaced. Default: the key's own comment. */
  comment?: string;
}

export interface LinuxRescueModelResult {
  /** The volume after the rescue; a new map, the input is not changed. */
  files: VolumeFiles;
  users: RescueUserResult[];
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

/** Applies the rescue to a volume: the same users and files as the script, with the given key. */
export function applyLinuxRescue(files: VolumeFiles, input: LinuxRescueModelInput): LinuxRescueModelResult {
  const vol = new Volume(files);
  const keyTokens = tokens(input.publicKey);
  const blob = keyTokens[1];
  if (keyTokens.length < 2 || blob === undefined) {
    throw new Error(`not a public key line: ${input.publicKey}`);
  }
  const comment = input.comment ?? keyTokens[keyTokens.length - 1];
  if (vol.fileContent('/etc/passwd') === undefined) {
    return fail(files, 'ROOT_NOT_FOUND', 'no filesystem of the volume has /etc/passwd');
  }
  const users = readPasswd(files);
  const sshd = readSshdSettings(files);
  const selected = selectLoginUsers(files, users, sshd);
  if (selected.length === 0) {
    return fail(
      files,
      'NO_LOGIN_USER',
      'no login user found: no default cloud user in /etc/passwd, no user with an authorized_keys file that sshd reads, and root is not allowed or has no keys',
    );
  }
  const selinux = readSelinuxMode(files);
  const labels = selinux === 'enforcing' || selinux === 'permissive';
  const results: RescueUserResult[] = [];
  for (const user of selected) {
    const result = addKeyForUser(vol, user, sshd, { line: input.publicKey, blob, comment, labels });
    if (result) results.push(result);
  }
  if (results.length === 0) {
    return fail(files, 'NO_LOGIN_USER', 'sshd on the volume reads no authorized_keys file (AuthorizedKeysFile none)');
  }
  return { files: vol.files, users: results };
}

/**
 * The login users that sshd on this volume would let in with `publicKey`: the key is in one of
 * the authorized_keys files sshd reads for them, and that file and its directories pass sshd's
 * StrictModes (owned by the user or root, not writable by group or others).
 */
export function usersAcceptingKey(files: VolumeFiles, publicKey: string): string[] {
  const vol = new Volume(files);
  const blob = tokens(publicKey)[1];
  if (blob === undefined) return [];
  const sshd = readSshdSettings(files);
  const accepted: string[] = [];
  for (const user of readPasswd(files)) {
    if (!hasLoginShell(user)) continue;
    if (user.name === 'root' && !ROOT_LOGIN_WITH_KEYS.has(sshd.permitRootLogin)) continue;
    const home = vol.resolve(user.home);
    const ok = keyFilesOf(vol, user, sshd).some((file) => {
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

/** AuthorizedKeysFile and PermitRootLogin as sshd reads them: first value wins, Include in place, Match blocks ignored. */
export function readSshdSettings(files: VolumeFiles): SshdSettings {
  const vol = new Volume(files);
  const settings: { akf?: string[]; prl?: string } = {};
  parseSshdFile(vol, '/etc/ssh/sshd_config', 0, settings);
  return {
    authorizedKeysFiles: settings.akf ?? DEFAULT_AUTHORIZED_KEYS_FILES,
    permitRootLogin: settings.prl ?? 'prohibit-password',
  };
}

/** The login users the script writes the key for, in the script's order. */
export function selectLoginUsers(files: VolumeFiles, users: PasswdUser[], sshd: SshdSettings): PasswdUser[] {
  const vol = new Volume(files);
  const byName = new Map(users.map((u) => [u.name, u]));
  const selected: PasswdUser[] = [];
  const def = cloudDefaultUser(vol);
  const defUser = def === undefined ? undefined : byName.get(def);
  if (defUser && defUser.name !== 'root' && hasLoginShell(defUser)) {
    selected.push(defUser);
  } else {
    for (const name of KNOWN_LOGIN_USERS) {
      const u = byName.get(name);
      if (u && hasLoginShell(u)) selected.push(u);
    }
  }
  for (const u of users) {
    if (u.name === 'root' || selected.includes(u) || !hasLoginShell(u)) continue;
    if (existingKeyFilesOf(vol, u, sshd).length > 0) selected.push(u);
  }
  const root = byName.get('root');
  if (root && ROOT_LOGIN_WITH_KEYS.has(sshd.permitRootLogin) && rootHasUsableKey(vol, root, sshd)) {
    selected.push(root);
  }
  return selected;
}

/**
 * Root already logs in with a key: a key line without a forced command. cloud-init's disable_root
 * leaves root only keys with `command="echo 'Please login as the user ...'"`: that root stays locked.
 */
function rootHasUsableKey(vol: Volume, root: PasswdUser, sshd: SshdSettings): boolean {
  return existingKeyFilesOf(vol, root, sshd).some((f) =>
    lines(vol.fileContent(f) ?? '').some((line) => !/^[ \t]*(#|$)/.test(line) && !line.includes('command=')),
  );
}

/** SELINUX= of the volume's /etc/selinux/config (last one wins), `absent` without the file. */
export function readSelinuxMode(files: VolumeFiles): string {
  const content = new Volume(files).fileContent('/etc/selinux/config');
  if (content === undefined) return 'absent';
  let mode = '';
  for (const line of lines(content)) {
    const m = /^[ \t]*SELINUX[ \t]*=[ \t]*"?([A-Za-z]+)"?/.exec(line);
    if (m?.[1]) mode = m[1].toLowerCase();
  }
  return mode || 'disabled';
}

// ---------------------------------------------------------------------------------------------

interface NewKey {
  line: string;
  blob: string;
  comment: string | undefined;
  labels: boolean;
}

function addKeyForUser(vol: Volume, user: PasswdUser, sshd: SshdSettings, key: NewKey): RescueUserResult | undefined {
  const home = vol.resolve(user.home);
  const all = keyFilesOf(vol, user, sshd);
  const existing = all.filter((f) => vol.entry(f)?.type === 'file');
  const file = existing[0] ?? all[0];
  if (home === undefined || file === undefined) return undefined;
  if (existing.some((f) => containsKey(vol.fileContent(f) ?? '', key.blob))) {
    return { user: user.name, file, added: false };
  }
  const dir = parentOf(file);
  const inHome = home !== '/' && file.startsWith(`${home}/`) ? home : undefined;
  ensureDirs(vol, dir, inHome, user, key.labels);
  const before = vol.entry(file);
  const created = before === undefined;
  const kept = lines(before?.content ?? '').filter((line) => {
    const t = tokens(line);
    return t.length === 0 || t[t.length - 1] !== key.comment;
  });
  const content = [...kept, key.line].join('\n') + '\n';
  const entry: FileEntry = before
    ? { ...before, content }
    : { type: 'file', content, mode: 0o600, uid: 0, gid: 0 };
  vol.set(file, entry);
  if (inHome) {
    vol.set(file, { ...entry, mode: 0o600, uid: user.uid, gid: user.gid, ...label(key.labels, SSH_HOME_CONTEXT, entry) });
    for (let cur = dir; cur.startsWith(`${inHome}/`); cur = parentOf(cur)) {
      const d = vol.entry(cur);
      if (d) vol.set(cur, { ...d, mode: 0o700, uid: user.uid, gid: user.gid, ...label(key.labels, SSH_HOME_CONTEXT, d) });
    }
  } else if (created) {
    vol.set(file, { ...entry, mode: 0o600, uid: user.uid, gid: user.gid });
  }
  return { user: user.name, file, added: true };
}

function label(labels: boolean, context: string, entry: FileEntry): Pick<FileEntry, 'selinuxLabel'> {
  if (labels) return { selinuxLabel: context };
  return entry.selinuxLabel === undefined ? {} : { selinuxLabel: entry.selinuxLabel };
}

function ensureDirs(vol: Volume, dir: string, home: string | undefined, user: PasswdUser, labels: boolean): void {
  let cur = '';
  for (const comp of dir.split('/')) {
    if (comp === '') continue;
    cur = `${cur}/${comp}`;
    const existing = vol.entry(cur);
    if (existing?.type === 'dir') continue;
    if (existing) throw new Error(`${cur} exists on the volume and is not a directory`);
    if (home !== undefined && (cur === home || cur.startsWith(`${home}/`))) {
      const context = cur === home ? USER_HOME_DIR_CONTEXT : SSH_HOME_CONTEXT;
      vol.set(cur, {
        type: 'dir',
        content: '',
        mode: 0o700,
        uid: user.uid,
        gid: user.gid,
        ...(labels ? { selinuxLabel: context } : {}),
      });
    } else {
      vol.set(cur, { type: 'dir', content: '', mode: 0o755, uid: 0, gid: 0 });
    }
  }
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

function containsKey(content: string, blob: string): boolean {
  return lines(content).some((line) => tokens(line).includes(blob));
}

function hasLoginShell(user: PasswdUser): boolean {
  const base = user.shell.slice(user.shell.lastIndexOf('/') + 1);
  return !NO_LOGIN_SHELLS.has(base);
}

function keyFilesOf(vol: Volume, user: PasswdUser, sshd: SshdSettings): string[] {
  const out: string[] = [];
  for (const pattern of sshd.authorizedKeysFiles) {
    const resolved = vol.resolve(expandAuthorizedKeysFile(pattern, user));
    if (resolved !== undefined && !out.includes(resolved)) out.push(resolved);
  }
  return out;
}

function existingKeyFilesOf(vol: Volume, user: PasswdUser, sshd: SshdSettings): string[] {
  return keyFilesOf(vol, user, sshd).filter((f) => vol.entry(f)?.type === 'file');
}

/** sshd's AuthorizedKeysFile tokens: %h home, %u user name, %% a percent sign; relative to the home. */
export function expandAuthorizedKeysFile(pattern: string, user: { name: string; home: string }): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '%' && i + 1 < pattern.length) {
      const n = pattern[i + 1];
      out += n === 'h' ? user.home : n === 'u' ? user.name : n === '%' ? '%' : `%${n}`;
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

/** `default_user: name:` from cloud.cfg and cloud.cfg.d/*.cfg in order; the last one wins, as cloud-init merges them. */
function cloudDefaultUser(vol: Volume): string | undefined {
  const paths = ['/etc/cloud/cloud.cfg'];
  const d = vol.resolve('/etc/cloud/cloud.cfg.d');
  if (d !== undefined && vol.entry(d)?.type === 'dir') {
    for (const name of vol.glob(d, '*.cfg')) paths.push(`${d}/${name}`);
  }
  let last: string | undefined;
  for (const path of paths) {
    const content = vol.fileContent(path);
    if (content === undefined) continue;
    let inBlock = false;
    let blockIndent = 0;
    for (const raw of lines(content)) {
      const line = raw.replace(/\r$/, '');
      if (/^ *#/.test(line)) continue;
      const indent = /^ */.exec(line)?.[0].length ?? 0;
      if (inBlock && /[^ \t]/.test(line) && indent <= blockIndent) inBlock = false;
      if (inBlock && /^ *name:/.test(line)) {
        const v = line
          .replace(/^ *name: */, '')
          .replace(/ +#.*$/, '')
          .replace(/["']/g, '')
          .replace(/ +$/, '');
        if (v !== '') last = v;
        inBlock = false;
      }
      if (/^ *default_user: *$/.test(line)) {
        inBlock = true;
        blockIndent = indent;
      }
    }
  }
  return last;
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
class Volume {
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

  /** Follows symlinks as if the volume were "/"; undefined after too many links. */
  resolve(path: string): string | undefined {
    let out = '';
    let hops = 0;
    const rest = path.replace(/^\//, '').split('/');
    while (rest.length > 0) {
      const comp = rest.shift() as string;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        out = out.slice(0, Math.max(0, out.lastIndexOf('/')));
        continue;
      }
      const e = this.files[`${out}/${comp}`];
      if (e?.type === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        if (e.content.startsWith('/')) out = '';
        rest.unshift(...e.content.replace(/^\//, '').split('/'));
      } else {
        out = `${out}/${comp}`;
      }
    }
    return out || '/';
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
