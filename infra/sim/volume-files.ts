/**
 * The simulated region's model of what is on a volume: a flat map from absolute path (inside the
 * volume's root filesystem, e.g. `/home/ec2-user/.ssh/authorized_keys`) to an entry. Directories
 * are entries of their own. Shared by the simulated region, the model of the rescue scripts and
 * the fixtures that the real Linux rescue script is tested against.
 */
export interface FileEntry {
  type: 'file' | 'dir' | 'symlink';
  /** File content (utf8), or the link target for a symlink; empty for a directory. */
  content: string;
  /** Permission bits, e.g. 0o600. */
  mode: number;
  uid: number;
  gid: number;
  /** SELinux label, when the fixture models one (e.g. `unconfined_u:object_r:ssh_home_t:s0`). */
  selinuxLabel?: string;
}

export type VolumeFiles = Record<string, FileEntry>;
