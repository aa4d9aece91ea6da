/** The job record: what a reset did, is doing and must undo. Stored as one item per job. */

import type { AgentStatus, InstanceFacts, Platform, SshKeyType, SsmRoute, SubnetFacts, VolumeFacts } from '../cloud';
import type { ResetMode, ResetRequest } from '../api/request';

export type { Platform } from '../cloud';

export type JobStatus = 'RUNNING' | 'ROLLING_BACK' | 'SUCCEEDED' | 'FAILED';

/**
 * The phases' names. Each phase module declares its own into this interface (a module augmentation
 * next to its `definePhase`), and the registry (domain/phases/index.ts) checks that the names
 * declared and the phases registered are the same: the job model needs the names, not the phases.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PhaseNames {}
export type PhaseName = keyof PhaseNames & string;

/** The start request (its schema, domain/request.ts), with its defaults filled in. */
export type { ResetRequest, SubnetChoice } from '../api/request';

/** What the target looked like before the job touched it: everything rollback must restore. */
export interface TargetSnapshot {
  state: 'running' | 'stopped';
  platform: Platform;
  availabilityZone: string;
  subnetId?: string;
  vpcId?: string;
  rootDeviceName: string;
  rootVolumeId: string;
  rootDeleteOnTermination: boolean;
  rootEncrypted: boolean;
  rootKmsKeyId?: string;
  /** Marketplace product codes on the root volume: it then attaches only to a stopped helper. */
  rootProductCodes: string[];
  publicIpAddress?: string;
  /** An auto-assigned public IPv4 (not an Elastic IP) is lost by a stop. */
  publicIpWillChange: boolean;
}

export interface PhaseRecord {
  status: 'running' | 'done' | 'failed';
  startedAt: string;
  endedAt?: string;
  /** Deliveries that found the phase not yet done (wait polls), starting at 0. */
  attempt: number;
  /** When `attempt` last moved (a wait or a retry); the sweeper re-drives a phase that stops moving. */
  movedAt?: string;
  /** When the delivery of `attempt` is due (sent with a delay when `attempt` moved). */
  dueAt?: string;
  /** Why the phase is waiting, for operators. */
  waitingFor?: string;
  /** Consecutive retryable errors in this phase. */
  retries?: number;
  /** Consecutive throttled calls in this phase: they set the backoff, never the job's fate. */
  throttles?: number;
  /** Seconds the phase has backed off after throttling in all: its deadline is extended by them. */
  throttledSeconds?: number;
  /** The EC2 request slot the phase waits for, reserved and not used yet (domain/request-pacing.ts). */
  pacedSlot?: PacedSlot;
  /** Deliveries that only waited for the slot of the phase's first call, before its step ran. */
  slotWaits?: number;
}

/**
 * Whether this is the phase's first look at AWS: every delivery before it (if any) only waited for
 * the request slot of its first call and did nothing else. A phase's first delivery may act on what
 * the phase before it saw (send without looking); waiting for a slot changes nothing of that.
 */
export function isFirstDelivery(record: PhaseRecord | undefined): boolean {
  return record !== undefined && record.attempt === (record.slotWaits ?? 0);
}

/** A rescue network the job uses; `shared` ones belong to the service, not to the job. */
export interface RescueNetwork {
  subnetId: string;
  vpcId?: string;
  securityGroupIds: string[];
  kind: 'instance-subnet' | 'named-subnet' | 'rescue-vpc';
}

/** Resources the job created or holds, and small per-phase working state. */
export interface JobResources {
  rescueNetwork?: RescueNetwork;
  helperInstanceId?: string;
  /** When launch-helper first saw the helper `running`: its agent is looked at only some time after. */
  helperRunningAt?: string;
  helperImageId?: string;
  /**
   * The platform of the helper the job's volume goes to, when it is not the target's: `linux` for a
   * Windows target on the fast path (its NTFS rescue), `windows` again once it fell back.
   */
  helperPlatform?: Platform;
  /** The Windows fast path fell back to a Windows helper (domain/phases/windows-fallback.ts). */
  windowsFallback?: WindowsFallback;
  /**
   * The release of an NTFS volume whose unmount the Linux helper could not confirm: a second
   * unmount through Run Command (domain/phases/ntfs-release.ts). Until it is `released` the volume
   * stays on that helper; `failed` leaves it there for good (the job fails, the sweeper keeps off).
   */
  ntfsRelease?: { state: 'sent' | 'released' | 'failed'; commandId: string; detail?: string };
  backupImageId?: string;
  passwordImageId?: string;
  rescueCommandId?: string;
  stopRequestedAt?: string;
  /** 0: plain stop sent, 1: second stop sent, 2: force stop sent. */
  stopEscalation?: number;
  /**
   * The stop batch the target is in, until the job knows whether its StopInstances was sent
   * (domain/stop-batches.ts): `at` is the batch's request slot.
   */
  stopBatch?: { batchId: string; at: string };
  startRequestedAt?: string;
  /** The attach of the root volume last sent, and how often it was sent to that place. */
  volumeAttach?: { instanceId: string; device: string; sent: number };
  /** How many undo steps rollback has completed (from the newest). */
  undoneSteps?: number;
  /** The online attempt: the new key's public half and the command sent (never the private key). */
  online?: OnlineAttempt;
  /** Resources linked to the job in the store, so that AWS events about them wake it. */
  linkedResources?: string[];
}

/**
 * Why and how a Windows reset left the fast path: the NTFS rescue on the Linux helper refused the
 * volume (or could not say it had released it), and a Windows helper took over.
 */
export interface WindowsFallback {
  /** The NTFS rescue's code (`HIBERNATED`, `BITLOCKER`, `UNMOUNT_FAILED`, `COMMAND_TIMEDOUT`…). */
  code: string;
  reason: string;
  at: string;
  /** The Linux helper that ran it; terminated once the volume is off it. */
  linuxHelperInstanceId: string;
  /** The script did not say the volume is unmounted: it leaves only after a release (`ntfsRelease`). */
  mayBeMounted?: boolean;
  /** The Windows helper: started from the warm pool, or launched; `runningAt`/`startRequestedAt` as launch-helper keeps them. */
  helper?: { instanceId: string; source: 'pool' | 'launch'; startRequestedAt?: string; runningAt?: string };
  /** The Windows rescue command on it. */
  rescueCommandId?: string;
}

export interface JobOutputs {
  /** Only for a generated key: where its private half is (with the caller's own key there is none). */
  sshKeyParameter?: string;
  sshKeyFingerprint?: string;
  /** The one account that has the key, and its authorized_keys file (a path on the instance). */
  sshUser?: string;
  authorizedKeysFile?: string;
  /** The same account as a list (the shape from when several accounts got the key). */
  usersWithNewKey?: string[];
  backupImageId?: string;
  /** The backup image's state when the job ended (`pending`: still being made). */
  backupImageState?: string;
  /** Set when the backup image failed or is gone: what that means for the owner. */
  backupImageProblem?: string;
  passwordEnabledImageId?: string;
  /** Windows: the launch agents on the volume that make the new password at the next boot. */
  launchAgents?: string[];
  /** Windows: how the owner reads the new password once the instance has booted (a CLI command). */
  passwordRetrieval?: string;
  /** Windows: what the owner should know (tasks that run again, an instance left stopped…). */
  rescueNotes?: string[];
  /** Windows online: when GetPasswordData had the password made after the reboot (ISO time). */
  passwordReadyAt?: string;
  publicIpWillChange?: boolean;
}

/** One step of rollback, recorded when the forward step that needs undoing completed. */
export type UndoStep = { kind: 'restore-run-state' } | { kind: 'terminate-helper' } | { kind: 'return-root-volume' };

export interface JobError {
  code: string;
  message: string;
  phase: PhaseName;
}

/**
 * The instance's value of the access tag when the job started (domain/access.ts): who may see and
 * cancel the job. No `value`: the instance did not carry the tag (only an event can start that).
 */
export interface JobAccess {
  tag: string;
  value?: string;
}

export interface Job {
  jobId: string;
  instanceId: string;
  platform?: Platform;
  status: JobStatus;
  request: ResetRequest;
  /** Who asked: the caller's IAM principal (API), or the alarm or event that started it. */
  requestedBy?: string;
  /** The access tag's value of the instance, when an access rule is configured. */
  access?: JobAccess;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter: every write is conditional on the version read. */
  version: number;
  /** The phases that are running now (two while the helper launch and the stop overlap). */
  current: PhaseName[];
  phases: Partial<Record<PhaseName, PhaseRecord>>;
  /** The phases the last transition came from: lets a late duplicate re-publish what followed. */
  lastTransitionFrom?: PhaseName[];
  target?: TargetSnapshot;
  /** What the API's preflight read when it started the job; validate reuses it while it is fresh. */
  preflight?: PreflightRecord;
  /** Which path the job takes (online or the swap) and why; set by validate, changed by a fall-over. */
  mode?: JobMode;
  resources: JobResources;
  outputs: JobOutputs;
  /** Newest last; rollback runs it from the end. */
  undo: UndoStep[];
  error?: JobError;
  /** Why rollback could not finish, when it could not. */
  rollbackError?: JobError;
  /** Set when the job ends FAILED: whether the instance is back as it was. */
  instanceRestored?: boolean;
  endedAt?: string;
}

export function isActive(job: Job): boolean {
  return job.status === 'RUNNING' || job.status === 'ROLLING_BACK';
}

/** The parameter the private key lands in (the EC2Rescue convention). */
export function sshKeyParameterName(instanceId: string): string {
  return `/ec2rl/openssh/${instanceId}/key`;
}

// ---------------------------------------------------------------------------------------------
// Parts of the job record that the use cases filling them also export

/** The Linux online attempt's working state in the job: public facts only, never the private key. */
export interface LinuxOnlineAttempt {
  platform?: 'linux';
  keyType: SshKeyType;
  publicKey: string;
  fingerprint: string;
  /** `caller`: the caller's own key, nothing in Parameter Store. Absent: a pair made by the service. */
  keySource?: 'caller';
  /** Generated keys: the parameter's version after the put. */
  parameterVersion?: number;
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

/** The path a job takes, and why. */
export interface JobMode {
  /** What the request asked for (`auto` when it did not say). */
  requested: ResetMode;
  chosen: 'online' | 'offline';
  /** Why this path, in words an operator reads. */
  reason: string;
  /** The online attempt failed and the job went on with the swap (only in `auto`). */
  fellOver?: { code: string; reason: string; at: string };
  /**
   * Online was chosen although the swap would be refused (e.g. a Spot instance, instance-store
   * data): a failed online attempt then fails the job instead of falling over.
   */
  offlineRefused?: Refusal;
}

export interface Refusal {
  code: string;
  message: string;
}

/**
 * What the API's preflight read, kept in the job: the validate phase that follows a moment later
 * reads again only what can change that fast and matters (see `refreshPreflightFacts`).
 */
export interface PreflightRecord {
  /** When the reads began (ISO). */
  gatheredAt: string;
  /** The instance facts only the preflight reads, each a call of its own. */
  instance: Pick<InstanceFacts, 'disableApiStop' | 'shutdownBehavior' | 'instanceStoreVolumeCount' | 'autoScaling'>;
  rootVolume?: VolumeFacts;
  namedSubnet?: SubnetFacts;
  rescueNetworkExists?: boolean;
  vpcCount?: number;
  subnetSsmRoute?: SsmRoute;
  /** The target's SSM agent as the API's choice of mode saw it; absent when it was not asked. */
  agent?: AgentStatus;
}

/** A slot of a paced bucket, reserved for a phase and not used yet. */
export interface PacedSlot {
  /** The bucket (`pacedBucket`), e.g. `ec2-mutating` or `ec2-mutating-AttachVolume`. */
  bucket: string;
  /** When the slot comes (ISO time). */
  at: string;
}
