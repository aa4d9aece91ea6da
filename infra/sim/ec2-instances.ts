import type {
  _InstanceType,
  ArchitectureValues,
  AttachmentStatus,
  DescribeInstanceAttributeRequest,
  DescribeInstanceTypesRequest,
  DescribeInstanceTypesResult,
  DescribeInstancesRequest,
  DescribeInstancesResult,
  GetPasswordDataRequest,
  GetPasswordDataResult,
  Instance,
  InstanceAttribute,
  InstanceStateChange,
  ModifyInstanceAttributeRequest,
  ProductCode,
  RebootInstancesRequest,
  Reservation,
  RunInstancesRequest,
  StartInstancesRequest,
  StartInstancesResult,
  StopInstancesRequest,
  StopInstancesResult,
  TerminateInstancesRequest,
  TerminateInstancesResult,
} from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';

import type { CallFaults, RegionContext } from './context';
import { allocatePrivateIp } from './ec2-network';
import { attachAtLaunch, attachmentShape, createVolumeRecord, releaseMounts, volumesAttachedTo } from './ec2-volumes';
import { instanceStateChangeEvent } from './events';
import { applyFilters, type FilterSpec } from './filters';
import { kmsKeyProblem } from './kms';
import {
  recallClientToken,
  rememberClientToken,
  requireImage,
  requireInstance,
  requireInstances,
  requireSecurityGroup,
  requireSubnet,
} from './lookup';
import { fail } from './sim-error';
import {
  INSTANCE_STATE_CODES,
  type InstanceRecord,
  type InstanceStateName,
  type NtfsVolumeFlags,
  type Platform,
  type ProductCodeRecord,
  type StateReasonRecord,
  type SubnetRecord,
  type TagMap,
} from './state';
import { tagsFromSpecifications, toTagList } from './tags';
import type { VolumeFiles } from './volume-files';
import { applyWindowsPasswordReset, bootWindows, passwordGenerationEnabled } from './windows-rescue-model';

const USER_SHUTDOWN: StateReasonRecord = {
  code: 'Client.UserInitiatedShutdown',
  message: 'Client.UserInitiatedShutdown: User initiated shutdown',
};
const USER_HIBERNATE: StateReasonRecord = {
  code: 'Client.UserInitiatedHibernate',
  message: 'Client.UserInitiatedHibernate: User initiated hibernate',
};
/** What EC2 reports when an encrypted volume's KMS key cannot be used at launch or start. */
const CLIENT_LAUNCH_ERROR: StateReasonRecord = {
  code: 'Client.InternalError',
  message: 'Client.InternalError: Client error on launch',
};
const SERVER_LAUNCH_ERROR: StateReasonRecord = {
  code: 'Server.InternalError',
  message: 'Server.InternalError: Internal error on launch',
};

function gmt(time: number): string {
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}

function sameDevice(a: string, b: string): boolean {
  return a.replace(/^\/dev\//, '') === b.replace(/^\/dev\//, '');
}

/** Changes the state, invalidates transitions scheduled for the old one and emits the event. */
function setState(ctx: RegionContext, instance: InstanceRecord, to: InstanceStateName): void {
  instance.state = to;
  instance.stateEpoch += 1;
  const instanceId = instance.instanceId;
  ctx.emit((origin) => instanceStateChangeEvent(origin, instanceId, to));
}

function scheduleState(
  ctx: RegionContext,
  instance: InstanceRecord,
  delayMs: number,
  to: InstanceStateName,
  reason?: StateReasonRecord,
): void {
  ctx.schedule(delayMs, { kind: 'instance-state', instanceId: instance.instanceId, epoch: instance.stateEpoch, to, reason });
}

function agentGoesOffline(instance: InstanceRecord): void {
  if (instance.agent.status !== 'absent') instance.agent.status = instance.agent.registeredAt ? 'offline' : 'absent';
}

function stateChange(instance: InstanceRecord, previous: InstanceStateName): InstanceStateChange {
  return {
    InstanceId: instance.instanceId,
    CurrentState: { Code: INSTANCE_STATE_CODES[instance.state], Name: instance.state },
    PreviousState: { Code: INSTANCE_STATE_CODES[previous], Name: previous },
  };
}

/** An encrypted attached volume whose key EBS cannot use blocks a start. */
function startBlockedByKms(ctx: RegionContext, instance: InstanceRecord): boolean {
  return volumesAttachedTo(ctx, instance.instanceId).some((v) => kmsKeyProblem(ctx, v) !== undefined);
}

// ---- shapes ----

function dnsNames(ctx: RegionContext, instance: InstanceRecord): { privateDns: string; publicDns: string } {
  const dashed = (ip: string) => ip.replace(/\./g, '-');
  const east = ctx.config.regionName === 'us-east-1';
  const privateDns = `ip-${dashed(instance.privateIpAddress)}.${east ? 'ec2.internal' : `${ctx.config.regionName}.compute.internal`}`;
  const publicDns = instance.publicIpAddress
    ? `ec2-${dashed(instance.publicIpAddress)}.${east ? 'compute-1' : `${ctx.config.regionName}.compute`}.amazonaws.com`
    : '';
  return { privateDns, publicDns };
}

/** Product codes of the instance and of its attached volumes (they follow the volume). */
function productCodesOf(ctx: RegionContext, instance: InstanceRecord): ProductCodeRecord[] {
  const all = [...instance.productCodes, ...volumesAttachedTo(ctx, instance.instanceId).flatMap((v) => v.productCodes)];
  return all.filter((code, i) => all.findIndex((c) => c.id === code.id) === i);
}

function productCodeShapes(codes: ProductCodeRecord[]): ProductCode[] {
  return codes.map((c) => ({ ProductCodeId: c.id, ProductCodeType: c.type }));
}

function blockDeviceMappingShapes(ctx: RegionContext, instance: InstanceRecord): Instance['BlockDeviceMappings'] {
  return volumesAttachedTo(ctx, instance.instanceId).map((v) => {
    const a = attachmentShape(v.volumeId, v.attachment!);
    return {
      DeviceName: a.Device,
      Ebs: {
        AttachTime: a.AttachTime,
        DeleteOnTermination: a.DeleteOnTermination,
        Status: a.State as AttachmentStatus,
        VolumeId: v.volumeId,
      },
    };
  });
}

export function instanceShape(ctx: RegionContext, instance: InstanceRecord, launchIndex = 0): Instance {
  const { privateDns, publicDns } = dnsNames(ctx, instance);
  const terminated = instance.state === 'terminated';
  return {
    InstanceId: instance.instanceId,
    ImageId: instance.imageId,
    State: { Code: INSTANCE_STATE_CODES[instance.state], Name: instance.state },
    PrivateDnsName: terminated ? '' : privateDns,
    PublicDnsName: publicDns,
    StateTransitionReason: instance.stateTransitionReason,
    KeyName: instance.keyName,
    AmiLaunchIndex: launchIndex,
    ProductCodes: productCodeShapes(productCodesOf(ctx, instance)),
    InstanceType: instance.instanceType as _InstanceType,
    LaunchTime: new Date(instance.launchTime),
    Placement: { AvailabilityZone: instance.availabilityZone, GroupName: '', Tenancy: 'default' },
    // EC2 answers lowercase `windows` although the SDK's enum spells `Windows`.
    Platform: instance.platform === 'windows' ? ('windows' as Instance['Platform']) : undefined,
    PlatformDetails: instance.platformDetails,
    Monitoring: { State: 'disabled' },
    SubnetId: terminated ? undefined : instance.subnetId,
    VpcId: terminated ? undefined : instance.vpcId,
    PrivateIpAddress: terminated ? undefined : instance.privateIpAddress,
    PublicIpAddress: instance.publicIpAddress,
    StateReason: instance.stateReason ? { Code: instance.stateReason.code, Message: instance.stateReason.message } : undefined,
    Architecture: instance.architecture as ArchitectureValues,
    RootDeviceType: instance.rootDeviceType,
    RootDeviceName: instance.rootDeviceName,
    BlockDeviceMappings: blockDeviceMappingShapes(ctx, instance),
    VirtualizationType: 'hvm',
    InstanceLifecycle: instance.lifecycle,
    SpotInstanceRequestId: instance.spotInstanceRequestId,
    ClientToken: instance.clientToken ?? '',
    Tags: toTagList(instance.tags),
    SecurityGroups: terminated
      ? []
      : instance.securityGroupIds.map((id) => ({ GroupId: id, GroupName: ctx.state.securityGroups[id]?.groupName ?? '' })),
    SourceDestCheck: true,
    Hypervisor: 'xen',
    EbsOptimized: instance.ebsOptimized,
    EnaSupport: true,
    IamInstanceProfile: instance.iamInstanceProfile
      ? { Arn: instance.iamInstanceProfile.arn, Id: instance.iamInstanceProfile.id }
      : undefined,
    HibernationOptions: { Configured: instance.hibernationConfigured },
    MetadataOptions: {
      State: 'applied',
      HttpTokens: instance.metadataOptions.httpTokens as 'required' | 'optional',
      HttpPutResponseHopLimit: instance.metadataOptions.httpPutResponseHopLimit,
      HttpEndpoint: instance.metadataOptions.httpEndpoint as 'enabled' | 'disabled',
    },
    BootMode: 'uefi-preferred',
    UsageOperation: instance.platform === 'windows' ? 'RunInstances:0002' : 'RunInstances',
  };
}

function reservationShape(ctx: RegionContext, instances: InstanceRecord[]): Reservation {
  return {
    ReservationId: instances[0]?.reservationId,
    OwnerId: ctx.config.accountId,
    Groups: [],
    Instances: instances.map((instance, i) => instanceShape(ctx, instance, i)),
  };
}

// ---- DescribeInstances ----

export function describeInstances(ctx: RegionContext, input: DescribeInstancesRequest): DescribeInstancesResult {
  const picked = input.InstanceIds?.length ? requireInstances(ctx, input.InstanceIds) : Object.values(ctx.state.instances);
  const spec: FilterSpec<InstanceRecord> = {
    'instance-id': (i) => i.instanceId,
    'instance-state-name': (i) => i.state,
    'instance-state-code': (i) => INSTANCE_STATE_CODES[i.state],
    'client-token': (i) => i.clientToken,
    'subnet-id': (i) => i.subnetId,
    'vpc-id': (i) => i.vpcId,
    'availability-zone': (i) => i.availabilityZone,
    'image-id': (i) => i.imageId,
    'instance-type': (i) => i.instanceType,
    'instance-lifecycle': (i) => i.lifecycle,
    platform: (i) => (i.platform === 'windows' ? 'windows' : undefined),
    'platform-details': (i) => i.platformDetails,
    'private-ip-address': (i) => i.privateIpAddress,
    'ip-address': (i) => i.publicIpAddress,
    'reservation-id': (i) => i.reservationId,
    'root-device-type': (i) => i.rootDeviceType,
    'root-device-name': (i) => i.rootDeviceName,
    'key-name': (i) => i.keyName,
    'iam-instance-profile.arn': (i) => i.iamInstanceProfile?.arn,
    'instance.group-id': (i) => i.securityGroupIds,
    'block-device-mapping.volume-id': (i) => volumesAttachedTo(ctx, i.instanceId).map((v) => v.volumeId),
    'block-device-mapping.device-name': (i) => volumesAttachedTo(ctx, i.instanceId).map((v) => v.attachment?.device),
    'product-code': (i) => productCodesOf(ctx, i).map((c) => c.id),
  };
  const matching = applyFilters(picked, input.Filters, spec, (i) => i.tags);
  const { items, next } = instancePage(matching.sort((a, b) => a.launchTime - b.launchTime), input);
  const byReservation = new Map<string, InstanceRecord[]>();
  for (const instance of items) {
    const group = byReservation.get(instance.reservationId) ?? [];
    group.push(instance);
    byReservation.set(instance.reservationId, group);
  }
  return { Reservations: [...byReservation.values()].map((group) => reservationShape(ctx, group)), ...(next ? { NextToken: next } : {}) };
}

/**
 * DescribeInstances' paging: `MaxResults` (5 to 1000, not with `InstanceIds`) instances a page and
 * a `NextToken` while more match; without `MaxResults`, all of them
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html). A token EC2
 * did not answer is `InvalidParameterValue` ("The token is invalid", as EC2 words it for its
 * Describe* calls: https://github.com/boto/boto3/issues/2673). The token here is the offset.
 */
function instancePage(instances: InstanceRecord[], input: DescribeInstancesRequest): { items: InstanceRecord[]; next?: string } {
  const max = input.MaxResults;
  if (max !== undefined && input.InstanceIds?.length) fail('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  if (max !== undefined && (!Number.isInteger(max) || max < 5 || max > 1000)) {
    fail('InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
  let start = 0;
  if (input.NextToken !== undefined) {
    const decoded = /^o([0-9]+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
    if (!decoded) fail('InvalidParameterValue', `Value ( ${input.NextToken} ) for parameter NextToken is invalid. The token is invalid.`);
    start = Number(decoded[1]);
  }
  const end = max === undefined ? instances.length : start + max;
  return { items: instances.slice(start, end), ...(end < instances.length ? { next: Buffer.from(`o${end}`).toString('base64url') } : {}) };
}

// ---- RunInstances ----

function instanceProfileOf(ctx: RegionContext, spec: RunInstancesRequest['IamInstanceProfile']): InstanceRecord['iamInstanceProfile'] {
  if (!spec?.Arn && !spec?.Name) return undefined;
  const arn = spec.Arn ?? `arn:aws:iam::${ctx.config.accountId}:instance-profile/${spec.Name}`;
  const id = `AIPA${createHash('sha256').update(arn).digest('hex').slice(0, 17).toUpperCase()}`;
  return { arn, id };
}

function defaultSubnet(ctx: RegionContext, zone: string | undefined): SubnetRecord {
  const subnets = Object.values(ctx.state.subnets).filter((s) => s.defaultForAz && (!zone || s.availabilityZone === zone));
  return (
    subnets[0] ?? fail('VPCIdNotSpecified', 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.')
  );
}

export function runInstances(ctx: RegionContext, input: RunInstancesRequest, faults: CallFaults): Reservation {
  const earlier = recallClientToken(ctx, 'RunInstances', input.ClientToken, input);
  if (earlier) return reservationShape(ctx, earlier.map((id) => ctx.state.instances[id]).filter(Boolean));

  const image = requireImage(ctx, input.ImageId);
  if (image.state !== 'available') fail('InvalidAMIID.Unavailable', `The image id '[${image.imageId}]' is not available`);
  const minCount = input.MinCount ?? fail('MissingParameter', 'The request must contain the parameter MinCount');
  const maxCount = input.MaxCount ?? fail('MissingParameter', 'The request must contain the parameter MaxCount');
  if (minCount < 1 || maxCount < minCount) {
    fail('InvalidParameterValue', `Invalid value '${maxCount}' for maxCount. Must be greater than or equal to minCount.`);
  }
  const instanceType = input.InstanceType ?? 'm1.small';
  if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(instanceType)) {
    fail('InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`);
  }
  // A primary network interface may carry the subnet, groups and public-IP choice instead.
  const primaryInterface = input.NetworkInterfaces?.find((n) => (n.DeviceIndex ?? 0) === 0);
  const subnetId = input.SubnetId ?? primaryInterface?.SubnetId;
  const subnet = subnetId ? requireSubnet(ctx, subnetId) : defaultSubnet(ctx, input.Placement?.AvailabilityZone);
  if (input.Placement?.AvailabilityZone && input.Placement.AvailabilityZone !== subnet.availabilityZone) {
    fail(
      'InvalidParameterValue',
      `Value (${input.Placement.AvailabilityZone}) for parameter availabilityZone is invalid. Subnet ${subnet.subnetId} is in ${subnet.availabilityZone}.`,
    );
  }
  const vpc = ctx.state.vpcs[subnet.vpcId];
  const requestedGroups = input.SecurityGroupIds?.length ? input.SecurityGroupIds : primaryInterface?.Groups;
  const securityGroupIds = requestedGroups?.length ? [...requestedGroups] : [vpc.defaultSecurityGroupId];
  for (const groupId of securityGroupIds) {
    if (requireSecurityGroup(ctx, groupId).vpcId !== subnet.vpcId) {
      fail('InvalidParameter', `Security group ${groupId} and subnet ${subnet.subnetId} belong to different networks.`);
    }
  }
  const allowedTagTypes = ['instance', 'volume', 'network-interface', 'spot-instances-request'];
  const instanceTags = tagsFromSpecifications(input.TagSpecifications, 'instance', allowedTagTypes);
  const volumeTags = tagsFromSpecifications(input.TagSpecifications, 'volume', allowedTagTypes);
  const shutdownBehavior = input.InstanceInitiatedShutdownBehavior ?? 'stop';
  if (shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
    fail('InvalidParameterValue', `Value (${shutdownBehavior}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
  }
  const spot = input.InstanceMarketOptions?.MarketType === 'spot';
  const reservationId = ctx.ids.resourceId('r');
  const iamInstanceProfile = instanceProfileOf(ctx, input.IamInstanceProfile);
  const rootMapping = image.blockDeviceMappings.find((m) => sameDevice(m.deviceName, image.rootDeviceName));

  const created: InstanceRecord[] = [];
  for (let n = 0; n < maxCount; n++) {
    const instance: InstanceRecord = {
      instanceId: ctx.ids.resourceId('i'),
      reservationId,
      imageId: image.imageId,
      instanceType,
      platform: image.platform,
      platformDetails: image.platformDetails,
      architecture: image.architecture,
      state: 'pending',
      stateEpoch: 0,
      stateTransitionReason: '',
      launchTime: ctx.now(),
      availabilityZone: subnet.availabilityZone,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      privateIpAddress: allocatePrivateIp(subnet),
      assignsPublicIp: primaryInterface?.AssociatePublicIpAddress ?? subnet.mapPublicIpOnLaunch,
      securityGroupIds,
      keyName: input.KeyName,
      iamInstanceProfile,
      tags: { ...instanceTags },
      rootDeviceName: image.rootDeviceName,
      rootDeviceType: image.rootDeviceType,
      instanceStore: [],
      productCodes: [],
      lifecycle: spot ? 'spot' : undefined,
      spotInstanceRequestId: spot ? ctx.ids.shortId('sir') : undefined,
      hibernationConfigured: input.HibernationOptions?.Configured ?? false,
      disableApiStop: input.DisableApiStop ?? false,
      disableApiTermination: input.DisableApiTermination ?? false,
      shutdownBehavior,
      clientToken: input.ClientToken,
      userData: input.UserData,
      metadataOptions: {
        httpTokens: input.MetadataOptions?.HttpTokens ?? 'required',
        httpPutResponseHopLimit: input.MetadataOptions?.HttpPutResponseHopLimit ?? 2,
        httpEndpoint: input.MetadataOptions?.HttpEndpoint ?? 'enabled',
      },
      ebsOptimized: input.EbsOptimized ?? false,
      ssmAgent: image.ssmAgent,
      agent: { status: 'absent' },
      bootedOnce: false,
    };
    ctx.state.instances[instance.instanceId] = instance;

    for (const mapping of image.blockDeviceMappings) {
      const override = input.BlockDeviceMappings?.find((m) => sameDevice(m.DeviceName ?? '', mapping.deviceName));
      if (mapping.virtualName) {
        instance.instanceStore.push({ virtualName: mapping.virtualName, deviceName: mapping.deviceName, files: {} });
        continue;
      }
      const snapshot = mapping.snapshotId ? ctx.state.snapshots[mapping.snapshotId] : undefined;
      const encrypted = override?.Ebs?.Encrypted ?? mapping.encrypted ?? false;
      const volume = createVolumeRecord(ctx, {
        size: override?.Ebs?.VolumeSize ?? mapping.volumeSize ?? snapshot?.volumeSize ?? 8,
        availabilityZone: subnet.availabilityZone,
        volumeType: override?.Ebs?.VolumeType ?? mapping.volumeType,
        snapshotId: mapping.snapshotId,
        encrypted,
        kmsKeyId: override?.Ebs?.KmsKeyId ?? mapping.kmsKeyId,
        productCodes: mapping === rootMapping ? [...image.productCodes] : [],
        tags: { ...volumeTags },
        filesystem: snapshot?.filesystem ?? image.filesystem,
        files: snapshot?.files ?? {},
      });
      attachAtLaunch(
        ctx,
        volume,
        instance.instanceId,
        mapping.deviceName,
        override?.Ebs?.DeleteOnTermination ?? mapping.deleteOnTermination ?? true,
      );
    }
    for (const extra of input.BlockDeviceMappings ?? []) {
      if (!extra.DeviceName || image.blockDeviceMappings.some((m) => sameDevice(m.deviceName, extra.DeviceName ?? ''))) continue;
      if (extra.VirtualName) {
        instance.instanceStore.push({ virtualName: extra.VirtualName, deviceName: extra.DeviceName, files: {} });
        continue;
      }
      if (!extra.Ebs) continue;
      const volume = createVolumeRecord(ctx, {
        size: extra.Ebs.VolumeSize ?? 8,
        availabilityZone: subnet.availabilityZone,
        volumeType: extra.Ebs.VolumeType,
        encrypted: extra.Ebs.Encrypted ?? false,
        kmsKeyId: extra.Ebs.KmsKeyId,
        productCodes: [],
        tags: { ...volumeTags },
        filesystem: 'xfs',
        files: {},
      });
      attachAtLaunch(ctx, volume, instance.instanceId, extra.DeviceName, extra.Ebs.DeleteOnTermination ?? true);
    }

    const instanceId = instance.instanceId;
    ctx.emit((origin) => instanceStateChangeEvent(origin, instanceId, 'pending'));
    if (startBlockedByKms(ctx, instance)) scheduleState(ctx, instance, ctx.timings.launchMs, 'terminated', CLIENT_LAUNCH_ERROR);
    else if (faults.asyncFailure) scheduleState(ctx, instance, ctx.timings.launchMs, 'terminated', SERVER_LAUNCH_ERROR);
    else scheduleState(ctx, instance, ctx.timings.launchMs, 'running');
    created.push(instance);
  }
  rememberClientToken(
    ctx,
    'RunInstances',
    input.ClientToken,
    input,
    created.map((i) => i.instanceId),
  );
  return reservationShape(ctx, created);
}

// ---- Stop / Start / Terminate / Reboot ----

export function stopInstances(ctx: RegionContext, input: StopInstancesRequest, faults: CallFaults): StopInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    const id = instance.instanceId;
    if (instance.disableApiStop) {
      fail(
        'OperationNotPermitted',
        `The instance '${id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`,
      );
    }
    if (instance.rootDeviceType !== 'ebs') {
      fail('UnsupportedOperation', `The instance '${id}' does not have an 'ebs' root device type and cannot be stopped.`);
    }
    if (instance.lifecycle === 'spot') {
      fail(
        'UnsupportedOperation',
        `You can't stop the Spot Instance '${id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.`,
      );
    }
    if (input.Hibernate && !instance.hibernationConfigured) {
      fail('UnsupportedHibernationConfiguration', `The instance '${id}' does not have hibernation configured.`);
    }
    if (instance.state === 'pending' || instance.state === 'shutting-down' || instance.state === 'terminated') {
      fail('IncorrectInstanceState', `This instance '${id}' is not in a state from which it can be stopped.`);
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous === 'running') {
      setState(ctx, instance, 'stopping');
      instance.stateTransitionReason = `User initiated (${gmt(ctx.now())})`;
      instance.stateReason = input.Hibernate ? USER_HIBERNATE : USER_SHUTDOWN;
      agentGoesOffline(instance);
      instance.stopStuck = !input.Force && (faults.asyncFailure !== undefined || ctx.ids.random() < ctx.timings.stuckStoppingChance);
      if (!instance.stopStuck) scheduleState(ctx, instance, input.Force ? ctx.timings.forceStopMs : ctx.timings.stopMs, 'stopped');
    } else if (previous === 'stopping' && (input.Force || (instance.stopStuck && faults.asyncFailure === undefined))) {
      // A second stop gets a stuck instance going again (unless a fault says it hangs on); a forced
      // one always ends it, and sooner.
      scheduleState(ctx, instance, input.Force ? ctx.timings.forceStopMs : ctx.timings.stopMs, 'stopped');
      instance.stopStuck = false;
    }
    return stateChange(instance, previous);
  });
  return { StoppingInstances: changes };
}

export function startInstances(ctx: RegionContext, input: StartInstancesRequest): StartInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    const id = instance.instanceId;
    if (instance.lifecycle === 'spot') {
      fail(
        'UnsupportedOperation',
        `You can't start the Spot Instance '${id}' because it is associated with a one-time Spot Instance request.`,
      );
    }
    if (instance.state === 'stopping' || instance.state === 'shutting-down' || instance.state === 'terminated') {
      fail('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be started.`);
    }
    if (instance.state !== 'stopped') continue;
    const attached = volumesAttachedTo(ctx, id);
    const root = attached.find((v) => sameDevice(v.attachment!.device, instance.rootDeviceName));
    if (!root) {
      fail(
        'IncorrectInstanceState',
        `Invalid value '${id}' for instanceId. Instance does not have a volume attached at root (${instance.rootDeviceName})`,
      );
    }
    if (attached.some((v) => v.attachment!.state !== 'attached')) {
      fail('IncorrectInstanceState', `The instance '${id}' has a volume that is still attaching or detaching.`);
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous === 'stopped') {
      setState(ctx, instance, 'pending');
      instance.stateReason = undefined;
      instance.stateTransitionReason = '';
      if (startBlockedByKms(ctx, instance)) scheduleState(ctx, instance, ctx.timings.startMs, 'stopped', CLIENT_LAUNCH_ERROR);
      else scheduleState(ctx, instance, ctx.timings.startMs, 'running');
    }
    return stateChange(instance, previous);
  });
  return { StartingInstances: changes };
}

export function terminateInstances(ctx: RegionContext, input: TerminateInstancesRequest): TerminateInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    if (instance.disableApiTermination && instance.state !== 'terminated') {
      fail(
        'OperationNotPermitted',
        `The instance '${instance.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous !== 'terminated' && previous !== 'shutting-down') {
      setState(ctx, instance, 'shutting-down');
      instance.stateTransitionReason = `User initiated (${gmt(ctx.now())})`;
      instance.stateReason = USER_SHUTDOWN;
      agentGoesOffline(instance);
      scheduleState(ctx, instance, ctx.timings.terminateMs, 'terminated', USER_SHUTDOWN);
    }
    return stateChange(instance, previous);
  });
  return { TerminatingInstances: changes };
}

export function rebootInstances(ctx: RegionContext, input: RebootInstancesRequest): Record<string, never> {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    if (instance.state !== 'running') {
      fail('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in the 'running' state.`);
    }
  }
  for (const instance of instances) {
    // The OS restarts: the agent drops off until it is back.
    agentGoesOffline(instance);
    instance.stateEpoch += 1;
    scheduleBootComplete(ctx, instance);
  }
  return {};
}

function scheduleBootComplete(ctx: RegionContext, instance: InstanceRecord): void {
  const delay =
    instance.platform === 'windows'
      ? instance.bootedOnce
        ? ctx.timings.windowsBootMs
        : ctx.timings.windowsFirstBootMs
      : ctx.timings.linuxAgentOnlineMs;
  if (instance.iamInstanceProfile && instance.ssmAgent && instance.agent.status === 'absent') instance.agent.status = 'booting';
  ctx.schedule(delay, { kind: 'boot-complete', instanceId: instance.instanceId, epoch: instance.stateEpoch });
}

/** Applies a timed instance state change (launch/start/stop/terminate finished). */
export function completeInstanceState(
  ctx: RegionContext,
  instanceId: string,
  epoch: number,
  to: InstanceStateName,
  reason: StateReasonRecord | undefined,
): void {
  const instance = ctx.state.instances[instanceId];
  if (!instance || instance.stateEpoch !== epoch) return;
  if (to === 'running') {
    setState(ctx, instance, 'running');
    instance.stateReason = undefined;
    if (instance.assignsPublicIp && !instance.publicIpAddress) instance.publicIpAddress = ctx.ids.publicIp();
    scheduleBootComplete(ctx, instance);
    return;
  }
  if (to === 'stopped') {
    setState(ctx, instance, 'stopped');
    if (reason) {
      instance.stateReason = reason;
      instance.stateTransitionReason = reason.message;
    }
    instance.stopStuck = false;
    // An auto-assigned public IPv4 is released on stop; instance-store data is lost.
    instance.publicIpAddress = undefined;
    agentGoesOffline(instance);
    for (const store of instance.instanceStore) store.files = {};
    // The OS shut down: nothing of it holds a mount any more.
    releaseMounts(ctx, instanceId);
    return;
  }
  if (to === 'terminated') {
    setState(ctx, instance, 'terminated');
    releaseMounts(ctx, instanceId);
    instance.stateReason = reason ?? instance.stateReason;
    instance.stateTransitionReason = instance.stateTransitionReason || (reason?.message ?? '');
    instance.publicIpAddress = undefined;
    instance.agent = { status: 'absent' };
    for (const volume of volumesAttachedTo(ctx, instanceId)) {
      if (volume.attachment?.deleteOnTermination) {
        delete ctx.state.volumes[volume.volumeId];
      } else {
        volume.attachment = undefined;
        volume.state = 'available';
      }
    }
    ctx.schedule(ctx.timings.terminatedRetentionMs, { kind: 'instance-purge', instanceId, epoch: instance.stateEpoch });
  }
}

/**
 * The OS finished booting: the SSM agent is online; on Windows the launch agents on the root volume
 * ran (`bootWindows`), and one that set a new random password made it available to GetPasswordData.
 */
export function completeBoot(ctx: RegionContext, instanceId: string, epoch: number): void {
  const instance = ctx.state.instances[instanceId];
  if (!instance || instance.stateEpoch !== epoch || instance.state !== 'running') return;
  if (instance.platform === 'windows') {
    const root = volumesAttachedTo(ctx, instanceId).find((v) => sameDevice(v.attachment!.device, instance.rootDeviceName));
    if (root) {
      const boot = bootWindows(root.files);
      // The agents write their state (`.run-once`, a disabled plugin or task) whether or not they made a password.
      root.files = boot.files;
      if (boot.passwordBy) {
        instance.passwordData = createHash('sha256').update(`${instanceId}/${ctx.now()}`).digest('base64').repeat(8);
        instance.passwordDataTime = ctx.now();
      }
    }
  }
  instance.bootedOnce = true;
  if (instance.iamInstanceProfile && instance.ssmAgent) {
    instance.agent.status = 'online';
    instance.agent.registeredAt ??= ctx.now();
    instance.agent.lastPingAt = ctx.now();
  }
}

export function purgeInstance(ctx: RegionContext, instanceId: string, epoch: number): void {
  const instance = ctx.state.instances[instanceId];
  if (instance && instance.stateEpoch === epoch && instance.state === 'terminated') delete ctx.state.instances[instanceId];
}

// ---- attributes ----

/**
 * Instance storage of the types the region knows: the NVMe instance-store types (a `d` in the
 * family, and i3/i4i) have local disks, the rest are EBS-only. Sizes as on the instance type pages.
 */
const INSTANCE_STORE_DISKS: Record<string, { sizeInGB: number; count: number }> = {
  'm5d.large': { sizeInGB: 75, count: 1 },
  'm5d.xlarge': { sizeInGB: 150, count: 1 },
  'c5d.large': { sizeInGB: 50, count: 1 },
  'r5d.large': { sizeInGB: 75, count: 1 },
  'i3.large': { sizeInGB: 475, count: 1 },
  'm6id.large': { sizeInGB: 118, count: 1 },
};

export function describeInstanceTypes(_ctx: RegionContext, input: DescribeInstanceTypesRequest): DescribeInstanceTypesResult {
  return {
    InstanceTypes: (input.InstanceTypes ?? []).map((type) => {
      const disks = INSTANCE_STORE_DISKS[type];
      return {
        InstanceType: type,
        InstanceStorageSupported: disks !== undefined,
        InstanceStorageInfo: disks ? { TotalSizeInGB: disks.sizeInGB * disks.count, Disks: [{ SizeInGB: disks.sizeInGB, Count: disks.count, Type: 'ssd' }] } : undefined,
      };
    }),
  };
}

export function describeInstanceAttribute(ctx: RegionContext, input: DescribeInstanceAttributeRequest): InstanceAttribute {
  const instance = requireInstance(ctx, input.InstanceId);
  const base: InstanceAttribute = { InstanceId: instance.instanceId };
  switch (input.Attribute) {
    case 'instanceType':
      return { ...base, InstanceType: { Value: instance.instanceType } };
    case 'userData':
      return { ...base, UserData: instance.userData ? { Value: instance.userData } : {} };
    case 'disableApiTermination':
      return { ...base, DisableApiTermination: { Value: instance.disableApiTermination } };
    case 'disableApiStop':
      return { ...base, DisableApiStop: { Value: instance.disableApiStop } };
    case 'instanceInitiatedShutdownBehavior':
      return { ...base, InstanceInitiatedShutdownBehavior: { Value: instance.shutdownBehavior } };
    case 'rootDeviceName':
      return { ...base, RootDeviceName: { Value: instance.rootDeviceName } };
    case 'blockDeviceMapping':
      return { ...base, BlockDeviceMappings: blockDeviceMappingShapes(ctx, instance) };
    case 'productCodes':
      return { ...base, ProductCodes: productCodeShapes(productCodesOf(ctx, instance)) };
    case 'sourceDestCheck':
      return { ...base, SourceDestCheck: { Value: true } };
    case 'groupSet':
      return {
        ...base,
        Groups: instance.securityGroupIds.map((GroupId) => ({ GroupId, GroupName: ctx.state.securityGroups[GroupId]?.groupName })),
      };
    case 'ebsOptimized':
      return { ...base, EbsOptimized: { Value: instance.ebsOptimized } };
    case 'enaSupport':
      return { ...base, EnaSupport: { Value: true } };
    default:
      return fail('InvalidParameterValue', `Value (${input.Attribute ?? ''}) for parameter attribute is invalid. Unknown attribute.`);
  }
}

function parseBoolean(value: string | undefined, attribute: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail('InvalidParameterValue', `Value (${value ?? ''}) for parameter ${attribute} is invalid.`);
}

export function modifyInstanceAttribute(ctx: RegionContext, input: ModifyInstanceAttributeRequest): Record<string, never> {
  const instance = requireInstance(ctx, input.InstanceId);
  const requireStopped = (what: string) => {
    if (instance.state !== 'stopped') {
      fail('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in the 'stopped' state (modifying ${what}).`);
    }
  };
  // The legacy form names the attribute and passes one value.
  const legacy = input.Attribute;
  const stopValue = input.DisableApiStop?.Value ?? (legacy === 'disableApiStop' ? parseBoolean(input.Value, legacy) : undefined);
  const terminationValue =
    input.DisableApiTermination?.Value ?? (legacy === 'disableApiTermination' ? parseBoolean(input.Value, legacy) : undefined);
  const shutdownValue =
    input.InstanceInitiatedShutdownBehavior?.Value ?? (legacy === 'instanceInitiatedShutdownBehavior' ? input.Value : undefined);
  const typeValue = input.InstanceType?.Value ?? (legacy === 'instanceType' ? input.Value : undefined);

  for (const mapping of input.BlockDeviceMappings ?? []) {
    const volume = volumesAttachedTo(ctx, instance.instanceId).find((v) => sameDevice(v.attachment!.device, mapping.DeviceName ?? ''));
    if (!volume) fail('InvalidInstanceAttributeValue', `No device is currently mapped at ${mapping.DeviceName ?? ''}`);
    if (mapping.Ebs?.DeleteOnTermination !== undefined) volume.attachment!.deleteOnTermination = mapping.Ebs.DeleteOnTermination;
  }
  if (stopValue !== undefined) instance.disableApiStop = stopValue;
  if (terminationValue !== undefined) instance.disableApiTermination = terminationValue;
  if (shutdownValue !== undefined) {
    if (shutdownValue !== 'stop' && shutdownValue !== 'terminate') {
      fail('InvalidParameterValue', `Value (${shutdownValue}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
    }
    instance.shutdownBehavior = shutdownValue;
  }
  if (typeValue !== undefined) {
    requireStopped('instanceType');
    instance.instanceType = typeValue;
  }
  if (input.UserData?.Value !== undefined) {
    requireStopped('userData');
    instance.userData = Buffer.from(input.UserData.Value).toString('base64');
  }
  if (input.Groups?.length) {
    for (const groupId of input.Groups) {
      if (requireSecurityGroup(ctx, groupId).vpcId !== instance.vpcId) {
        fail('InvalidGroup.NotFound', `The security group '${groupId}' does not exist in VPC '${instance.vpcId}'`);
      }
    }
    instance.securityGroupIds = [...input.Groups];
  }
  if (input.EbsOptimized?.Value !== undefined) instance.ebsOptimized = input.EbsOptimized.Value;
  return {};
}

/**
 * `Timestamp` is "the time the data was last updated" (EC2 API Reference, GetPasswordData): when
 * the launch agent made the password, so that a caller can tell a password made after a reboot
 * from the one before. None while there is no password (the API documents no value for it then).
 */
export function getPasswordData(ctx: RegionContext, input: GetPasswordDataRequest): GetPasswordDataResult {
  const instance = requireInstance(ctx, input.InstanceId);
  const passwordData = instance.platform === 'windows' ? (instance.passwordData ?? '') : '';
  // A record saved before the time was kept: the password was made at its launch, as far as is known.
  const madeAt = passwordData === '' ? undefined : (instance.passwordDataTime ?? instance.launchTime);
  return {
    InstanceId: instance.instanceId,
    ...(madeAt === undefined ? {} : { Timestamp: new Date(madeAt) }),
    // Empty until the launch agent has generated a password, as GetPasswordData documents.
    PasswordData: passwordData,
  };
}

// ---- seeding ----

/** An instance put straight into the region in a settled state (sample data, test fixtures). */
export interface SeedInstanceSpec {
  instanceId?: string;
  imageId: string;
  state: 'running' | 'stopped';
  instanceType?: string;
  subnetId?: string;
  availabilityZone?: string;
  /** Defaults to the image's root device name. */
  rootDeviceName?: string;
  root?: {
    volumeId?: string;
    files?: VolumeFiles;
    filesystem?: string;
    size?: number;
    encrypted?: boolean;
    kmsKeyId?: string;
    deleteOnTermination?: boolean;
    /** Defaults to the image's product codes. */
    productCodes?: ProductCodeRecord[];
    /**
     * Windows: make the root's files agree (`false`: the launch agent already made its password,
     * as on an instance that booted; `true`: it makes one at the next boot). Default: the files as given.
     */
    passwordGenerationEnabled?: boolean;
    /** A Windows volume the NTFS rescue refuses (BitLocker, hibernated…) or cannot unmount. */
    ntfs?: NtfsVolumeFlags;
  };
  extraVolumes?: Array<{ volumeId?: string; device: string; size?: number; files?: VolumeFiles; deleteOnTermination?: boolean }>;
  instanceStore?: Array<{ virtualName: string; deviceName: string }>;
  rootDeviceType?: 'ebs' | 'instance-store';
  tags?: TagMap;
  platform?: Platform;
  lifecycle?: 'spot';
  disableApiStop?: boolean;
  disableApiTermination?: boolean;
  shutdownBehavior?: 'stop' | 'terminate';
  hibernationConfigured?: boolean;
  iamInstanceProfileName?: string;
  keyName?: string;
  launchTime?: number;
}

/** `files` with the launch agents' state that `enabled` asks for (unchanged when undefined). */
function windowsPasswordState(files: VolumeFiles, enabled: boolean | undefined): VolumeFiles {
  if (enabled === undefined || passwordGenerationEnabled(files) === enabled) return files;
  if (!enabled) return bootWindows(files).files;
  const reset = applyWindowsPasswordReset(files);
  if (reset.error) throw new Error(`seedInstance: cannot enable password generation: ${reset.error.message}`);
  return reset.files;
}

export function seedInstance(ctx: RegionContext, spec: SeedInstanceSpec): InstanceRecord {
  const image = requireImage(ctx, spec.imageId);
  const subnet = spec.subnetId
    ? requireSubnet(ctx, spec.subnetId)
    : defaultSubnet(ctx, spec.availabilityZone ?? ctx.config.availabilityZones[0]);
  const instanceId = spec.instanceId ?? ctx.ids.resourceId('i');
  if (ctx.state.instances[instanceId]) throw new Error(`seedInstance: ${instanceId} already exists`);
  const rootDeviceName = spec.rootDeviceName ?? image.rootDeviceName;
  const rootDeviceType = spec.rootDeviceType ?? image.rootDeviceType;
  const rootMapping = image.blockDeviceMappings.find((m) => sameDevice(m.deviceName, image.rootDeviceName));
  const rootSnapshot = rootMapping?.snapshotId ? ctx.state.snapshots[rootMapping.snapshotId] : undefined;
  const running = spec.state === 'running';
  const instance: InstanceRecord = {
    instanceId,
    reservationId: ctx.ids.resourceId('r'),
    imageId: image.imageId,
    instanceType: spec.instanceType ?? 't3.micro',
    platform: spec.platform ?? image.platform,
    platformDetails: image.platformDetails,
    architecture: image.architecture,
    state: spec.state,
    stateEpoch: 0,
    stateTransitionReason: running ? '' : `User initiated (${gmt(ctx.now())})`,
    stateReason: running ? undefined : USER_SHUTDOWN,
    launchTime: spec.launchTime ?? ctx.now(),
    availabilityZone: subnet.availabilityZone,
    subnetId: subnet.subnetId,
    vpcId: subnet.vpcId,
    privateIpAddress: allocatePrivateIp(subnet),
    publicIpAddress: running && subnet.mapPublicIpOnLaunch ? ctx.ids.publicIp() : undefined,
    assignsPublicIp: subnet.mapPublicIpOnLaunch,
    securityGroupIds: [ctx.state.vpcs[subnet.vpcId].defaultSecurityGroupId],
    keyName: spec.keyName,
    iamInstanceProfile: spec.iamInstanceProfileName ? instanceProfileOf(ctx, { Name: spec.iamInstanceProfileName }) : undefined,
    tags: { ...spec.tags },
    rootDeviceName,
    rootDeviceType,
    instanceStore: (spec.instanceStore ?? []).map((s) => ({ ...s, files: {} })),
    productCodes: [],
    lifecycle: spec.lifecycle,
    spotInstanceRequestId: spec.lifecycle === 'spot' ? ctx.ids.shortId('sir') : undefined,
    hibernationConfigured: spec.hibernationConfigured ?? false,
    disableApiStop: spec.disableApiStop ?? false,
    disableApiTermination: spec.disableApiTermination ?? false,
    shutdownBehavior: spec.shutdownBehavior ?? 'stop',
    metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled' },
    ebsOptimized: true,
    ssmAgent: image.ssmAgent,
    agent: { status: 'absent' },
    bootedOnce: true,
  };
  ctx.state.instances[instanceId] = instance;
  if (rootDeviceType === 'ebs') {
    const root = spec.root ?? {};
    const volume = createVolumeRecord(ctx, {
      volumeId: root.volumeId,
      size: root.size ?? rootMapping?.volumeSize ?? 8,
      availabilityZone: subnet.availabilityZone,
      snapshotId: rootMapping?.snapshotId,
      encrypted: root.encrypted ?? rootMapping?.encrypted ?? false,
      kmsKeyId: root.kmsKeyId ?? rootMapping?.kmsKeyId,
      productCodes: root.productCodes ?? [...image.productCodes],
      tags: {},
      filesystem: root.filesystem ?? rootSnapshot?.filesystem ?? image.filesystem,
      files: windowsPasswordState(root.files ?? rootSnapshot?.files ?? {}, root.passwordGenerationEnabled),
    });
    if (root.ntfs) volume.ntfs = structuredClone(root.ntfs);
    attachAtLaunch(ctx, volume, instanceId, rootDeviceName, root.deleteOnTermination ?? true);
  }
  for (const extra of spec.extraVolumes ?? []) {
    const volume = createVolumeRecord(ctx, {
      volumeId: extra.volumeId,
      size: extra.size ?? 8,
      availabilityZone: subnet.availabilityZone,
      encrypted: false,
      productCodes: [],
      tags: {},
      filesystem: 'xfs',
      files: extra.files ?? {},
    });
    attachAtLaunch(ctx, volume, instanceId, extra.device, extra.deleteOnTermination ?? false);
  }
  if (running && instance.iamInstanceProfile && instance.ssmAgent) {
    instance.agent = { status: 'online', registeredAt: ctx.now(), lastPingAt: ctx.now() };
  }
  return instance;
}
