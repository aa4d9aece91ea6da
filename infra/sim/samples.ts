import {
  amazonLinux2023Files,
  dir,
  file,
  lostPublicKey,
  ubuntu2204Files,
  windowsServer2012R2Files,
  windowsServer2022Files,
  withLoginUser,
} from './base-images';
import { PUBLIC_IMAGE_IDS, type SimulatedRegion } from './region';
import type { Platform } from './state';
import type { VolumeFiles } from './volume-files';

/** A sample instance that `npm start` offers to rescue (or to be refused). */
export interface SampleInstance {
  instanceId: string;
  name: string;
  platform: Platform;
  state: 'running' | 'stopped';
  /** Whether the service should be able to reset it. */
  resettable: boolean;
  /** What it shows. */
  demonstrates: string;
}

export const sampleInstances: readonly SampleInstance[] = [
  {
    instanceId: 'i-0a1b2c3d4e5f60001',
    name: 'al2023-web',
    platform: 'linux',
    state: 'running',
    resettable: true,
    demonstrates: 'Amazon Linux 2023, running, ec2-user lost its key (xfs root at /dev/xvda, SELinux permissive)',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60002',
    name: 'ubuntu-batch',
    platform: 'linux',
    state: 'stopped',
    resettable: true,
    demonstrates: 'Ubuntu 22.04, stopped, keeps the existing key of ubuntu (ext4 root at /dev/sda1); stays stopped afterwards',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60003',
    name: 'al2023-encrypted',
    platform: 'linux',
    state: 'running',
    resettable: true,
    demonstrates: 'encrypted root with a customer managed KMS key (Enabled); disable the key to see the refusal',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60004',
    name: 'marketplace-app',
    platform: 'linux',
    state: 'running',
    resettable: true,
    demonstrates: 'AWS Marketplace product code on the root volume: it attaches only to a stopped helper',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60005',
    name: 'spot-worker',
    platform: 'linux',
    state: 'running',
    resettable: false,
    demonstrates: 'Spot instance: refused (it cannot be stopped)',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60006',
    name: 'stop-protected',
    platform: 'linux',
    state: 'running',
    resettable: false,
    demonstrates: 'DisableApiStop: refused',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60007',
    name: 'win2022-app',
    platform: 'windows',
    state: 'running',
    resettable: true,
    demonstrates: 'Windows Server 2022, running, Administrator password lost (EC2Launch v2): password generation re-enabled, password-enabled AMI kept',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60008',
    name: 'win2012r2-legacy',
    platform: 'windows',
    state: 'stopped',
    resettable: true,
    demonstrates: 'Windows Server 2012 R2, stopped, EC2Config (Ec2SetPassword re-enabled); stays stopped, the password comes at its next start',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f60009',
    name: 'al2023-ssm-managed',
    platform: 'linux',
    state: 'running',
    resettable: true,
    demonstrates: 'SSM agent Online (instance profile): reset online in seconds, never stopped (mode auto)',
  },
  {
    instanceId: 'i-0a1b2c3d4e5f6000a',
    name: 'win2022-ssm-managed',
    platform: 'windows',
    state: 'running',
    resettable: true,
    demonstrates: 'Windows Server 2022 with its SSM agent Online: password generation re-enabled online, then a reboot (never stopped, mode auto)',
  },
];

/** The instance profile the SSM-managed sample runs with (SSM core permissions). */
export const SAMPLE_MANAGED_INSTANCE_PROFILE = 'app-ssm-managed';

/** The Windows Server 2012 R2 (EC2Config) image of the legacy Windows sample. */
export const SAMPLE_WINDOWS_2012_IMAGE_ID = 'ami-0c2012c22012c2200';

/** The customer managed key of the encrypted sample (the id AWS's own docs use as an example). */
export const SAMPLE_KMS_KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
/** The Marketplace image of the product-code sample, and its product code. */
export const SAMPLE_MARKETPLACE_IMAGE_ID = 'ami-0b17a0a1b2c3d4e50';
export const SAMPLE_MARKETPLACE_PRODUCT_CODE = 'cvfdx7qzsy3oe7ybm7rn8xg2y';

const AUTO_TAG = { 'reset-access:auto': 'true' };
/**
 * Every sample opted in (the deployment refuses, and its roles cannot touch, an instance without
 * it): the refused samples show their own refusal, not this one's.
 */
const ALLOWED_TAG = { 'reset-access:allowed': 'true' };

/**
 * Two teams, for trying an access rule (`{"access":{"tag":"team","source":"principal-tag"}}`): the
 * Linux samples are team `a`'s, the Windows ones team `b`'s, and each team has an operator role
 * tagged alike (`--as arn:aws:sts::123456789012:assumed-role/team-a-operator/you`).
 */
export const SAMPLE_TEAM_ROLES = [
  { kind: 'role', name: 'team-a-operator', tags: { team: 'a' } },
  { kind: 'role', name: 'team-b-operator', tags: { team: 'b' } },
] as const;
const teamOf = (platform: Platform) => ({ team: platform === 'windows' ? 'b' : 'a' });

function amazonLinuxWithEc2User(keyComment: string): VolumeFiles {
  return withLoginUser(amazonLinux2023Files(), {
    user: 'ec2-user',
    uid: 1000,
    gid: 1000,
    gecos: 'EC2 Default User',
    groups: ['wheel', 'adm', 'systemd-journal'],
    authorizedKeys: [lostPublicKey(keyComment)],
    selinux: true,
    rootLoginHint: true,
  });
}

/** A Debian 12 application image as Bitnami ships them: the login user is `bitnami`. */
function bitnamiDebianFiles(): VolumeFiles {
  const base: VolumeFiles = {
    '/': dir(0o755),
    '/etc': dir(0o755),
    '/etc/os-release': file('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n', 0o644),
    '/etc/passwd': file(
      'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n',
      0o644,
    ),
    '/etc/group': file('root:x:0:\nadm:x:4:\nsudo:x:27:\nnogroup:x:65534:\n', 0o644),
    '/etc/shadow': file('root:*:19000:0:99999:7:::\n', 0o640, { uid: 0, gid: 42 }),
    '/etc/ssh': dir(0o755),
    '/etc/ssh/sshd_config': file(
      'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nPasswordAuthentication no\nSubsystem sftp /usr/lib/openssh/sftp-server\n',
      0o644,
    ),
    '/etc/ssh/sshd_config.d': dir(0o755),
    '/etc/cloud': dir(0o755),
    '/etc/cloud/cloud.cfg': file('users:\n - default\nsystem_info:\n  default_user:\n    name: bitnami\n    lock_passwd: true\n    shell: /bin/bash\n', 0o644),
    '/home': dir(0o755),
    '/root': dir(0o700),
  };
  return withLoginUser(base, {
    user: 'bitnami',
    uid: 1000,
    gid: 1000,
    gecos: 'Bitnami',
    groups: ['adm', 'sudo'],
    authorizedKeys: [lostPublicKey('bitnami-lost-key')],
  });
}

/**
 * Adds the sample instances (fixed ids, `sampleInstances`) to a region, with the KMS key and
 * Marketplace image they need. Ids that already exist (a resumed region) are left alone.
 */
export function seedSampleRegion(region: SimulatedRegion): void {
  const now = region.clock.now();
  const launchTime = now - 30 * 24 * 3600 * 1000;
  const zone = region.config.availabilityZones[0];
  const exists = (id: string) => region.getInstance(id) !== undefined;
  const tagsOf = (name: string, auto: boolean) => {
    const sample = sampleInstances.find((s) => s.name === name)!;
    return { Name: name, ...ALLOWED_TAG, ...teamOf(sample.platform), ...(auto ? AUTO_TAG : {}) };
  };
  for (const role of SAMPLE_TEAM_ROLES) if (!region.getIamPrincipal(role.kind, role.name)) region.putIamPrincipal({ ...role, tags: { ...role.tags } });

  const kms = region.getKmsKey(SAMPLE_KMS_KEY_ID) ?? region.putKmsKey({ keyId: SAMPLE_KMS_KEY_ID, state: 'Enabled' });
  if (!region.getImage(SAMPLE_MARKETPLACE_IMAGE_ID)) {
    region.registerImage({
      imageId: SAMPLE_MARKETPLACE_IMAGE_ID,
      name: 'bitnami-wordpress-6.7.1-0-linux-debian-12-x86_64-hvm-ebs',
      description: 'Bitnami WordPress 6.7.1-0 (AWS Marketplace)',
      ownerId: '679593333241',
      ownerAlias: 'aws-marketplace',
      public: true,
      platform: 'linux',
      rootDeviceName: '/dev/xvda',
      rootVolumeSize: 10,
      filesystem: 'ext4',
      files: bitnamiDebianFiles(),
      productCodes: [{ id: SAMPLE_MARKETPLACE_PRODUCT_CODE, type: 'marketplace' }],
      creationDate: launchTime,
    });
  }

  if (!region.getImage(SAMPLE_WINDOWS_2012_IMAGE_ID)) {
    region.registerImage({
      imageId: SAMPLE_WINDOWS_2012_IMAGE_ID,
      name: 'Windows_Server-2012-R2_RTM-English-64Bit-Base-2023.01.11',
      description: 'Microsoft Windows Server 2012 R2 RTM 64-bit Locale English AMI provided by Amazon',
      ownerId: '801119661308',
      ownerAlias: 'amazon',
      public: true,
      platform: 'windows',
      rootDeviceName: '/dev/sda1',
      rootVolumeSize: 30,
      filesystem: 'ntfs',
      files: windowsServer2012R2Files(),
      creationDate: launchTime,
    });
  }

  const [al2023, ubuntu, encrypted, marketplace, spot, protectedInstance] = sampleInstances;
  if (!exists(al2023.instanceId)) {
    region.seedInstance({
      instanceId: al2023.instanceId,
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      availabilityZone: zone,
      keyName: 'ops-2023',
      tags: tagsOf(al2023.name, true),
      launchTime,
      root: { files: amazonLinuxWithEc2User('ops-2023'), deleteOnTermination: true },
    });
  }
  if (!exists(ubuntu.instanceId)) {
    const files = withLoginUser(ubuntu2204Files(), {
      user: 'ubuntu',
      uid: 1000,
      gid: 1000,
      gecos: 'Ubuntu',
      groups: ['adm', 'sudo', 'lxd'],
      authorizedKeys: [lostPublicKey('old-laptop')],
    });
    region.seedInstance({
      instanceId: ubuntu.instanceId,
      imageId: PUBLIC_IMAGE_IDS.ubuntu2204,
      state: 'stopped',
      availabilityZone: zone,
      keyName: 'old-laptop',
      tags: tagsOf(ubuntu.name, true),
      launchTime,
      root: { files, filesystem: 'ext4', deleteOnTermination: true },
    });
  }
  if (!exists(encrypted.instanceId)) {
    region.seedInstance({
      instanceId: encrypted.instanceId,
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      availabilityZone: zone,
      tags: tagsOf(encrypted.name, false),
      launchTime,
      root: { files: amazonLinuxWithEc2User('finance-team'), encrypted: true, kmsKeyId: kms.arn, deleteOnTermination: true },
    });
  }
  if (!exists(marketplace.instanceId)) {
    region.seedInstance({
      instanceId: marketplace.instanceId,
      imageId: SAMPLE_MARKETPLACE_IMAGE_ID,
      state: 'running',
      availabilityZone: zone,
      tags: tagsOf(marketplace.name, false),
      launchTime,
      root: { deleteOnTermination: true },
    });
  }
  if (!exists(spot.instanceId)) {
    region.seedInstance({
      instanceId: spot.instanceId,
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      availabilityZone: zone,
      lifecycle: 'spot',
      tags: tagsOf(spot.name, true),
      launchTime,
      root: { files: amazonLinuxWithEc2User('batch'), deleteOnTermination: true },
    });
  }
  const managed = sampleInstances.find((s) => s.instanceId === 'i-0a1b2c3d4e5f60009')!;
  if (!exists(managed.instanceId)) {
    region.seedInstance({
      instanceId: managed.instanceId,
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      availabilityZone: zone,
      keyName: 'ops-2024',
      iamInstanceProfileName: SAMPLE_MANAGED_INSTANCE_PROFILE,
      tags: tagsOf(managed.name, false),
      launchTime,
      root: { files: amazonLinuxWithEc2User('ops-2024'), deleteOnTermination: true },
    });
  }
  if (!exists(protectedInstance.instanceId)) {
    region.seedInstance({
      instanceId: protectedInstance.instanceId,
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      availabilityZone: zone,
      disableApiStop: true,
      tags: tagsOf(protectedInstance.name, false),
      launchTime,
      root: { files: amazonLinuxWithEc2User('payments'), deleteOnTermination: true },
    });
  }
  // Windows instances whose launch agent made its password at first boot (generation now off).
  const windows2022 = sampleInstances.find((s) => s.instanceId === 'i-0a1b2c3d4e5f60007')!;
  if (!exists(windows2022.instanceId)) {
    region.seedInstance({
      instanceId: windows2022.instanceId,
      imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
      state: 'running',
      availabilityZone: zone,
      instanceType: 't3.medium',
      keyName: 'win-ops',
      tags: tagsOf(windows2022.name, false),
      launchTime,
      root: { files: windowsServer2022Files(), deleteOnTermination: true, passwordGenerationEnabled: false },
    });
  }
  const windowsManaged = sampleInstances.find((s) => s.instanceId === 'i-0a1b2c3d4e5f6000a')!;
  if (!exists(windowsManaged.instanceId)) {
    region.seedInstance({
      instanceId: windowsManaged.instanceId,
      imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
      state: 'running',
      availabilityZone: zone,
      instanceType: 't3.medium',
      keyName: 'win-ops',
      iamInstanceProfileName: SAMPLE_MANAGED_INSTANCE_PROFILE,
      tags: tagsOf(windowsManaged.name, false),
      launchTime,
      root: { files: windowsServer2022Files(), deleteOnTermination: true, passwordGenerationEnabled: false },
    });
  }
  const windows2012 = sampleInstances.find((s) => s.instanceId === 'i-0a1b2c3d4e5f60008')!;
  if (!exists(windows2012.instanceId)) {
    region.seedInstance({
      instanceId: windows2012.instanceId,
      imageId: SAMPLE_WINDOWS_2012_IMAGE_ID,
      state: 'stopped',
      availabilityZone: zone,
      instanceType: 't3.medium',
      keyName: 'win-legacy',
      tags: tagsOf(windows2012.name, false),
      launchTime,
      root: { files: windowsServer2012R2Files(), deleteOnTermination: true, passwordGenerationEnabled: false },
    });
  }
}
