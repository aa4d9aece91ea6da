import { applyLinuxRescue, chooseKeyType, usersAcceptingKey } from '../../infra/sim/linux-rescue-model';
import { policyContext } from '../../infra/sim/linux-rescue-selinux';
import { readSshdSettings } from '../../infra/sim/linux-rescue-sshd';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { EXISTING_KEYS, FEDORA_FILE_CONTEXTS, FEDORA_FILE_CONTEXTS_HOMEDIRS, fixture, linuxVolumeFixtures } from '../fixtures/linux-volumes';
import { dir, file, link, passwd, volume } from '../fixtures/linux-volumes/tree';

const NEW_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIModelTestNewKey00000000000000000000000000000 reset-access-job-1';
const NEWER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIModelTestNewerKey0000000000000000000000000000 reset-access-job-1';

function filesHolding(files: VolumeFiles, publicKey: string): string[] {
  const blob = publicKey.split(' ')[1] as string;
  return Object.entries(files)
    .filter(([, e]) => e.type === 'file' && e.content.split(/\s+/).includes(blob))
    .map(([p]) => p)
    .sort();
}

/** A minimal volume with one login account and what `extra` adds. */
function withAccount(extra: VolumeFiles = {}): VolumeFiles {
  return volume({
    '/etc/passwd': file(passwd(['ec2-user', 1000, 1000, '/home/ec2-user', '/bin/bash'])),
    '/etc/os-release': file('ID=amzn\n'),
    '/home/ec2-user': dir(0o700, 1000, 1000),
    '/root': dir(0o700),
    ...extra,
  });
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
      expect(result.users).toEqual([{ user: fx.expect.usersWithKey[0], file: fx.expect.keyFiles[0], added: true }]);
      expect(result.placement).toMatchObject({ user: fx.expect.usersWithKey[0], file: fx.expect.keyFiles[0], added: true });
      if (fx.expect.userSource) expect(result.placement?.userSource).toBe(fx.expect.userSource);
      if (fx.expect.contextSource) expect(result.placement?.selinux.contextSource).toBe(fx.expect.contextSource);
      for (const [path, label] of Object.entries(fx.expect.labels ?? {})) expect(result.files[path]?.selinuxLabel).toBe(label);
      // Least privilege: every entry but the one key file is as it was; only its missing directories are new.
      const keyFile = fx.expect.keyFiles[0] as string;
      for (const [path, entry] of Object.entries(before)) {
        if (path !== keyFile) expect([path, result.files[path]]).toEqual([path, entry]);
      }
      for (const path of Object.keys(result.files).filter((p) => !(p in before))) {
        expect(keyFile.startsWith(`${path}/`) || path === keyFile).toBe(true);
      }
      const old = before[keyFile]?.content;
      const expected = old === undefined ? `${NEW_KEY}\n` : `${old}${old !== '' && !old.endsWith('\n') ? '\n' : ''}${NEW_KEY}\n`;
      expect(result.files[keyFile]?.content).toBe(expected);
    });
  }
});

describe('applyLinuxRescue rules', () => {
  it('creates .ssh 0700 and authorized_keys 0600 owned by the uid/gid of the volume', () => {
    const result = applyLinuxRescue(fixture('suse-15').files, { publicKey: NEW_KEY });

    expect(result.files['/home/ec2-user/.ssh']).toMatchObject({ type: 'dir', mode: 0o755, uid: 1000, gid: 100 });
    expect(result.files['/home/ec2-user/.ssh/authorized_keys']).toMatchObject({
      type: 'file',
      mode: 0o600,
      uid: 1000,
      gid: 100,
      content: `${NEW_KEY}\n`,
    });
    const rocky = applyLinuxRescue(fixture('rocky-9').files, { publicKey: NEW_KEY });
    expect(rocky.files['/home/rocky/.ssh']).toMatchObject({ type: 'dir', mode: 0o700, uid: 1000, gid: 1000 });
  });

  it('adds nothing when the same key is already there, whatever its options and comment', () => {
    const once = applyLinuxRescue(fixture('debian-12').files, { publicKey: NEW_KEY });
    const restricted = `from="10.0.0.0/8" ${NEW_KEY.split(' ').slice(0, 2).join(' ')} other-comment`;

    const twice = applyLinuxRescue(once.files, { publicKey: restricted });

    expect(twice.files).toEqual(once.files);
    expect(twice.users).toEqual([{ user: 'admin', file: '/home/admin/.ssh/authorized_keys', added: false }]);
  });

  it('a commented-out copy of the key does not count as present', () => {
    const files = withAccount({
      '/home/ec2-user/.ssh': dir(0o700, 1000, 1000),
      '/home/ec2-user/.ssh/authorized_keys': file(`# ${NEW_KEY}\n`, 0o600, 1000, 1000),
    });

    const result = applyLinuxRescue(files, { publicKey: NEW_KEY });

    expect(result.files['/home/ec2-user/.ssh/authorized_keys']?.content).toBe(`# ${NEW_KEY}\n${NEW_KEY}\n`);
  });

  it('a second run of the same job appends its new key and keeps every earlier line (append only, never a rewrite)', () => {
    const once = applyLinuxRescue(fixture('ubuntu-22.04').files, { publicKey: NEW_KEY });

    const again = applyLinuxRescue(once.files, { publicKey: NEWER_KEY });

    expect(again.files['/home/ubuntu/.ssh/authorized_keys']?.content).toBe(`${EXISTING_KEYS.launch}\n${NEW_KEY}\n${NEWER_KEY}\n`);
  });

  it('writes a caller line with its options exactly as given', () => {
    const line = `from="10.0.0.0/8",no-agent-forwarding,command="echo \\"hi\\"" ${NEW_KEY.split(' ').slice(0, 2).join(' ')} me@laptop`;

    const result = applyLinuxRescue(fixture('ubuntu-22.04').files, { publicKey: line });

    expect(result.files['/home/ubuntu/.ssh/authorized_keys']?.content).toBe(`${EXISTING_KEYS.launch}\n${line}\n`);
  });

  it('leaves the owner, mode and label of an existing key file as they were', () => {
    const custom = applyLinuxRescue(fixture('custom-authorized-keys-file').files, { publicKey: NEW_KEY });
    const rhel = applyLinuxRescue(fixture('rhel-9').files, { publicKey: NEW_KEY });

    expect(custom.files['/etc/ssh/authorized_keys/ec2-user']).toMatchObject({ mode: 0o644, uid: 0, gid: 0 });
    expect(rhel.files['/home/cloud-user/.ssh/authorized_keys']).toEqual({
      ...fixture('rhel-9').files['/home/cloud-user/.ssh/authorized_keys'],
      content: `${EXISTING_KEYS.launch}\n${NEW_KEY}\n`,
    });
  });

  it('ignores AuthorizedKeysFile inside a Match block and honours "none"', () => {
    const files = withAccount({ '/etc/ssh/sshd_config': file('Match User ec2-user\n  AuthorizedKeysFile /etc/keys/%u\n') });
    expect(readSshdSettings(files).authorizedKeysFiles).toEqual(['.ssh/authorized_keys', '.ssh/authorized_keys2']);

    const none = { ...files, '/etc/ssh/sshd_config': file('AuthorizedKeysFile none\n') };
    expect(applyLinuxRescue(none, { publicKey: NEW_KEY }).error?.code).toBe('NO_LOGIN_USER');
  });

  it('expands %%, %u and %U and accepts "Keyword = value"', () => {
    const files = withAccount({ '/etc/ssh/sshd_config': file('AuthorizedKeysFile = .ssh/keys%%%u.%U\n') });

    const result = applyLinuxRescue(files, { publicKey: NEW_KEY });

    expect(result.users).toEqual([{ user: 'ec2-user', file: '/home/ec2-user/.ssh/keys%ec2-user.1000', added: true }]);
  });

  it('reports ROOT_NOT_FOUND for a tree without /etc/passwd', () => {
    expect(applyLinuxRescue(volume({ '/data': dir() }), { publicKey: NEW_KEY }).error?.code).toBe('ROOT_NOT_FOUND');
  });

  it('uses RSA when asked, whatever the volume', () => {
    expect(chooseKeyType(fixture('amazon-linux-2023').files, 'rsa')).toBe('rsa');
  });

  it("refuses a given Ed25519 key where the volume's OpenSSH predates it", () => {
    const result = applyLinuxRescue(fixture('centos-6-old-openssh').files, { publicKey: NEW_KEY, requireKeyType: 'ed25519' });

    expect(result.error?.code).toBe('KEY_TYPE_UNSUPPORTED');
    expect(result.files).toEqual(fixture('centos-6-old-openssh').files);
  });
});

describe('the account', () => {
  it('a requested account that exists with a login shell gets the key, and only it', () => {
    const result = applyLinuxRescue(fixture('ubuntu-with-deploy').files, { publicKey: NEW_KEY, user: 'deploy' });

    expect(result.placement).toMatchObject({ user: 'deploy', userSource: 'requested', file: '/home/deploy/.ssh/authorized_keys' });
    expect(usersAcceptingKey(result.files, NEW_KEY)).toEqual(['deploy']);
  });

  it.each([
    ['absent', 'nobody-here', /no account 'nobody-here'/],
    ['without a login shell', 'daemon', /has no login shell \(\/sbin\/nologin\)/],
  ])('USER_NOT_FOUND for a requested account %s, the volume unchanged', (_what, user, message) => {
    const files = fixture('ubuntu-with-deploy').files;

    const result = applyLinuxRescue(files, { publicKey: NEW_KEY, user });

    expect(result.error?.code).toBe('USER_NOT_FOUND');
    expect(result.error?.message).toMatch(message);
    expect(result.files).toEqual(files);
  });

  it('root on request only when sshd lets root in with a key', () => {
    expect(applyLinuxRescue(fixture('root-only').files, { publicKey: NEW_KEY, user: 'root' }).placement?.user).toBe('root');
    const off = applyLinuxRescue(fixture('root-only-login-off').files, { publicKey: NEW_KEY, user: 'root' });
    expect(off.error).toMatchObject({ code: 'USER_NOT_FOUND', message: expect.stringMatching(/PermitRootLogin no/) });
  });

  it("a top-level cloud-init 'user:' overrides default_user, and a later cloud.cfg.d file overrides an earlier one", () => {
    const base = volume({
      '/etc/passwd': file(
        passwd(
          ['alpha', 1000, 1000, '/home/alpha', '/bin/bash'],
          ['beta', 1001, 1001, '/home/beta', '/bin/bash'],
          ['gamma', 1002, 1002, '/home/gamma', '/bin/bash'],
        ),
      ),
      '/etc/cloud/cloud.cfg': file('system_info:\n  default_user: {name: alpha, lock_passwd: true}\n'),
      '/home/alpha': dir(0o700, 1000, 1000),
      '/home/beta': dir(0o700, 1001, 1001),
      '/home/gamma': dir(0o700, 1002, 1002),
    });
    const pick = (files: VolumeFiles) => applyLinuxRescue(files, { publicKey: NEW_KEY }).placement?.user;

    expect(pick(base)).toBe('alpha');
    expect(
      pick({ ...base, '/etc/cloud/cloud.cfg.d': dir(), '/etc/cloud/cloud.cfg.d/10_a.cfg': file('system_info:\n  default_user:\n    name: "beta"  # ours\n') }),
    ).toBe('beta');
    expect(
      pick({
        ...base,
        '/etc/cloud/cloud.cfg.d': dir(),
        '/etc/cloud/cloud.cfg.d/10_a.cfg': file('system_info:\n  default_user:\n    name: beta\n'),
        '/etc/cloud/cloud.cfg.d/20_b.cfg': file('system_info:\n  default_user:\n    lock_passwd: false\n'),
      }),
    ).toBe('beta');
    expect(pick({ ...base, '/etc/cloud/cloud.cfg.d': dir(), '/etc/cloud/cloud.cfg.d/90_user.cfg': file('user:\n  name: gamma\n') })).toBe('gamma');
    expect(pick({ ...base, '/etc/cloud/cloud.cfg.d': dir(), '/etc/cloud/cloud.cfg.d/90_user.cfg': file("user: 'gamma'\n") })).toBe('gamma');
  });

  it("a cloud-init default user missing from /etc/passwd falls back to the distribution's account", () => {
    const files = withAccount({ '/etc/cloud/cloud.cfg': file('system_info:\n  default_user:\n    name: someone-else\n') });

    expect(applyLinuxRescue(files, { publicKey: NEW_KEY }).placement).toMatchObject({ user: 'ec2-user', userSource: 'os-release' });
  });

  it('ID_LIKE is tried after ID', () => {
    const files = withAccount({ '/etc/os-release': file('ID="rocky"\nID_LIKE="rhel centos fedora"\n') });

    expect(applyLinuxRescue(files, { publicKey: NEW_KEY }).placement).toMatchObject({ user: 'ec2-user', userSource: 'os-release' });
  });

  it('PermitRootLogin defaults to yes before OpenSSH 7.0; forced-commands-only keeps root out', () => {
    const rootOnly = fixture('root-only').files;
    const old = {
      ...rootOnly,
      '/etc/ssh/sshd_config': file('AuthorizedKeysFile .ssh/authorized_keys\n'),
      '/usr/sbin/sshd': file('\x7fELF\0OpenSSH_6.6p1\0', 0o755),
    };
    const forced = { ...rootOnly, '/etc/ssh/sshd_config': file('PermitRootLogin forced-commands-only\n') };

    expect(readSshdSettings(old).permitRootLogin).toBe('yes');
    expect(applyLinuxRescue(old, { publicKey: NEW_KEY }).placement?.user).toBe('root');
    expect(applyLinuxRescue(forced, { publicKey: NEW_KEY }).error?.code).toBe('NO_LOGIN_USER');
  });
});

describe('SELinux contexts of what is created', () => {
  const policy = (extra: VolumeFiles = {}): VolumeFiles =>
    withAccount({
      '/etc/selinux/config': file('SELINUX=enforcing\nSELINUXTYPE=targeted\n'),
      '/etc/selinux/targeted/contexts/files/file_contexts': file(FEDORA_FILE_CONTEXTS),
      '/etc/selinux/targeted/contexts/files/file_contexts.homedirs': file(FEDORA_FILE_CONTEXTS_HOMEDIRS),
      ...extra,
    });

  it('the last matching regular expression wins, across file_contexts and .homedirs', () => {
    const files = policy();

    expect(policyContext(files, 'targeted', '/home/ec2-user/.ssh', 'd')).toBe('unconfined_u:object_r:ssh_home_t:s0');
    expect(policyContext(files, 'targeted', '/home/ec2-user/notes', 'f')).toBe('unconfined_u:object_r:user_home_t:s0');
    expect(policyContext(files, 'targeted', '/home/ec2-user', 'd')).toBe('unconfined_u:object_r:user_home_dir_t:s0');
    // "-d" entries do not apply to files: a file /home takes the "/[^/]+ --" entry.
    expect(policyContext(files, 'targeted', '/home', 'f')).toBe('system_u:object_r:etc_runtime_t:s0');
    expect(policyContext(files, 'targeted', '/srv/x', 'd')).toBe('system_u:object_r:default_t:s0');
    expect(policyContext(files, 'targeted', '/home/lost+found/x', 'f')).toBeUndefined();
  });

  it('file_contexts.local overrides .homedirs, and an exact entry beats any regular expression read after it', () => {
    const files = policy({
      '/etc/selinux/targeted/contexts/files/file_contexts.local': file('/home/ec2-user/\\.ssh(/.*)?\tsystem_u:object_r:local_t:s0\n'),
      '/etc/selinux/targeted/contexts/files/file_contexts': file(
        `/home/ec2-user/\\.ssh/authorized_keys\t--\tsystem_u:object_r:exact_t:s0\n${FEDORA_FILE_CONTEXTS}`,
      ),
    });

    expect(policyContext(files, 'targeted', '/home/ec2-user/.ssh', 'd')).toBe('system_u:object_r:local_t:s0');
    expect(policyContext(files, 'targeted', '/home/ec2-user/.ssh/authorized_keys', 'f')).toBe('system_u:object_r:exact_t:s0');
  });

  it('looks a path up under its file_contexts.subs_dist alias', () => {
    const files = policy({ '/etc/selinux/targeted/contexts/files/file_contexts.subs_dist': file('/var/home /home\n') });

    expect(policyContext(files, 'targeted', '/var/home/ec2-user/.ssh', 'd')).toBe('unconfined_u:object_r:ssh_home_t:s0');
  });

  it('labels a created .ssh and key file from the volume policy, and says so', () => {
    const result = applyLinuxRescue(policy(), { publicKey: NEW_KEY });

    expect(result.files['/home/ec2-user/.ssh']?.selinuxLabel).toBe('unconfined_u:object_r:ssh_home_t:s0');
    expect(result.files['/home/ec2-user/.ssh/authorized_keys']?.selinuxLabel).toBe('unconfined_u:object_r:ssh_home_t:s0');
    expect(result.placement?.selinux).toEqual({ mode: 'enforcing', labelled: true, contextSource: 'policy' });
  });

  it('without a policy entry: the fallback inside the home; a created file outside it stays unlabelled and a relabel is asked for', () => {
    const files = withAccount({
      '/etc/selinux/config': file('SELINUX=enforcing\n'),
      '/etc/ssh/sshd_config': file('AuthorizedKeysFile /etc/ssh/keys/%u\n'),
    });

    const offline = applyLinuxRescue(files, { publicKey: NEW_KEY });
    const online = applyLinuxRescue(files, { publicKey: NEW_KEY, mode: 'online' });

    expect(offline.placement?.selinux).toEqual({ mode: 'enforcing', labelled: false, contextSource: 'default' });
    expect(offline.files['/etc/ssh/keys/ec2-user']).toMatchObject({ uid: 1000, mode: 0o600 });
    expect(offline.files['/etc/ssh/keys/ec2-user']?.selinuxLabel).toBeUndefined();
    expect(offline.files['/.autorelabel']).toMatchObject({ type: 'file', uid: 0 });
    expect(online.error?.code).toBe('SELINUX_LABEL_FAILED');
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

  it('follows a key file symlink inside the volume', () => {
    const result = applyLinuxRescue(fixture('symlinked-home-and-keys').files, { publicKey: NEW_KEY });

    expect(result.files['/var/home/fedora/.ssh/authorized_keys']).toEqual(link('/var/lib/ssh-keys/fedora'));
    expect(usersAcceptingKey(result.files, NEW_KEY)).toEqual(['fedora']);
  });
});
