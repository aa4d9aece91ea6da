/**
 * What every part of the Linux rescue model (`linux-rescue-model.ts`) shares: the volume as the
 * script sees it (a copy-on-write view of its files, symlinks followed inside the volume as the
 * script's resolve_in_root does, shell globs sorted as under `LC_ALL=C`), text read as the
 * script's read loops read it, and the failure that stops the model with one of the script's codes.
 */
import type { RescueErrorCode } from '../scripts/linux-rescue';
import type { FileEntry, VolumeFiles } from './volume-files';

const MAX_SYMLINK_HOPS = 40;

export class ModelFailure extends Error {
  constructor(
    readonly code: RescueErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Lines as the script's read loops see them: a final line without a newline still counts. */
export function lines(content: string): string[] {
  if (content === '') return [];
  const parts = content.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export function tokens(line: string): string[] {
  return line.split(/[ \t]+/).filter((t) => t !== '');
}

export function parentOf(path: string): string {
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
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
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
