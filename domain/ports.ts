/**
 * The ports: what the domain needs from the cloud, the store, the queues and the clock. Adapters in
 * `infra/` implement them; tests use fakes typed against them. Every method either does what it
 * says or throws one of the errors of `./errors` (adapters translate SDK exceptions).
 */
import type { Job, PhaseName, Platform, RescueNetwork } from './job';

// ---------------------------------------------------------------------------------------------
// Cloud facts, in the domain's words

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface BlockDevice {
  deviceName: string;
  volumeId: string;
  deleteOnTermination: boolean;
}

export interface InstanceFacts {
  instanceId: string;
  state: InstanceState;
  /** Why the instance is in its state (e.g. `Client.InternalError` after a failed start). */
  stateReason?: string;
  platform: Platform;
  instanceType: string;
  availabilityZone: string;
  subnetId?: string;
  vpcId?: string;
  rootDeviceType: 'ebs' | 'instance-store';
  rootDeviceName?: string;
  blockDevices: BlockDevice[];
  /** Instance-store (ephemeral) volumes whose data a stop loses. */
  instanceStoreVolumeCount: number;
  spot: boolean;
  hibernationConfigured: boolean;
  publicIpAddress?: string;
  /** An auto-assigned public IPv4 (not an Elastic IP): a stop loses it. */
  publicIpIsAutoAssigned: boolean;
  tags: Record<string, string>;
  productCodes: string[];
  /** Auto Scaling group and the instance's lifecycle state in it, when it is a member. */
  autoScaling?: { groupName: string; lifecycleState?: string };
  disableApiStop: boolean;
  shutdownBehavior: 'stop' | 'terminate';
  launchTime?: string;
}

export interface VolumeAttachment {
  instanceId: string;
  device: string;
  state: 'attaching' | 'attached' | 'detaching' | 'detached' | 'busy';
  deleteOnTermination: boolean;
}

export interface VolumeFacts {
  volumeId: string;
  state: 'creating' | 'available' | 'in-use' | 'deleting' | 'deleted' | 'error';
  availabilityZone: string;
  encrypted: boolean;
  kmsKeyId?: string;
  productCodes: string[];
  attachments: VolumeAttachment[];
}

export interface ImageFacts {
  imageId: string;
  name: string;
  state: 'pending' | 'available' | 'invalid' | 'deregistered' | 'transient' | 'failed' | 'error' | 'disabled';
  stateReason?: string;
}

export interface SubnetFacts {
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
}

export interface HelperLaunch {
  /** Idempotency: the same token returns the same instance (RunInstances `ClientToken`). */
  clientToken: string;
  imageId: string;
  instanceType: string;
  subnetId: string;
  securityGroupIds: string[];
  instanceProfile: string;
  tags: Record<string, string>;
}

/** EC2 as the domain uses it. */
export interface Compute {
  /**
   * The instance's facts. Without `preflight`, the facts only preflight judges (stop protection,
   * shutdown behaviour, instance storage, Auto Scaling state) may be left at their defaults: they
   * cost extra calls, and phases poll this while they wait.
   */
  describeInstance(instanceId: string, options?: { preflight?: boolean }): Promise<InstanceFacts | undefined>;
  describeVolume(volumeId: string): Promise<VolumeFacts | undefined>;
  describeImage(imageId: string): Promise<ImageFacts | undefined>;
  findImageByName(name: string): Promise<ImageFacts | undefined>;
  describeSubnet(subnetId: string): Promise<SubnetFacts | undefined>;
  /** Launches (or, for a token already used, finds) the helper; returns its instance id. */
  launchInstance(spec: HelperLaunch): Promise<string>;
  /** The instance a RunInstances with this ClientToken made, if any (any state). */
  findInstanceByClientToken(clientToken: string): Promise<InstanceFacts | undefined>;
  stopInstance(instanceId: string, options: { force: boolean }): Promise<void>;
  startInstance(instanceId: string): Promise<void>;
  terminateInstance(instanceId: string): Promise<void>;
  attachVolume(volumeId: string, instanceId: string, device: string): Promise<void>;
  detachVolume(volumeId: string, instanceId: string): Promise<void>;
  setDeleteOnTermination(instanceId: string, device: string, deleteOnTermination: boolean): Promise<void>;
  /** CreateImage of a stopped instance (point-in-time), tagged at creation; returns the image id. */
  createImage(input: { instanceId: string; name: string; description: string; tags: Record<string, string> }): Promise<string>;
  /** The image id behind an SSM public parameter such as the latest Amazon Linux. */
  resolveImageParameter(parameterName: string): Promise<string>;
  /** How many VPCs the region has now (for the quota check before a rescue VPC is made). */
  countVpcs(): Promise<number>;
}

/** The service's rescue networks (a VPC with a subnet per AZ, shared by all jobs). */
export interface RescueNetworks {
  /** Whether the service's rescue VPC exists in the region (then no new VPC is needed). */
  vpcExists(): Promise<boolean>;
  /**
   * Makes progress towards the rescue network of this AZ, creating what is missing (each part
   * looked up by tag before it is created); answers the network once it is complete.
   */
  ensure(availabilityZone: string): Promise<RescueNetwork | 'not-yet'>;
}

export type AgentStatus = 'Online' | 'ConnectionLost' | 'Inactive' | 'absent';

export interface RescueParams {
  jobId: string;
  helperInstanceId: string;
  targetInstanceId: string;
  platform: Platform;
  volumeId: string;
  parameterName: string;
  keyType: 'ed25519' | 'rsa';
}

export type CommandStatus = 'Pending' | 'InProgress' | 'Delayed' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled' | 'Cancelling';

/** The one-line summary the rescue script prints last. */
export interface RescueSummary {
  ok: boolean;
  error?: string;
  message?: string;
  users?: Array<{ user: string; file: string; added: boolean }>;
  fingerprint?: string;
  publicKey?: string;
  parameterName?: string;
  [key: string]: unknown;
}

export interface RescueResult {
  status: CommandStatus;
  summary?: RescueSummary;
  /** Tail of stderr for an explained failure; never contains a key. */
  detail?: string;
}

/** SSM as the domain uses it: the helper's agent and the rescue command. */
export interface RescueRunner {
  agentStatus(instanceId: string): Promise<AgentStatus>;
  /** Sends the rescue command; the comment identifies the job so a retry can find it. */
  start(params: RescueParams): Promise<string>;
  /** The rescue command already sent for this job to this helper, if any. */
  find(params: RescueParams): Promise<string | undefined>;
  /** `undefined` while SSM does not know the invocation yet (InvocationDoesNotExist). */
  result(commandId: string, instanceId: string): Promise<RescueResult | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Store, queues, bus, clock

export interface InstanceLock {
  instanceId: string;
  jobId: string;
  acquiredAt: string;
}

/** The job store. `put` is conditional on `expectedVersion` (`undefined`: must not exist yet). */
export interface JobStore {
  get(jobId: string): Promise<Job | undefined>;
  /** Writes `job` if the stored version is `expectedVersion`; throws ConcurrentUpdateError if not. */
  put(job: Job, expectedVersion: number | undefined): Promise<void>;
  /** Jobs of one instance, newest first. */
  listByInstance(instanceId: string, options?: { limit?: number; cursor?: string }): Promise<{ jobs: Job[]; cursor?: string }>;
  /** Every job that is RUNNING or ROLLING_BACK (for the sweeper). */
  listActive(): Promise<Job[]>;
  getLock(instanceId: string): Promise<InstanceLock | undefined>;
  /**
   * Takes the instance's lock for `jobId` if it is free, or if it is held by `replacing` (a lock
   * whose job is finished or gone). Answers whether it was taken.
   */
  acquireLock(lock: InstanceLock, replacing?: string): Promise<boolean>;
  /** Frees the lock if `jobId` still holds it. */
  releaseLock(instanceId: string, jobId: string): Promise<void>;
}

/** A phase's message: `{ jobId, phase, attempt }` (DESIGN.md). */
export interface PhaseMessage {
  jobId: string;
  phase: PhaseName;
  attempt: number;
}

/** Publishes phase events to the bus (EventBridge); a rule per phase routes them to its queue. */
export interface PhaseBus {
  publish(messages: PhaseMessage[]): Promise<void>;
}

/** Sends a phase's message back to its own queue after a delay (waiting for AWS). */
export interface PhaseScheduler {
  later(message: PhaseMessage, delaySeconds: number): Promise<void>;
}

/**
 * Told of what operators watch: each phase that finishes and each job that ends. Publishing the
 * `Reset Access Job Succeeded/Failed` events and the metrics sit behind it. Called after the state
 * write; a failure here is logged and never fails the job.
 */
export interface JobObserver {
  phaseFinished(job: Job, phase: PhaseName, durationSeconds: number): Promise<void>;
  jobFinished(job: Job): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface Log {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

export interface IdGenerator {
  jobId(): string;
}
