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
import { DiskLab, diskTestsUnavailable, hasCommand, readTree } from './support/disk-lab';
import { callerKey, nitroDevRoot, runRescue, xenDevRoot, type RescueRun } from './support/rescue-runner';
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
 * whole tree after the run equals the model applied to the tree before it, and the one key file
 * is its old bytes followed by the new line.
 */
function expectRescued(fx: LinuxVolumeFixture, before: VolumeFiles, after: VolumeFiles, summary: RescueSuccess): void {
  expect(summary.keyType).toBe(fx.expect.keyType ?? 'ed25519');
  expect(summary.users).toEqual([{ user: summary.user, file: summary.file, added: true }]);
  expect([summary.file]).toEqual(fx.expect.keyFiles);
  expect([summary.user]).toEqual(fx.expect.usersWithKey);
  if (fx.expect.userSource) expect(summary.userSource).toBe(fx.expect.userSource);
  if (fx.expect.contextSource) expect(summary.selinux.contextSource).toBe(fx.expect.contextSource);
  for (const [p, label] of Object.entries(fx.expect.labels ?? {})) expect(after[p]?.selinuxLabel).toBe(label);
  expect(usersAcceptingKey(before, summary.publicKey)).toEqual([]);
  expect(usersAcceptingKey(after, summary.publicKey).sort()).toEqual(fx.expect.usersWithKey);
  const old = before[summary.file]?.content;
  expect(after[summary.file]?.content).toBe(
    old === undefined ? `${summary.publicKey}\n` : `${old}${old !== '' && !old.endsWith('\n') ? '\n' : ''}${summary.publicKey}\n`,
  );
  const model = applyLinuxRescue(before, { publicKey: summary.publicKey });
  expect(model.error).toBeUndefined();
  expect(model.users).toEqual(summary.users);
  expect(model.placement).toEqual({ user: summary.user, userSource: summary.userSource, file: summary.file, added: true, selinux: summary.selinux });
  expect(after).toEqual(model.files);
}

/** Every xattr (SELinux context, ACLs, user.*) of the given volume paths, as getfattr dumps them. */
function xattrsOf(lab: DiskLab, target: TargetVolume, paths: string[]): string {
  const dir = lab.path(`look-${++looks}`);
  target.open(dir);
  try {
    return paths
      .map((p) =>
        lab
          .run('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', path.join(dir, p)])
          .split(dir)
          .join(''),
      )
      .join('');
  } finally {
    target.close();
  }
}
let looks = 0;

/** The whole tree (contents, owners, modes, contexts) and every xattr of every entry. */
function fullListing(lab: DiskLab, target: TargetVolume): { tree: VolumeFiles; xattrs: string } {
  const dir = lab.path(`look-${++looks}`);
  target.open(dir);
  try {
    const tree = readTree(dir);
    const xattrs = lab.run('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir]).split(dir).join('');
    return { tree, xattrs };
  } finally {
    target.close();
  }
}

/** Sets xattrs on volume paths (ACLs as their binary system.posix_acl_access value). */
function setXattrs(lab: DiskLab, target: TargetVolume, attrs: Array<[string, string, string]>): void {
  const dir = lab.path(`look-${++looks}`);
  target.open(dir);
  try {
    for (const [p, name, value] of attrs) lab.run('setfattr', ['-h', '-n', name, '-v', value, path.join(dir, p)]);
  } finally {
    target.close();
  }
}

/**
 * user::rw-, user:1001:r--, group::---, mask::r--, other::--- in the kernel's POSIX ACL xattr
 * format: a version 2 header, then (tag, perm, id) entries, little-endian
 * (https://github.com/torvalds/linux/blob/master/include/uapi/linux/posix_acl_xattr.h).
 */
const ACL_USER_1001_READ = '0x02000000' + '01000600ffffffff' + '02000400e9030000' + '04000000ffffffff' + '10000400ffffffff' + '20000000ffffffff';

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
      // The created .ssh and file take the volume's own file_contexts.homedirs entry, not a hard-coded system_u.
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: true, contextSource: 'policy' });
      const after = target.read();
      expect(after['/home/fedora/.ssh']).toMatchObject({ type: 'dir', mode: 0o700, uid: 1000, gid: 1000, selinuxLabel: 'unconfined_u:object_r:ssh_home_t:s0' });
      expect(after['/home/fedora/.ssh/authorized_keys']).toMatchObject({
        mode: 0o600,
        uid: 1000,
        gid: 1000,
        selinuxLabel: 'unconfined_u:object_r:ssh_home_t:s0',
      });
      expectRescued(fx, before, after, summary);
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
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: true, contextSource: 'unchanged' });
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
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: false, contextSource: 'default' });
      const after = target.read();
      expect(after['/.autorelabel']).toMatchObject({ type: 'file', uid: 0 });
      expect(after['/home/rocky/.ssh/authorized_keys']?.selinuxLabel).toBeUndefined();
      expect(usersAcceptingKey(after, summary.publicKey)).toEqual(['rocky']);
    });
  });

  describe('running again', () => {
    it('a second run of the same job appends its new key after the first: the file is only ever appended to', () => {
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
      expect(afterSecond[second.file]?.content).toBe(`${afterFirst[first.file]?.content}${second.publicKey}\n`);
      expect(afterSecond['/home/alice/.ssh/authorized_keys']).toEqual(fx.files['/home/alice/.ssh/authorized_keys']);
      expect(afterSecond['/home/alice/.ssh/authorized_keys']?.content).toContain(EXISTING_KEYS.laptop);
      expect(afterSecond).toEqual(applyLinuxRescue(afterFirst, { publicKey: second.publicKey }).files);
    });
  });

  describe('one account, appended in place', () => {
    it("Ubuntu with a from=-restricted deploy account: only ubuntu gets the key; deploy's .ssh and file keep bytes, owner, mode and xattrs", () => {
      // Prepare
      const fx = fixture('ubuntu-with-deploy');
      const target = buildVolume(lab, { kind: 'mbr-swap-root' }, fx.files);
      setXattrs(lab, target, [
        ['/home/deploy/.ssh/authorized_keys', 'system.posix_acl_access', ACL_USER_1001_READ],
        ['/home/deploy/.ssh/authorized_keys', 'user.managed-by', 'config-management'],
        ['/home/deploy/.ssh', 'user.managed-by', 'config-management'],
      ]);
      const deployPaths = ['/home/deploy', '/home/deploy/.ssh', '/home/deploy/.ssh/authorized_keys'];
      const before = target.read();
      const deployXattrs = xattrsOf(lab, target, deployPaths);
      const ids = nextIds();

      // Act
      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions) });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({
        user: 'ubuntu',
        userSource: 'cloud-init',
        file: '/home/ubuntu/.ssh/authorized_keys',
        added: true,
        keySource: 'generated',
      });
      const after = target.read();
      for (const p of deployPaths) expect([p, after[p]]).toEqual([p, before[p]]);
      expect(xattrsOf(lab, target, deployPaths)).toBe(deployXattrs);
      expect(deployXattrs).toContain('system.posix_acl_access=0x');
      expect(usersAcceptingKey(after, summary.publicKey)).toEqual(['ubuntu']);
      expectRescued(fx, before, after, summary);
    });

    it('RHEL on LVM + xfs: an authorized_keys with an unconfined_u context and an ACL keeps both, its owner, mode and bytes, and ends with the new line once', () => {
      // Prepare
      const fx = fixture('rhel-9');
      const keyFile = '/home/cloud-user/.ssh/authorized_keys';
      const target = buildVolume(lab, { kind: 'lvm', vg: 'rhel' }, fx.files);
      setXattrs(lab, target, [[keyFile, 'system.posix_acl_access', ACL_USER_1001_READ]]);
      const before = target.read();
      const xattrsBefore = xattrsOf(lab, target, [keyFile, '/home/cloud-user/.ssh']);
      const ids = nextIds();

      // Act
      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions) });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({ filesystem: 'xfs', user: 'cloud-user', file: keyFile, added: true });
      expect(summary.selinux).toEqual({ mode: 'enforcing', labelled: true, contextSource: 'unchanged' });
      const after = target.read();
      expect(xattrsOf(lab, target, [keyFile, '/home/cloud-user/.ssh'])).toBe(xattrsBefore);
      expect(xattrsBefore).toContain('security.selinux=0x');
      expect(xattrsBefore).toContain('system.posix_acl_access=0x02000000');
      expect(after[keyFile]).toEqual({ ...before[keyFile], content: `${before[keyFile]?.content}${summary.publicKey}\n` });
      expect(after[keyFile]?.selinuxLabel).toBe('unconfined_u:object_r:ssh_home_t:s0');
      expect(after[keyFile]?.content.split('\n').filter((l) => l === summary.publicKey)).toHaveLength(1);
      expectRescued(fx, before, after, summary);
    });

    it('a named account that does not exist: USER_NOT_FOUND, the volume unchanged to the last xattr, nothing generated or stored', () => {
      // Prepare
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fixture('ubuntu-with-deploy').files);
      const before = fullListing(lab, target);
      const ids = nextIds();

      // Act
      const run = runRescue(lab, {
        ...ids,
        devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []),
        params: { user: 'nobody-here' },
        tracedCommands: ['ssh-keygen'],
      });

      // Assess
      expect(run.status).not.toBe(0);
      expect(run.summary).toMatchObject({ ok: false, error: 'USER_NOT_FOUND', message: expect.stringMatching(/no account 'nobody-here'/) });
      expect(run.aws.called).toBe(false);
      expect(run.traces).toEqual([]);
      expectCleanHelper(lab, run, target);
      expect(fullListing(lab, target)).toEqual(before);
    });

    it('a named account that exists gets the key, the default account nothing', () => {
      const fx = fixture('ubuntu-with-deploy');
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fx.files);
      const before = target.read();
      const ids = nextIds();

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []), params: { user: 'deploy' } });

      const summary = ok(run);
      expect(summary).toMatchObject({ user: 'deploy', userSource: 'requested', file: '/home/deploy/.ssh/authorized_keys' });
      const after = target.read();
      expect(after['/home/ubuntu/.ssh/authorized_keys']).toEqual(before['/home/ubuntu/.ssh/authorized_keys']);
      expect(after).toEqual(applyLinuxRescue(before, { publicKey: summary.publicKey, user: 'deploy' }).files);
    });
  });

  describe("the caller's own public key", () => {
    it('offline with a from= option: the line as given, no key generated, nothing put to Parameter Store, no private key anywhere', () => {
      // Prepare
      const fx = fixture('rocky-9');
      const target = buildVolume(lab, { kind: 'whole', fs: 'xfs' }, fx.files);
      const before = target.read();
      const key = callerKey(lab.dir, 'ed25519');
      const line = `from="10.0.0.0/8",no-agent-forwarding ${key.line} alice@laptop`;
      const ids = nextIds();

      // Act
      const run = runRescue(lab, {
        ...ids,
        devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []),
        params: { publicKey: line },
        tracedCommands: ['ssh-keygen'],
      });

      // Assess
      expectCleanHelper(lab, run, target);
      const summary = ok(run);
      expect(summary).toMatchObject({ user: 'rocky', keySource: 'caller', keyType: 'ed25519', publicKey: line, fingerprint: key.fingerprint, added: true });
      expect(summary).not.toHaveProperty('parameterName');
      expect(run.aws).toEqual({ called: false, args: [], privateKey: undefined, keyPath: undefined });
      // ssh-keygen only read the key (-l), it made none (-t).
      expect(run.traces.length).toBeGreaterThan(0);
      expect(run.traces.every((t) => / -l /.test(` ${t} `) && !/ -t /.test(` ${t} `))).toBe(true);
      const after = target.read();
      expect(after['/home/rocky/.ssh/authorized_keys']?.content).toBe(`${line}\n`);
      expect(Object.values(after).some((e) => e.content.includes('PRIVATE KEY'))).toBe(false);
      expect(run.stdout + run.stderr).not.toContain('PRIVATE KEY');
      expect(after).toEqual(applyLinuxRescue(before, { publicKey: line, requireKeyType: 'ed25519' }).files);
    });

    it('an RSA-2048 caller key: INVALID_PUBLIC_KEY before the volume is even looked for', () => {
      // Prepare
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fixture('rocky-9').files);
      const before = fullListing(lab, target);
      const ids = nextIds();

      // Act
      const run = runRescue(lab, {
        ...ids,
        devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []),
        params: { publicKey: callerKey(lab.dir, 'rsa', 2048).line },
      });

      // Assess
      expect(run.status).not.toBe(0);
      expect(run.summary).toMatchObject({ ok: false, error: 'INVALID_PUBLIC_KEY', message: expect.stringMatching(/RSA key of 2048 bits/) });
      expect(run.stderr).not.toContain('looking for');
      expect(run.aws.called).toBe(false);
      expectCleanHelper(lab, run, target);
      expect(fullListing(lab, target)).toEqual(before);
    });
  });

  describe('stdout', () => {
    it('is exactly one line, the JSON summary, however noisy the tools (SSM returns only its first 24,000 characters)', () => {
      // Prepare
      const target = buildVolume(lab, { kind: 'gpt-efi-boot-root', rootFs: 'xfs' }, fixture('amazon-linux-2023').files);
      const ids = nextIds();

      // Act
      const run = runRescue(lab, {
        ...ids,
        devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, target.partitions),
        noisyCommands: ['mount', 'umount', 'sync', 'chown', 'chmod', 'mkdir', 'setfattr', 'rmdir', 'rm', 'sleep'],
      });

      // Assess
      expectCleanHelper(lab, run, target);
      const lines = run.stdout.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toBe('');
      expect(JSON.parse(lines[0] as string)).toMatchObject({ ok: true, user: 'ec2-user' });
      expect(run.stderr).toContain('noise from mount');
      expect(run.stderr).toContain('noise from chown');
    });

    it('a failure is one line too', () => {
      const target = buildVolume(lab, { kind: 'whole', fs: 'ext4' }, fixture('no-login-user').files);
      const ids = nextIds();

      const run = runRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, target.loop, []), noisyCommands: ['mount', 'umount'] });

      expect(run.stdout.split('\n')).toEqual([expect.stringMatching(/^\{"ok":false,"error":"NO_LOGIN_USER",/), '']);
      expectCleanHelper(lab, run, target);
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
      const rootDisk = lab
        .run('lsblk', ['-nlpso', 'NAME,TYPE', rootSource])
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
