/**
 * Which account of a Linux volume the rescue gives the key to, as `linux-rescue.sh` chooses it:
 * the requested one, else cloud-init's default user (cloud.cfg and cloud.cfg.d, read by the
 * script's line rules), else the distribution's by `/etc/os-release`, else root when sshd already
 * lets root in with a key. With what that needs: `/etc/passwd`, login shells, and the
 * authorized_keys files sshd reads for a user. Part of the model in `linux-rescue-model.ts`.
 */
import type { UserSource } from '../scripts/linux-rescue';
import { expandAuthorizedKeysFile, ROOT_LOGIN_WITH_KEYS, type SshdSettings } from './linux-rescue-sshd';
import { lines, ModelFailure, tokens, Volume } from './linux-rescue-volume';
import type { VolumeFiles } from './volume-files';

const NO_LOGIN_SHELLS = new Set(['nologin', 'false', 'sync', 'shutdown', 'halt']);

export interface PasswdUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
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

export function hasLoginShell(user: PasswdUser): boolean {
  const base = user.shell.slice(user.shell.lastIndexOf('/') + 1);
  return !NO_LOGIN_SHELLS.has(base);
}

/** The files sshd reads for a user, resolved in the volume; those that exist; the first path that leaves the volume. */
export function keyFilesOf(vol: Volume, user: PasswdUser, sshd: SshdSettings): { files: string[]; existing: string[]; escaping?: string } {
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
export function chooseAccount(files: VolumeFiles, users: PasswdUser[], sshd: SshdSettings, requested?: string): { user: PasswdUser; source: UserSource } {
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

function yamlScalar(s: string): string {
  let v = s
    .replace(/^[ \t]+/, '')
    .replace(/[ \t]+#.*$/, '')
    .replace(/[ \t]+$/, '');
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
    const v = line
      .slice(eq + 1)
      .replace(/^["']/, '')
      .replace(/["']$/, '');
    if (k === 'ID') id = v.toLowerCase();
    if (k === 'ID_LIKE') idLike = v.toLowerCase();
  }
  return { id, idLike: tokens(idLike) };
}
