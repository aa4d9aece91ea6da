import type {
  AttachVolumeRequest,
  DescribeVolumesRequest,
  DescribeVolumesResult,
  DetachVolumeRequest,
  Volume,
  VolumeAttachment,
  VolumeType,
} from '@aws-sdk/client-ec2';

import type { CallFaults, RegionContext } from './context';
import { volumeAttachFailedEvent } from './events';
import { applyFilters, type FilterSpec } from './filters';
import { findKmsKey, kmsKeyProblem } from './kms';
import { pickByIds, requireInstance, requireVolume } from './lookup';
import { fail } from './sim-error';
import type { AttachmentRecord, ProductCodeRecord, TagMap, VolumeRecord } from './state';
import { toTagList } from './tags';
import type { VolumeFiles } from './volume-files';

/** Linux and Windows device names EC2 accepts for EBS attachments. */
const DEVICE_NAME = /^(\/dev\/)?(sd[a-z][0-9]*|xvd[a-z]{1,2}[0-9]*|hd[a-z][0-9]*)$/;

export interface NewVolume {
  size: number;
  availabilityZone: string;
  volumeType?: string;
  snapshotId?: string;
  encrypted: boolean;
  kmsKeyId?: string;
  productCodes: ProductCodeRecord[];
  tags: TagMap;
  filesystem: string;
  files: VolumeFiles;
  volumeId?: string;
}

/** Makes an `available` volume (EBS's `creating` phase is not modelled). */
export function createVolumeRecord(ctx: RegionContext, spec: NewVolume): VolumeRecord {
  const volume: VolumeRecord = {
    volumeId: spec.volumeId ?? ctx.ids.resourceId('vol'),
    size: spec.size,
    volumeType: spec.volumeType ?? 'gp3',
    iops: 3000,
    throughput: 125,
    snapshotId: spec.snapshotId,
    availabilityZone: spec.availabilityZone,
    state: 'available',
    createTime: ctx.now(),
    encrypted: spec.encrypted,
    kmsKeyId: spec.encrypted ? (findKmsKey(ctx, spec.kmsKeyId)?.arn ?? spec.kmsKeyId) : undefined,
    productCodes: spec.productCodes,
    tags: spec.tags,
    filesystem: spec.filesystem,
    files: structuredClone(spec.files),
  };
  ctx.state.volumes[volume.volumeId] = volume;
  return volume;
}

/** Attaches at once, as RunInstances does for the volumes it creates. */
export function attachAtLaunch(ctx: RegionContext, volume: VolumeRecord, instanceId: string, device: string, deleteOnTermination: boolean): void {
  volume.attachment = { instanceId, device, state: 'attached', attachTime: ctx.now(), deleteOnTermination, epoch: 0 };
  volume.state = 'in-use';
}

/** Volumes with an attachment (in any attachment state) to the instance, in attach order. */
export function volumesAttachedTo(ctx: RegionContext, instanceId: string): VolumeRecord[] {
  return Object.values(ctx.state.volumes)
    .filter((v) => v.attachment?.instanceId === instanceId)
    .sort((a, b) => (a.attachment?.attachTime ?? 0) - (b.attachment?.attachTime ?? 0));
}

function normalizeDevice(device: string): string {
  return device.startsWith('/dev/') ? device.slice(5) : device;
}

/** Whether two device names name the same device, with or without `/dev/`. */
export function sameDevice(a: string, b: string): boolean {
  return a.replace(/^\/dev\//, '') === b.replace(/^\/dev\//, '');
}

export function attachmentShape(volumeId: string, a: AttachmentRecord): VolumeAttachment {
  return {
    VolumeId: volumeId,
    InstanceId: a.instanceId,
    Device: a.device,
    State: a.state,
    AttachTime: new Date(a.attachTime),
    DeleteOnTermination: a.deleteOnTermination,
  };
}

function volumeShape(ctx: RegionContext, v: VolumeRecord): Volume {
  return {
    VolumeId: v.volumeId,
    Size: v.size,
    SnapshotId: v.snapshotId ?? '',
    AvailabilityZone: v.availabilityZone,
    State: v.state,
    CreateTime: new Date(v.createTime),
    Attachments: v.attachment ? [attachmentShape(v.volumeId, v.attachment)] : [],
    VolumeType: v.volumeType as VolumeType,
    Iops: v.iops,
    Throughput: v.throughput,
    Encrypted: v.encrypted,
    KmsKeyId: v.kmsKeyId,
    MultiAttachEnabled: false,
    Tags: toTagList(v.tags),
    VolumeArn: undefined,
    OwnerId: ctx.config.accountId,
  };
}

const volumeFilters: FilterSpec<VolumeRecord> = {
  'volume-id': (v) => v.volumeId,
  'attachment.instance-id': (v) => v.attachment?.instanceId,
  'attachment.device': (v) => v.attachment?.device,
  'attachment.status': (v) => v.attachment?.state,
  'attachment.delete-on-termination': (v) => v.attachment?.deleteOnTermination,
  status: (v) => (v.attachment ? 'in-use' : v.state),
  'availability-zone': (v) => v.availabilityZone,
  encrypted: (v) => v.encrypted,
  'snapshot-id': (v) => v.snapshotId,
  size: (v) => v.size,
  'volume-type': (v) => v.volumeType,
};

export function describeVolumes(ctx: RegionContext, input: DescribeVolumesRequest): DescribeVolumesResult {
  const picked = pickByIds(ctx.state.volumes, input.VolumeIds, (missing) =>
    fail('InvalidVolume.NotFound', `The volume${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' does not exist.`),
  );
  return { Volumes: applyFilters(picked, input.Filters, volumeFilters, (v) => v.tags).map((v) => volumeShape(ctx, v)) };
}

export function attachVolume(ctx: RegionContext, input: AttachVolumeRequest, faults: CallFaults): VolumeAttachment {
  const volume = requireVolume(ctx, input.VolumeId);
  const instance = requireInstance(ctx, input.InstanceId);
  const device = input.Device ?? fail('MissingParameter', 'The request must contain the parameter device');
  if (!DEVICE_NAME.test(device)) {
    fail('InvalidParameterValue', `Value (${device}) for parameter device is invalid. ${device} is not a valid EBS device name.`);
  }
  if (volume.attachment) fail('VolumeInUse', `${volume.volumeId} is already attached to an instance`);
  if (volume.state !== 'available') fail('IncorrectState', `Volume '${volume.volumeId}' is not 'available'.`);
  if (instance.state !== 'running' && instance.state !== 'stopped') {
    fail('IncorrectInstanceState', `Instance '${instance.instanceId}' is not 'running'.`);
  }
  if (volume.availabilityZone !== instance.availabilityZone) {
    fail('InvalidVolume.ZoneMismatch', `The volume '${volume.volumeId}' is not in the same availability zone as instance '${instance.instanceId}'`);
  }
  if (volume.productCodes.some((p) => p.type === 'marketplace') && instance.state !== 'stopped') {
    fail(
      'IncorrectInstanceState',
      `Cannot attach volume '${volume.volumeId}' with Marketplace codes as the instance '${instance.instanceId}' is not in the 'stopped' state.`,
    );
  }
  const taken = volumesAttachedTo(ctx, instance.instanceId).some((v) => v.attachment && normalizeDevice(v.attachment.device) === normalizeDevice(device));
  if (taken) fail('InvalidParameterValue', `Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`);

  const attachment: AttachmentRecord = {
    instanceId: instance.instanceId,
    device,
    state: 'attaching',
    attachTime: ctx.now(),
    // A volume attached after launch defaults to DeleteOnTermination = false.
    deleteOnTermination: false,
    epoch: 0,
  };
  volume.attachment = attachment;
  volume.state = 'in-use';
  const cause = kmsKeyProblem(ctx, volume) ?? (faults.asyncFailure ? (faults.asyncFailure.message ?? 'An internal error has occurred.') : undefined);
  ctx.schedule(ctx.timings.attachMs, {
    kind: 'attachment',
    volumeId: volume.volumeId,
    epoch: attachment.epoch,
    to: cause ? 'failed' : 'attached',
    cause,
  });
  return attachmentShape(volume.volumeId, attachment);
}

export function detachVolume(ctx: RegionContext, input: DetachVolumeRequest): VolumeAttachment {
  const volume = requireVolume(ctx, input.VolumeId);
  const attachment = volume.attachment;
  if (!attachment) fail('IncorrectState', `Volume '${volume.volumeId}' is in the 'available' state.`);
  if (input.InstanceId && input.InstanceId !== attachment.instanceId) {
    fail('InvalidAttachment.NotFound', `The volume '${volume.volumeId}' is not attached to '${input.InstanceId}'`);
  }
  if (input.Device && normalizeDevice(input.Device) !== normalizeDevice(attachment.device)) {
    fail('InvalidAttachment.NotFound', `The volume '${volume.volumeId}' is not attached at '${input.Device}'`);
  }
  const instance = ctx.state.instances[attachment.instanceId];
  const isRoot = instance && normalizeDevice(instance.rootDeviceName) === normalizeDevice(attachment.device);
  if (isRoot && instance.state !== 'stopped' && instance.state !== 'terminated') {
    fail('IncorrectState', `Unable to detach root volume '${volume.volumeId}' from instance '${instance.instanceId}'`);
  }
  if (attachment.state === 'attaching') fail('IncorrectState', `Volume '${volume.volumeId}' is in the 'attaching' state.`);
  if ((attachment.state === 'detaching' || attachment.state === 'busy') && !input.Force) return attachmentShape(volume.volumeId, attachment);
  if (volume.mountedBy === attachment.instanceId && !input.Force) {
    // Still mounted by the instance's OS: "the volume becoming stuck in the busy state while
    // detaching … until you unmount the volume, force detachment, reboot the instance" (DetachVolume).
    attachment.state = 'busy';
    attachment.epoch += 1;
    return attachmentShape(volume.volumeId, attachment);
  }
  attachment.state = 'detaching';
  attachment.epoch += 1;
  ctx.schedule(input.Force ? ctx.timings.forceDetachMs : ctx.timings.detachMs, {
    kind: 'attachment',
    volumeId: volume.volumeId,
    epoch: attachment.epoch,
    to: 'detached',
  });
  return attachmentShape(volume.volumeId, attachment);
}

/**
 * The instance's OS lets go of the volumes it had mounted (they were unmounted, or it stopped): a
 * detach stuck `busy` meanwhile goes on.
 */
export function releaseMounts(ctx: RegionContext, instanceId: string, volumeId?: string): void {
  for (const volume of Object.values(ctx.state.volumes)) {
    if (volume.mountedBy !== instanceId || (volumeId !== undefined && volume.volumeId !== volumeId)) continue;
    delete volume.mountedBy;
    const attachment = volume.attachment;
    if (attachment?.state === 'busy') {
      attachment.state = 'detaching';
      ctx.schedule(ctx.timings.detachMs, { kind: 'attachment', volumeId: volume.volumeId, epoch: attachment.epoch, to: 'detached' });
    }
  }
}

/** Applies the end of an attach or detach. */
export function completeAttachment(
  ctx: RegionContext,
  volumeId: string,
  epoch: number,
  to: 'attached' | 'detached' | 'failed',
  cause: string | undefined,
): void {
  const volume = ctx.state.volumes[volumeId];
  const attachment = volume?.attachment;
  if (!volume || !attachment || attachment.epoch !== epoch) return;
  if (to === 'attached') {
    attachment.state = 'attached';
    return;
  }
  volume.attachment = undefined;
  volume.state = 'available';
  if (to === 'failed') {
    const key = findKmsKey(ctx, volume.kmsKeyId);
    ctx.emit((origin) => volumeAttachFailedEvent(origin, volumeId, 'attachVolume', cause ?? '', volume.encrypted ? key?.arn : undefined));
  }
}
