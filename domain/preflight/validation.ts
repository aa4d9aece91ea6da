/**
 * Preflight: the rules that refuse a target before anything changes. Pure: it judges facts that
 * the caller gathered. Used by the API (synchronously, 422) and again by the validate phase.
 */
import { RefusedError } from '../errors';
import type { Refusal, ResetRequest, SubnetChoice, TargetSnapshot } from '../job/job';
export type { PreflightRecord, Refusal } from '../job/job';
import type { InstanceFacts, KeyFacts, SsmRoute, SubnetFacts, VolumeFacts } from '../ports';
import type { ServiceConfig } from '../config';

export interface PreflightFacts {
  instance: InstanceFacts;
  rootVolume?: VolumeFacts;
  /** The subnet the request names, if it names one (undefined: not found). */
  namedSubnet?: SubnetFacts;
  /** Whether the rescue VPC this job would use exists already (CreateNewVPC). */
  rescueNetworkExists?: boolean;
  vpcCount?: number;
  /** How the helper's subnet (the instance's own or the named one) reaches SSM, when one is used. */
  subnetSsmRoute?: SsmRoute;
  /** KMS's answer about the encrypted root's key (undefined: not encrypted, or not looked up). */
  rootKey?: KeyFacts | 'not-found' | 'access-denied';
}

export function refusals(request: ResetRequest, facts: PreflightFacts, config: ServiceConfig): Refusal[] {
  const { instance } = facts;
  const out: Refusal[] = [];
  const refuse = (code: string, message: string) => out.push({ code, message });

  if (instance.state !== 'running' && instance.state !== 'stopped') {
    refuse('INSTANCE_STATE', `instance ${instance.instanceId} is ${instance.state}; only running or stopped instances can be reset`);
  }
  if (instance.rootDeviceType !== 'ebs') {
    refuse('ROOT_NOT_EBS', 'the root device is an instance-store volume; only EBS-backed instances can be reset');
  } else if (!instance.rootDeviceName || !rootDevice(instance)) {
    refuse('ROOT_VOLUME_MISSING', 'the instance has no EBS volume at its root device');
  }
  if (instance.instanceStoreVolumeCount > 0 && !request.allowInstanceStoreLoss) {
    refuse(
      'INSTANCE_STORE_DATA',
      `the instance has ${instance.instanceStoreVolumeCount} instance-store volume(s) whose data a stop loses; set allowInstanceStoreLoss: true to accept that`,
    );
  }
  if (instance.spot) refuse('SPOT_INSTANCE', 'Spot instances cannot be reset: a stop may lose the instance');
  const asg = instance.autoScaling;
  if (asg && asg.lifecycleState !== 'Standby') {
    refuse(
      'AUTO_SCALING_MEMBER',
      `the instance belongs to Auto Scaling group ${asg.groupName} (${asg.lifecycleState ?? 'state unknown'}); put it in Standby first or the group may replace it while it is stopped`,
    );
  }
  if (instance.hibernationConfigured) refuse('HIBERNATION', 'hibernation is enabled on the instance; a reset would lose its hibernated state');
  if (instance.disableApiStop) refuse('STOP_PROTECTED', 'stop protection (DisableApiStop) is on; turn it off to allow the reset');
  if (instance.shutdownBehavior === 'terminate') {
    refuse('SHUTDOWN_TERMINATES', "the instance's shutdown behaviour is terminate; a stop from inside would destroy it");
  }
  if (facts.rootVolume?.encrypted && facts.rootVolume.kmsKeyId === undefined) {
    // An encrypted volume always names its key; a missing one means we could not read it.
    refuse('KMS_KEY_UNKNOWN', 'the root volume is encrypted but its KMS key could not be read');
  }
  refuseKey(facts, refuse);
  refuseSubnet(request.subnet, instance, facts, config, refuse);
  return out;
}

/**
 * EC2 needs the root's key to attach the volume to the helper and to start the target again: with a
 * key it cannot use, the target would be left stopped with its volume moved (docs/aws-facts.md#ebs-encryption-and-kms).
 */
function refuseKey(facts: PreflightFacts, refuse: (code: string, message: string) => void): void {
  const key = facts.rootKey;
  const keyId = facts.rootVolume?.kmsKeyId;
  if (key === undefined) return;
  if (key === 'not-found') refuse('KMS_KEY_NOT_FOUND', `the root volume's KMS key ${keyId} does not exist (or is in another region)`);
  else if (key === 'access-denied') {
    refuse(
      'KMS_KEY_NOT_USABLE',
      `the service may not use the root volume's KMS key ${keyId}; its key policy must allow the service's role (kms:DescribeKey, kms:CreateGrant for EC2)`,
    );
  } else if (key.state === 'Disabled') refuse('KMS_KEY_DISABLED', `the root volume's KMS key ${key.keyId} is disabled; enable it first`);
  else if (key.state === 'PendingDeletion' || key.state === 'PendingReplicaDeletion') {
    refuse('KMS_KEY_PENDING_DELETION', `the root volume's KMS key ${key.keyId} is pending deletion; cancel the deletion first`);
  } else if (key.state !== 'Enabled') refuse('KMS_KEY_NOT_USABLE', `the root volume's KMS key ${key.keyId} is ${key.state}`);
}

function refuseSubnet(
  choice: SubnetChoice,
  instance: InstanceFacts,
  facts: PreflightFacts,
  config: ServiceConfig,
  refuse: (code: string, message: string) => void,
): void {
  const noSsm = (subnetId: string) =>
    refuse(
      'SUBNET_NO_SSM_ROUTE',
      `subnet ${subnetId} has no route to Systems Manager (no 0.0.0.0/0 route to an internet or NAT gateway, and not all of the ssm, ssmmessages and ec2messages endpoints in its VPC): the helper could never be reached; choose CreateNewVPC or another subnet`,
    );
  if (choice === 'SelectedInstanceSubnet') {
    if (!instance.subnetId) refuse('NO_INSTANCE_SUBNET', 'the instance has no subnet (EC2-Classic?); choose CreateNewVPC or a subnet id');
    else if (facts.subnetSsmRoute === 'none') noSsm(instance.subnetId);
    return;
  }
  if (choice === 'CreateNewVPC') {
    if (!facts.rescueNetworkExists && facts.vpcCount !== undefined && facts.vpcCount >= config.vpcQuota) {
      refuse('VPC_QUOTA', `the region already has ${facts.vpcCount} VPCs (quota ${config.vpcQuota}) and no rescue VPC; name a subnet or raise the quota`);
    }
    return;
  }
  if (!facts.namedSubnet) {
    refuse('SUBNET_NOT_FOUND', `subnet ${choice} does not exist`);
  } else if (facts.namedSubnet.availabilityZone !== instance.availabilityZone) {
    refuse(
      'SUBNET_OTHER_AZ',
      `subnet ${choice} is in ${facts.namedSubnet.availabilityZone} but the instance is in ${instance.availabilityZone}; a volume attaches only within its AZ`,
    );
  } else if (facts.subnetSsmRoute === 'none') {
    noSsm(choice);
  }
}

export function rootDevice(instance: InstanceFacts) {
  return instance.blockDevices.find((d) => d.deviceName === instance.rootDeviceName);
}

/** Throws the first refusal as a 422. */
export function assertAllowed(list: Refusal[]): void {
  const first = list[0];
  if (first) throw new RefusedError(first.code, first.message, 422);
}

/** What rollback must restore, taken before anything changes. */
export function snapshotTarget(instance: InstanceFacts, rootVolume: VolumeFacts): TargetSnapshot {
  const root = rootDevice(instance)!;
  return {
    state: instance.state === 'running' ? 'running' : 'stopped',
    platform: instance.platform,
    availabilityZone: instance.availabilityZone,
    subnetId: instance.subnetId,
    vpcId: instance.vpcId,
    rootDeviceName: root.deviceName,
    rootVolumeId: root.volumeId,
    rootDeleteOnTermination: root.deleteOnTermination,
    rootEncrypted: rootVolume.encrypted,
    rootKmsKeyId: rootVolume.kmsKeyId,
    rootProductCodes: rootVolume.productCodes.length > 0 ? rootVolume.productCodes : instance.productCodes,
    publicIpAddress: instance.publicIpAddress,
    publicIpWillChange: instance.state === 'running' && instance.publicIpIsAutoAssigned,
  };
}
