/**
 * Where the simulated region's instances come from: RunInstances (image, subnet and groups
 * checked as EC2 does, volumes made from the image's mappings and the request's overrides, a
 * ClientToken answered with the same reservation, the launch finished by a timed transition) and
 * `seedInstance`, which puts an instance straight into a settled state for samples and tests.
 * The rest of an instance's life: `ec2-instance-lifecycle.ts` (states), `ec2-instance-describe.ts`
 * (DescribeInstances and the shapes), `ec2-instance-attributes.ts` (attributes, password data).
 */
import type { RunInstancesRequest, Reservation } from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';

import type { CallFaults, RegionContext } from './context';
import { reservationShape } from './ec2-instance-describe';
import { CLIENT_LAUNCH_ERROR, gmt, scheduleState, SERVER_LAUNCH_ERROR, startBlockedByKms, USER_SHUTDOWN } from './ec2-instance-lifecycle';
import { allocatePrivateIp } from './ec2-network';
import { attachAtLaunch, createVolumeRecord, sameDevice } from './ec2-volumes';
import { instanceStateChangeEvent } from './events';
import { recallClientToken, rememberClientToken, requireImage, requireSecurityGroup, requireSubnet } from './lookup';
import { fail } from './sim-error';
import type { InstanceRecord, NtfsVolumeFlags, Platform, ProductCodeRecord, SubnetRecord, TagMap } from './state';
import { tagsFromSpecifications } from './tags';
import type { VolumeFiles } from './volume-files';
import { applyWindowsPasswordReset, bootWindows, passwordGenerationEnabled } from './windows-rescue-model';

// ---- RunInstances ----

function instanceProfileOf(ctx: RegionContext, spec: RunInstancesRequest['IamInstanceProfile']): InstanceRecord['iamInstanceProfile'] {
  if (!spec?.Arn && !spec?.Name) return undefined;
  const arn = spec.Arn ?? `arn:aws:iam::${ctx.config.accountId}:instance-profile/${spec.Name}`;
  const id = `AIPA${createHash('sha256').update(arn).digest('hex').slice(0, 17).toUpperCase()}`;
  return { arn, id };
}

function defaultSubnet(ctx: RegionContext, zone: string | undefined): SubnetRecord {
  const subnets = Object.values(ctx.state.subnets).filter((s) => s.defaultForAz && (!zone || s.availabilityZone === zone));
  return subnets[0] ?? fail('VPCIdNotSpecified', 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.');
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
      attachAtLaunch(ctx, volume, instance.instanceId, mapping.deviceName, override?.Ebs?.DeleteOnTermination ?? mapping.deleteOnTermination ?? true);
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
  const subnet = spec.subnetId ? requireSubnet(ctx, spec.subnetId) : defaultSubnet(ctx, spec.availabilityZone ?? ctx.config.availabilityZones[0]);
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
