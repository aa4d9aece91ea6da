/**
 * Real disk images for the rescue-script tests: sparse files attached as loop devices, partitioned
 * with sfdisk, formatted with mkfs.*, populated from `VolumeFiles` fixtures and read back.
 * Everything a lab attaches or mounts is recorded and undone by `cleanup()`, also after a failure.
 *
 * This kernel has no device-mapper and does not scan partitions of loop devices (`losetup -P`
 * finds none): partitions are added with `partx -a`, and LVM logical volumes are opened for
 * population as loop devices over their extents.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FileEntry, VolumeFiles } from '../../../infra/sim/volume-files';

/** mkfs.xfs refuses filesystems under 300 MB without its test override. */
const XFS_SMALL_ENV = { TEST_DEV: '1', TEST_DIR: '1', QA_CHECK_FS: '1' };
/** LVM commands see only the given devices and leave no trace in the host's /etc/lvm. */
export function lvmConfig(devices: string[]): string {
  const filter = [...devices.map((d) => `"a|^${d}$|"`), '"r|.*|"'].join(',');
  return `devices{use_devicesfile=0 filter=[${filter}] global_filter=[${filter}]} ` + 'backup{backup=0 archive=0} global{activation=0}';
}

export const REQUIRED_COMMANDS = [
  'losetup',
  'partx',
  'sfdisk',
  'mkfs.ext4',
  'mkfs.xfs',
  'mkswap',
  'blkid',
  'lsblk',
  'findmnt',
  'ssh-keygen',
  'setfattr',
  'getfattr',
  'shellcheck',
];

/** Why the disk tests cannot run here, or undefined when they can. */
export function diskTestsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `disk images need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'disk images need root (loop devices, mount)';
  const missing = REQUIRED_COMMANDS.filter((c) => !hasCommand(c));
  if (missing.length > 0) return `missing commands: ${missing.join(', ')} (apt-get install xfsprogs fdisk attr shellcheck …)`;
  if (!fs.existsSync('/dev/loop-control')) return 'no /dev/loop-control: loop devices unavailable';
  return undefined;
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class DiskLab {
  readonly dir: string;
  private readonly loops: string[] = [];
  private readonly mounts: string[] = [];

  constructor(prefix = 'ra-disk-') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /** Runs a command, throwing with its stderr when it fails. */
  run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): string {
    try {
      return execFileSync(cmd, args, {
        env: { ...process.env, ...env },
        input,
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
    }
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  image(name: string, sizeMiB: number): string {
    const file = this.path(name);
    this.run('truncate', ['-s', `${sizeMiB}M`, file]);
    return file;
  }

  /** Attaches a file (or a byte range of a device) as a loop device. */
  attach(file: string, range?: { offset: number; size: number }): string {
    const args = ['--find', '--show'];
    if (range) args.push('--offset', String(range.offset), '--sizelimit', String(range.size));
    const loop = this.run('losetup', [...args, file]).trim();
    this.loops.push(loop);
    return loop;
  }

  detach(loop: string): void {
    spawnSync('partx', ['-d', loop], { stdio: 'ignore' });
    this.run('losetup', ['-d', loop]);
    this.loops.splice(this.loops.indexOf(loop), 1);
  }

  /** Writes a partition table and makes the kernel see the partitions. */
  partition(loop: string, sfdiskScript: string): string[] {
    this.run('sfdisk', ['--quiet', '--wipe', 'always', loop], {}, sfdiskScript);
    this.run('partx', ['-a', loop]);
    return this.partitions(loop);
  }

  partitions(loop: string): string[] {
    return this.run('lsblk', ['-lnpo', 'NAME,TYPE', loop])
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1] === 'part')
      .map((f) => f[0] as string);
  }

  mkfs(dev: string, fsType: 'ext4' | 'xfs' | 'btrfs' | 'swap', opts: { label?: string; uuid?: string } = {}): void {
    const label = opts.label ? ['-L', opts.label] : [];
    switch (fsType) {
      case 'ext4':
        this.run('mkfs.ext4', ['-q', '-F', ...label, ...(opts.uuid ? ['-U', opts.uuid] : []), dev]);
        break;
      case 'xfs':
        this.run('mkfs.xfs', ['-q', '-f', ...label, ...(opts.uuid ? ['-m', `uuid=${opts.uuid}`] : []), dev], XFS_SMALL_ENV);
        break;
      case 'btrfs':
        this.run('mkfs.btrfs', ['-q', '-f', ...label, dev]);
        break;
      case 'swap':
        this.run('mkswap', [...label, dev]);
        break;
    }
  }

  mount(dev: string, dir: string, options = ''): void {
    fs.mkdirSync(dir, { recursive: true });
    this.run('mount', [...(options ? ['-o', options] : []), dev, dir]);
    this.mounts.push(dir);
  }

  unmount(dir: string): void {
    this.run('umount', [dir]);
    this.mounts.splice(this.mounts.lastIndexOf(dir), 1);
  }

  unmountAll(): void {
    for (const dir of [...this.mounts].reverse()) this.unmount(dir);
  }

  /** Undoes everything, newest first, and removes the lab's directory. Never throws. */
  cleanup(): string[] {
    const problems: string[] = [];
    for (const dir of [...this.mounts].reverse()) {
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (r.status !== 0) {
        const lazy = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
        if (lazy.status !== 0) problems.push(`umount ${dir}: ${r.stderr.trim()}`);
      }
    }
    this.mounts.length = 0;
    for (const loop of [...this.loops].reverse()) {
      spawnSync('partx', ['-d', loop], { stdio: 'ignore' });
      const r = spawnSync('losetup', ['-d', loop], { encoding: 'utf8' });
      if (r.status !== 0) problems.push(`losetup -d ${loop}: ${r.stderr.trim()}`);
    }
    this.loops.length = 0;
    if (problems.length === 0) fs.rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/** Writes a fixture tree under a mounted root: owners, modes, symlinks and SELinux labels as given. */
export function writeTree(root: string, files: VolumeFiles, include: (p: string) => boolean = () => true): void {
  const paths = Object.keys(files)
    .filter(include)
    .sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));
  for (const p of paths) {
    const e = files[p] as FileEntry;
    const target = path.join(root, p);
    if (e.type === 'dir') {
      fs.mkdirSync(target, { recursive: true });
      fs.chownSync(target, e.uid, e.gid);
      fs.chmodSync(target, e.mode);
    } else if (e.type === 'file') {
      fs.writeFileSync(target, e.content);
      fs.chownSync(target, e.uid, e.gid);
      fs.chmodSync(target, e.mode);
    } else {
      fs.symlinkSync(e.content, target);
      fs.lchownSync(target, e.uid, e.gid);
    }
    if (e.selinuxLabel) {
      execFileSync('setfattr', ['-h', '-n', 'security.selinux', '-v', e.selinuxLabel, target]);
    }
  }
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/**
 * Reads a mounted tree back as `VolumeFiles`. `skip` lists volume paths to leave out with what is
 * below them (lost+found, mount points of filesystems that are not part of the fixture).
 */
export function readTree(root: string, skip: string[] = ['/lost+found']): VolumeFiles {
  const labels = readLabels(root);
  const out: VolumeFiles = {};
  const walk = (rel: string): void => {
    const abs = rel === '/' ? root : path.join(root, rel);
    const st = fs.lstatSync(abs);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    const label = labels.get(abs.replace(/\/$/, '')) ?? (rel === '/' ? labels.get(root) : undefined);
    const withLabel = label ? { selinuxLabel: label } : {};
    if (st.isSymbolicLink()) {
      out[rel] = { type: 'symlink', content: fs.readlinkSync(abs), mode: 0o777, uid: st.uid, gid: st.gid };
    } else if (st.isDirectory()) {
      out[rel] = { type: 'dir', content: '', ...base, ...withLabel };
      for (const name of fs.readdirSync(abs).sort()) {
        const child = rel === '/' ? `/${name}` : `${rel}/${name}`;
        if (!skip.includes(child)) walk(child);
      }
    } else {
      out[rel] = { type: 'file', content: fs.readFileSync(abs, 'utf8'), ...base, ...withLabel };
    }
  };
  walk('/');
  return out;
}

function readLabels(root: string): Map<string, string> {
  const r = spawnSync('getfattr', ['-R', '-h', '--absolute-names', '-n', 'security.selinux', root], {
    encoding: 'utf8',
  });
  const labels = new Map<string, string>();
  let current = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice('# file: '.length).replace(/\/$/, '');
    const m = /^security\.selinux="(.*)"$/.exec(line);
    if (m?.[1] !== undefined && current) labels.set(current, m[1].replace(/\\000$/, ''));
  }
  return labels;
}

/** Where a linear LV lies on its PV, from LVM's own metadata: the byte range to attach as a loop. */
export function linearLvRange(lab: DiskLab, pv: string, vg: string, lv: string): { offset: number; size: number } {
  const cfg = lvmConfig([pv]);
  const seg = lab
    .run(
      'lvm',
      [
        'lvs',
        '--config',
        cfg,
        '--segments',
        '--noheadings',
        '--separator',
        '|',
        '--units',
        'b',
        '--nosuffix',
        '-o',
        'seg_pe_ranges,vg_extent_size',
        `${vg}/${lv}`,
      ],
      { LVM_SUPPRESS_FD_WARNINGS: '1' },
    )
    .trim();
  const m = /^[^:]+:(\d+)-(\d+)\|(\d+)$/.exec(seg);
  if (!m) throw new Error(`unexpected lvs output: ${seg}`);
  const peStart = Number(
    lab
      .run('lvm', ['pvs', '--config', cfg, '--noheadings', '--units', 'b', '--nosuffix', '-o', 'pe_start', pv], {
        LVM_SUPPRESS_FD_WARNINGS: '1',
      })
      .trim(),
  );
  const [first, last, extent] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { offset: peStart + first * extent, size: (last - first + 1) * extent };
}
