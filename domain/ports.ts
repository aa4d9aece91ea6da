/**
 * The ports: what the domain needs from the cloud, the store, the queues and the clock. Adapters in
 * `infra/` implement them; tests use fakes typed against them. Every method either does what it
 * says or throws one of the errors of `./errors` (adapters translate SDK exceptions).
 */
import type { Job, JobStatus, PhaseName, Platform, RescueNetwork, ResetRequest } from './job/job';

// Cloud facts, in the domain's words: domain/cloud.ts.
export type {
  InstanceState,
  BlockDevice,
  InstanceFacts,
  VolumeAttachment,
  VolumeFacts,
  ImageFacts,
  SubnetFacts,
  SsmRoute,
  KeyFacts,
  AgentStatus,
  CommandStatus,
} from './cloud';
import type {
  AgentStatus,
  CommandStatus,
  ImageFacts,
  InstanceFacts,
  InstanceState,
  KeyFacts,
  SsmRoute,
  SubnetFacts,
  VolumeAttachment,
  VolumeFacts,
} from './cloud';

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
  /** The account's own images among these ids, in as few requests as it takes; unknown or deregistered ones are left out. */
  describeImages(imageIds: readonly string[]): Promise<ImageFacts[]>;
  findImageByName(name: string): Promise<ImageFacts | undefined>;
  describeSubnet(subnetId: string): Promise<SubnetFacts | undefined>;
  /** Launches (or, for a token already used, finds) the helper; returns its instance id. */
  launchInstance(spec: HelperLaunch): Promise<string>;
  /** The instance a RunInstances with this ClientToken made, if any (any state). */
  findInstanceByClientToken(clientToken: string): Promise<InstanceFacts | undefined>;
  stopInstance(instanceId: string, options: { force: boolean }): Promise<void>;
  /**
   * One StopInstances for several instances (domain/pipeline/stop-batches.ts): one request of EC2's mutating
   * bucket, whatever the number of instances. Not paced by itself: the batch holds its slot.
   */
  stopInstances(instanceIds: string[]): Promise<void>;
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
  /**
   * How an instance in this subnet reaches the SSM endpoints: a default route (`0.0.0.0/0`,
   * active) through an internet or NAT gateway in the subnet's route table (its own, else the
   * VPC's main one), or the `ssm`, `ssmmessages` and `ec2messages` interface endpoints in its VPC;
   * `none` when neither.
   */
  ssmRoute(subnet: SubnetFacts): Promise<SsmRoute>;
}

/** KMS as the preflight uses it: can EC2, on the service's behalf, use the key of an encrypted root? */
export interface EncryptionKeys {
  /** The key's facts; `not-found`, or `access-denied` when the service may not use it at all. */
  describeKey(keyId: string): Promise<KeyFacts | 'not-found' | 'access-denied'>;
}

/** The service's rescue networks (a VPC with a subnet per AZ, shared by all jobs). */
export interface RescueNetworks {
  /** Whether the service's recorded rescue VPC exists in the region (then no new VPC is needed). */
  vpcExists(): Promise<boolean>;
  /**
   * Makes progress towards the rescue network of this AZ, creating what is missing (the VPC is the
   * recorded one; each part in it is looked up by tag before it is created); answers the network
   * once it is complete. The parts of which there must be one and whose create takes no ClientToken
   * (the VPC, its internet gateway) are created only when `guard` allows it.
   */
  ensure(availabilityZone: string, guard?: RescueVpcGuard): Promise<RescueNetwork | 'not-yet'>;
}

/**
 * Asked before a part of the rescue network is created that must exist once and whose create
 * takes no ClientToken: two first jobs must not make two VPCs, fifty must not make fifty gateways
 * (5 per region by default).
 */
export interface RescueVpcGuard {
  /** Whether this caller may create `part` now; `false`: answer `not-yet` and look again later. */
  mayCreate(part: 'vpc' | 'internet-gateway'): Promise<boolean>;
}

/**
 * The scripts a helper runs: each platform's rescue script on a helper of the target's platform,
 * the NTFS rescue of a Windows volume on a Linux helper, and the release of an NTFS volume whose
 * unmount that one could not confirm.
 */
export type RescueScript = 'linux-rescue' | 'windows-rescue' | 'ntfs-rescue' | 'ntfs-release';

export interface RescueParams {
  jobId: string;
  helperInstanceId: string;
  targetInstanceId: string;
  platform: Platform;
  volumeId: string;
  /** Where a generated private key goes; absent with the caller's own key (nothing is stored). */
  parameterName?: string;
  keyType: 'ed25519' | 'rsa';
  /** Linux: the account to give the key to (absent: the instance's default login account). */
  user?: string;
  /** Linux: the caller's own public key line. */
  publicKey?: string;
  /** Linux, generated key: the KMS key of the SecureString. */
  kmsKeyId?: string;
  /** Default: the rescue script of `platform`. */
  script?: RescueScript;
}

/** The one-line summary the rescue script prints last. */
export interface RescueSummary {
  ok: boolean;
  error?: string;
  message?: string;
  users?: Array<{ user: string; file: string; added: boolean }>;
  /** Linux: the one account that has the key, and the authorized_keys file it is in. */
  user?: string;
  file?: string;
  /** Linux: `caller` when the key was the caller's own, `generated` otherwise. */
  keySource?: 'generated' | 'caller';
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

/**
 * A slot of the warm pool of stopped Windows helpers (domain/sweeper/helper-pool.ts): its helper is
 * launched (`launching`, RunInstances with the slot's token), boots once (`warming`), is stopped
 * (`stopping`) and waits (`ready`) until a job claims it (`claimed`) or the pool shrinks
 * (`retiring`, terminated).
 */
export interface PooledHelper {
  slotId: string;
  availabilityZone: string;
  state: 'launching' | 'warming' | 'stopping' | 'ready' | 'claimed' | 'retiring';
  instanceId?: string;
  createdAt: string;
  claimedBy?: string;
  claimedAt?: string;
}

/**
 * The warm pool's record (one item of the job table). Each change is one conditional write on the
 * slot's state, so a job's claim and the sweeper's retirement of the same helper cannot both win.
 */
export interface HelperPoolStore {
  list(): Promise<PooledHelper[]>;
  /** Adds a new slot (its `slotId` is new). */
  add(slot: PooledHelper): Promise<void>;
  /** Changes a slot that is still in `from`; answers whether it was. */
  update(slotId: string, from: PooledHelper['state'], change: Partial<Pick<PooledHelper, 'state' | 'instanceId'>>): Promise<boolean>;
  /** Forgets a slot that is still in `from`. */
  remove(slotId: string, from: PooledHelper['state']): Promise<void>;
  /**
   * A `ready` helper of `availabilityZone` for `jobId`, or the one `jobId` already claimed (a
   * repeated delivery gets the same); `undefined` when none is ready. Two jobs never get the same.
   */
  claim(jobId: string, availabilityZone: string, now: Date): Promise<PooledHelper | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Store, queues, bus, clock

export interface InstanceLock {
  instanceId: string;
  jobId: string;
  acquiredAt: string;
}

/** A listing of jobs: one instance's or all recent ones, optionally of one status. */
export interface JobQuery {
  instanceId?: string;
  status?: JobStatus;
  limit?: number;
  /** Opaque: what the previous page answered; valid only for the same query. */
  cursor?: string;
}

/** What a job's resource is to it: events about it may end one of the job's waits. */
export type ResourceRole = 'target' | 'helper' | 'root-volume';

/** Which job an instance or volume belongs to (the newest job that learned it). */
export interface ResourceLink {
  resourceId: string;
  jobId: string;
  role: ResourceRole;
}

/** The job store. `put` is conditional on `expectedVersion` (`undefined`: must not exist yet). */
export interface JobStore {
  get(jobId: string): Promise<Job | undefined>;
  /** Writes `job` if the stored version is `expectedVersion`; throws ConcurrentUpdateError if not. */
  put(job: Job, expectedVersion: number | undefined): Promise<void>;
  /** Jobs of one instance, newest first. */
  listByInstance(instanceId: string, options?: { limit?: number; cursor?: string }): Promise<{ jobs: Job[]; cursor?: string }>;
  /**
   * Jobs newest first (by creation): those of `query.instanceId`, or of every instance without it;
   * only those in `query.status` when given. Throws RefusedError `INVALID_CURSOR` (400) for a
   * cursor this query did not answer.
   */
  list(query: JobQuery): Promise<{ jobs: Job[]; cursor?: string }>;
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
  /**
   * Records which job each resource belongs to, replacing an older job's link (an instance is
   * reset again later). Links outlive their job: a wake checks that the job is still running.
   */
  linkResources(links: ResourceLink[]): Promise<void>;
  /** The link of an instance or volume id, if a job ever learned it. */
  resourceLink(resourceId: string): Promise<ResourceLink | undefined>;
}

/**
 * What an `Idempotency-Key` (or an event id) was used for: the request it came with (canonical
 * JSON) and the job it made. Recorded *before* the job is written, so a record whose job does not
 * exist is a start under way, or one that crashed.
 */
export interface IdempotencyRecord {
  /** The key, scoped by its owner (the caller's identity), as the store keys it. */
  key: string;
  request: string;
  jobId: string;
  createdAt: string;
  /** After this the key is free again (the store also lets it expire by itself). */
  expiresAt: string;
}

/** Remembered idempotency keys. Single conditional writes, no transactions. */
export interface IdempotencyStore {
  /** The record of `key`, or `undefined` if there is none or it expired before `now`. */
  get(key: string, now: Date): Promise<IdempotencyRecord | undefined>;
  /**
   * Writes `record` if `key` is free (no record, or one expired before `now`), or, with
   * `replacing`, if the record still names that job. Answers whether it was written.
   */
  claim(record: IdempotencyRecord, now: Date, replacing?: string): Promise<boolean>;
  /** Deletes the record if it still names `jobId` (a start that was refused frees its key). */
  release(key: string, jobId: string): Promise<void>;
}

/** An instance's alarm cool-down: who claimed it, until when, and the job started under it. */
export interface CooldownRecord {
  instanceId: string;
  /** The event that claimed it (its EventBridge id). */
  claimant: string;
  until: string;
  jobId?: string;
}

/** Per-instance cool-downs of alarm-started resets. */
export interface CooldownStore {
  get(instanceId: string): Promise<CooldownRecord | undefined>;
  /**
   * Writes `record` if the instance has no cool-down running at `now`, or if `record.claimant`
   * holds it. Answers whether it was written.
   */
  claim(record: CooldownRecord, now: Date): Promise<boolean>;
  /** Deletes the cool-down if `claimant` holds it and started no job under it. */
  release(instanceId: string, claimant: string): Promise<void>;
}

/** The persisted state of one admission bucket (see `domain/admission/admission.ts`). */
export interface AdmissionState {
  /** Theoretical arrival time (ms since the epoch): when the bucket would be full again. */
  tat: number;
  version: number;
}

/** Admission buckets: read, then write conditionally on the version read. */
export interface AdmissionStore {
  get(bucket: string): Promise<AdmissionState | undefined>;
  /** Writes `tat` if the stored version is `expectedVersion` (`undefined`: none yet). Answers whether it was written. */
  put(bucket: string, tat: number, expectedVersion: number | undefined): Promise<boolean>;
}

/**
 * A stop shared by the jobs that need one while EC2's mutating bucket has a queue
 * (domain/pipeline/stop-batches.ts): one StopInstances for all its instances, sent at its request slot.
 * `open`: jobs join it; `closed`: a member took it to send (the list is final); then `sent` or
 * `failed` (each member then stops its own instance).
 */
export interface StopBatch {
  batchId: string;
  /** Its slot of the mutating bucket (ISO): it is sent by the first member delivered from then on. */
  at: string;
  instanceIds: string[];
  state: 'open' | 'closed' | 'sent' | 'failed';
  /** The job whose delivery closed it to send it, and when. */
  closedBy?: string;
  closedAt?: string;
  /** When StopInstances answered (state `sent`), and the instances it named (the members still waiting for it). */
  sentAt?: string;
  sentInstanceIds?: string[];
  /** Why StopInstances was refused (state `failed`): `CODE: message`. */
  error?: string;
}

/**
 * Stop batches, one item each, and which one is open for joining. Every change is conditional on
 * the state it expects, so a batch's list is final once closed, and two members never both send it.
 */
export interface StopBatchStore {
  /**
   * The batch new stops join, if one is open (a closed one it still points at is answered too; so is
   * one whose item is gone, as `closed` with no instances, so that it can be replaced).
   */
  current(): Promise<StopBatch | undefined>;
  get(batchId: string): Promise<StopBatch | undefined>;
  /**
   * Writes a new open batch of one instance and makes it the current one, if the current one is
   * still `replacing` (`undefined`: there is none). False when another was made current first (the
   * batch may then have been written all the same: never current, it is never joined, closed or
   * recorded by a job, and expires). Items may be dropped once `expiresAt` has passed.
   */
  open(batch: { batchId: string; at: string; instanceIds: string[] }, replacing: string | undefined, expiresAt: Date): Promise<boolean>;
  /** Adds `instanceId` if the batch is open and holds fewer than `maxSize`; true also when it is already in the open batch. */
  join(batchId: string, instanceId: string, maxSize: number): Promise<boolean>;
  /** Takes `instanceId` out if the batch is still open; true when it is out (or never was in), false when the batch is no longer open with it in. */
  leave(batchId: string, instanceId: string): Promise<boolean>;
  /** open → closed by `jobId` at `now`: answers the closed batch (its final list), or undefined when it was not open. */
  close(batchId: string, jobId: string, now: Date): Promise<StopBatch | undefined>;
  /** closed → `sent` (at `sentAt`, naming `instanceIds`) or `failed` (with `error`; `THROTTLED …` when EC2 throttled it and nothing was done). */
  settle(batchId: string, outcome: { sentAt: string; instanceIds: string[] } | { error: string }): Promise<void>;
}

/** An event-started reset that waits for its admission slot. */
export interface DeferredStart {
  kind: 'alarm' | 'request';
  request: ResetRequest;
  /** The event's id: the cool-down claimant (alarms) or the idempotency key (requests). */
  eventId: string;
  requestedBy: string;
  /** When its reserved slot comes (ISO). */
  admitAt: string;
}

/** Sends a deferred start back to the alarm function after a delay. */
export interface StartDeferral {
  later(start: DeferredStart, delaySeconds: number): Promise<void>;
}

/** An IAM role or user, as a caller's ARN names it (domain/api/access.ts `principalOf`). */
export interface Principal {
  kind: 'role' | 'user';
  name: string;
  account: string;
  /** `arn:…:iam::<account>:role/<name>` or the user's ARN. */
  arn: string;
}

/** IAM, as the access rule reads it: the tags of a caller's role or user (ListRoleTags, ListUserTags). */
export interface PrincipalTags {
  /** Its tags; undefined when IAM has no such role or user. */
  tagsOf(principal: Principal): Promise<Record<string, string> | undefined>;
}

/** What the instance listing shows of one instance (what can be reset). */
export interface InstanceSummary {
  facts: InstanceFacts;
  name?: string;
}

/** The region's instances, for operators choosing what to reset. */
export interface InstanceDirectory {
  /**
   * Instances that are not terminated and not the service's own helpers, a page at a time: at most
   * `limit`, and a `cursor` while more may follow that continues after the last one answered. A
   * cursor it did not answer is refused with RefusedError `INVALID_CURSOR` (400).
   */
  list(options: { limit: number; cursor?: string }): Promise<{ instances: InstanceSummary[]; cursor?: string }>;
}

/** A phase's message: `{ jobId, phase, attempt }` (docs/architecture.md#phase-contract). */
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
 * Told of what operators watch: each job that starts, each phase that finishes and each job that
 * ends. Publishing the `Reset Access Job Succeeded/Failed` events and the metrics sit behind it.
 * Called after the state write; a failure here is logged and never fails the job.
 */
export interface JobObserver {
  jobStarted(job: Job): Promise<void>;
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

// ---------------------------------------------------------------------------------------------
// The shared rescue network's bookkeeping, and what the sweeper needs from EC2

/**
 * The store's record of the region's rescue network (one item, single conditional writes): which
 * jobs hold it, who may create its VPC, and whether the sweeper is reclaiming it.
 */
export interface RescueNetworkRecord {
  state: 'in-use' | 'reclaiming';
  /** jobId → when that job took its lease (ISO). A lease lasts until the job ends. */
  leases: Record<string, string>;
  /** When the last lease was released (ISO): with no lease left, the network is idle since then. */
  lastReleasedAt?: string;
  /** The job allowed to call CreateVpc, until when (ISO). */
  creator?: { owner: string; expiresAt: string };
  reclaimStartedAt?: string;
  /**
   * The rescue VPC, recorded when it was created: the only VPC the jobs use and the sweeper
   * reclaims (its tags alone are no evidence: whoever may tag a VPC could have helpers sent into
   * it, or have it deleted).
   */
  vpcId?: string;
}

/** Leases on the region's rescue network, and the lock on its creation. */
export interface RescueNetworkLeases {
  /**
   * Takes (or keeps) `jobId`'s lease. `reclaiming`: the sweeper is deleting the idle network; no
   * lease is given until it is gone, then the next acquire starts a new one.
   */
  acquire(jobId: string, now: Date): Promise<'held' | 'reclaiming'>;
  /** Gives the lease back (a no-op when it is not held). */
  release(jobId: string, now: Date): Promise<void>;
  /** Takes the creation lock for `owner` if it is free, expired, or already `owner`'s. */
  lockCreation(owner: string, now: Date, leaseSeconds: number): Promise<boolean>;
  read(): Promise<RescueNetworkRecord | undefined>;
  /** Records the VPC the network is (`RescueNetworks.ensure`, as soon as it created it); a no-op without a record. */
  recordVpc(vpcId: string): Promise<void>;
  /** Marks the network `reclaiming` if no job holds it and none has since `idleSince`. Answers whether it did. */
  beginReclaim(now: Date, idleSince: Date): Promise<boolean>;
  /** The network is gone: forgets the record (only one that is `reclaiming`). */
  endReclaim(): Promise<void>;
}

/** A volume attached to a helper, and whether it is the helper's own (launched with it). */
export interface HelperVolume {
  volumeId: string;
  device: string;
  state: VolumeAttachment['state'];
  own: boolean;
}

/** An instance that carries this deployment's helper tags (`reset-access:managed`, `reset-access:deployment`, role `helper`). */
export interface ManagedHelper {
  instanceId: string;
  state: InstanceState;
  launchTime?: string;
  vpcId?: string;
  rootDeviceName?: string;
  /**
   * The instance profile it runs with (ARN). Launching with this deployment's helper profile takes
   * `iam:PassRole` on its role, which tagging an instance does not give: the sweeper's evidence.
   */
  instanceProfileArn?: string;
  tags: Record<string, string>;
  volumes: HelperVolume[];
}

/** Everything in one of the service's rescue VPCs, in the deletion order of docs/aws-facts.md#reclaim-order. */
export interface RescueVpcInventory {
  vpcId: string;
  /** Instances of any owner not yet terminated in the VPC: nothing is deleted while there are any. */
  instanceIds: string[];
  endpoints: Array<{ id: string; state: string }>;
  routeTables: Array<{ id: string; associationIds: string[] }>;
  securityGroupIds: string[];
  subnetIds: string[];
  /** The service's gateways attached to this VPC. */
  internetGatewayIds: string[];
  /** Parts in the VPC without the service's tags (never deleted; they keep the VPC from going). */
  foreign: string[];
}

/** One deletion the sweeper asks for; ids come only from the service's tagged inventory. */
export type NetworkPart =
  | { kind: 'vpc-endpoint'; id: string }
  | { kind: 'route-table-association'; id: string; routeTableId: string }
  | { kind: 'route-table'; id: string }
  | { kind: 'security-group'; id: string }
  | { kind: 'subnet'; id: string }
  | { kind: 'internet-gateway-attachment'; id: string; vpcId: string }
  | { kind: 'internet-gateway'; id: string }
  | { kind: 'vpc'; id: string };

/** `deferred`: not deletable yet (`DependencyViolation`, `*.NotFound`…): the next run looks again. */
export type DeleteOutcome = { outcome: 'deleted' } | { outcome: 'deferred'; reason: string };

/**
 * EC2 as the sweeper sees it: only resources that carry the service's tags are listed, and only
 * listed ones are terminated or deleted. Volumes, images and snapshots are never deleted.
 */
export interface Reclaimer {
  /** Helpers not yet terminated, with their attached volumes. */
  listHelpers(): Promise<ManagedHelper[]>;
  /** The service's rescue VPCs, with what is in them. */
  listRescueVpcs(): Promise<RescueVpcInventory[]>;
  /** The service's internet gateways attached to no VPC (a spare from two concurrent creates). */
  listDetachedGateways(): Promise<string[]>;
  /** The endpoints still in `vpcId` (any state), for waiting on their asynchronous deletion. */
  listEndpoints(vpcId: string): Promise<Array<{ id: string; state: string }>>;
  /** Terminates the instance only if it still carries the helper tags; answers whether it did. */
  terminateHelper(instanceId: string): Promise<boolean>;
  deletePart(part: NetworkPart): Promise<DeleteOutcome>;
}

/** Waits: the sweeper gives a detach or an endpoint deletion a few seconds before the next run. */
export interface Sleeper {
  sleep(seconds: number): Promise<void>;
}
