/**
 * Target root volumes in the layouts people have, built on real loop devices from a fixture tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { VolumeFiles } from '../../../infra/sim/volume-files';
import { DiskLab, linearLvRange, lvmConfig, readTree, writeTree } from './disk-lab';

export type Layout =
  /** No partition table: the filesystem is the whole disk. */
  | { kind: 'whole'; fs: 'ext4' | 'xfs' }
  /** GPT: EFI system partition (no filesystem), /boot ext4, then the root (generic Linux type). */
  | { kind: 'gpt-efi-boot-root'; rootFs: 'xfs' | 'ext4'; rootUuid?: string }
  /** MBR: swap first, ext4 root second. */
  | { kind: 'mbr-swap-root' }
  /** GPT: /boot ext4, then btrfs labelled "fedora" with "root" and "home" subvolumes (Fedora Cloud). */
  | { kind: 'btrfs-subvolumes' }
  /** GPT: /boot ext4, then an LVM PV with VG `vg`: LVs root (xfs) and swap (RHEL). */
  | { kind: 'lvm'; vg: string };

export interface TargetVolume {
  /** The whole disk, as attached to the helper. */
  loop: string;
  partitions: string[];
  /** The block device holding the root filesystem (for UUID/label checks); a loop over the LV for LVM. */
  rootDevice(): string;
  /** The root filesystem tree, with what the fixture puts in its other filesystems (btrfs home). */
  read(): VolumeFiles;
  /** Mounts the tree at a directory for a look; `close` undoes it. */
  open(dir: string): void;
  close(): void;
}

const GPT_EFI = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const GPT_LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const GPT_LVM = 'E6D6D379-F507-44C2-A23C-238F2A3DF928';

let counter = 0;

export function buildVolume(lab: DiskLab, layout: Layout, files: VolumeFiles): TargetVolume {
  const id = `${layout.kind}-${++counter}`;
  const mnt = lab.path(`mnt-${id}`);
  switch (layout.kind) {
    case 'whole': {
      const loop = lab.attach(lab.image(`${id}.img`, layout.fs === 'xfs' ? 96 : 48));
      lab.mkfs(loop, layout.fs);
      return simpleVolume(lab, loop, [], loop, layout.fs, files, mnt);
    }
    case 'gpt-efi-boot-root': {
      const loop = lab.attach(lab.image(`${id}.img`, 160));
      const parts = lab.partition(loop, `label: gpt\n,8M,${GPT_EFI}\n,24M,${GPT_LINUX}\n,,${GPT_LINUX}\n`);
      const [, boot, root] = parts as [string, string, string];
      lab.mkfs(boot, 'ext4', { label: 'BOOT' });
      populateBoot(lab, boot, `${mnt}-boot`);
      lab.mkfs(root, layout.rootFs, { uuid: layout.rootUuid });
      return simpleVolume(lab, loop, parts, root, layout.rootFs, files, mnt);
    }
    case 'mbr-swap-root': {
      const loop = lab.attach(lab.image(`${id}.img`, 80));
      const parts = lab.partition(loop, 'label: dos\n,16M,82\n,,83,*\n');
      const [swap, root] = parts as [string, string];
      lab.mkfs(swap, 'swap');
      lab.mkfs(root, 'ext4', { label: 'cloudimg-rootfs' });
      return simpleVolume(lab, loop, parts, root, 'ext4', files, mnt);
    }
    case 'btrfs-subvolumes': {
      const loop = lab.attach(lab.image(`${id}.img`, 200));
      const parts = lab.partition(loop, `label: gpt\n,24M,${GPT_LINUX}\n,,${GPT_LINUX}\n`);
      const [boot, root] = parts as [string, string];
      lab.mkfs(boot, 'ext4', { label: 'BOOT' });
      populateBoot(lab, boot, `${mnt}-boot`);
      lab.mkfs(root, 'btrfs', { label: 'fedora' });
      const opened: string[] = [];
      lab.mount(root, `${mnt}-top`);
      lab.run('btrfs', ['subvolume', 'create', `${mnt}-top/root`]);
      lab.run('btrfs', ['subvolume', 'create', `${mnt}-top/home`]);
      lab.unmount(`${mnt}-top`);
      const volume: TargetVolume = {
        loop,
        partitions: parts,
        rootDevice: () => root,
        open(dir) {
          lab.mount(root, dir, 'subvol=root');
          fs.mkdirSync(path.join(dir, 'home'), { recursive: true });
          lab.mount(root, path.join(dir, 'home'), 'subvol=home');
          opened.push(dir, path.join(dir, 'home'));
        },
        close() {
          closeAll(lab, opened);
        },
        read() {
          volume.open(mnt);
          try {
            return readTree(mnt);
          } finally {
            volume.close();
          }
        },
      };
      populate(volume, files, mnt);
      return volume;
    }
    case 'lvm': {
      const loop = lab.attach(lab.image(`${id}.img`, 200));
      const parts = lab.partition(loop, `label: gpt\n,24M,${GPT_LINUX}\n,,${GPT_LVM}\n`);
      const [boot, pv] = parts as [string, string];
      lab.mkfs(boot, 'ext4', { label: 'boot' });
      const cfg = lvmConfig([pv]);
      const env = { LVM_SUPPRESS_FD_WARNINGS: '1' };
      lab.run('lvm', ['pvcreate', '--config', cfg, '-qq', pv], env);
      lab.run('lvm', ['vgcreate', '--config', cfg, '-qq', layout.vg, pv], env);
      lab.run('lvm', ['lvcreate', '--config', cfg, '-qq', '-an', '-Zn', '-L', '120M', '-n', 'root', layout.vg], env);
      lab.run('lvm', ['lvcreate', '--config', cfg, '-qq', '-an', '-Zn', '-L', '16M', '-n', 'swap', layout.vg], env);
      const range = linearLvRange(lab, pv, layout.vg, 'root');
      let lvLoop: string | undefined;
      const opened: string[] = [];
      const openLv = (): string => {
        lvLoop ??= lab.attach(pv, range);
        return lvLoop;
      };
      lab.mkfs(openLv(), 'xfs');
      const volume: TargetVolume = {
        loop,
        partitions: parts,
        rootDevice: openLv,
        open(dir) {
          lab.mount(openLv(), dir, 'nouuid');
          opened.push(dir);
        },
        close() {
          closeAll(lab, opened);
          if (lvLoop) lab.detach(lvLoop);
          lvLoop = undefined;
        },
        read() {
          volume.open(mnt);
          try {
            return readTree(mnt);
          } finally {
            volume.close();
          }
        },
      };
      populate(volume, files, mnt);
      return volume;
    }
  }
}

function simpleVolume(lab: DiskLab, loop: string, partitions: string[], root: string, fsType: string, files: VolumeFiles, mnt: string): TargetVolume {
  const opened: string[] = [];
  const volume: TargetVolume = {
    loop,
    partitions,
    rootDevice: () => root,
    open(dir) {
      lab.mount(root, dir, fsType === 'xfs' ? 'nouuid' : '');
      opened.push(dir);
    },
    close() {
      closeAll(lab, opened);
    },
    read() {
      volume.open(mnt);
      try {
        return readTree(mnt);
      } finally {
        volume.close();
      }
    },
  };
  populate(volume, files, mnt);
  return volume;
}

function closeAll(lab: DiskLab, opened: string[]): void {
  while (opened.length > 0) lab.unmount(opened.pop() as string);
}

function populate(volume: TargetVolume, files: VolumeFiles, mnt: string): void {
  volume.open(mnt);
  try {
    writeTree(mnt, files);
  } finally {
    volume.close();
  }
}

function populateBoot(lab: DiskLab, dev: string, dir: string): void {
  lab.mount(dev, dir);
  fs.writeFileSync(path.join(dir, 'vmlinuz-6.1.0'), 'not a kernel\n');
  fs.mkdirSync(path.join(dir, 'grub2'));
  lab.unmount(dir);
}
