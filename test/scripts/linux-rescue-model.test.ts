import {
  SSH_HOME_CONTEXT,
  applyLinuxRescue,
  chooseKeyType,
  readSshdSettings,
  usersAcceptingKey,
} from '../../infra/sim/linux-rescue-model';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { fixture, linuxVolumeFixtures } from '../fixtures/linux-volumes';
import { dir, file, passwd, volume } from '../fixtures/linux-volumes/tree';

const NEW_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIModelTestNewKey00000000000000000000000000000 reset-access-job-1';
const NEWER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIModelTestNewerKey0000000000000000000000000000 reset-access-job-1';

function filesHolding(files: VolumeFiles, publicKey: string): string[] {
  const blob = publicKey.split(' ')[1] as string;
  return Object.entries(files)
    .filter(([, e]) => e.type === 'file' && e.content.split(/\s+/).includes(blob))
    .map(([p]) => p)
    .sort();
}

describe('applyLinuxRescue on the shared fixtures', () => {
  for (const fx of linuxVolumeFixtures) {
    it(`${fx.name}: ${fx.description}`, () => {
      // Prepare
      const before = structuredClone(fx.files);
      expect(usersAcceptingKey(fx.files, NEW_KEY)).toEqual([]);

      // Act
      const result = applyLinuxRescue(fx.files, { publicKey: NEW_KEY });

      // Assess
      expect(fx.files).toEqual(before);
      expect(chooseKeyType(fx.files, 'ed25519')).toBe(fx.expect.keyType ?? 'ed25519');
      if (fx.expect.error) {
        expect(result.error?.code).toBe(fx.expect.error);
        expect(result.files).toEqual(before);
        return;
      }
      expect(result.error).toBeUndefined();
      expect(usersAcceptingKey(result.files, NEW_KEY).sort()).toEqual(fx.expect.usersWithKey);
      expect(filesHolding(result.files, NEW_KEY)).toEqual(fx.expect.keyFiles);
      expect(result.users.map((u) => u.file).sort()).toEqual(fx.expect.keyFiles);
      for (const [path, entry] of Object.entries(before)) {
        if (entry.type !== 'file') continue;
        const after = result.files[path]?.content ?? '';
        for (const line of entry.content.split('\n').filter((l) => l.trim() !== '')) {
          expect(after).toContain(line);
        }
      }
      for (const keyFile of fx.expect.keyFiles) {
        const entry = result.files[keyFile];
        expect(entry?.content.split('\n').filter((l) => l === NEW_KEY)).toHaveLength(1);
        if (fx.expect.selinuxLabels && result.files[keyFile]?.uid !== 0) {
          expect(entry?.selinuxLabel).toBe(SSH_HOME_CONTEXT);
        }
      }
    });
  }
});

describe('applyLinuxRescue rules', () => {
  it('creates .ssh 0700 and authorized_keys 0600 owned by the uid/gid of the volume', () => {
    const result = applyLinuxRescue(fixture('suse-15').files, { publicKey: NEW_KEY });

    expect(result.files['/home/ec2-user/.ssh']).toMatchObject({ type: 'dir', mode: 0o700, uid: 1000, gid: 100 });
    expect(result.files['/home/ec2-user/.ssh/authorized_keys']).toMatchObject({
      type: 'file',
      mode: 0o600,
      uid: 1000,
      gid: 100,
      content: `${NEW_KEY}\n`,
    });
  });

  it('adds nothing when the same key is already there', () => {
    const once = applyLinuxRescue(fixture('debian-12').files, { publicKey: NEW_KEY });

    const twice = applyLinuxRescue(once.files, { publicKey: NEW_KEY });

    expect(twice.files).toEqual(once.files);
    expect(twice.users.map((u) => u.added)).toEqual([false, false]);
  });

  it('replaces the key of an earlier run of the same job and keeps the others', () => {
    const once = applyLinuxRescue(fixture('ubuntu-22.04').files, { publicKey: NEW_KEY });

    const again = applyLinuxRescue(once.files, { publicKey: NEWER_KEY });

    const content = again.files['/home/ubuntu/.ssh/authorized_keys']?.content;
    expect(content?.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringContaining('my-lost-key'),
      NEWER_KEY,
    ]);
  });

  it('fixes the final newline of an existing file before appending', () => {
    const result = applyLinuxRescue(fixture('ubuntu-22.04').files, { publicKey: NEW_KEY });

    expect(result.files['/home/ubuntu/.ssh/authorized_keys']?.content).toMatch(/my-lost-key\nssh-ed25519 .* reset-access-job-1\n$/);
  });

  it('leaves the owner and mode of a key file outside the home as they were', () => {
    const result = applyLinuxRescue(fixture('custom-authorized-keys-file').files, { publicKey: NEW_KEY });

    expect(result.files['/etc/ssh/authorized_keys/ec2-user']).toMatchObject({ mode: 0o644, uid: 0, gid: 0 });
  });

  it('ignores AuthorizedKeysFile inside a Match block and honours "none"', () => {
    const files = volume({
      '/etc/passwd': file(passwd(['ec2-user', 1000, 1000, '/home/ec2-user', '/bin/bash'])),
      '/etc/ssh/sshd_config': file('Match User ec2-user\n  AuthorizedKeysFile /etc/keys/%u\n'),
      '/home/ec2-user': dir(0o700, 1000, 1000),
    });
    expect(readSshdSettings(files).authorizedKeysFiles).toEqual(['.ssh/authorized_keys', '.ssh/authorized_keys2']);

    const none = { ...files, '/etc/ssh/sshd_config': file('AuthorizedKeysFile none\n') };
    expect(applyLinuxRescue(none, { publicKey: NEW_KEY }).error?.code).toBe('NO_LOGIN_USER');
  });

  it('expands %% and accepts "Keyword = value"', () => {
    const files = volume({
      '/etc/passwd': file(passwd(['ec2-user', 1000, 1000, '/home/ec2-user', '/bin/bash'])),
      '/etc/ssh/sshd_config': file('AuthorizedKeysFile = .ssh/keys%%%u\n'),
      '/home/ec2-user': dir(0o700, 1000, 1000),
    });

    const result = applyLinuxRescue(files, { publicKey: NEW_KEY });

    expect(result.users).toEqual([{ user: 'ec2-user', file: '/home/ec2-user/.ssh/keys%ec2-user', added: true }]);
  });

  it('reports ROOT_NOT_FOUND for a tree without /etc/passwd', () => {
    expect(applyLinuxRescue(volume({ '/data': dir() }), { publicKey: NEW_KEY }).error?.code).toBe('ROOT_NOT_FOUND');
  });

  it('uses RSA when asked, whatever the volume', () => {
    expect(chooseKeyType(fixture('amazon-linux-2023').files, 'rsa')).toBe('rsa');
  });
});

describe('usersAcceptingKey', () => {
  it('refuses a key file that others can write (sshd StrictModes)', () => {
    const result = applyLinuxRescue(fixture('rocky-9').files, { publicKey: NEW_KEY });
    const loose = structuredClone(result.files);
    const entry = loose['/home/rocky/.ssh/authorized_keys'];
    if (!entry) throw new Error('no key file');
    entry.mode = 0o666;

    expect(usersAcceptingKey(result.files, NEW_KEY)).toEqual(['rocky']);
    expect(usersAcceptingKey(loose, NEW_KEY)).toEqual([]);
  });
});
