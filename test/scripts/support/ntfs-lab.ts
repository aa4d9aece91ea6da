/**
 * Windows root volumes on real NTFS images for the NTFS rescue script's tests: partitioned loop
 * devices formatted with mkntfs, populated through ntfs-3g, and put in the states the script must
 * refuse (hibernated, dirty, unclean journal, BitLocker, dynamic disk) by writing the same bytes
 * Windows would. Runs the script the way SSM does (the built command, run by `sh`) and reads back
 * what it left.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildNtfsRescueCommands, parseNtfsRescueSummary, type NtfsRescueParams, type NtfsRescueSummary } from '../../../infra/scripts/ntfs-rescue';
import type { VolumeFiles } from '../../../infra/sim/volume-files';
import { hasCommand, type DiskLab } from './disk-lab';

export const NTFS_COMMANDS = [
  'losetup',
  'partx',
  'sfdisk',
  'blkid',
  'lsblk',
  'mkntfs',
  'ntfs-3g',
  'ntfs-3g.probe',
  'hivexget',
  'getfattr',
  'setfattr',
  'iconv',
];

/** Why the NTFS disk tests cannot run here, or undefined when they can. */
export function ntfsTestsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `NTFS images need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'NTFS images need root (loop devices, FUSE mounts)';
  const missing = NTFS_COMMANDS.filter((c) => !hasCommand(c));
  if (missing.length > 0) return `missing commands: ${missing.join(', ')} (apt-get install ntfs-3g libhivex-bin fdisk attr)`;
  if (!fs.existsSync('/dev/loop-control')) return 'no /dev/loop-control: loop devices unavailable';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse: ntfs-3g cannot mount';
  return undefined;
}

export type NtfsLayout =
  /** MBR, one NTFS partition (type 7): Windows Server AMIs. */
  | 'mbr'
  /** GPT: EFI system partition, Microsoft reserved, basic data NTFS (UEFI AMIs). */
  | 'gpt'
  /** MBR with a partition of type 0x42: a dynamic disk. */
  | 'mbr-dynamic'
  /** GPT with LDM metadata and LDM data partitions: a dynamic disk. */
  | 'gpt-ldm';

const GPT_EFI = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const GPT_MSR = 'E3C9E316-0B5C-4DB8-817D-F92DF00215AE';
const GPT_BASIC_DATA = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';
const GPT_LDM_METADATA = '5808C8AA-7E8F-42E0-85D2-E1E90434CFB3';
const GPT_LDM_DATA = 'AF9B60A0-1431-4F62-BC68-3311714A69AD';

/** What goes on the volume besides text files. */
export interface NtfsExtras {
  /** Binary files (the SYSTEM hive, hiberfil.sys…), by volume path. */
  binary?: Record<string, Buffer>;
  /** Text files written as UTF-16LE with a BOM, as Task Scheduler writes its task files. */
  utf16?: Record<string, string>;
  /** Security descriptors (hex, as system.ntfs_acl takes them) to set on files. */
  acl?: Record<string, string>;
  /** NTFS attributes (FILE_ATTRIBUTE_*) to set on files. */
  attrib?: Record<string, number>;
}

export interface FileMeta {
  inode: number;
  acl: string;
  attrib: number;
}

export interface NtfsVolume {
  image: string;
  loop: string;
  /** The NTFS partition. */
  partition: string;
  sha256(): string;
  /** Text files (utf8) and directories of the volume, by path as on disk. */
  read(): VolumeFiles;
  /** Raw bytes of one file. */
  readBytes(volumePath: string): Buffer;
  /** inode, security descriptor and attributes of files (read-only mount). */
  meta(paths: string[]): Record<string, FileMeta | undefined>;
}

let counter = 0;

export function buildNtfsVolume(lab: DiskLab, layout: NtfsLayout, files: VolumeFiles, extras: NtfsExtras = {}): NtfsVolume {
  const id = `ntfs-${layout}-${++counter}`;
  const image = lab.image(`${id}.img`, 40);
  const loop = lab.attach(image);
  const tables: Record<NtfsLayout, string> = {
    mbr: 'label: dos\nstart=2048, type=7, bootable\n',
    'mbr-dynamic': 'label: dos\nstart=2048, type=42\n',
    gpt: `label: gpt\n,4M,${GPT_EFI}\n,2M,${GPT_MSR}\n,,${GPT_BASIC_DATA}\n`,
    'gpt-ldm': `label: gpt\n,1M,${GPT_LDM_METADATA}\n,2M,${GPT_MSR}\n,,${GPT_LDM_DATA}\n`,
  };
  const parts = partitionLoop(lab, loop, tables[layout]);
  const partition = parts[parts.length - 1] as string;
  const start = Number(fs.readFileSync(`/sys/class/block/${path.basename(partition)}/start`, 'utf8').trim());
  lab.run('mkntfs', ['-Q', '-q', '-L', 'Windows', '-p', String(start), '-H', '255', '-S', '63', partition]);
  const mnt = lab.path(`mnt-${id}`);
  withNtfsMount(lab, partition, mnt, 'rw', () => {
    writeWindowsTree(mnt, files);
    for (const [p, data] of Object.entries(extras.binary ?? {})) writeFile(mnt, p, data);
    for (const [p, text] of Object.entries(extras.utf16 ?? {})) writeFile(mnt, p, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    for (const [p, acl] of Object.entries(extras.acl ?? {})) lab.run('setfattr', ['-n', 'system.ntfs_acl', '-v', `0x${acl}`, path.join(mnt, p)]);
    for (const [p, attrib] of Object.entries(extras.attrib ?? {})) {
      const le = Buffer.alloc(4);
      le.writeUInt32LE(attrib);
      lab.run('setfattr', ['-n', 'system.ntfs_attrib', '-v', `0x${le.toString('hex')}`, path.join(mnt, p)]);
    }
  });
  return {
    image,
    loop,
    partition,
    sha256: () => {
      spawnSync('sync');
      return createHash('sha256').update(fs.readFileSync(image)).digest('hex');
    },
    read: () => withNtfsMount(lab, partition, mnt, 'ro', () => readWindowsTree(mnt)),
    readBytes: (p) => withNtfsMount(lab, partition, mnt, 'ro', () => fs.readFileSync(path.join(mnt, p))),
    meta: (paths) =>
      withNtfsMount(lab, partition, mnt, 'ro', () => {
        const out: Record<string, FileMeta | undefined> = {};
        for (const p of paths) {
          const abs = path.join(mnt, p);
          if (!fs.existsSync(abs)) {
            out[p] = undefined;
            continue;
          }
          const attrib = Buffer.from(xattr(lab, abs, 'system.ntfs_attrib'), 'hex').readUInt32LE(0);
          out[p] = { inode: fs.statSync(abs).ino, acl: xattr(lab, abs, 'system.ntfs_acl'), attrib };
        }
        return out;
      }),
  };
}

/**
 * Writes the table and makes the kernel see the partitions: sfdisk's own re-read sometimes adds them
 * on a loop device and sometimes not, so partx adds only what is still missing.
 */
function partitionLoop(lab: DiskLab, loop: string, table: string): string[] {
  lab.run('sfdisk', ['--quiet', '--wipe', 'always', loop], {}, table);
  const wanted = table.trim().split('\n').length - 1;
  if (lab.partitions(loop).length < wanted) spawnSync('partx', ['-a', loop], { stdio: 'ignore' });
  const parts = lab.partitions(loop);
  if (parts.length !== wanted) throw new Error(`${loop}: ${parts.length} partitions after partx, ${wanted} in the table`);
  return parts;
}

function xattr(lab: DiskLab, file: string, name: string): string {
  const out = lab.run('getfattr', ['--absolute-names', '-n', name, '-e', 'hex', file]);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}=0x([0-9a-f]*)$`, 'm').exec(out);
  if (!m) throw new Error(`no ${name} for ${file}: ${out}`);
  return m[1] as string;
}

/** Mounts the partition with ntfs-3g for `fn`, unmounts, and waits until ntfs-3g has exited. */
export function withNtfsMount<T>(lab: DiskLab, partition: string, dir: string, mode: 'ro' | 'rw', fn: () => T): T {
  fs.mkdirSync(dir, { recursive: true });
  lab.run('ntfs-3g', ['-o', mode, partition, dir]);
  try {
    return fn();
  } finally {
    lab.run('umount', [dir]);
    waitForNtfs3gExit(dir);
  }
}

/** ntfs-3g keeps flushing after umount returns; the image is only complete once it has exited. */
function waitForNtfs3gExit(dir: string): void {
  for (let i = 0; i < 600; i++) {
    const alive = fs.readdirSync('/proc').some((pid) => {
      if (!/^\d+$/.test(pid)) return false;
      try {
        const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (!args[0]?.includes('ntfs-3g') || !args.includes(dir)) return false;
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    });
    if (!alive) return;
    spawnSync('sleep', ['0.05']);
  }
  throw new Error(`ntfs-3g for ${dir} did not exit`);
}

function writeFile(root: string, volumePath: string, data: Buffer | string): void {
  const abs = path.join(root, volumePath);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, data);
}

/** Writes directories and text files (modes and owners mean nothing on NTFS here). */
function writeWindowsTree(root: string, files: VolumeFiles): void {
  for (const p of Object.keys(files).sort()) {
    const e = files[p]!;
    if (p === '/') continue;
    if (e.type === 'dir') fs.mkdirSync(path.join(root, p), { recursive: true });
    else if (e.type === 'file') writeFile(root, p, e.content);
  }
}

/** Reads the tree back: directories and files (utf8), modes and owners as the model's writeFile sets them. */
function readWindowsTree(root: string): VolumeFiles {
  const out: VolumeFiles = { '/': { type: 'dir', content: '', mode: 0o755, uid: 0, gid: 0 } };
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const child = `${rel === '/' ? '' : rel}/${name}`;
      const st = fs.lstatSync(path.join(root, child));
      if (st.isDirectory()) {
        out[child] = { type: 'dir', content: '', mode: 0o755, uid: 0, gid: 0 };
        walk(child);
      } else {
        out[child] = { type: 'file', content: fs.readFileSync(path.join(root, child), 'utf8'), mode: 0o644, uid: 0, gid: 0 };
      }
    }
  };
  walk('/');
  return out;
}

// -------------------------------------------------------------------------------------------------
// States Windows leaves a volume in, written as Windows writes them

interface BootSector {
  bytesPerSector: number;
  cluster: number;
  mftLcn: number;
  mftMirrLcn: number;
  recordSize: number;
}

function bootSector(fd: number): BootSector {
  const bs = Buffer.alloc(512);
  fs.readSync(fd, bs, 0, 512, 0);
  const bytesPerSector = bs.readUInt16LE(0x0b);
  const cluster = bytesPerSector * (bs[0x0d] as number);
  const c = bs.readInt8(0x40);
  return {
    bytesPerSector,
    cluster,
    mftLcn: Number(bs.readBigUInt64LE(0x30)),
    mftMirrLcn: Number(bs.readBigUInt64LE(0x38)),
    recordSize: c > 0 ? c * cluster : 2 ** -c,
  };
}

/** Reads MFT record `n` at `lcn` with its update sequence undone; `write` puts it back protected. */
function withMftRecord(fd: number, b: BootSector, lcn: number, n: number, fn: (record: Buffer) => void): void {
  const offset = lcn * b.cluster + n * b.recordSize;
  const r = Buffer.alloc(b.recordSize);
  fs.readSync(fd, r, 0, r.length, offset);
  if (r.toString('latin1', 0, 4) !== 'FILE') throw new Error(`MFT record ${n} at ${offset} is not a FILE record`);
  const usaOfs = r.readUInt16LE(4);
  const usaCount = r.readUInt16LE(6);
  const usn = r.readUInt16LE(usaOfs);
  for (let i = 1; i < usaCount; i++) r.writeUInt16LE(r.readUInt16LE(usaOfs + 2 * i), i * b.bytesPerSector - 2);
  fn(r);
  for (let i = 1; i < usaCount; i++) {
    r.writeUInt16LE(r.readUInt16LE(i * b.bytesPerSector - 2), usaOfs + 2 * i);
    r.writeUInt16LE(usn, i * b.bytesPerSector - 2);
  }
  fs.writeSync(fd, r, 0, r.length, offset);
}

/** The attribute of `type` in a record: its offset. */
function attribute(record: Buffer, type: number): number {
  for (let a = record.readUInt16LE(0x14); a + 8 <= record.length; a += record.readUInt32LE(a + 4)) {
    const t = record.readUInt32LE(a);
    if (t === 0xffffffff) break;
    if (t === type) return a;
  }
  throw new Error(`no attribute 0x${type.toString(16)}`);
}

/**
 * Sets the flags of $VOLUME_INFORMATION in $Volume (MFT record 3) and in its copy in $MFTMirr, as
 * Windows does when it schedules chkdsk (VOLUME_IS_DIRTY = 0x0001).
 */
export function setVolumeFlags(partition: string, flags: number): void {
  const fd = fs.openSync(partition, 'r+');
  try {
    const b = bootSector(fd);
    for (const lcn of [b.mftLcn, b.mftMirrLcn]) {
      withMftRecord(fd, b, lcn, 3, (r) => {
        const a = attribute(r, 0x70);
        r.writeUInt16LE(flags, a + r.readUInt16LE(a + 0x14) + 10);
      });
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the two restart pages of $LogFile as a Windows that stopped without a clean shutdown
 * leaves them: one log client in use, RESTART_VOLUME_IS_CLEAN not set.
 */
export function makeJournalUnclean(partition: string): void {
  const fd = fs.openSync(partition, 'r+');
  try {
    const b = bootSector(fd);
    let lcn = 0;
    let size = 0;
    withMftRecord(fd, b, b.mftLcn, 2, (r) => {
      const a = attribute(r, 0x80);
      const runs = a + r.readUInt16LE(a + 0x20);
      size = Number(r.readBigUInt64LE(a + 0x30));
      const header = r[runs] as number;
      const lengthBytes = header & 0x0f;
      const offsetBytes = header >> 4;
      lcn = r.readIntLE(runs + 1 + lengthBytes, offsetBytes);
    });
    const page = (usn: number): Buffer => {
      const p = Buffer.alloc(4096);
      p.write('RSTR', 0, 'latin1');
      p.writeUInt16LE(0x1e, 4); // update sequence array offset
      p.writeUInt16LE(9, 6); // 1 + 4096 / 512
      p.writeUInt32LE(4096, 0x10); // system page size
      p.writeUInt32LE(4096, 0x14); // log page size
      p.writeUInt16LE(0x30, 0x18); // restart area offset
      p.writeInt16LE(1, 0x1a);
      p.writeInt16LE(1, 0x1c);
      const ra = 0x30;
      p.writeBigUInt64LE(0x1000n, ra); // current LSN
      p.writeUInt16LE(1, ra + 8); // log clients
      p.writeUInt16LE(0xffff, ra + 10); // free list: none
      p.writeUInt16LE(0, ra + 12); // in-use list: client 0
      p.writeUInt16LE(0, ra + 14); // flags: not clean
      p.writeUInt32LE(67 - size.toString(2).length, ra + 16);
      p.writeUInt16LE(0xe0, ra + 20); // restart area length
      p.writeUInt16LE(0x40, ra + 22); // client array offset
      p.writeBigInt64LE(BigInt(size), ra + 24);
      p.writeUInt16LE(0x30, ra + 32 + 4); // log record header length
      p.writeUInt16LE(0x40, ra + 32 + 6); // log page data offset
      const client = ra + 0x40;
      p.writeUInt16LE(0xffff, client + 16); // previous client
      p.writeUInt16LE(0xffff, client + 18); // next client
      p.writeUInt32LE(8, client + 0x20);
      p.write('NTFS', client + 0x24, 'utf16le');
      p.writeUInt16LE(usn, 0x1e);
      for (let i = 1; i <= 8; i++) {
        p.writeUInt16LE(p.readUInt16LE(i * 512 - 2), 0x1e + 2 * i);
        p.writeUInt16LE(usn, i * 512 - 2);
      }
      return p;
    };
    fs.writeSync(fd, page(1), 0, 4096, lcn * b.cluster);
    fs.writeSync(fd, page(2), 0, 4096, lcn * b.cluster + 4096);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** BitLocker's signature: "-FVE-FS-" as the OEM id of the partition's boot sector. */
export function markBitLocker(partition: string): void {
  const fd = fs.openSync(partition, 'r+');
  try {
    fs.writeSync(fd, Buffer.from('-FVE-FS-', 'latin1'), 0, 8, 3);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** hiberfil.sys of a hibernated (or Fast Startup) Windows: a "hibr" header. */
export function hiberfil(signature: 'hibr' | 'HIBR' = 'hibr'): Buffer {
  const data = Buffer.alloc(8192);
  data.write(signature, 0, 'latin1');
  return data;
}

/** A Windows-like security descriptor: owner Administrators, DACL SYSTEM and Administrators full, Users read. */
export const WINDOWS_FILE_ACL = (() => {
  const sid = (rid: number): Buffer => Buffer.from([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, rid & 0xff, rid >> 8, 0, 0]);
  const system = Buffer.from([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]);
  const ace = (mask: number, who: Buffer): Buffer => {
    const a = Buffer.alloc(8 + who.length);
    a.writeUInt8(0, 0); // ACCESS_ALLOWED
    a.writeUInt8(0, 1);
    a.writeUInt16LE(a.length, 2);
    a.writeUInt32LE(mask, 4);
    who.copy(a, 8);
    return a;
  };
  const aces = [ace(0x1f01ff, system), ace(0x1f01ff, sid(544)), ace(0x1200a9, sid(545))];
  const acl = Buffer.alloc(8);
  const aclBody = Buffer.concat(aces);
  acl.writeUInt8(2, 0);
  acl.writeUInt16LE(8 + aclBody.length, 2);
  acl.writeUInt16LE(aces.length, 4);
  const owner = sid(544);
  const header = Buffer.alloc(20);
  header.writeUInt8(1, 0);
  header.writeUInt16LE(0x8004 | 0x1000, 2); // self-relative, DACL present, DACL protected
  header.writeUInt32LE(20, 4); // owner
  header.writeUInt32LE(20 + owner.length, 8); // group
  header.writeUInt32LE(0, 12); // no SACL
  header.writeUInt32LE(20 + 2 * owner.length, 16); // DACL
  return Buffer.concat([header, owner, owner, acl, aclBody]).toString('hex');
})();

// -------------------------------------------------------------------------------------------------
// Running the script

export interface NtfsRun {
  status: number;
  stdout: string;
  stderr: string;
  summary: NtfsRescueSummary;
  mountBase: string;
}

export interface NtfsRunOptions {
  jobId: string;
  volumeId: string;
  devRoot: string;
  params?: Partial<NtfsRescueParams>;
  /** Commands that must look absent from the helper (a PATH without them). */
  without?: string[];
  /** Commands replaced by stubs that print nothing and exit 0. */
  succeeding?: string[];
}

let runs = 0;

export function runNtfsRescue(lab: DiskLab, opts: NtfsRunOptions): NtfsRun {
  const id = ++runs;
  const mountBase = lab.path(`ntfs-mnt-base-${id}`);
  fs.mkdirSync(mountBase, { recursive: true });
  let pathDirs = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  if (opts.without && opts.without.length > 0) pathDirs = pathWithout(lab, id, pathDirs, opts.without);
  if (opts.succeeding && opts.succeeding.length > 0) {
    const stubs = lab.path(`ntfs-stubs-${id}`);
    fs.mkdirSync(stubs, { recursive: true });
    for (const name of opts.succeeding) fs.writeFileSync(path.join(stubs, name), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    pathDirs = `${stubs}:${pathDirs}`;
  }
  const params: NtfsRescueParams = {
    jobId: opts.jobId,
    targetInstanceId: 'i-0123456789abcdef0',
    volumeId: opts.volumeId,
    deviceWaitSeconds: 0,
    ...opts.params,
  };
  const commandFile = lab.path(`ntfs-command-${id}.sh`);
  fs.writeFileSync(commandFile, `${buildNtfsRescueCommands(params).join('\n')}\n`);
  // Files, not pipes: a process the script left behind holding a pipe would hang spawnSync.
  const outFile = lab.path(`ntfs-stdout-${id}`);
  const errFile = lab.path(`ntfs-stderr-${id}`);
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  let result;
  try {
    result = spawnSync('/bin/sh', [commandFile], {
      env: { ...(process.env as Record<string, string>), PATH: pathDirs, RA_DEV_ROOT: opts.devRoot, RA_MOUNT_BASE: mountBase },
      stdio: ['ignore', out, err],
      timeout: 120_000,
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const stdout = fs.readFileSync(outFile, 'utf8');
  const stderr = fs.readFileSync(errFile, 'utf8');
  if (result.error) throw new Error(`the script did not finish: ${result.error.message}\n${stderr}`);
  return { status: result.status ?? -1, stdout, stderr, summary: parseNtfsRescueSummary(stdout), mountBase };
}

/** A PATH of one directory linking every command of `pathDirs` but `names`. */
function pathWithout(lab: DiskLab, id: number, pathDirs: string, names: string[]): string {
  const dir = lab.path(`ntfs-path-${id}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const d of pathDirs.split(':')) {
    if (!fs.existsSync(d)) continue;
    for (const name of fs.readdirSync(d)) {
      if (names.includes(name) || fs.existsSync(path.join(dir, name))) continue;
      fs.symlinkSync(path.join(d, name), path.join(dir, name));
    }
  }
  return dir;
}
