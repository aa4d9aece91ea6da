import type {
  CreateImageRequest,
  CreateImageResult,
  DeregisterImageRequest,
  DeregisterImageResult,
  DescribeImagesRequest,
  DescribeImagesResult,
  DescribeSnapshotsRequest,
  DescribeSnapshotsResult,
  Image,
  Snapshot,
} from '@aws-sdk/client-ec2';

import type { CallFaults, RegionContext } from './context';
import { volumesAttachedTo } from './ec2-volumes';
import { applyFilters, type FilterSpec } from './filters';
import { requireImage, requireInstance } from './lookup';
import { fail } from './sim-error';
import type { ImageBlockDeviceRecord, ImageRecord, Platform, ProductCodeRecord, SnapshotRecord, TagMap } from './state';
import { tagsFromSpecifications, toTagList } from './tags';
import type { VolumeFiles } from './volume-files';

const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

function imageShape(image: ImageRecord): Image {
  return {
    ImageId: image.imageId,
    ImageLocation: `${image.ownerAlias ?? image.ownerId}/${image.name}`,
    State: image.state === 'deregistered' ? undefined : image.state,
    OwnerId: image.ownerId,
    ImageOwnerAlias: image.ownerAlias,
    CreationDate: new Date(image.creationDate).toISOString(),
    Public: image.public,
    ProductCodes: image.productCodes.map((c) => ({ ProductCodeId: c.id, ProductCodeType: c.type })),
    Architecture: image.architecture as Image['Architecture'],
    ImageType: 'machine',
    // EC2 answers lowercase `windows` although the SDK's enum spells `Windows`.
    Platform: image.platform === 'windows' ? ('windows' as Image['Platform']) : undefined,
    PlatformDetails: image.platformDetails,
    UsageOperation: image.platform === 'windows' ? 'RunInstances:0002' : 'RunInstances',
    Name: image.name,
    Description: image.description,
    RootDeviceName: image.rootDeviceName,
    RootDeviceType: image.rootDeviceType,
    BlockDeviceMappings: image.blockDeviceMappings.map((m) =>
      m.virtualName
        ? { DeviceName: m.deviceName, VirtualName: m.virtualName }
        : {
            DeviceName: m.deviceName,
            Ebs: {
              SnapshotId: m.snapshotId,
              VolumeSize: m.volumeSize,
              VolumeType: m.volumeType as 'gp3' | undefined,
              DeleteOnTermination: m.deleteOnTermination,
              Encrypted: m.encrypted,
              KmsKeyId: m.kmsKeyId,
            },
          },
    ),
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    EnaSupport: true,
    SriovNetSupport: 'simple',
    StateReason: image.stateReason ? { Code: image.stateReason.code, Message: image.stateReason.message } : undefined,
    SourceInstanceId: image.sourceInstanceId,
    Tags: toTagList(image.tags),
  };
}

function snapshotShape(snapshot: SnapshotRecord): Snapshot {
  return {
    SnapshotId: snapshot.snapshotId,
    VolumeId: snapshot.volumeId,
    VolumeSize: snapshot.volumeSize,
    State: snapshot.state,
    StartTime: new Date(snapshot.startTime),
    Progress: snapshot.state === 'completed' ? '100%' : snapshot.state === 'pending' ? '0%' : '',
    OwnerId: snapshot.ownerId,
    OwnerAlias: snapshot.ownerAlias,
    Description: snapshot.description,
    Encrypted: snapshot.encrypted,
    KmsKeyId: snapshot.kmsKeyId,
    StorageTier: 'standard',
    Tags: toTagList(snapshot.tags),
  };
}

/** A root filesystem an image starts instances with (public catalogue, samples). */
export interface ImageSpec {
  imageId?: string;
  name: string;
  description?: string;
  ownerId: string;
  ownerAlias?: string;
  public: boolean;
  platform: Platform;
  platformDetails?: string;
  architecture?: string;
  rootDeviceName: string;
  rootVolumeSize: number;
  filesystem: string;
  files: VolumeFiles;
  productCodes?: ProductCodeRecord[];
  ssmAgent?: boolean;
  encrypted?: boolean;
  kmsKeyId?: string;
  tags?: TagMap;
  creationDate?: number;
}

/** Registers an `available` image backed by one completed root snapshot. */
export function registerImage(ctx: RegionContext, spec: ImageSpec): ImageRecord {
  const snapshotId = ctx.ids.resourceId('snap');
  ctx.state.snapshots[snapshotId] = {
    snapshotId,
    volumeId: 'vol-ffffffff',
    volumeSize: spec.rootVolumeSize,
    state: 'completed',
    startTime: spec.creationDate ?? ctx.now(),
    ownerId: spec.ownerId,
    ownerAlias: spec.ownerAlias,
    description: `Root snapshot of ${spec.name}`,
    encrypted: spec.encrypted ?? false,
    kmsKeyId: spec.kmsKeyId,
    productCodes: spec.productCodes ?? [],
    tags: {},
    filesystem: spec.filesystem,
    files: structuredClone(spec.files),
  };
  const image: ImageRecord = {
    imageId: spec.imageId ?? ctx.ids.resourceId('ami'),
    name: spec.name,
    description: spec.description,
    ownerId: spec.ownerId,
    ownerAlias: spec.ownerAlias,
    public: spec.public,
    state: 'available',
    creationDate: spec.creationDate ?? ctx.now(),
    platform: spec.platform,
    platformDetails: spec.platformDetails ?? (spec.platform === 'windows' ? 'Windows' : 'Linux/UNIX'),
    architecture: spec.architecture ?? 'x86_64',
    rootDeviceName: spec.rootDeviceName,
    rootDeviceType: 'ebs',
    blockDeviceMappings: [
      {
        deviceName: spec.rootDeviceName,
        snapshotId,
        volumeSize: spec.rootVolumeSize,
        volumeType: 'gp3',
        deleteOnTermination: true,
        encrypted: spec.encrypted ?? false,
        kmsKeyId: spec.kmsKeyId,
      },
    ],
    productCodes: spec.productCodes ?? [],
    tags: spec.tags ?? {},
    ssmAgent: spec.ssmAgent ?? true,
    filesystem: spec.filesystem,
  };
  ctx.state.images[image.imageId] = image;
  return image;
}

export function createImage(ctx: RegionContext, input: CreateImageRequest, faults: CallFaults): CreateImageResult {
  const instance = requireInstance(ctx, input.InstanceId);
  const name = input.Name ?? fail('MissingParameter', 'The request must contain the parameter name');
  if (!AMI_NAME.test(name)) {
    fail('InvalidAMIName.Malformed', `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`);
  }
  const duplicate = Object.values(ctx.state.images).find((i) => i.ownerId === ctx.config.accountId && i.name === name && i.state !== 'deregistered');
  if (duplicate) fail('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${duplicate.imageId}`);
  if (instance.state !== 'running' && instance.state !== 'stopped') {
    fail('IncorrectInstanceState', `Instance '${instance.instanceId}' is not in a state from which it can be imaged.`);
  }
  const attached = volumesAttachedTo(ctx, instance.instanceId).filter((v) => v.attachment?.state === 'attached');
  if (!attached.some((v) => v.attachment?.device === instance.rootDeviceName)) {
    fail('IncorrectInstanceState', `Instance '${instance.instanceId}' does not have a volume attached at root (${instance.rootDeviceName})`);
  }
  const allowed = ['image', 'snapshot'];
  const imageTags = tagsFromSpecifications(input.TagSpecifications, 'image', allowed);
  const snapshotTags = tagsFromSpecifications(input.TagSpecifications, 'snapshot', allowed);
  const source = ctx.state.images[instance.imageId];
  const imageId = ctx.ids.resourceId('ami');

  const mappings: ImageBlockDeviceRecord[] = attached.map((volume) => {
    const snapshot: SnapshotRecord = {
      snapshotId: ctx.ids.resourceId('snap'),
      volumeId: volume.volumeId,
      volumeSize: volume.size,
      state: 'pending',
      startTime: ctx.now(),
      ownerId: ctx.config.accountId,
      description: `Created by CreateImage(${instance.instanceId}) for ${imageId}`,
      encrypted: volume.encrypted,
      kmsKeyId: volume.kmsKeyId,
      productCodes: [...volume.productCodes],
      tags: { ...snapshotTags },
      filesystem: volume.filesystem,
      // Point in time: later changes to the volume do not reach the image.
      files: structuredClone(volume.files),
    };
    ctx.state.snapshots[snapshot.snapshotId] = snapshot;
    return {
      deviceName: volume.attachment!.device,
      snapshotId: snapshot.snapshotId,
      volumeSize: volume.size,
      volumeType: volume.volumeType,
      deleteOnTermination: volume.attachment!.deleteOnTermination,
      encrypted: volume.encrypted,
      kmsKeyId: volume.kmsKeyId,
    };
  });
  const rootVolume = attached.find((v) => v.attachment?.device === instance.rootDeviceName);
  const image: ImageRecord = {
    imageId,
    name,
    description: input.Description,
    ownerId: ctx.config.accountId,
    public: false,
    state: 'pending',
    creationDate: ctx.now(),
    platform: instance.platform,
    platformDetails: instance.platformDetails,
    architecture: instance.architecture,
    rootDeviceName: instance.rootDeviceName,
    rootDeviceType: 'ebs',
    blockDeviceMappings: mappings,
    productCodes: [...(rootVolume?.productCodes ?? [])],
    tags: imageTags,
    sourceInstanceId: instance.instanceId,
    ssmAgent: source?.ssmAgent ?? instance.ssmAgent,
    filesystem: rootVolume?.filesystem ?? 'xfs',
  };
  ctx.state.images[image.imageId] = image;
  ctx.schedule(ctx.timings.imageMs, { kind: 'image', imageId: image.imageId, to: faults.asyncFailure ? 'failed' : 'available' });
  return { ImageId: image.imageId };
}

/** Applies the end of image creation to the image and its snapshots. */
export function completeImage(ctx: RegionContext, imageId: string, to: 'available' | 'failed'): void {
  const image = ctx.state.images[imageId];
  if (!image || image.state !== 'pending') return;
  image.state = to;
  if (to === 'failed') image.stateReason = { code: 'Server.InternalError', message: 'Server.InternalError: Internal error while creating image' };
  for (const mapping of image.blockDeviceMappings) {
    const snapshot = mapping.snapshotId ? ctx.state.snapshots[mapping.snapshotId] : undefined;
    if (snapshot?.state === 'pending') snapshot.state = to === 'available' ? 'completed' : 'error';
  }
}

export function describeImages(ctx: RegionContext, input: DescribeImagesRequest): DescribeImagesResult {
  const account = ctx.config.accountId;
  let images: ImageRecord[];
  if (input.ImageIds?.length) {
    const missing = input.ImageIds.filter((id) => !ctx.state.images[id] || ctx.state.images[id].state === 'deregistered');
    if (missing.length) fail('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
    images = [...new Set(input.ImageIds)].map((id) => ctx.state.images[id]);
  } else {
    images = Object.values(ctx.state.images).filter((i) => i.state !== 'deregistered' && (i.public || i.ownerId === account));
  }
  if (input.Owners?.length) {
    const owners = input.Owners;
    images = images.filter((i) =>
      owners.some((o) => (o === 'self' ? i.ownerId === account : o === i.ownerId || (i.ownerAlias !== undefined && o === i.ownerAlias))),
    );
  }
  const spec: FilterSpec<ImageRecord> = {
    'image-id': (i) => i.imageId,
    name: (i) => i.name,
    state: (i) => i.state,
    'owner-id': (i) => i.ownerId,
    'owner-alias': (i) => i.ownerAlias,
    platform: (i) => (i.platform === 'windows' ? 'windows' : undefined),
    'is-public': (i) => i.public,
    'product-code': (i) => i.productCodes.map((c) => c.id),
    'root-device-type': (i) => i.rootDeviceType,
    'root-device-name': (i) => i.rootDeviceName,
    architecture: (i) => i.architecture,
    'block-device-mapping.snapshot-id': (i) => i.blockDeviceMappings.map((m) => m.snapshotId),
    description: (i) => i.description,
  };
  return { Images: applyFilters(images, input.Filters, spec, (i) => i.tags).map(imageShape) };
}

export function deregisterImage(ctx: RegionContext, input: DeregisterImageRequest): DeregisterImageResult {
  const image = requireImage(ctx, input.ImageId);
  if (image.ownerId !== ctx.config.accountId) fail('AuthFailure', `Not authorized for image:${image.imageId}`);
  image.state = 'deregistered';
  const results: NonNullable<DeregisterImageResult['DeleteSnapshotResults']> = [];
  if (input.DeleteAssociatedSnapshots) {
    for (const mapping of image.blockDeviceMappings) {
      if (!mapping.snapshotId) continue;
      delete ctx.state.snapshots[mapping.snapshotId];
      results.push({ SnapshotId: mapping.snapshotId, ReturnCode: 'success' });
    }
  }
  delete ctx.state.images[image.imageId];
  return { Return: true, DeleteSnapshotResults: results.length ? results : undefined };
}

export function describeSnapshots(ctx: RegionContext, input: DescribeSnapshotsRequest): DescribeSnapshotsResult {
  const account = ctx.config.accountId;
  let snapshots: SnapshotRecord[];
  if (input.SnapshotIds?.length) {
    const missing = input.SnapshotIds.filter((id) => !ctx.state.snapshots[id]);
    if (missing.length) fail('InvalidSnapshot.NotFound', `The snapshot '${missing.join(', ')}' does not exist.`);
    snapshots = [...new Set(input.SnapshotIds)].map((id) => ctx.state.snapshots[id]);
  } else {
    snapshots = Object.values(ctx.state.snapshots);
  }
  // Without ids or owners, only the account's own snapshots (public ones are not listed).
  const owners = input.OwnerIds?.length ? input.OwnerIds : input.SnapshotIds?.length ? undefined : ['self'];
  if (owners) {
    snapshots = snapshots.filter((s) => owners.some((o) => (o === 'self' ? s.ownerId === account : o === s.ownerId || o === s.ownerAlias)));
  }
  const spec: FilterSpec<SnapshotRecord> = {
    'snapshot-id': (s) => s.snapshotId,
    'volume-id': (s) => s.volumeId,
    status: (s) => s.state,
    'owner-id': (s) => s.ownerId,
    description: (s) => s.description,
    encrypted: (s) => s.encrypted,
  };
  return { Snapshots: applyFilters(snapshots, input.Filters, spec, (s) => s.tags).map(snapshotShape) };
}
