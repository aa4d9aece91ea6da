/**
 * `Compute` over EC2 (and SSM Parameter Store for the helper's image id). The only place that
 * turns EC2's shapes into the domain's facts; every SDK exception leaves through
 * `translateAwsError`, except the few that mean "absent" (a describe of something that does not
 * exist) or "already done" (an idempotent retry), which are answered here.
 */
import {
  AttachVolumeCommand,
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  DetachVolumeCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type EC2Client,
  type Image,
  type Instance,
  type Tag,
  type TagSpecification,
  type Volume,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { PermanentError, RetryableError } from '../../domain/errors';
import type {
  BlockDevice,
  Compute,
  HelperLaunch,
  ImageFacts,
  InstanceFacts,
  InstanceState,
  SsmRoute,
  SubnetFacts,
  VolumeAttachment,
  VolumeFacts,
} from '../../domain/ports';
import { awsErrorCode, isAwsError, translateAwsError } from './errors';

/** The Auto Scaling group of an instance and its lifecycle state there (`Standby`, `InService`…). */
export type AutoScalingMembership = { groupName: string; lifecycleState?: string };

/**
 * Looks up an instance's Auto Scaling membership. Injectable: a real one would call
 * `autoscaling:DescribeAutoScalingInstances`, which this service does not do yet.
 */
export type AutoScalingLookup = (instanceId: string, tags: Record<string, string>) => Promise<AutoScalingMembership | undefined>;

/**
 * The default lookup reads the tag EC2 Auto Scaling puts on its members. It cannot know the
 * lifecycle state, so it answers `lifecycleState: undefined` and the preflight rule refuses every
 * member: membership is refused unless a real lookup proves the instance is in Standby.
 */
export const autoScalingFromTag: AutoScalingLookup = async (_instanceId, tags) => {
  const groupName = tags['aws:autoscaling:groupName'];
  return groupName ? { groupName, lifecycleState: undefined } : undefined;
};

export interface Ec2ComputeOptions {
  autoScalingLookup?: AutoScalingLookup;
}

/**
 * What `describeInstance` reads beyond DescribeInstances. `preflight: true` adds the facts only
 * the preflight rules judge, each a call of its own: DescribeInstanceAttribute `disableApiStop` and
 * `instanceInitiatedShutdownBehavior`, DescribeInstanceTypes (instance storage, cached per type),
 * and the Auto Scaling lookup. Without the option, see `Ec2Compute.describeInstance`.
 */
export interface DescribeInstanceOptions {
  preflight?: boolean;
}

/** Describes that answer these for an id mean "there is no such thing": the port says `undefined`. */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  'InvalidInstanceID.NotFound',
  'InvalidInstanceID.Malformed',
  'InvalidVolume.NotFound',
  'InvalidVolumeID.Malformed',
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Malformed',
  'InvalidAMIID.Unavailable',
  'InvalidSubnetID.NotFound',
  'InvalidSubnetID.Malformed',
]);

/**
 * State reasons that only say a stop was asked for (by us or by the owner). They are what any
 * stopped instance carries, not why something failed, and `stateReason` is read as a failure
 * explanation (restore-target: "started but stopped again"), so they are left out.
 */
const ORDINARY_STATE_REASONS: ReadonlySet<string> = new Set(['Client.UserInitiatedShutdown', 'Client.UserInitiatedHibernate']);

/** Largest page DescribeVpcs allows (5–1000). */
const VPC_PAGE_SIZE = 1000;

/** Image ids a DescribeImages filter is sent with at most. */
const IMAGE_IDS_PER_REQUEST = 100;

export class Ec2Compute implements Compute {
  private readonly autoScalingLookup: AutoScalingLookup;
  /** Instance storage per instance type: it never changes, and the adapter lives for a cold start. */
  private readonly instanceStoreByType = new Map<string, number>();

  constructor(
    private readonly ec2: EC2Client,
    private readonly ssm: SSMClient,
    options: Ec2ComputeOptions = {},
  ) {
    this.autoScalingLookup = options.autoScalingLookup ?? autoScalingFromTag;
  }

  /**
   * One DescribeInstances call, plus, when the preflight facts are wanted, two
   * DescribeInstanceAttribute calls (EC2 has no call that returns both attributes, and
   * DescribeInstances returns neither), a DescribeInstanceTypes on a cache miss and the Auto
   * Scaling lookup.
   *
   * The phases poll this method while they wait (stop, start, launch), so the preflight facts are
   * read only when asked for (`preflight: true`, by the preflight). When they are not read,
   * `disableApiStop` is `false`, `shutdownBehavior` `stop`, the instance-store count what the block
   * device mappings show and Auto Scaling comes from the tag alone.
   */
  async describeInstance(instanceId: string, options: DescribeInstanceOptions = {}): Promise<InstanceFacts | undefined> {
    const instance = await this.absentIfNotFound(`DescribeInstances ${instanceId}`, async () => {
      const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    });
    if (!instance) return undefined;
    const facts = toInstanceFacts(instance);
    if (!options.preflight) return facts;
    return this.withPreflightFacts(facts);
  }

  async describeVolume(volumeId: string): Promise<VolumeFacts | undefined> {
    const volume = await this.absentIfNotFound(`DescribeVolumes ${volumeId}`, async () => {
      const out = await this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
      return out.Volumes?.find((v) => v.VolumeId === volumeId);
    });
    return volume ? toVolumeFacts(volume) : undefined;
  }

  async describeImage(imageId: string): Promise<ImageFacts | undefined> {
    const image = await this.absentIfNotFound(`DescribeImages ${imageId}`, async () => {
      const out = await this.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      return out.Images?.find((i) => i.ImageId === imageId);
    });
    return image ? toImageFacts(image) : undefined;
  }

  async describeImages(imageIds: readonly string[]): Promise<ImageFacts[]> {
    const found: ImageFacts[] = [];
    // A filter, not ImageIds: one id EC2 no longer knows would refuse the whole request.
    for (let i = 0; i < imageIds.length; i += IMAGE_IDS_PER_REQUEST) {
      const ids = imageIds.slice(i, i + IMAGE_IDS_PER_REQUEST);
      const out = await this.call(`DescribeImages ${ids.length} ids`, () =>
        this.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [...ids] }] })),
      );
      found.push(...(out.Images ?? []).map(toImageFacts));
    }
    return found;
  }

  /** AMI names are unique per account and region; only the account's own images are searched. */
  async findImageByName(name: string): Promise<ImageFacts | undefined> {
    const image = await this.call(`DescribeImages name=${name}`, async () => {
      const out = await this.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }));
      return out.Images?.find((i) => i.Name === name);
    });
    return image ? toImageFacts(image) : undefined;
  }

  async describeSubnet(subnetId: string): Promise<SubnetFacts | undefined> {
    const subnet = await this.absentIfNotFound(`DescribeSubnets ${subnetId}`, async () => {
      const out = await this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
      return out.Subnets?.find((s) => s.SubnetId === subnetId);
    });
    if (!subnet?.SubnetId || !subnet.VpcId || !subnet.AvailabilityZone) return undefined;
    return { subnetId: subnet.SubnetId, vpcId: subnet.VpcId, availabilityZone: subnet.AvailabilityZone };
  }

  /**
   * RunInstances with the job's ClientToken: a repeat with the same token answers the instance the
   * first call made. A repeat with other parameters (the helper image's SSM parameter moved on
   * between a lost answer and the retry) is `IdempotentParameterMismatch`; the token is the job's,
   * so the instance it names is still this job's helper and is answered instead of failing the job.
   */
  async launchInstance(spec: HelperLaunch): Promise<string> {
    try {
      const out = await this.ec2.send(
        new RunInstancesCommand({
          ClientToken: spec.clientToken,
          ImageId: spec.imageId,
          InstanceType: spec.instanceType as _InstanceType,
          MinCount: 1,
          MaxCount: 1,
          SubnetId: spec.subnetId,
          ...(spec.securityGroupIds.length > 0 ? { SecurityGroupIds: spec.securityGroupIds } : {}),
          IamInstanceProfile: { Name: spec.instanceProfile },
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
          TagSpecifications: tagSpecifications(['instance', 'volume'], spec.tags),
        }),
      );
      const instanceId = out.Instances?.[0]?.InstanceId;
      if (!instanceId) throw new PermanentError('RUN_INSTANCES_EMPTY', `RunInstances (token ${spec.clientToken}) answered no instance`);
      return instanceId;
    } catch (error) {
      if (isAwsError(error, 'IdempotentParameterMismatch')) {
        const existing = await this.findInstanceByClientToken(spec.clientToken);
        if (existing) return existing.instanceId;
      }
      throw translateAwsError(error, `RunInstances token ${spec.clientToken}`);
    }
  }

  async findInstanceByClientToken(clientToken: string): Promise<InstanceFacts | undefined> {
    const instance = await this.call(`DescribeInstances client-token=${clientToken}`, async () => {
      const out = await this.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [clientToken] }] }));
      return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
    });
    return instance ? toInstanceFacts(instance) : undefined;
  }

  /** StopInstances on a stopped or stopping instance succeeds (EC2 answers the current state). */
  async stopInstance(instanceId: string, options: { force: boolean }): Promise<void> {
    await this.call(`StopInstances ${instanceId}`, () => this.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: options.force })));
  }

  /**
   * One StopInstances for several instances (domain/pipeline/stop-batches.ts). EC2 checks every instance
   * first: a refusal (one protected, one terminated) is the whole request's, and the caller then
   * stops each alone after looking at it.
   */
  async stopInstances(instanceIds: string[]): Promise<void> {
    await this.call(`StopInstances ${instanceIds.length} instances (${instanceIds[0]}…)`, () =>
      this.ec2.send(new StopInstancesCommand({ InstanceIds: instanceIds })),
    );
  }

  /** StartInstances on a running or pending instance succeeds (EC2 answers the current state). */
  async startInstance(instanceId: string): Promise<void> {
    await this.call(`StartInstances ${instanceId}`, () => this.ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] })));
  }

  /**
   * TerminateInstances is idempotent by itself; an instance EC2 no longer knows (terminated
   * instances drop out of describes after about an hour) is as terminated as it gets.
   */
  async terminateInstance(instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    } catch (error) {
      if (isAwsError(error, 'InvalidInstanceID.NotFound')) return;
      throw translateAwsError(error, `TerminateInstances ${instanceId}`);
    }
  }

  /**
   * AttachVolume is not idempotent: a retry after an attach whose answer was lost gets
   * `VolumeInUse` ("vol-… is already attached to an instance") even when the volume is attached
   * exactly where it was asked to go (aws/aws-sdk-java#1623; Terraform's aws_volume_attachment does
   * the same check, hashicorp/terraform#11060). Then the attachment is looked up and, if it is this
   * instance at this device, the call counts as done.
   */
  async attachVolume(volumeId: string, instanceId: string, device: string): Promise<void> {
    try {
      await this.ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: device }));
    } catch (error) {
      if (isAwsError(error, 'VolumeInUse')) {
        const volume = await this.describeVolume(volumeId);
        const same = volume?.attachments.some(
          (a) => a.instanceId === instanceId && sameDevice(a.device, device) && (a.state === 'attaching' || a.state === 'attached'),
        );
        if (same) return;
      }
      throw translateAwsError(error, `AttachVolume ${volumeId} to ${instanceId} at ${device}`);
    }
  }

  /**
   * DetachVolume of a volume that is no longer attached to `instanceId` (a repeat after a lost
   * answer) fails with `IncorrectState` (the volume is `available`) or `InvalidAttachment.NotFound`;
   * if the volume is indeed not attached to that instance any more, the call counts as done.
   */
  async detachVolume(volumeId: string, instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId }));
    } catch (error) {
      if (isAwsError(error, 'IncorrectState', 'InvalidAttachment.NotFound')) {
        const volume = await this.describeVolume(volumeId);
        const stillAttached = volume?.attachments.some(
          (a) => a.instanceId === instanceId && (a.state === 'attaching' || a.state === 'attached' || a.state === 'busy'),
        );
        if (volume && !stillAttached) return;
      }
      throw translateAwsError(error, `DetachVolume ${volumeId} from ${instanceId}`);
    }
  }

  async setDeleteOnTermination(instanceId: string, device: string, deleteOnTermination: boolean): Promise<void> {
    await this.call(`ModifyInstanceAttribute ${instanceId} ${device} DeleteOnTermination=${deleteOnTermination}`, () =>
      this.ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId: instanceId,
          BlockDeviceMappings: [{ DeviceName: device, Ebs: { DeleteOnTermination: deleteOnTermination } }],
        }),
      ),
    );
  }

  /**
   * CreateImage takes no ClientToken; the name is the idempotency key. `NoReboot: true` because the
   * instance is stopped (a reboot would start it). The image and its snapshots are tagged at
   * creation. A repeat answers `InvalidAMIName.Duplicate` ("The specified AMI name is already in use
   * by another AMI", EC2 API Reference, "Error codes"): the existing image's id is returned. EC2's
   * describes are eventually consistent (same page, "Eventual consistency"): an image that holds
   * the name but is not listed yet makes the call retryable, not a failure.
   */
  async createImage(input: { instanceId: string; name: string; description: string; tags: Record<string, string> }): Promise<string> {
    try {
      const out = await this.ec2.send(
        new CreateImageCommand({
          InstanceId: input.instanceId,
          Name: input.name,
          Description: input.description,
          NoReboot: true,
          TagSpecifications: tagSpecifications(['image', 'snapshot'], input.tags),
        }),
      );
      if (!out.ImageId) throw new PermanentError('CREATE_IMAGE_EMPTY', `CreateImage ${input.name} answered no image id`);
      return out.ImageId;
    } catch (error) {
      if (isAwsError(error, 'InvalidAMIName.Duplicate')) {
        const existing = await this.findImageByName(input.name);
        if (existing) return existing.imageId;
        throw new RetryableError('IMAGE_NOT_YET_LISTED', `CreateImage ${input.name}: the name is taken but DescribeImages does not list its image yet`, {
          cause: error,
        });
      }
      throw translateAwsError(error, `CreateImage ${input.name} of ${input.instanceId}`);
    }
  }

  async resolveImageParameter(parameterName: string): Promise<string> {
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: parameterName }));
      const value = out.Parameter?.Value;
      if (!value) throw new PermanentError('HELPER_IMAGE_PARAMETER_EMPTY', `SSM parameter ${parameterName} has no value`);
      return value;
    } catch (error) {
      if (isAwsError(error, 'ParameterNotFound')) {
        throw new PermanentError('HELPER_IMAGE_PARAMETER_NOT_FOUND', `SSM parameter ${parameterName} does not exist in this region`, { cause: error });
      }
      throw translateAwsError(error, `GetParameter ${parameterName}`);
    }
  }

  /** Every VPC counts against the quota, the default VPC and pending ones included. */
  async countVpcs(): Promise<number> {
    let count = 0;
    let nextToken: string | undefined;
    do {
      const page = await this.call('DescribeVpcs', () => this.ec2.send(new DescribeVpcsCommand({ MaxResults: VPC_PAGE_SIZE, NextToken: nextToken })));
      count += page.Vpcs?.length ?? 0;
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return count;
  }

  /**
   * The subnet's own route table, else the VPC's main one (a subnet without an explicit association
   * uses the main table). An `active` default route through an `igw-` or a NAT gateway reaches the
   * public SSM endpoints; otherwise all three interface endpoints SSM Run Command needs must be in
   * the VPC (AWS Systems Manager User Guide, "Use VPC endpoints": ssm, ssmmessages, ec2messages).
   */
  async ssmRoute(subnet: SubnetFacts): Promise<SsmRoute> {
    const tables = async (filters: { Name: string; Values: string[] }[]) =>
      (await this.call(`DescribeRouteTables ${subnet.subnetId}`, () => this.ec2.send(new DescribeRouteTablesCommand({ Filters: filters })))).RouteTables ?? [];
    const own = await tables([{ Name: 'association.subnet-id', Values: [subnet.subnetId] }]);
    const table =
      own[0] ??
      (
        await tables([
          { Name: 'vpc-id', Values: [subnet.vpcId] },
          { Name: 'association.main', Values: ['true'] },
        ])
      )[0];
    const defaultRoute = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole');
    if (defaultRoute?.GatewayId?.startsWith('igw-')) return 'internet-gateway';
    if (defaultRoute?.NatGatewayId) return 'nat-gateway';
    const endpoints = await this.call(`DescribeVpcEndpoints ${subnet.vpcId}`, () =>
      this.ec2.send(
        new DescribeVpcEndpointsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [subnet.vpcId] },
            { Name: 'vpc-endpoint-state', Values: ['available', 'pending'] },
          ],
        }),
      ),
    );
    const services = new Set((endpoints.VpcEndpoints ?? []).map((e) => e.ServiceName?.split('.').pop()));
    return ['ssm', 'ssmmessages', 'ec2messages'].every((s) => services.has(s)) ? 'vpc-endpoints' : 'none';
  }

  // -------------------------------------------------------------------------------------------

  private async withPreflightFacts(facts: InstanceFacts): Promise<InstanceFacts | undefined> {
    const id = facts.instanceId;
    const attribute = (name: 'disableApiStop' | 'instanceInitiatedShutdownBehavior') =>
      this.absentIfNotFound(`DescribeInstanceAttribute ${id} ${name}`, () =>
        this.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: name })),
      );
    const [stop, shutdown, typeStores, autoScaling] = await Promise.all([
      attribute('disableApiStop'),
      attribute('instanceInitiatedShutdownBehavior'),
      this.instanceStoreCount(facts.instanceType),
      this.autoScalingLookup(id, facts.tags),
    ]);
    // Gone between the calls: the instance does not exist for the caller either.
    if (!stop || !shutdown) return undefined;
    return {
      ...facts,
      disableApiStop: stop.DisableApiStop?.Value === true,
      shutdownBehavior: shutdown.InstanceInitiatedShutdownBehavior?.Value === 'terminate' ? 'terminate' : 'stop',
      // The larger of the two: the type's disks are present on NVMe-store types whatever the
      // mappings say; on older types an unmapped disk is counted too (refusing is the safe side,
      // and `allowInstanceStoreLoss` lifts it).
      instanceStoreVolumeCount: Math.max(facts.instanceStoreVolumeCount, typeStores),
      autoScaling,
    };
  }

  /**
   * DescribeInstances lists only the EBS volumes of an instance (its block device mappings carry no
   * instance-store entries), so the instance storage is read from the instance type.
   */
  private async instanceStoreCount(instanceType: string): Promise<number> {
    const cached = this.instanceStoreByType.get(instanceType);
    if (cached !== undefined) return cached;
    const out = await this.call(`DescribeInstanceTypes ${instanceType}`, () =>
      this.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as _InstanceType] })),
    );
    const disks = out.InstanceTypes?.[0]?.InstanceStorageInfo?.Disks ?? [];
    const count = disks.reduce((sum, disk) => sum + (disk.Count ?? 0), 0);
    this.instanceStoreByType.set(instanceType, count);
    return count;
  }

  private async call<T>(context: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateAwsError(error, context);
    }
  }

  private async absentIfNotFound<T>(context: string, send: () => Promise<T | undefined>): Promise<T | undefined> {
    try {
      return await send();
    } catch (error) {
      const code = awsErrorCode(error);
      if (code !== undefined && NOT_FOUND_CODES.has(code) && isAwsError(error)) return undefined;
      throw translateAwsError(error, context);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mapping EC2 shapes to the domain's facts

export function toInstanceFacts(instance: Instance): InstanceFacts {
  const tags = tagRecord(instance.Tags);
  const blockDevices: BlockDevice[] = [];
  let unmappedToEbs = 0;
  for (const mapping of instance.BlockDeviceMappings ?? []) {
    if (mapping.Ebs?.VolumeId && mapping.DeviceName) {
      blockDevices.push({ deviceName: mapping.DeviceName, volumeId: mapping.Ebs.VolumeId, deleteOnTermination: mapping.Ebs.DeleteOnTermination === true });
    } else {
      unmappedToEbs++;
    }
  }
  const reasonCode = instance.StateReason?.Code;
  return {
    instanceId: instance.InstanceId!,
    state: (instance.State?.Name ?? 'pending') as InstanceState,
    ...(reasonCode && !ORDINARY_STATE_REASONS.has(reasonCode) ? { stateReason: reasonCode } : {}),
    platform: isWindows(instance) ? 'windows' : 'linux',
    instanceType: instance.InstanceType ?? 'unknown',
    availabilityZone: instance.Placement?.AvailabilityZone ?? '',
    subnetId: instance.SubnetId || undefined,
    vpcId: instance.VpcId || undefined,
    rootDeviceType: instance.RootDeviceType === 'instance-store' ? 'instance-store' : 'ebs',
    rootDeviceName: instance.RootDeviceName,
    blockDevices,
    instanceStoreVolumeCount: unmappedToEbs,
    spot: instance.InstanceLifecycle === 'spot',
    hibernationConfigured: instance.HibernationOptions?.Configured === true,
    publicIpAddress: instance.PublicIpAddress,
    publicIpIsAutoAssigned: isAutoAssignedPublicIp(instance),
    tags,
    productCodes: (instance.ProductCodes ?? []).map((p) => p.ProductCodeId).filter((id): id is string => Boolean(id)),
    // Without the lookup (not a preflight read), membership is still known from the tag.
    autoScaling: tags['aws:autoscaling:groupName'] ? { groupName: tags['aws:autoscaling:groupName'], lifecycleState: undefined } : undefined,
    disableApiStop: false,
    shutdownBehavior: 'stop',
    launchTime: instance.LaunchTime?.toISOString(),
    ...(instance.KeyName ? { keyName: instance.KeyName } : {}),
  };
}

/**
 * `Platform` is set only for Windows (EC2 answers `windows`, the SDK's enum spells `Windows`);
 * `PlatformDetails` names it too ("Windows with SQL Server Standard"…).
 */
function isWindows(instance: Instance): boolean {
  return /windows/i.test(instance.Platform ?? '') || /windows/i.test(instance.PlatformDetails ?? '');
}

/**
 * A public IPv4 is auto-assigned (lost by a stop) when EC2 owns it: the interface association's
 * `IpOwnerId` is `amazon`. An Elastic IP is owned by the account (its id there). With a public IP
 * but no association that says who owns it, it is taken as auto-assigned: the job then warns that
 * the address may change, which is the safe mistake.
 */
function isAutoAssignedPublicIp(instance: Instance): boolean {
  const ip = instance.PublicIpAddress;
  if (!ip) return false;
  const associations = (instance.NetworkInterfaces ?? []).map((n) => n.Association).filter((a) => a !== undefined);
  const owner = associations.find((a) => a.PublicIp === ip)?.IpOwnerId;
  return owner === undefined || owner === 'amazon';
}

/**
 * Volumes carry no product codes in the EC2 API (DescribeVolumes has none; only
 * DescribeVolumeAttribute `productCodes` would, one more call on every poll of a volume move).
 * The root volume's codes are the instance's (an instance's codes come from its root AMI), which
 * the domain takes when the volume's list is empty (`snapshotTarget`), so the list stays empty.
 */
export function toVolumeFacts(volume: Volume): VolumeFacts {
  const attachments: VolumeAttachment[] = (volume.Attachments ?? []).map((a) => ({
    instanceId: a.InstanceId ?? '',
    device: a.Device ?? '',
    state: (a.State ?? 'attached') as VolumeAttachment['state'],
    deleteOnTermination: a.DeleteOnTermination === true,
  }));
  return {
    volumeId: volume.VolumeId!,
    state: (volume.State ?? 'available') as VolumeFacts['state'],
    availabilityZone: volume.AvailabilityZone ?? '',
    encrypted: volume.Encrypted === true,
    ...(volume.KmsKeyId ? { kmsKeyId: volume.KmsKeyId } : {}),
    productCodes: [],
    attachments,
  };
}

export function toImageFacts(image: Image): ImageFacts {
  const reason = image.StateReason?.Message ?? image.StateReason?.Code;
  return {
    imageId: image.ImageId!,
    name: image.Name ?? '',
    state: (image.State ?? 'pending') as ImageFacts['state'],
    ...(reason ? { stateReason: reason } : {}),
  };
}

export function tagRecord(tags: Tag[] | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) record[tag.Key] = tag.Value ?? '';
  return record;
}

export function tagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function tagSpecifications(types: NonNullable<TagSpecification['ResourceType']>[], tags: Record<string, string>): TagSpecification[] {
  return types.map((ResourceType) => ({ ResourceType, Tags: tagList(tags) }));
}

/** EC2 answers `/dev/sdf` for `/dev/sdf` but Windows-style `xvdf` as given: compare loosely. */
function sameDevice(a: string, b: string): boolean {
  const norm = (d: string) => d.replace(/^\/dev\//, '').replace(/^xvd/, 'sd');
  return norm(a) === norm(b);
}
