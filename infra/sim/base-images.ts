import { createHash } from 'node:crypto';

import type { FileEntry, VolumeFiles } from './volume-files';

/**
 * Root filesystems of the images the simulated region starts with (Amazon Linux 2023, Ubuntu
 * 22.04, Windows Server 2022; Windows Server 2012 R2 for a sample), trimmed to the files a reset reads or writes, and helpers to
 * give them a login user as cloud-init would at first boot.
 */

interface Owner {
  uid: number;
  gid: number;
}

const ROOT: Owner = { uid: 0, gid: 0 };

export function dir(mode: number, owner: Owner = ROOT, selinuxLabel?: string): FileEntry {
  return { type: 'dir', content: '', mode, uid: owner.uid, gid: owner.gid, ...(selinuxLabel ? { selinuxLabel } : {}) };
}

export function file(content: string, mode: number, owner: Owner = ROOT, selinuxLabel?: string): FileEntry {
  return { type: 'file', content, mode, uid: owner.uid, gid: owner.gid, ...(selinuxLabel ? { selinuxLabel } : {}) };
}

function symlink(target: string): FileEntry {
  return { type: 'symlink', content: target, mode: 0o777, uid: 0, gid: 0 };
}

/** A well-formed OpenSSH public key line whose private half nobody has (a "lost" key). */
export function lostPublicKey(comment: string): string {
  const sshString = (data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
  };
  const pub = createHash('sha256').update(comment).digest();
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(pub)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

const SELINUX_HOME = 'unconfined_u:object_r:user_home_dir_t:s0';
const SELINUX_SSH = 'unconfined_u:object_r:ssh_home_t:s0';

const AL2023_SSHD_CONFIG = `#	$OpenBSD: sshd_config,v 1.104 2021/07/02 05:11:21 dtucker Exp $

# To modify the system-wide sshd configuration, create a  *.conf  file under
#  /etc/ssh/sshd_config.d/  which will be automatically included below
Include /etc/ssh/sshd_config.d/*.conf

#PermitRootLogin prohibit-password
#PubkeyAuthentication yes

# The default is to check both .ssh/authorized_keys and .ssh/authorized_keys2
# but this is overridden so installations will only check .ssh/authorized_keys
AuthorizedKeysFile .ssh/authorized_keys

#AuthorizedPrincipalsFile none

# To disable tunneled clear text passwords, change to no here!
PasswordAuthentication no
#PermitEmptyPasswords no

KbdInteractiveAuthentication no
UsePAM yes

X11Forwarding yes
PrintMotd no

# override default of no subsystems
Subsystem sftp	/usr/libexec/openssh/sftp-server

AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f
AuthorizedKeysCommandUser ec2-instance-connect
`;

const UBUNTU_SSHD_CONFIG = `
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#PermitRootLogin prohibit-password
#PubkeyAuthentication yes

# Expect .ssh/authorized_keys2 to be disregarded by default in future.
#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2

#PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes

X11Forwarding yes
PrintMotd no

AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
`;

function cloudCfg(defaultUser: string, groups: string, lockPasswd = true): string {
  return `# The top level settings are used as module
# and base configuration.
users:
 - default

disable_root: true
ssh_pwauth: false

cloud_init_modules:
 - migrator
 - seed_random
 - bootcmd
 - write_files
 - growpart
 - resizefs
 - set_hostname
 - update_hostname
 - users_groups
 - ssh

system_info:
  default_user:
    name: ${defaultUser}
    lock_passwd: ${lockPasswd}
    gecos: ${defaultUser === 'ec2-user' ? 'EC2 Default User' : 'Ubuntu'}
    groups: [${groups}]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
  ssh_svcname: sshd
`;
}

/** Amazon Linux 2023 as the AMI ships it: no login user yet (cloud-init creates ec2-user). */
export function amazonLinux2023Files(): VolumeFiles {
  return {
    '/': dir(0o555),
    '/etc': dir(0o755),
    '/etc/os-release': file(
      'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023.6.20250115"\n',
      0o644,
    ),
    '/etc/passwd': file(
      'root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\nsshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/sbin/nologin\nec2-instance-connect:x:997:997::/home/ec2-instance-connect:/sbin/nologin\n',
      0o644,
    ),
    '/etc/group': file(
      'root:x:0:\nbin:x:1:\ndaemon:x:2:\nwheel:x:10:\nadm:x:4:\nsystemd-journal:x:190:\nsshd:x:74:\nnobody:x:65534:\nec2-instance-connect:x:997:\n',
      0o644,
    ),
    '/etc/shadow': file('root:*LOCK*:14600::::::\nsshd:!!:19000::::::\n', 0o000),
    '/etc/selinux': dir(0o755),
    '/etc/selinux/config': file('SELINUX=permissive\nSELINUXTYPE=targeted\n', 0o644),
    '/etc/ssh': dir(0o755),
    '/etc/ssh/sshd_config': file(AL2023_SSHD_CONFIG, 0o600),
    '/etc/ssh/sshd_config.d': dir(0o755),
    '/etc/ssh/sshd_config.d/50-redhat.conf': file(
      'Include /etc/crypto-policies/back-ends/opensshserver.config\nSyslogFacility AUTHPRIV\nChallengeResponseAuthentication no\nGSSAPIAuthentication yes\n',
      0o600,
    ),
    '/etc/cloud': dir(0o755),
    '/etc/cloud/cloud.cfg': file(cloudCfg('ec2-user', 'wheel, adm, systemd-journal'), 0o644),
    '/home': dir(0o755),
    '/root': dir(0o550),
    '/bin': symlink('usr/bin'),
  };
}

/** Ubuntu 22.04 as the AMI ships it (cloud-init creates `ubuntu`). */
export function ubuntu2204Files(): VolumeFiles {
  return {
    '/': dir(0o755),
    '/etc': dir(0o755),
    '/etc/os-release': file('PRETTY_NAME="Ubuntu 22.04.5 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n', 0o644),
    '/etc/passwd': file(
      'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nsshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n',
      0o644,
    ),
    '/etc/group': file('root:x:0:\nadm:x:4:syslog\nsudo:x:27:\nlxd:x:110:\nnogroup:x:65534:\n', 0o644),
    '/etc/shadow': file('root:*:19000:0:99999:7:::\n', 0o640, { uid: 0, gid: 42 }),
    '/etc/ssh': dir(0o755),
    '/etc/ssh/sshd_config': file(UBUNTU_SSHD_CONFIG, 0o644),
    '/etc/ssh/sshd_config.d': dir(0o755),
    '/etc/ssh/sshd_config.d/60-cloudimg-settings.conf': file('PasswordAuthentication no\n', 0o644),
    '/etc/cloud': dir(0o755),
    '/etc/cloud/cloud.cfg': file(cloudCfg('ubuntu', 'adm, cdrom, dip, lxd, sudo'), 0o644),
    '/home': dir(0o755),
    '/root': dir(0o700),
  };
}

const WINDOWS_SYSTEM_FILES: VolumeFiles = {
  '/': dir(0o755),
  '/Windows': dir(0o755),
  '/Windows/System32': dir(0o755),
  '/Windows/System32/config': dir(0o755),
  '/Windows/System32/config/SAM': file('(binary registry hive)', 0o644),
  '/Windows/System32/config/SYSTEM': file('(binary registry hive)', 0o644),
  '/Windows/System32/config/SOFTWARE': file('(binary registry hive)', 0o644),
  '/Windows/System32/Tasks': dir(0o755),
  '/Program Files': dir(0o755),
  '/Program Files/Amazon': dir(0o755),
  '/ProgramData': dir(0o755),
  '/ProgramData/Amazon': dir(0o755),
};

/** `agent-config.yml` as Windows Server 2022 AMIs ship it (EC2 User Guide, "EC2Launch v2 settings", example). */
export const EC2LAUNCH_V2_AGENT_CONFIG = `version: 1.0
config:
- stage: boot
  tasks:
  - task: extendRootPartition
- stage: preReady
  tasks:
  - task: activateWindows
    inputs:
      activation:
        type: amazon
  - task: setDnsSuffix
    inputs:
      suffixes:
      - $REGION.ec2-utilities.amazonaws.com
  - task: setAdminAccount
    inputs:
      password:
        type: random
  - task: setWallpaper
    inputs:
      path: C:\\ProgramData\\Amazon\\EC2Launch\\wallpaper\\Ec2Wallpaper.jpg
      attributes:
      - hostName
      - instanceId
      - privateIpAddress
- stage: postReady
  tasks:
  - task: startSsm
`;

/**
 * Windows Server 2022 with EC2Launch v2 as the AMI ships it (sysprepped: no `state\.run-once`,
 * so the first boot sets a random administrator password), as far as a reset cares. Paths follow
 * the convention of `windows-rescue-model.ts`: inside the Windows partition, no drive letter.
 */
export function windowsServer2022Files(): VolumeFiles {
  return {
    ...structuredClone(WINDOWS_SYSTEM_FILES),
    '/Program Files/Amazon/EC2Launch': dir(0o755),
    '/Program Files/Amazon/EC2Launch/EC2Launch.exe': file('(EC2Launch v2 agent)', 0o755),
    '/ProgramData/Amazon/EC2Launch': dir(0o755),
    '/ProgramData/Amazon/EC2Launch/config': dir(0o755),
    '/ProgramData/Amazon/EC2Launch/config/agent-config.yml': file(EC2LAUNCH_V2_AGENT_CONFIG, 0o644),
    '/ProgramData/Amazon/EC2Launch/state': dir(0o755),
  };
}

/** EC2Config's `Settings\config.xml` (trimmed to the plugins; `Ec2SetPassword` as the AMI ships it). */
export function ec2ConfigXml(setPassword: 'Enabled' | 'Disabled'): string {
  const plugins: Array<[string, string]> = [
    ['Ec2SetPassword', setPassword],
    ['Ec2SetComputerName', 'Disabled'],
    ['Ec2InitializeDrives', 'Enabled'],
    ['Ec2EventLog', 'Disabled'],
    ['Ec2ConfigureRDP', 'Disabled'],
    ['Ec2OutputRDPCert', 'Enabled'],
    ['Ec2SetDriveLetter', 'Enabled'],
    ['Ec2WindowsActivate', 'Enabled'],
    ['Ec2DynamicBootVolumeSize', 'Disabled'],
    ['Ec2HandleUserData', 'Enabled'],
  ];
  const body = plugins.map(([name, state]) => `    <Plugin>\r\n      <Name>${name}</Name>\r\n      <State>${state}</State>\r\n    </Plugin>\r\n`).join('');
  return `<?xml version="1.0" standalone="yes"?>\r\n<Ec2ConfigurationSettings>\r\n  <Plugins>\r\n${body}  </Plugins>\r\n  <GlobalSettings>\r\n    <ManageShutdown>true</ManageShutdown>\r\n    <SetDnsSuffixList>true</SetDnsSuffixList>\r\n  </GlobalSettings>\r\n</Ec2ConfigurationSettings>\r\n`;
}

/** Windows Server 2012 R2 with the EC2Config service as the AMI ships it (first boot sets a password). */
export function windowsServer2012R2Files(): VolumeFiles {
  return {
    ...structuredClone(WINDOWS_SYSTEM_FILES),
    '/Program Files/Amazon/Ec2ConfigService': dir(0o755),
    '/Program Files/Amazon/Ec2ConfigService/Ec2Config.exe': file('(EC2Config service)', 0o755),
    '/Program Files/Amazon/Ec2ConfigService/Settings': dir(0o755),
    '/Program Files/Amazon/Ec2ConfigService/Settings/config.xml': file(ec2ConfigXml('Enabled'), 0o644),
  };
}

export interface LoginUser {
  user: string;
  uid: number;
  gid: number;
  gecos: string;
  /** Supplementary groups the user belongs to. */
  groups: string[];
  authorizedKeys: string[];
  /** Label `.ssh` and its files as `ssh_home_t` (SELinux systems). */
  selinux?: boolean;
  /** Give root an `authorized_keys` that only prints "Please login as …" (Amazon Linux). */
  rootLoginHint?: boolean;
}

/** `files` after cloud-init's first boot: the default user exists with its authorized keys. */
export function withLoginUser(files: VolumeFiles, login: LoginUser): VolumeFiles {
  const next = structuredClone(files);
  const owner = { uid: login.uid, gid: login.gid };
  const home = `/home/${login.user}`;
  next['/etc/passwd'].content += `${login.user}:x:${login.uid}:${login.gid}:${login.gecos}:${home}:/bin/bash\n`;
  const groupLines = next['/etc/group'].content
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, x, gid, members] = line.split(':');
      if (!login.groups.includes(name)) return line;
      return `${name}:${x}:${gid}:${members ? `${members},${login.user}` : login.user}`;
    });
  next['/etc/group'].content = `${groupLines.join('\n')}\n${login.user}:x:${login.gid}:\n`;
  next['/etc/shadow'].content += `${login.user}:!!:19000:0:99999:7:::\n`;
  const label = (l: string) => (login.selinux ? l : undefined);
  next[home] = dir(0o700, owner, label(SELINUX_HOME));
  next[`${home}/.bashrc`] = file('# .bashrc\n', 0o644, owner, label('unconfined_u:object_r:user_home_t:s0'));
  next[`${home}/.ssh`] = dir(0o700, owner, label(SELINUX_SSH));
  next[`${home}/.ssh/authorized_keys`] = file(login.authorizedKeys.map((k) => `${k}\n`).join(''), 0o600, owner, label(SELINUX_SSH));
  if (login.rootLoginHint) {
    next['/root/.ssh'] = dir(0o700, ROOT, label('system_u:object_r:ssh_home_t:s0'));
    next['/root/.ssh/authorized_keys'] = file(
      login.authorizedKeys
        .map(
          (k) =>
            `no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \\"${login.user}\\" rather than the user \\"root\\".';echo;sleep 10;exit 142" ${k}\n`,
        )
        .join(''),
      0o600,
      ROOT,
      label('system_u:object_r:ssh_home_t:s0'),
    );
  }
  return next;
}
