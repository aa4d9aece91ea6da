/**
 * Cloud facts, in the domain's words: what the domain reads of instances, volumes, images, subnets,
 * keys and SSM agents. Adapters in `infra/` translate AWS's answers into these; nothing here
 * depends on the job or the ports that carry them.
 */

export type Platform = 'linux' | 'windows';

/** Key types an authorized_keys line may carry here: generated keys are ed25519 or rsa, a caller's may also be ECDSA. */
export type SshKeyType = 'ed25519' | 'rsa' | 'ecdsa';

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
  /** The key pair it was launched with: GetPasswordData encrypts a Windows password with it. */
  keyName?: string;
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

export type SsmRoute = 'internet-gateway' | 'nat-gateway' | 'vpc-endpoints' | 'none';

/** What the preflight needs to know of a KMS key (KMS DescribeKey). */
export interface KeyFacts {
  keyId: string;
  /** `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, `Unavailable`… as KMS says it. */
  state: string;
  manager: 'AWS' | 'CUSTOMER';
}

export type AgentStatus = 'Online' | 'ConnectionLost' | 'Inactive' | 'absent';

export type CommandStatus = 'Pending' | 'InProgress' | 'Delayed' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled' | 'Cancelling';
