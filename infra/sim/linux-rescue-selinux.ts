/**
 * SELinux in the Linux rescue model: the volume's mode and policy type (`/etc/selinux/config`),
 * the context its policy gives a path (file_contexts, .homedirs, .local, .subs, as libselinux's
 * file backend picks it), and the label of what the rescue creates, with the fallback contexts
 * when the policy has no entry. Part of the model in `linux-rescue-model.ts`.
 */
import type { ContextSource } from '../scripts/linux-rescue';
import { lines, tokens, Volume } from './linux-rescue-volume';
import type { FileEntry, VolumeFiles } from './volume-files';

/** Fallback contexts for what the script creates when the volume's policy has no entry. */
export const SSH_HOME_CONTEXT = 'system_u:object_r:ssh_home_t:s0';
export const USER_HOME_DIR_CONTEXT = 'system_u:object_r:user_home_dir_t:s0';

/** SELINUX= of the volume's /etc/selinux/config (last one wins), `absent` without the file. */
export function readSelinuxMode(files: VolumeFiles): string {
  return readSelinuxConfig(files).mode;
}

export function readSelinuxConfig(files: VolumeFiles): { mode: string; type: string } {
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

export interface LabelState {
  labels: boolean;
  type: string;
  labelled: boolean;
  source: ContextSource;
}

export function labelFor(vol: Volume, state: LabelState, path: string, kind: 'd' | 'f', fallback: string | undefined): Pick<FileEntry, 'selinuxLabel'> {
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
