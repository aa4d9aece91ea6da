/**
 * The request side of the EC2 Query protocol: a form-encoded body's flattened parameters
 * (`InstanceId.1=…`, `Filter.1.Value.2=…`, `BlockDeviceMapping.1.Ebs.VolumeSize=…`) read into the
 * SDK's input shape of each action, one decoder per action, with the members absent on the wire
 * left out. Served by `ec2-query.ts`; the responses are written by `ec2-query-responses.ts`.
 */
import type * as EC2 from '@aws-sdk/client-ec2';

import type { Ec2Action, Ec2Actions } from './actions';

// ---- request side: flattened query parameters → SDK-shaped input ----

/** Reads a flattened query (`Filter.1.Value.2=…`) under a prefix. */
export class QueryReader {
  constructor(
    private readonly params: Map<string, string>,
    private readonly prefix = '',
  ) {}

  str(name: string): string | undefined {
    return this.params.get(this.prefix + name);
  }

  bool(name: string): boolean | undefined {
    const value = this.str(name);
    return value === undefined ? undefined : value === 'true';
  }

  int(name: string): number | undefined {
    const value = this.str(name);
    return value === undefined ? undefined : Number(value);
  }

  private indexes(name: string): number[] {
    const start = `${this.prefix}${name}.`;
    const found = new Set<number>();
    for (const key of this.params.keys()) {
      if (!key.startsWith(start)) continue;
      const index = key.slice(start.length).split('.')[0];
      if (/^\d+$/.test(index)) found.add(Number(index));
    }
    return [...found].sort((a, b) => a - b);
  }

  /** `Name.1`, `Name.2`… as strings; undefined when none is present. */
  strings(name: string): string[] | undefined {
    const indexes = this.indexes(name);
    return indexes.length ? indexes.map((i) => this.str(`${name}.${i}`) ?? '') : undefined;
  }

  /** `Name.1.Field`, `Name.2.Field`… each read as a structure. */
  list<T>(name: string, read: (r: QueryReader) => T): T[] | undefined {
    const indexes = this.indexes(name);
    return indexes.length ? indexes.map((i) => read(new QueryReader(this.params, `${this.prefix}${name}.${i}.`))) : undefined;
  }

  /** `Name.Field…` as a structure; undefined when no member is present. */
  struct<T>(name: string, read: (r: QueryReader) => T): T | undefined {
    const start = `${this.prefix}${name}.`;
    for (const key of this.params.keys()) {
      if (key.startsWith(start)) return read(new QueryReader(this.params, start));
    }
    return undefined;
  }
}

const filters = (q: QueryReader): EC2.Filter[] | undefined => q.list('Filter', (f) => ({ Name: f.str('Name'), Values: f.strings('Value') }));

const tag = (t: QueryReader): EC2.Tag => ({ Key: t.str('Key'), Value: t.str('Value') });

const tagSpecifications = (q: QueryReader): EC2.TagSpecification[] | undefined =>
  q.list('TagSpecification', (s) => ({ ResourceType: s.str('ResourceType') as EC2.ResourceType, Tags: s.list('Tag', tag) }));

const booleanValue = (q: QueryReader, name: string): EC2.AttributeBooleanValue | undefined => q.struct(name, (v) => ({ Value: v.bool('Value') }));

const stringValue = (q: QueryReader, name: string): EC2.AttributeValue | undefined => q.struct(name, (v) => ({ Value: v.str('Value') }));

const blockDeviceMappings = (q: QueryReader): EC2.BlockDeviceMapping[] | undefined =>
  q.list('BlockDeviceMapping', (m) => ({
    DeviceName: m.str('DeviceName'),
    VirtualName: m.str('VirtualName'),
    NoDevice: m.str('NoDevice'),
    Ebs: m.struct('Ebs', (e) => ({
      DeleteOnTermination: e.bool('DeleteOnTermination'),
      VolumeSize: e.int('VolumeSize'),
      VolumeType: e.str('VolumeType') as EC2.VolumeType,
      Encrypted: e.bool('Encrypted'),
      KmsKeyId: e.str('KmsKeyId'),
      SnapshotId: e.str('SnapshotId'),
      Iops: e.int('Iops'),
      Throughput: e.int('Throughput'),
    })),
  }));

const instanceIds = (q: QueryReader) => ({ InstanceIds: q.strings('InstanceId') });

type Decoders = { [K in Ec2Action]: (q: QueryReader) => Ec2Actions[K][0] };

export const decoders: Decoders = {
  DescribeInstances: (q) => ({ ...instanceIds(q), Filters: filters(q), MaxResults: q.int('MaxResults'), NextToken: q.str('NextToken') }),
  DescribeInstanceAttribute: (q) => ({ InstanceId: q.str('InstanceId'), Attribute: q.str('Attribute') as EC2.InstanceAttributeName }),
  DescribeInstanceTypes: (q) => ({ InstanceTypes: q.strings('InstanceType') as EC2._InstanceType[] | undefined }),
  ModifyInstanceAttribute: (q) => ({
    InstanceId: q.str('InstanceId'),
    Attribute: q.str('Attribute') as EC2.InstanceAttributeName,
    Value: q.str('Value'),
    BlockDeviceMappings: q.list('BlockDeviceMapping', (m) => ({
      DeviceName: m.str('DeviceName'),
      Ebs: m.struct('Ebs', (e) => ({ VolumeId: e.str('VolumeId'), DeleteOnTermination: e.bool('DeleteOnTermination') })),
    })),
    DisableApiStop: booleanValue(q, 'DisableApiStop'),
    DisableApiTermination: booleanValue(q, 'DisableApiTermination'),
    InstanceInitiatedShutdownBehavior: stringValue(q, 'InstanceInitiatedShutdownBehavior'),
    InstanceType: stringValue(q, 'InstanceType'),
    UserData: q.struct('UserData', (v) => ({ Value: Buffer.from(v.str('Value') ?? '', 'base64') })),
    Groups: q.strings('GroupId'),
    EbsOptimized: booleanValue(q, 'EbsOptimized'),
    SourceDestCheck: booleanValue(q, 'SourceDestCheck'),
  }),
  RunInstances: (q) => ({
    ImageId: q.str('ImageId'),
    InstanceType: q.str('InstanceType') as EC2._InstanceType,
    MinCount: q.int('MinCount'),
    MaxCount: q.int('MaxCount'),
    KeyName: q.str('KeyName'),
    SubnetId: q.str('SubnetId'),
    SecurityGroupIds: q.strings('SecurityGroupId'),
    SecurityGroups: q.strings('SecurityGroup'),
    UserData: q.str('UserData'),
    ClientToken: q.str('ClientToken'),
    DisableApiStop: q.bool('DisableApiStop'),
    DisableApiTermination: q.bool('DisableApiTermination'),
    InstanceInitiatedShutdownBehavior: q.str('InstanceInitiatedShutdownBehavior') as EC2.ShutdownBehavior,
    EbsOptimized: q.bool('EbsOptimized'),
    IamInstanceProfile: q.struct('IamInstanceProfile', (p) => ({ Arn: p.str('Arn'), Name: p.str('Name') })),
    TagSpecifications: tagSpecifications(q),
    MetadataOptions: q.struct('MetadataOptions', (m) => ({
      HttpTokens: m.str('HttpTokens') as EC2.HttpTokensState,
      HttpPutResponseHopLimit: m.int('HttpPutResponseHopLimit'),
      HttpEndpoint: m.str('HttpEndpoint') as EC2.InstanceMetadataEndpointState,
      InstanceMetadataTags: m.str('InstanceMetadataTags') as EC2.InstanceMetadataTagsState,
    })),
    Placement: q.struct('Placement', (p) => ({ AvailabilityZone: p.str('AvailabilityZone') })),
    BlockDeviceMappings: blockDeviceMappings(q),
    NetworkInterfaces: q.list('NetworkInterface', (n) => ({
      DeviceIndex: n.int('DeviceIndex'),
      SubnetId: n.str('SubnetId'),
      AssociatePublicIpAddress: n.bool('AssociatePublicIpAddress'),
      Groups: n.strings('SecurityGroupId'),
      DeleteOnTermination: n.bool('DeleteOnTermination'),
    })),
    InstanceMarketOptions: q.struct('InstanceMarketOptions', (m) => ({ MarketType: m.str('MarketType') as EC2.MarketType })),
    HibernationOptions: q.struct('HibernationOptions', (h) => ({ Configured: h.bool('Configured') })),
  }),
  StartInstances: (q) => instanceIds(q),
  StopInstances: (q) => ({ ...instanceIds(q), Force: q.bool('Force'), Hibernate: q.bool('Hibernate') }),
  TerminateInstances: (q) => instanceIds(q),
  RebootInstances: (q) => instanceIds(q),
  GetPasswordData: (q) => ({ InstanceId: q.str('InstanceId') }),
  DescribeVolumes: (q) => ({
    VolumeIds: q.strings('VolumeId'),
    Filters: filters(q),
    MaxResults: q.int('MaxResults'),
    NextToken: q.str('NextToken'),
  }),
  AttachVolume: (q) => ({ Device: q.str('Device'), InstanceId: q.str('InstanceId'), VolumeId: q.str('VolumeId') }),
  DetachVolume: (q) => ({ VolumeId: q.str('VolumeId'), InstanceId: q.str('InstanceId'), Device: q.str('Device'), Force: q.bool('Force') }),
  CreateImage: (q) => ({
    InstanceId: q.str('InstanceId'),
    Name: q.str('Name'),
    Description: q.str('Description'),
    NoReboot: q.bool('NoReboot'),
    TagSpecifications: tagSpecifications(q),
    BlockDeviceMappings: blockDeviceMappings(q),
  }),
  DescribeImages: (q) => ({
    ImageIds: q.strings('ImageId'),
    Owners: q.strings('Owner'),
    ExecutableUsers: q.strings('ExecutableBy'),
    Filters: filters(q),
    IncludeDeprecated: q.bool('IncludeDeprecated'),
    MaxResults: q.int('MaxResults'),
    NextToken: q.str('NextToken'),
  }),
  DeregisterImage: (q) => ({ ImageId: q.str('ImageId'), DeleteAssociatedSnapshots: q.bool('DeleteAssociatedSnapshots') }),
  DescribeSnapshots: (q) => ({
    SnapshotIds: q.strings('SnapshotId'),
    OwnerIds: q.strings('Owner'),
    Filters: filters(q),
    MaxResults: q.int('MaxResults'),
    NextToken: q.str('NextToken'),
  }),
  CreateTags: (q) => ({ Resources: q.strings('ResourceId'), Tags: q.list('Tag', tag) }),
  DeleteTags: (q) => ({ Resources: q.strings('ResourceId'), Tags: q.list('Tag', tag) }),
  DescribeTags: (q) => ({ Filters: filters(q), MaxResults: q.int('MaxResults'), NextToken: q.str('NextToken') }),
  DescribeVpcs: (q) => ({ VpcIds: q.strings('VpcId'), Filters: filters(q) }),
  CreateVpc: (q) => ({
    CidrBlock: q.str('CidrBlock'),
    TagSpecifications: tagSpecifications(q),
    InstanceTenancy: q.str('InstanceTenancy') as EC2.Tenancy,
  }),
  DeleteVpc: (q) => ({ VpcId: q.str('VpcId') }),
  DescribeSubnets: (q) => ({ SubnetIds: q.strings('SubnetId'), Filters: filters(q) }),
  CreateSubnet: (q) => ({
    VpcId: q.str('VpcId'),
    CidrBlock: q.str('CidrBlock'),
    AvailabilityZone: q.str('AvailabilityZone'),
    TagSpecifications: tagSpecifications(q),
  }),
  DeleteSubnet: (q) => ({ SubnetId: q.str('SubnetId') }),
  ModifySubnetAttribute: (q) => ({ SubnetId: q.str('SubnetId'), MapPublicIpOnLaunch: booleanValue(q, 'MapPublicIpOnLaunch') }),
  CreateInternetGateway: (q) => ({ TagSpecifications: tagSpecifications(q) }),
  AttachInternetGateway: (q) => ({ InternetGatewayId: q.str('InternetGatewayId'), VpcId: q.str('VpcId') }),
  DetachInternetGateway: (q) => ({ InternetGatewayId: q.str('InternetGatewayId'), VpcId: q.str('VpcId') }),
  DeleteInternetGateway: (q) => ({ InternetGatewayId: q.str('InternetGatewayId') }),
  DescribeInternetGateways: (q) => ({ InternetGatewayIds: q.strings('InternetGatewayId'), Filters: filters(q) }),
  CreateRouteTable: (q) => ({ VpcId: q.str('VpcId'), TagSpecifications: tagSpecifications(q), ClientToken: q.str('ClientToken') }),
  CreateRoute: (q) => ({
    RouteTableId: q.str('RouteTableId'),
    DestinationCidrBlock: q.str('DestinationCidrBlock'),
    GatewayId: q.str('GatewayId'),
  }),
  AssociateRouteTable: (q) => ({ RouteTableId: q.str('RouteTableId'), SubnetId: q.str('SubnetId') }),
  DisassociateRouteTable: (q) => ({ AssociationId: q.str('AssociationId') }),
  DeleteRouteTable: (q) => ({ RouteTableId: q.str('RouteTableId') }),
  DescribeRouteTables: (q) => ({ RouteTableIds: q.strings('RouteTableId'), Filters: filters(q) }),
  CreateSecurityGroup: (q) => ({
    GroupName: q.str('GroupName'),
    Description: q.str('GroupDescription'),
    VpcId: q.str('VpcId'),
    TagSpecifications: tagSpecifications(q),
  }),
  DeleteSecurityGroup: (q) => ({ GroupId: q.str('GroupId'), GroupName: q.str('GroupName') }),
  DescribeSecurityGroups: (q) => ({ GroupIds: q.strings('GroupId'), GroupNames: q.strings('GroupName'), Filters: filters(q) }),
  CreateVpcEndpoint: (q) => ({
    VpcId: q.str('VpcId'),
    VpcEndpointType: q.str('VpcEndpointType') as EC2.VpcEndpointType,
    ServiceName: q.str('ServiceName'),
    RouteTableIds: q.strings('RouteTableId'),
    SubnetIds: q.strings('SubnetId'),
    SecurityGroupIds: q.strings('SecurityGroupId'),
    PolicyDocument: q.str('PolicyDocument'),
    PrivateDnsEnabled: q.bool('PrivateDnsEnabled'),
    ClientToken: q.str('ClientToken'),
    TagSpecifications: tagSpecifications(q),
  }),
  DeleteVpcEndpoints: (q) => ({ VpcEndpointIds: q.strings('VpcEndpointId') }),
  DescribeVpcEndpoints: (q) => ({ VpcEndpointIds: q.strings('VpcEndpointId'), Filters: filters(q) }),
  DescribeAvailabilityZones: (q) => ({
    ZoneNames: q.strings('ZoneName'),
    ZoneIds: q.strings('ZoneId'),
    Filters: filters(q),
    AllAvailabilityZones: q.bool('AllAvailabilityZones'),
  }),
};

/** Drops members that were absent on the wire, as the SDK's own input would not have them. */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(compact) as T;
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, compact(v)]),
    ) as T;
  }
  return value;
}
