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
 *
 * The model's parts: `linux-rescue-accounts.ts` (which account), `linux-rescue-sshd.ts` (the
 * volume's OpenSSH and sshd_config), `linux-rescue-selinux.ts` (labels), `linux-rescue-volume.ts`
 * (the volume as the script sees it). This file places the key and says who sshd lets in with it.
 */
import type { FileEntry, VolumeFiles } from './volume-files';
import type { LinuxKeyType, RescueErrorCode, RescueKeyType, RescueSelinux, RescueUserResult, UserSource } from '../scripts/linux-rescue';
import { chooseAccount, hasLoginShell, keyFilesOf, readPasswd, type PasswdUser } from './linux-rescue-accounts';
import { labelFor, readSelinuxConfig, SSH_HOME_CONTEXT, USER_HOME_DIR_CONTEXT, type LabelState } from './linux-rescue-selinux';
import { checkKeySupported, readSshdSettings, ROOT_LOGIN_WITH_KEYS, volumeOpensshVersion, type SshdSettings } from './linux-rescue-sshd';
import { lines, ModelFailure, parentOf, tokens, Volume } from './linux-rescue-volume';

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
          vol.set(at, {
            type: 'file',
            content: '',
            mode: before?.mode ?? 0o600,
            uid: before?.uid ?? 0,
            gid: before?.gid ?? 0,
            ...(before?.selinuxLabel ? { selinuxLabel: before.selinuxLabel } : {}),
          });
        }
      } else if (selinux.mode === 'enforcing') {
        // The script has written the key when it finds this out.
        return {
          files: vol.files,
          users: [],
          error: {
            code: 'SELINUX_LABEL_FAILED',
            message:
              'the key was added but its SELinux label could not be set (no policy entry, or setfattr and chcon failed): sshd in enforcing mode would not read it',
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

function applyKeyFile(vol: Volume, user: PasswdUser, plan: KeyFilePlan, line: string, blob: string, state: LabelState): { file: string; added: boolean } {
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

function fail(files: VolumeFiles, code: RescueErrorCode, message: string): LinuxRescueModelResult {
  return { files: { ...files }, users: [], error: { code, message } };
}
