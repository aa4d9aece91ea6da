/**
 * The volume's OpenSSH as the Linux rescue model reads it: its version (from the sshd binary or
 * dpkg's status), the key types it knows, and `sshd_config` as sshd reads it (AuthorizedKeysFile
 * with its `%h`/`%u`/`%U` tokens, PermitRootLogin with its version-dependent default, Include in
 * place, Match blocks ignored). Part of the model in `linux-rescue-model.ts`.
 */
import type { RescueKeyType } from '../scripts/linux-rescue';
import { lines, ModelFailure, tokens, Volume } from './linux-rescue-volume';
import type { VolumeFiles } from './volume-files';

const DEFAULT_AUTHORIZED_KEYS_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];
export const ROOT_LOGIN_WITH_KEYS = new Set(['yes', 'prohibit-password', 'without-password']);

const MAX_INCLUDE_DEPTH = 16;

export interface SshdSettings {
  /** AuthorizedKeysFile patterns, in order; empty for `none`. */
  authorizedKeysFiles: string[];
  permitRootLogin: string;
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

/** Whether the volume's sshd knows a key type: Ed25519 since OpenSSH 6.5, ECDSA since 5.7. */
export function keyTypeSupported(files: VolumeFiles, keyType: RescueKeyType): boolean {
  const need = keyType === 'ed25519' ? [6, 5] : keyType === 'ecdsa' ? [5, 7] : undefined;
  const version = volumeOpensshVersion(files);
  if (!need || !version) return true;
  const [major = 0, minor = 0] = need;
  return !(version.major < major || (version.major === major && version.minor < minor));
}

export function checkKeySupported(files: VolumeFiles, keyType: RescueKeyType): void {
  if (keyTypeSupported(files, keyType)) return;
  const v = volumeOpensshVersion(files);
  const need = keyType === 'ed25519' ? '6.5' : '5.7';
  throw new ModelFailure('KEY_TYPE_UNSUPPORTED', `the OpenSSH of the volume is ${v?.major}.${v?.minor}, older than ${need}: it cannot use a ${keyType} key`);
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
