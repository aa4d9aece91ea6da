/**
 * Instances as EC2 answers them: the SDK's `Instance` and `Reservation` shapes of a record (DNS
 * names, product codes that follow the volumes, block device mappings), and DescribeInstances
 * with its filters and paging. RunInstances answers with these shapes too (`ec2-instances.ts`),
 * and DescribeInstanceAttribute reuses the mapping and product code shapes
 * (`ec2-instance-attributes.ts`).
 */
import type {
  _InstanceType,
  ArchitectureValues,
  AttachmentStatus,
  DescribeInstancesRequest,
  DescribeInstancesResult,
  Instance,
  ProductCode,
  Reservation,
} from '@aws-sdk/client-ec2';

import type { RegionContext } from './context';
import { attachmentShape, volumesAttachedTo } from './ec2-volumes';
import { applyFilters, type FilterSpec } from './filters';
import { requireInstances } from './lookup';
import { fail } from './sim-error';
import { INSTANCE_STATE_CODES, type InstanceRecord, type ProductCodeRecord } from './state';
import { toTagList } from './tags';

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
export function productCodesOf(ctx: RegionContext, instance: InstanceRecord): ProductCodeRecord[] {
  const all = [...instance.productCodes, ...volumesAttachedTo(ctx, instance.instanceId).flatMap((v) => v.productCodes)];
  return all.filter((code, i) => all.findIndex((c) => c.id === code.id) === i);
}

export function productCodeShapes(codes: ProductCodeRecord[]): ProductCode[] {
  return codes.map((c) => ({ ProductCodeId: c.id, ProductCodeType: c.type }));
}

export function blockDeviceMappingShapes(ctx: RegionContext, instance: InstanceRecord): Instance['BlockDeviceMappings'] {
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
    SecurityGroups: terminated ? [] : instance.securityGroupIds.map((id) => ({ GroupId: id, GroupName: ctx.state.securityGroups[id]?.groupName ?? '' })),
    SourceDestCheck: true,
    Hypervisor: 'xen',
    EbsOptimized: instance.ebsOptimized,
    EnaSupport: true,
    IamInstanceProfile: instance.iamInstanceProfile ? { Arn: instance.iamInstanceProfile.arn, Id: instance.iamInstanceProfile.id } : undefined,
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

export function reservationShape(ctx: RegionContext, instances: InstanceRecord[]): Reservation {
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
  const { items, next } = instancePage(
    matching.sort((a, b) => a.launchTime - b.launchTime),
    input,
  );
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
  if (max !== undefined && input.InstanceIds?.length)
    fail('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
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
