/**
 * The Linux rescue script against real disk images: loop devices, partition tables, ext4, xfs,
 * btrfs, LVM, a fake device tree (Nitro by-id links, Xen sdX/xvdX names) and a stub `aws`.
 * Every result is also compared with the simulated region's model of the script.
 *
 * Needs root and the tools in REQUIRED_COMMANDS (Debian: xfsprogs btrfs-progs lvm2 fdisk attr
 * shellcheck openssh-client). Where they are missing the suite is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RescueSuccess, RescueSummary } from '../../infra/scripts/linux-rescue';
import { applyLinuxRescue, usersAcceptingKey } from '../../infra/sim/linux-rescue-model';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { EXISTING_KEYS, fixture, linuxVolumeFixtures, type LinuxVolumeFixture } from '../fixtures/linux-volumes';
import { dir, file, passwd, volume } from '../fixtures/linux-volumes/tree';
import { DiskLab, diskTestsUnavailable, hasCommand } from './support/disk-lab';
import { nitroDevRoot, runRescue, xenDevRoot, type RescueRun } from './support/rescue-runner';
import { buildVolume, type TargetVolume } from './support/target-volume';

const unavailable = diskTestsUnavailable();
if (unavailable) {
  // An explicit, printed reason: CI runs as root with the packages installed, so it never skips.
  console.warn(`linux-rescue.disk.test.ts skipped: ${unavailable}`);
}
const describeOnDisks = unavailable ? describe.skip : describe;

let seq = 0;
function nextIds(): { jobId: string; volumeId: string } {
  seq++;
  return { jobId: `job-disk-${seq}`, volumeId: `vol-0${seq.toString(16).padStart(16, 'a')}` };
}

function ok(run: RescueRun): RescueSuccess {
  const summary: RescueSummary = run.summary;
  if (!summary.ok || run.status !== 0) {
    throw new Error(`rescue failed (exit ${run.status}): ${JSON.stringify(summary)}\n${run.stderr}`);
  }
  return summary;
}

/** What a run must leave behind on the helper, success or failure. */
function expectCleanHelper(lab: DiskLab, run: RescueRun, volume?: TargetVolume): void {
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  expect(mountinfo).not.toContain(run.mountBase);
  expect(fs.existsSync(path.join(run.mountBase, `ra-${run.jobId}`))).toBe(false);
  if (run.aws.keyPath) {
    expect(fs.existsSync(run.aws.keyPath)).toBe(false);
    expect(fs.existsSync(path.dirname(run.aws.keyPath))).toBe(false);
  }
  if (volume) {
    const mounted = lab
      .run('lsblk', ['-nlpo', 'NAME,MOUNTPOINT', volume.loop])
      .split('\n')
      .filter((l) => l.trim().split(/\s+/).length > 1);
    expect(mounted).toEqual([]);
    for (const part of [volume.loop, ...volume.partitions]) {
      expect(lab.run('losetup', ['-j', part]).trim()).toBe('');
    }
  }
  if (run.aws.privateKey) {
    const body = run.aws.privateKey.split('\n')[1] ?? 'no key body';
    expect(run.stdout + run.stderr).not.toContain(body);
    expect(run.stdout + run.stderr).not.toContain('PRIVATE KEY');
  }
}

/** The private key the stub received is the pair of the public key in the summary. */
function expectKeyPair(lab: DiskLab, run: RescueRun, summary: RescueSuccess): void {
  expect(run.aws.privateKey).toBeDefined();
  const copy = lab.path(`received-${run.jobId}`);
  fs.writeFileSync(copy, run.aws.privateKey as string, { mode: 0o600 });
  const derived = lab.run('ssh-keygen', ['-y', '-f', copy]).trim().split(' ').slice(0, 2).join(' ');
  expect(summary.publicKey.split(' ').slice(0, 2).join(' ')).toBe(derived);
  expect(summary.publicKey.endsWith(` reset-access-${run.jobId}`)).toBe(true);
  const fingerprint = lab.run('ssh-keygen', ['-l', '-E', 'sha256', '-f', copy]).split(' ')[1];
  expect(summary.fingerprint).toBe(fingerprint);
}

function expectPutParameter(run: RescueRun, kmsKeyId?: string): void {
  const a = run.aws.args;
  expect(a.slice(0, 2)).toEqual(['ssm', 'put-parameter']);
  expect(a[a.indexOf('--name') + 1]).toBe('/ec2rl/openssh/i-0123456789abcdef0/key');
  expect(a[a.indexOf('--type') + 1]).toBe('SecureString');
  expect(a).toContain('--overwrite');
  expect(a[a.indexOf('--value') + 1]).toMatch(/^file:\/\//);
  expect(a[a.indexOf('--region') + 1]).toBe('eu-west-1');
  if (kmsKeyId) expect(a[a.indexOf('--key-id') + 1]).toBe(kmsKeyId);
  else expect(a).not.toContain('--key-id');
}

/**
 * A successful run did exactly what the fixture expects and exactly what the model does: the
 * whole tree after the run equals the model applied to the tree before it.
 */
function expectRescued(fx: LinuxVolumeFixture, before: VolumeFiles, after: VolumeFiles, summary: RescueSuccess): void {
  expect(summary.keyType).toBe(fx.expect.keyType ?? 'ed25519');
  expect(summary.users.map((u) => u.file).sort()).toEqual(fx.expect.keyFiles);
  expect(usersAcceptingKey(before, summary.publicKey)).toEqual([]);
  expect(usersAcceptingKey(after, summary.publicKey).sort()).toEqual(fx.expect.usersWithKey);
  for (const keyFile of fx.expect.keyFiles) {
    const lines = (after[keyFile]?.content ?? '').split('\n');
    expect(lines.filter((l) => l === summary.publicKey)).toHaveLength(1);
    for (const old of (before[keyFile]?.content ?? '').split('\n').filter((l) => l.trim() !== '')) {
      expect(lines).toContain(old);
    }
  }
  const model = applyLinuxRescue(before, { publicKey: summary.publicKey });
  expect(model.error).toBeUndefined();
  expect(model.users).toEqual(summary.users);
  expect(after).toEqual(model.files);
}

describeOnDisks('linux-rescue.sh on real disk images', () => {
  let lab: DiskLab;
  let decoy: { volumeId: string; loop: string; volume: TargetVolume; before: VolumeFiles };

  beforeAll(() => {
    lab = new DiskLab();
    // Another volume attached to the same helper, with a login user of its own: never to be touched.
    const files = volume({
      '/etc/passwd': file(passwd(['ec2-user', 1000, 1000, '/home/ec2-user', '/bin/bash'])),
      '/home/ec2-user': dir(0o700, 1000, 1000),
    });
    const v = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, files);
    decoy = { volumeId: 'vol-0ffffffffffffffff', loop: v.loop, volume: v, before: v.read() };
  });

  afterAll(() => {
    const problems = lab.cleanup();
    expect(problems).toEqual([]);
  });

  describe('each distribution fixture on a whole-disk ext4 volume found by its NVMe serial', () => {
    for (const fx of linuxVolumeFixtures) {
      it(`${fx.name}: ${fx.description}`, () => {
        // Prepare
        const ids = nextIds();
        const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fx.files);
        const before = target.read();
        const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, [], decoy);

        // Act
        const run = runRescue(lab, { ...ids, devRoot });

        // Assess
        if (!fx.expect.error) ok(run);
        expectCleanHelper(lab, run, target);
        const after = target.read();
        if (fx.expect.error) {
          expect(run.summary).toMatchObject({ ok: false, error: fx.expect.error });
          expect(run.status).not.toBe(0);
          expect(run.aws.called).toBe(false);
          expect(after).toEqual(before);
          return;
        }
        expect(run.status).toBe(0);
        const summary = ok(run);
        expect(summary).toMatchObject({ filesystem: 'ext4', partition: target.loop, disk: target.loop });
        expect(summary.device).toBe(path.join(devRoot, `disk/by-id/nvme-Amazon_Elastic_Block_Store_${ids.volumeId.replace('-', '')}`));
        expectKeyPair(lab, run, summary);
        expectPutParameter(run);
        expectRescued(fx, before, after, summary);
        if (fx.expect.keyType === 'rsa') {
          expect(lab.run('ssh-keygen', ['-l', '-f', lab.path(`received-${run.jobId}`)]).split(' ')[0]).toBe('4096');
        }
      });
    }
  });

  describe('disk layouts', () => {
    it('xfs root as the third GPT partition (after EFI and /boot), same UUID as a mounted xfs, found as xvdf from the sdf hint', () => {
      // Prepare
      const fx = fixture('amazon-linux-2023');
      const uuid = '5f2c1b7e-3a4d-4c8e-9b1a-0d2e3f4a5b6c';
      const target = buildVolume(lab, { kind: 'gpt-efi-boot-root', rootFs: 'xfs', rootUuid: uuid }, fx.files);
      const before = target.read();
      // The helper's own xfs root has the same UUID (both launched from the same AMI): only
      // `-o nouuid` lets the kernel mount the target's.
      const twin = lab.attach(lab.image('helper-twin.img', 96));
      lab.mkfs(twin, 'xfs', { uuid });
      lab.mount(twin, lab.path('helper-twin'));
      const ids = nextIds();
      const devRoot = xenDevRoot(lab, 'xvdf', target.loop, { name: 'xvdg', loop: decoy.loop });
      const root = target.partitions[2] as string;
      const labelBefore = lab.run('blkid', ['-p', '-o', 'export', root]);

      // Act
      const run = runRescue(lab, { ...ids, devRoot });

      // Assess
      lab.unmount(lab.path('helper-twin'));
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({ device: path.join(devRoot, 'xvdf'), partition: root, filesystem: 'xfs' });
      expect(lab.run('blkid', ['-p', '-o', 'export', root])).toBe(labelBefore);
      expect(lab.run('blkid', ['-p', '-o', 'value', '-s', 'UUID', root]).trim()).toBe(uuid);
      expectKeyPair(lab, run, summary);
      expectRescued(fx, before, target.read(), summary);
    });

    it('MBR with swap first and an ext4 root second, attached as /dev/sdf, KMS key passed on', () => {
      // Prepare
      const fx = fixture('ubuntu-22.04');
      const target = buildVolume(lab, { kind: 'mbr-swap-root' }, fx.files);
      const before = target.read();
      const ids = nextIds();
      const devRoot = xenDevRoot(lab, 'sdf', target.loop);
      const kmsKeyId = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

      // Act
      const run = runRescue(lab, { ...ids, devRoot, params: { kmsKeyId } });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({ device: path.join(devRoot, 'sdf'), partition: target.partitions[1], filesystem: 'ext4' });
      expectPutParameter(run, kmsKeyId);
      expectRescued(fx, before, target.read(), summary);
    });

    it('btrfs with "root" and "home" subvolumes: finds the root subvolume and mounts home from the volume fstab', () => {
      // Prepare
      const fx = fixture('fedora-btrfs');
      const target = buildVolume(lab, { kind: 'btrfs-subvolumes' }, fx.files);
      const before = target.read();
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions);

      // Act
      const run = runRescue(lab, { ...ids, devRoot });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({ partition: target.partitions[1], filesystem: 'btrfs', subvolume: 'root' });
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: true });
      expectRescued(fx, before, target.read(), summary);
    });

    // This machine has no device-mapper, so `vgchange -ay` cannot work here: the script falls back to
    // a loop device over the root LV's extents. Where device-mapper works, it activates the VG and
    // deactivates it afterwards (not exercised here).
    const deviceMapper = hasCommand('dmsetup') && spawnSync('dmsetup', ['version'], { stdio: 'ignore' }).status === 0;

    it('LVM root: the VG is activated, or without device-mapper the linear root LV is opened through a loop device', () => {
      // Prepare
      const fx = fixture('rhel-9');
      const target = buildVolume(lab, { kind: 'lvm', vg: 'rhel' }, fx.files);
      const before = target.read();
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions);

      // Act
      const run = runRescue(lab, { ...ids, devRoot });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary.filesystem).toBe('xfs');
      if (deviceMapper) {
        expect(summary.lvm).toMatchObject({ volume: 'rhel/root', activation: 'vgchange' });
      } else {
        expect(summary.lvm).toMatchObject({ volume: 'rhel/root', activation: 'loop' });
        expect(summary.lvm?.note).toMatch(/vgchange -ay rhel failed/);
      }
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: true });
      expectRescued(fx, before, target.read(), summary);
    });

    it('LVM root whose VG name clashes with a device-mapper name on the helper: not activated, opened through a loop device', () => {
      // Prepare
      const fx = fixture('rhel-9');
      const target = buildVolume(lab, { kind: 'lvm', vg: 'rhel' }, fx.files);
      const before = target.read();
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions);
      fs.mkdirSync(path.join(devRoot, 'mapper'));
      fs.writeFileSync(path.join(devRoot, 'mapper/rhel-root'), '');

      // Act
      const run = runRescue(lab, { ...ids, devRoot });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary.lvm).toMatchObject({ volume: 'rhel/root', activation: 'loop' });
      expect(summary.lvm?.note).toMatch(/clashes/);
      expectRescued(fx, before, target.read(), summary);
    });
  });

  describe('SELinux', () => {
    it('when labels cannot be set from the helper, asks for a relabel at the next boot', () => {
      // Prepare
      const fx = fixture('rocky-9');
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fx.files);
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, []);

      // Act
      const run = runRescue(lab, { ...ids, devRoot, failingCommands: ['setfattr', 'chcon'] });

      // Assess
      const summary = ok(run);
      expectCleanHelper(lab, run, target);
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: false });
      const after = target.read();
      expect(after['/.autorelabel']).toMatchObject({ type: 'file', uid: 0 });
      expect(after['/home/rocky/.ssh/authorized_keys']?.selinuxLabel).toBeUndefined();
      expect(usersAcceptingKey(after, summary.publicKey)).toEqual(['rocky']);
    });
  });

  describe('running again', () => {
    it('a second run of the same job replaces its own key: one key line, the one now in Parameter Store', () => {
      // Prepare
      const fx = fixture('debian-12');
      const target = buildVolume(lab, { kind: 'whole', fs: 'xfs' }, fx.files);
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, target.loop, []);
      const first = ok(runRescue(lab, { ...ids, devRoot }));
      const afterFirst = target.read();

      // Act
      const run = runRescue(lab, { ...ids, devRoot });

      // Assess
      expectCleanHelper(lab, run, target);
      const second = ok(run);
      expectKeyPair(lab, run, second);
      const afterSecond = target.read();
      for (const keyFile of fx.expect.keyFiles) {
        const lines = (afterSecond[keyFile]?.content ?? '').split('\n');
        expect(lines.filter((l) => l.endsWith(` reset-access-${ids.jobId}`))).toEqual([second.publicKey]);
        expect(lines).toHaveLength((afterFirst[keyFile]?.content ?? '').split('\n').length);
      }
      expect(afterSecond['/home/alice/.ssh/authorized_keys']?.content).toContain(EXISTING_KEYS.laptop);
      expect(usersAcceptingKey(afterSecond, first.publicKey)).toEqual([]);
      expect(afterSecond).toEqual(applyLinuxRescue(afterFirst, { publicKey: second.publicKey }).files);
    });
  });

  describe('failures: non-zero exit, one JSON line with the code, nothing left behind', () => {
    it('DEVICE_NOT_FOUND when no device has the volume id', () => {
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, 'vol-0eeeeeeeeeeeeeeee', decoy.loop, []);

      const run = runRescue(lab, { ...ids, devRoot });

      expect(run.status).not.toBe(0);
      expect(run.summary).toMatchObject({ ok: false, error: 'DEVICE_NOT_FOUND' });
      expect(run.aws.called).toBe(false);
      expectCleanHelper(lab, run);
    });

    it("DEVICE_NOT_FOUND when the volume id leads to the helper's own root disk", () => {
      const rootSource = lab.run('findmnt', ['-no', 'SOURCE', '/']).trim().replace(/\[.*$/, '');
      const rootDisk = lab.run('lsblk', ['-nlpso', 'NAME,TYPE', rootSource])
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .find((f) => f[1] === 'disk')?.[0];
      if (!rootDisk) throw new Error(`cannot tell the root disk of this machine from ${rootSource}`);
      const ids = nextIds();
      const devRoot = nitroDevRoot(lab, ids.volumeId, rootDisk, []);

      const run = runRescue(lab, { ...ids, devRoot });

      expect(run.summary).toMatchObject({ ok: false, error: 'DEVICE_NOT_FOUND' });
      expect((run.summary as { message: string }).message).toContain("helper's own root");
      expectCleanHelper(lab, run);
    });

    it('FILESYSTEM_NOT_RECOGNISED for a disk with only swap on it', () => {
      const ids = nextIds();
      const loop = lab.attach(lab.image('swap-only.img', 16));
      lab.mkfs(loop, 'swap');

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, loop, []) });

      expect(run.summary).toMatchObject({ ok: false, error: 'FILESYSTEM_NOT_RECOGNISED' });
      expect((run.summary as { message: string }).message).toContain('swap');
      expectCleanHelper(lab, run);
    });

    it('ROOT_NOT_FOUND for a data disk without /etc/passwd', () => {
      const ids = nextIds();
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, volume({ '/data/readme.txt': file('data\n') }));
      const before = target.read();

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []) });

      expect(run.summary).toMatchObject({ ok: false, error: 'ROOT_NOT_FOUND' });
      expectCleanHelper(lab, run, target);
      expect(target.read()).toEqual(before);
    });

    it('MOUNT_FAILED for an ext4 filesystem with features this kernel does not support', () => {
      const ids = nextIds();
      const image = lab.image('future-ext4.img', 32);
      lab.run('mkfs.ext4', ['-q', '-F', '-O', '^metadata_csum', image]);
      // An incompatible feature bit no kernel knows (s_feature_incompat at 1024 + 0x60).
      const fd = fs.openSync(image, 'r+');
      const buf = Buffer.alloc(4);
      fs.readSync(fd, buf, 0, 4, 1024 + 0x60);
      buf.writeUInt32LE((buf.readUInt32LE(0) | 0x80000000) >>> 0, 0);
      fs.writeSync(fd, buf, 0, 4, 1024 + 0x60);
      fs.closeSync(fd);
      const loop = lab.attach(image);

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, loop, []) });

      expect(run.summary).toMatchObject({ ok: false, error: 'MOUNT_FAILED' });
      expectCleanHelper(lab, run);
    });

    it('MOUNT_FAILED when a partition of the volume is already mounted on the helper', () => {
      const ids = nextIds();
      const target = buildVolume(lab, { kind: 'mbr-swap-root' }, fixture('ubuntu-22.04').files);
      const elsewhere = lab.path('mounted-elsewhere');
      lab.mount(target.partitions[1] as string, elsewhere);

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions) });

      expect(run.summary).toMatchObject({ ok: false, error: 'MOUNT_FAILED' });
      expect((run.summary as { message: string }).message).toContain(elsewhere);
      lab.unmount(elsewhere);
      expectCleanHelper(lab, run, target);
    });

    it('PARAMETER_STORE_REFUSED leaves the volume as it was and the private key nowhere', () => {
      const ids = nextIds();
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fixture('amazon-linux-2023').files);
      const before = target.read();

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []), awsFails: true });

      expect(run.status).not.toBe(0);
      expect(run.summary).toMatchObject({ ok: false, error: 'PARAMETER_STORE_REFUSED' });
      expect((run.summary as { message: string }).message).toContain('AccessDeniedException');
      expect(run.aws.called).toBe(true);
      expectCleanHelper(lab, run, target);
      expect(target.read()).toEqual(before);
    });

    it('KEYGEN_FAILED when ssh-keygen fails, before anything is written', () => {
      const ids = nextIds();
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fixture('rocky-9').files);
      const before = target.read();

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []), keygenFails: true });

      expect(run.summary).toMatchObject({ ok: false, error: 'KEYGEN_FAILED' });
      expect(run.aws.called).toBe(false);
      expectCleanHelper(lab, run, target);
      expect(target.read()).toEqual(before);
    });

    it('INVALID_INPUT for a key type the script does not know', () => {
      const ids = nextIds();
      const run = runRescue(lab, {
        ...ids,
        devRoot: nitroDevRoot(lab, ids.volumeId, decoy.loop, []),
        direct: {
          RA_JOB_ID: ids.jobId,
          RA_VOLUME_ID: ids.volumeId,
          RA_PARAMETER_NAME: '/ec2rl/openssh/i-0123456789abcdef0/key',
          RA_KEY_TYPE: 'dsa',
          RA_REGION: 'eu-west-1',
        },
      });

      expect(run.summary).toMatchObject({ ok: false, error: 'INVALID_INPUT' });
      expectCleanHelper(lab, run);
    });
  });

  describe('afterwards', () => {
    it('never touched the other volume attached to the helper', () => {
      expect(decoy.volume.read()).toEqual(decoy.before);
    });
  });
});
