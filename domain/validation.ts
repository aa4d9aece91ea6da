/**
 * Preflight: the rules that refuse a target before anything changes. Pure: it judges facts that
 * the caller gathered. Used by the API (synchronously, 422) and again by the validate phase.
 */
import { RefusedError } from './errors';
import type { ResetRequest, SubnetChoice, TargetSnapshot } from './job';
import type { InstanceFacts, SubnetFacts, VolumeFacts } from './ports';
import type { ServiceConfig } from './config';

export interface Refusal {
  code: string;
  message: string;
}

export interface PreflightFacts {
  instance: InstanceFacts;
  rootVolume?: VolumeFacts;
  /** The subnet the request names, if it names one (undefined: not found). */
  namedSubnet?: SubnetFacts;
  /** Whether the rescue VPC this job would use exists already (CreateNewVPC). */
  rescueNetworkExists?: boolean;
  vpcCount?: number;
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
    refuse('AUTO_SCALING_MEMBER', `the instance belongs to Auto Scaling group ${asg.groupName} (${asg.lifecycleState ?? 'state unknown'}); put it in Standby first or the group may replace it while it is stopped`);
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
  refuseSubnet(request.subnet, instance, facts, config, refuse);
  return out;
}

function refuseSubnet(
  choice: SubnetChoice,
  instance: InstanceFacts,
  facts: PreflightFacts,
  config: ServiceConfig,
  refuse: (code: string, message: string) => void,
): void {
  if (choice === 'SelectedInstanceSubnet') {
    if (!instance.subnetId) refuse('NO_INSTANCE_SUBNET', 'the instance has no subnet (EC2-Classic?); choose CreateNewVPC or a subnet id');
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
    refuse('SUBNET_OTHER_AZ', `subnet ${choice} is in ${facts.namedSubnet.availabilityZone} but the instance is in ${instance.availabilityZone}; a volume attaches only within its AZ`);
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
