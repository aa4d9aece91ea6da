import type { IdFactoryState } from './ids';
import type { VolumeFiles } from './volume-files';

/**
 * Everything the simulated region knows, as plain JSON-able data (times are epoch milliseconds),
 * so that `SimulatedRegion.exportState()` can save it and a new region resume from it.
 */
export interface RegionState {
  ids: IdFactoryState;
  instances: Record<string, InstanceRecord>;
  volumes: Record<string, VolumeRecord>;
  images: Record<string, ImageRecord>;
  snapshots: Record<string, SnapshotRecord>;
  vpcs: Record<string, VpcRecord>;
  subnets: Record<string, SubnetRecord>;
  internetGateways: Record<string, InternetGatewayRecord>;
  routeTables: Record<string, RouteTableRecord>;
  securityGroups: Record<string, SecurityGroupRecord>;
  vpcEndpoints: Record<string, VpcEndpointRecord>;
  kmsKeys: Record<string, KmsKeyRecord>;
  parameters: Record<string, ParameterRecord>;
  commands: Record<string, CommandRecord>;
  /** `<Action>:<ClientToken>` → what the first call created. */
  clientTokens: Record<string, ClientTokenRecord>;
  /** Timed transitions not yet applied, in no particular order. */
  scheduled: ScheduledTransition[];
  /** Orders transitions that fall at the same millisecond. */
  scheduleSeq: number;
  /** IAM roles and users with their tags (`role/<name>`, `user/<name>`); absent in states saved before it. */
  iamPrincipals?: Record<string, IamPrincipalRecord>;
}

/** An IAM role or user, as much of it as ListRoleTags and ListUserTags answer. */
export interface IamPrincipalRecord {
  kind: 'role' | 'user';
  name: string;
  tags: TagMap;
}

export type TagMap = Record<string, string>;

export type Platform = 'linux' | 'windows';

export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

/** EC2's numeric state codes (low byte), as DescribeInstances reports them. */
export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface StateReasonRecord {
  code: string;
  message: string;
}

export interface ProductCodeRecord {
  id: string;
  type: 'marketplace' | 'devpay';
}

/** What SSM knows about the agent on an instance. */
export interface AgentRecord {
  /** `absent`: no agent or no instance profile; `offline`: registered but not pinging. */
  status: 'absent' | 'booting' | 'online' | 'offline';
  registeredAt?: number;
  lastPingAt?: number;
}

export interface InstanceStoreRecord {
  virtualName: string;
  deviceName: string;
  files: VolumeFiles;
}

export interface InstanceRecord {
  instanceId: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  platform: Platform;
  platformDetails: string;
  architecture: string;
  state: InstanceStateName;
  /** Bumped on every state change; a scheduled transition made for an older epoch is stale. */
  stateEpoch: number;
  stateTransitionReason: string;
  stateReason?: StateReasonRecord;
  launchTime: number;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  privateIpAddress: string;
  publicIpAddress?: string;
  /** Whether the instance gets a public IPv4 each time it starts (auto-assigned at launch). */
  assignsPublicIp: boolean;
  securityGroupIds: string[];
  keyName?: string;
  iamInstanceProfile?: { arn: string; id: string };
  tags: TagMap;
  rootDeviceName: string;
  rootDeviceType: 'ebs' | 'instance-store';
  instanceStore: InstanceStoreRecord[];
  /** Product codes the instance carries besides those of its attached volumes. */
  productCodes: ProductCodeRecord[];
  lifecycle?: 'spot' | 'scheduled' | 'capacity-block';
  spotInstanceRequestId?: string;
  hibernationConfigured: boolean;
  disableApiStop: boolean;
  disableApiTermination: boolean;
  shutdownBehavior: 'stop' | 'terminate';
  clientToken?: string;
  userData?: string;
  metadataOptions: { httpTokens: string; httpPutResponseHopLimit: number; httpEndpoint: string };
  ebsOptimized: boolean;
  /** Whether the image it was launched from runs the SSM agent. */
  ssmAgent: boolean;
  agent: AgentRecord;
  /** A stop that will not finish until StopInstances is called again (or forced). */
  stopStuck?: boolean;
  /** Whether this instance has booted before (a Windows first boot takes far longer). */
  bootedOnce: boolean;
  /** Windows: the (simulated, encrypted) administrator password, once generated. */
  passwordData?: string;
  /** When `passwordData` was last made (epoch ms): GetPasswordData's `Timestamp`. */
  passwordDataTime?: number;
}

/** `busy`: a detach that waits for the instance's OS to let go of the volume (VolumeRecord.mountedBy). */
export type AttachmentState = 'attaching' | 'attached' | 'detaching' | 'busy';

export interface AttachmentRecord {
  instanceId: string;
  device: string;
  state: AttachmentState;
  attachTime: number;
  deleteOnTermination: boolean;
  /** Bumped on every change so that stale scheduled transitions are ignored. */
  epoch: number;
}

export interface VolumeRecord {
  volumeId: string;
  size: number;
  volumeType: string;
  iops?: number;
  throughput?: number;
  snapshotId?: string;
  availabilityZone: string;
  state: 'creating' | 'available' | 'in-use' | 'deleting' | 'deleted' | 'error';
  createTime: number;
  encrypted: boolean;
  kmsKeyId?: string;
  productCodes: ProductCodeRecord[];
  tags: TagMap;
  attachment?: AttachmentRecord;
  /** The root filesystem type the rescue script would find (`xfs`, `ext4`, `ntfs`). */
  filesystem: string;
  /**
   * What is on the root filesystem (Linux) or the Windows partition (Windows; whether its launch
   * agent makes a new password at the next boot follows from its files, see windows-rescue-model.ts).
   */
  files: VolumeFiles;
  /** What the NTFS rescue script would find on a Windows volume besides its files (absent: a plain, clean volume). */
  ntfs?: NtfsVolumeFlags;
  /**
   * The instance whose OS still has the volume mounted (a script that could not unmount it): a
   * DetachVolume from it then sticks in `busy` until it is unmounted (DetachVolume API reference).
   */
  mountedBy?: string;
}

/** States of a Windows volume that the NTFS rescue script refuses to write (ntfs-rescue-model.ts). */
export interface NtfsVolumeFlags {
  bitlocker?: boolean;
  dynamicDisk?: boolean;
  /** Hibernated or stopped with Fast Startup (also: `/hiberfil.sys` starting with "hibr"). */
  hibernated?: boolean;
  /** VOLUME_IS_DIRTY: a disk check is due. */
  dirty?: boolean;
  /** The journal has changes Windows has not applied (no clean shutdown). */
  uncleanJournal?: boolean;
  /** The SYSTEM hive: Start value by service name (absent: every launch agent service automatic). */
  serviceStart?: Record<string, number>;
  /**
   * The NTFS rescue cannot unmount the volume after writing it (`UNMOUNT_FAILED`, left mounted):
   * `once`, a second unmount (the release command) frees it; `always`, nothing does.
   */
  unmountFails?: 'once' | 'always';
}

export interface ImageBlockDeviceRecord {
  deviceName: string;
  snapshotId?: string;
  volumeSize?: number;
  volumeType?: string;
  deleteOnTermination?: boolean;
  encrypted?: boolean;
  kmsKeyId?: string;
  /** `ephemeral0`… for instance-store mappings. */
  virtualName?: string;
}

export interface ImageRecord {
  imageId: string;
  name: string;
  description?: string;
  ownerId: string;
  ownerAlias?: string;
  public: boolean;
  state: 'pending' | 'available' | 'failed' | 'deregistered';
  stateReason?: StateReasonRecord;
  creationDate: number;
  platform: Platform;
  platformDetails: string;
  architecture: string;
  rootDeviceName: string;
  rootDeviceType: 'ebs' | 'instance-store';
  blockDeviceMappings: ImageBlockDeviceRecord[];
  productCodes: ProductCodeRecord[];
  tags: TagMap;
  sourceInstanceId?: string;
  /** Whether instances launched from it run the SSM agent. */
  ssmAgent: boolean;
  /** Root filesystem type of volumes made from it. */
  filesystem: string;
}

export interface SnapshotRecord {
  snapshotId: string;
  volumeId: string;
  volumeSize: number;
  state: 'pending' | 'completed' | 'error';
  startTime: number;
  ownerId: string;
  ownerAlias?: string;
  description?: string;
  encrypted: boolean;
  kmsKeyId?: string;
  productCodes: ProductCodeRecord[];
  tags: TagMap;
  filesystem: string;
  /** The volume's files at the moment of the snapshot. */
  files: VolumeFiles;
}

export interface VpcRecord {
  vpcId: string;
  cidrBlock: string;
  isDefault: boolean;
  state: 'pending' | 'available';
  tags: TagMap;
  mainRouteTableId: string;
  defaultSecurityGroupId: string;
  cidrAssociationId: string;
}

export interface SubnetRecord {
  subnetId: string;
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  tags: TagMap;
  /** Next host number to hand out as a private IP (AWS reserves the first four). */
  nextHost: number;
}

export interface InternetGatewayRecord {
  internetGatewayId: string;
  attachedVpcId?: string;
  tags: TagMap;
}

export interface RouteRecord {
  destinationCidrBlock: string;
  gatewayId: string;
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTableAssociationRecord {
  associationId: string;
  subnetId?: string;
  main: boolean;
}

export interface RouteTableRecord {
  routeTableId: string;
  vpcId: string;
  routes: RouteRecord[];
  associations: RouteTableAssociationRecord[];
  tags: TagMap;
}

export interface IpPermissionRecord {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
  groupIds: string[];
}

export interface SecurityGroupRecord {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  isDefault: boolean;
  tags: TagMap;
  ingress: IpPermissionRecord[];
  egress: IpPermissionRecord[];
}

export interface VpcEndpointRecord {
  vpcEndpointId: string;
  vpcId: string;
  serviceName: string;
  type: 'Interface' | 'Gateway';
  state: 'pending' | 'available' | 'deleting';
  subnetIds: string[];
  securityGroupIds: string[];
  routeTableIds: string[];
  privateDnsEnabled: boolean;
  creationTimestamp: number;
  tags: TagMap;
  epoch: number;
}

export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface KmsKeyRecord {
  keyId: string;
  arn: string;
  state: KmsKeyState;
  /** `alias/aws/ebs` style managed keys are AWS managed. */
  managed: boolean;
}

export interface ParameterRecord {
  name: string;
  type: 'String' | 'StringList' | 'SecureString';
  value: string;
  version: number;
  lastModified: number;
  keyId?: string;
  description?: string;
  dataType: string;
  tags: TagMap;
  /** `/aws/service/…`: readable by anyone, writable by no one. */
  public: boolean;
}

/** Run Command invocation statuses (StatusDetails adds `DeliveryTimedOut`, `ExecutionTimedOut`…). */
export type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Cancelled' | 'TimedOut' | 'Failed';

export interface InvocationRecord {
  instanceId: string;
  status: InvocationStatus;
  statusDetails: string;
  /** Before this time GetCommandInvocation answers `InvocationDoesNotExist`. */
  visibleAt: number;
  startedAt?: number;
  endedAt?: number;
  stdout: string;
  stderr: string;
  responseCode: number;
  /** Name of the script runner that simulates this command, if one matched. */
  runner?: string;
}

export interface CommandRecord {
  commandId: string;
  documentName: string;
  comment?: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  requestedAt: number;
  timeoutSeconds: number;
  invocations: Record<string, InvocationRecord>;
  /** Last aggregate status announced by an event, to emit command-level changes once. */
  announcedStatus?: string;
}

export interface ClientTokenRecord {
  fingerprint: string;
  resourceIds: string[];
}

/** A timed change the region applies when the clock reaches `at` (see `transitions.ts`). */
export type Transition =
  | { kind: 'instance-state'; instanceId: string; epoch: number; to: InstanceStateName; reason?: StateReasonRecord }
  | { kind: 'instance-purge'; instanceId: string; epoch: number }
  | { kind: 'boot-complete'; instanceId: string; epoch: number }
  | { kind: 'attachment'; volumeId: string; epoch: number; to: 'attached' | 'detached' | 'failed'; cause?: string }
  | { kind: 'image'; imageId: string; to: 'available' | 'failed' }
  | { kind: 'vpc-endpoint'; vpcEndpointId: string; epoch: number; to: 'available' | 'deleted' }
  | { kind: 'command-start'; commandId: string; instanceId: string }
  | { kind: 'command-finish'; commandId: string; instanceId: string }
  | { kind: 'command-timeout'; commandId: string; instanceId: string };

export interface ScheduledTransition {
  at: number;
  seq: number;
  transition: Transition;
}

/** A region with nothing in it yet. */
export function emptyRegionState(seed: string): RegionState {
  return {
    ids: { seed, counter: 0 },
    instances: {},
    volumes: {},
    images: {},
    snapshots: {},
    vpcs: {},
    subnets: {},
    internetGateways: {},
    routeTables: {},
    securityGroups: {},
    vpcEndpoints: {},
    kmsKeys: {},
    parameters: {},
    commands: {},
    clientTokens: {},
    scheduled: [],
    scheduleSeq: 0,
    iamPrincipals: {},
  };
}
