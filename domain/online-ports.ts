/**
 * The ports of the online reset (no stop, no swap): a key pair made in the service whose private
 * half goes straight to Parameter Store, and Run Command on the target itself. Adapters in
 * `infra/aws/` implement them; a deployment without them resets offline only.
 */
import type { Platform } from './job';
import type { AgentStatus, RescueResult } from './ports';

/** The public half of a key pair the service made; the private half is in Parameter Store only. */
export interface NewKeyPair {
  keyType: 'ed25519' | 'rsa';
  /** `ssh-ed25519 AAAA… <comment>`: what goes into authorized_keys. */
  publicKey: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** The parameter's version after the put: a later look tells whether someone overwrote it. */
  parameterVersion: number;
}

/**
 * Makes key pairs for the online reset. The private key never leaves the adapter except to
 * Parameter Store: it is not returned, logged, stored in the job or put in an event.
 */
export interface KeyVault {
  /** Makes a key pair and puts the private key to `parameterName` as a SecureString (overwriting). */
  createKeyPair(input: { parameterName: string; keyType: 'ed25519' | 'rsa'; comment: string; description: string }): Promise<NewKeyPair>;
  /** The parameter's current version, without reading its value; `undefined` when it does not exist. */
  parameterVersion(parameterName: string): Promise<number | undefined>;
}

/** What the online command needs: the target, and for Linux the public half of the new key (Windows needs none). */
export interface OnlineCommandParams {
  jobId: string;
  instanceId: string;
  platform: Platform;
  /** Linux: the new key's public line. */
  publicKey?: string;
}

/** SSM Run Command on the target itself, for the online reset. */
export interface TargetCommands {
  /** The target's SSM agent (DescribeInstanceInformation PingStatus); `absent` when not registered. */
  agentStatus(instanceId: string): Promise<AgentStatus>;
  /** Sends the online reset command; its comment names the job so that `find` sees it after a crash. */
  send(params: OnlineCommandParams): Promise<string>;
  /** The online command already sent for this job to the target, if any. */
  find(params: OnlineCommandParams): Promise<string | undefined>;
  /** `undefined` while SSM does not know the invocation yet (InvocationDoesNotExist). */
  result(commandId: string, instanceId: string): Promise<RescueResult | undefined>;
}

/** The password a Windows launch agent made, as GetPasswordData reports it (never the data itself). */
export interface PasswordDataStatus {
  /** GetPasswordData answered non-empty password data. */
  available: boolean;
  /** When that data was last updated (GetPasswordData `Timestamp`). */
  timestamp?: Date;
  /**
   * A digest of the (encrypted) data, to tell a new password from the old one without keeping
   * either: a timestamp alone might move without a new password.
   */
  digest?: string;
}

/** The target instance itself, for the Windows online reset: a reboot, and whether a password is there. */
export interface OnlineInstances {
  /** RebootInstances: the OS restarts; the public IP and instance-store data stay (unlike a stop). */
  reboot(instanceId: string): Promise<void>;
  /** GetPasswordData, read only for whether data is there and when it was made. */
  passwordData(instanceId: string): Promise<PasswordDataStatus>;
}

export interface OnlinePorts {
  keys: KeyVault;
  commands: TargetCommands;
  /** Windows online resets only; a deployment without it resets Windows offline. */
  instances?: OnlineInstances;
}

/** The Linux online attempt's working state in the job: public facts only, never the private key. */
export interface LinuxOnlineAttempt {
  platform?: 'linux';
  keyType: 'ed25519' | 'rsa';
  publicKey: string;
  fingerprint: string;
  parameterVersion: number;
  commandId?: string;
}

/** The Windows online attempt: the command that turned password generation on, then the reboot. */
export interface WindowsOnlineAttempt {
  platform: 'windows';
  commandId: string;
  /** The command succeeded: the agents that make a password at the next boot. */
  launchAgents?: string[];
  warnings?: string[];
  /**
   * When the reboot was first going to be asked for (ISO time), recorded before the call and never
   * overwritten: a password made after it is the new one, and the password limit counts from it.
   */
  rebootRequestedAt?: string;
  /** The digest of the password data there before the reboot (none: there was none). */
  passwordBefore?: string;
  /** RebootInstances was answered. */
  rebooted?: boolean;
}

export type OnlineAttempt = LinuxOnlineAttempt | WindowsOnlineAttempt;

/** The Run Command comment that identifies a job's online command (≤ 100 characters in SSM). */
export function onlineCommandComment(jobId: string): string {
  return `reset-access ${jobId} online`;
}
