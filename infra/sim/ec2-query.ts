import type * as EC2 from '@aws-sdk/client-ec2';
import { randomUUID } from 'node:crypto';

import { isEc2Action, type Ec2Action, type Ec2Actions } from './actions';
import type { SimulatedRegion } from './region';
import { SimServiceError } from './sim-error';

/**
 * The EC2 Query protocol: form-encoded requests (`Action=…&Version=2016-11-15&InstanceId.1=…`),
 * XML responses with EC2's wire names (`reservationSet`, `instanceState`, lists as
 * `<…Set><item>…</item></…Set>`). Request and response shapes are written out per action below,
 * checked against the EC2 API reference and the SDK's own schemas (`@aws-sdk/client-ec2`).
 */

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// ---- request side: flattened query parameters → SDK-shaped input ----

/** Reads a flattened query (`Filter.1.Value.2=…`) under a prefix. */
class QueryReader {
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

const filters = (q: QueryReader): EC2.Filter[] | undefined =>
  q.list('Filter', (f) => ({ Name: f.str('Name'), Values: f.strings('Value') }));

const tag = (t: QueryReader): EC2.Tag => ({ Key: t.str('Key'), Value: t.str('Value') });

const tagSpecifications = (q: QueryReader): EC2.TagSpecification[] | undefined =>
  q.list('TagSpecification', (s) => ({ ResourceType: s.str('ResourceType') as EC2.ResourceType, Tags: s.list('Tag', tag) }));

const booleanValue = (q: QueryReader, name: string): EC2.AttributeBooleanValue | undefined =>
  q.struct(name, (v) => ({ Value: v.bool('Value') }));

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

const decoders: Decoders = {
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
function compact<T>(value: T): T {
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

// ---- response side: SDK-shaped output → EC2 XML ----

type Xml = string;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function leaf(name: string, value: string | number | boolean | Date | undefined | null): Xml {
  if (value === undefined || value === null) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return text === '' ? `<${name}/>` : `<${name}>${escapeXml(text)}</${name}>`;
}

function node(name: string, inner: Xml | undefined): Xml {
  return inner === undefined ? '' : `<${name}>${inner}</${name}>`;
}

/** An EC2 list: `<name><item>…</item>…</name>`; nothing when the list is absent. */
function set<T>(name: string, items: T[] | undefined, item: (value: T) => Xml): Xml {
  if (items === undefined) return '';
  return `<${name}>${items.map((i) => `<item>${item(i)}</item>`).join('')}</${name}>`;
}

function opt<T>(value: T | undefined, encode: (v: T) => Xml): Xml | undefined {
  return value === undefined ? undefined : encode(value);
}

const tagXml = (t: EC2.Tag): Xml => leaf('key', t.Key) + leaf('value', t.Value);
const tagSet = (tags: EC2.Tag[] | undefined): Xml => set('tagSet', tags, tagXml);
const stateXml = (s: EC2.InstanceState): Xml => leaf('code', s.Code) + leaf('name', s.Name);
const stateReasonXml = (r: EC2.StateReason): Xml => leaf('code', r.Code) + leaf('message', r.Message);
const productCodeXml = (p: EC2.ProductCode): Xml => leaf('productCode', p.ProductCodeId) + leaf('type', p.ProductCodeType);
const groupIdentifierXml = (g: EC2.GroupIdentifier): Xml => leaf('groupId', g.GroupId) + leaf('groupName', g.GroupName);
const booleanValueXml = (v: EC2.AttributeBooleanValue): Xml => leaf('value', v.Value);
const stringValueXml = (v: EC2.AttributeValue): Xml => leaf('value', v.Value);

const instanceBlockDeviceXml = (m: EC2.InstanceBlockDeviceMapping): Xml =>
  leaf('deviceName', m.DeviceName) +
  node(
    'ebs',
    opt(
      m.Ebs,
      (e) =>
        leaf('volumeId', e.VolumeId) +
        leaf('status', e.Status) +
        leaf('attachTime', e.AttachTime) +
        leaf('deleteOnTermination', e.DeleteOnTermination),
    ),
  );

const instanceXml = (i: EC2.Instance): Xml =>
  leaf('instanceId', i.InstanceId) +
  leaf('imageId', i.ImageId) +
  node('instanceState', opt(i.State, stateXml)) +
  leaf('privateDnsName', i.PrivateDnsName) +
  leaf('dnsName', i.PublicDnsName) +
  leaf('reason', i.StateTransitionReason) +
  leaf('keyName', i.KeyName) +
  leaf('amiLaunchIndex', i.AmiLaunchIndex) +
  set('productCodes', i.ProductCodes, productCodeXml) +
  leaf('instanceType', i.InstanceType) +
  leaf('launchTime', i.LaunchTime) +
  node(
    'placement',
    opt(i.Placement, (p) => leaf('availabilityZone', p.AvailabilityZone) + leaf('groupName', p.GroupName) + leaf('tenancy', p.Tenancy)),
  ) +
  leaf('platform', i.Platform) +
  leaf('platformDetails', i.PlatformDetails) +
  leaf('usageOperation', i.UsageOperation) +
  node(
    'monitoring',
    opt(i.Monitoring, (m) => leaf('state', m.State)),
  ) +
  leaf('subnetId', i.SubnetId) +
  leaf('vpcId', i.VpcId) +
  leaf('privateIpAddress', i.PrivateIpAddress) +
  leaf('ipAddress', i.PublicIpAddress) +
  leaf('sourceDestCheck', i.SourceDestCheck) +
  set('groupSet', i.SecurityGroups, groupIdentifierXml) +
  node('stateReason', opt(i.StateReason, stateReasonXml)) +
  leaf('architecture', i.Architecture) +
  leaf('rootDeviceType', i.RootDeviceType) +
  leaf('rootDeviceName', i.RootDeviceName) +
  set('blockDeviceMapping', i.BlockDeviceMappings, instanceBlockDeviceXml) +
  leaf('instanceLifecycle', i.InstanceLifecycle) +
  leaf('spotInstanceRequestId', i.SpotInstanceRequestId) +
  leaf('virtualizationType', i.VirtualizationType) +
  leaf('clientToken', i.ClientToken) +
  tagSet(i.Tags) +
  leaf('hypervisor', i.Hypervisor) +
  leaf('ebsOptimized', i.EbsOptimized) +
  leaf('enaSupport', i.EnaSupport) +
  node(
    'iamInstanceProfile',
    opt(i.IamInstanceProfile, (p) => leaf('arn', p.Arn) + leaf('id', p.Id)),
  ) +
  node(
    'hibernationOptions',
    opt(i.HibernationOptions, (h) => leaf('configured', h.Configured)),
  ) +
  node(
    'metadataOptions',
    opt(
      i.MetadataOptions,
      (m) =>
        leaf('state', m.State) +
        leaf('httpTokens', m.HttpTokens) +
        leaf('httpPutResponseHopLimit', m.HttpPutResponseHopLimit) +
        leaf('httpEndpoint', m.HttpEndpoint),
    ),
  ) +
  leaf('bootMode', i.BootMode);

const reservationXml = (r: EC2.Reservation): Xml =>
  leaf('reservationId', r.ReservationId) +
  leaf('ownerId', r.OwnerId) +
  set('groupSet', r.Groups, groupIdentifierXml) +
  set('instancesSet', r.Instances, instanceXml);

const stateChangeXml = (c: EC2.InstanceStateChange): Xml =>
  leaf('instanceId', c.InstanceId) +
  node('currentState', opt(c.CurrentState, stateXml)) +
  node('previousState', opt(c.PreviousState, stateXml));

const attachmentXml = (a: EC2.VolumeAttachment): Xml =>
  leaf('volumeId', a.VolumeId) +
  leaf('instanceId', a.InstanceId) +
  leaf('device', a.Device) +
  leaf('status', a.State) +
  leaf('attachTime', a.AttachTime) +
  leaf('deleteOnTermination', a.DeleteOnTermination);

const volumeXml = (v: EC2.Volume): Xml =>
  leaf('volumeId', v.VolumeId) +
  leaf('size', v.Size) +
  leaf('snapshotId', v.SnapshotId) +
  leaf('availabilityZone', v.AvailabilityZone) +
  leaf('status', v.State) +
  leaf('createTime', v.CreateTime) +
  set('attachmentSet', v.Attachments, attachmentXml) +
  tagSet(v.Tags) +
  leaf('volumeType', v.VolumeType) +
  leaf('iops', v.Iops) +
  leaf('throughput', v.Throughput) +
  leaf('encrypted', v.Encrypted) +
  leaf('kmsKeyId', v.KmsKeyId) +
  leaf('multiAttachEnabled', v.MultiAttachEnabled) +
  leaf('ownerId', v.OwnerId);

const imageBlockDeviceXml = (m: EC2.BlockDeviceMapping): Xml =>
  leaf('deviceName', m.DeviceName) +
  leaf('virtualName', m.VirtualName) +
  node(
    'ebs',
    opt(
      m.Ebs,
      (e) =>
        leaf('snapshotId', e.SnapshotId) +
        leaf('volumeSize', e.VolumeSize) +
        leaf('deleteOnTermination', e.DeleteOnTermination) +
        leaf('volumeType', e.VolumeType) +
        leaf('encrypted', e.Encrypted) +
        leaf('kmsKeyId', e.KmsKeyId),
    ),
  );

const imageXml = (i: EC2.Image): Xml =>
  leaf('imageId', i.ImageId) +
  leaf('imageLocation', i.ImageLocation) +
  leaf('imageState', i.State) +
  leaf('imageOwnerId', i.OwnerId) +
  leaf('creationDate', i.CreationDate) +
  leaf('isPublic', i.Public) +
  set('productCodes', i.ProductCodes, productCodeXml) +
  leaf('architecture', i.Architecture) +
  leaf('imageType', i.ImageType) +
  leaf('platform', i.Platform) +
  leaf('platformDetails', i.PlatformDetails) +
  leaf('usageOperation', i.UsageOperation) +
  leaf('imageOwnerAlias', i.ImageOwnerAlias) +
  leaf('name', i.Name) +
  leaf('description', i.Description) +
  leaf('rootDeviceType', i.RootDeviceType) +
  leaf('rootDeviceName', i.RootDeviceName) +
  set('blockDeviceMapping', i.BlockDeviceMappings, imageBlockDeviceXml) +
  leaf('virtualizationType', i.VirtualizationType) +
  leaf('hypervisor', i.Hypervisor) +
  leaf('enaSupport', i.EnaSupport) +
  leaf('sriovNetSupport', i.SriovNetSupport) +
  node('stateReason', opt(i.StateReason, stateReasonXml)) +
  leaf('sourceInstanceId', i.SourceInstanceId) +
  tagSet(i.Tags);

const snapshotXml = (s: EC2.Snapshot): Xml =>
  leaf('snapshotId', s.SnapshotId) +
  leaf('volumeId', s.VolumeId) +
  leaf('status', s.State) +
  leaf('startTime', s.StartTime) +
  leaf('progress', s.Progress) +
  leaf('ownerId', s.OwnerId) +
  leaf('ownerAlias', s.OwnerAlias) +
  leaf('volumeSize', s.VolumeSize) +
  leaf('description', s.Description) +
  leaf('encrypted', s.Encrypted) +
  leaf('kmsKeyId', s.KmsKeyId) +
  leaf('storageTier', s.StorageTier) +
  tagSet(s.Tags);

const vpcXml = (v: EC2.Vpc): Xml =>
  leaf('vpcId', v.VpcId) +
  leaf('ownerId', v.OwnerId) +
  leaf('state', v.State) +
  leaf('cidrBlock', v.CidrBlock) +
  set(
    'cidrBlockAssociationSet',
    v.CidrBlockAssociationSet,
    (a) =>
      leaf('associationId', a.AssociationId) +
      leaf('cidrBlock', a.CidrBlock) +
      node(
        'cidrBlockState',
        opt(a.CidrBlockState, (s) => leaf('state', s.State)),
      ),
  ) +
  leaf('dhcpOptionsId', v.DhcpOptionsId) +
  leaf('instanceTenancy', v.InstanceTenancy) +
  leaf('isDefault', v.IsDefault) +
  tagSet(v.Tags);

const subnetXml = (s: EC2.Subnet): Xml =>
  leaf('subnetId', s.SubnetId) +
  leaf('subnetArn', s.SubnetArn) +
  leaf('state', s.State) +
  leaf('ownerId', s.OwnerId) +
  leaf('vpcId', s.VpcId) +
  leaf('cidrBlock', s.CidrBlock) +
  leaf('availableIpAddressCount', s.AvailableIpAddressCount) +
  leaf('availabilityZone', s.AvailabilityZone) +
  leaf('availabilityZoneId', s.AvailabilityZoneId) +
  leaf('defaultForAz', s.DefaultForAz) +
  leaf('mapPublicIpOnLaunch', s.MapPublicIpOnLaunch) +
  leaf('assignIpv6AddressOnCreation', s.AssignIpv6AddressOnCreation) +
  tagSet(s.Tags);

const internetGatewayXml = (g: EC2.InternetGateway): Xml =>
  leaf('internetGatewayId', g.InternetGatewayId) +
  leaf('ownerId', g.OwnerId) +
  set('attachmentSet', g.Attachments ?? [], (a) => leaf('vpcId', a.VpcId) + leaf('state', a.State)) +
  tagSet(g.Tags);

const routeTableXml = (r: EC2.RouteTable): Xml =>
  leaf('routeTableId', r.RouteTableId) +
  leaf('vpcId', r.VpcId) +
  leaf('ownerId', r.OwnerId) +
  set(
    'routeSet',
    r.Routes,
    (route) =>
      leaf('destinationCidrBlock', route.DestinationCidrBlock) +
      leaf('gatewayId', route.GatewayId) +
      leaf('state', route.State) +
      leaf('origin', route.Origin),
  ) +
  set(
    'associationSet',
    r.Associations,
    (a) =>
      leaf('routeTableAssociationId', a.RouteTableAssociationId) +
      leaf('routeTableId', a.RouteTableId) +
      leaf('subnetId', a.SubnetId) +
      leaf('main', a.Main) +
      node(
        'associationState',
        opt(a.AssociationState, (s) => leaf('state', s.State)),
      ),
  ) +
  set('propagatingVgwSet', r.PropagatingVgws ?? [], () => '') +
  tagSet(r.Tags);

const ipPermissionXml = (p: EC2.IpPermission): Xml =>
  leaf('ipProtocol', p.IpProtocol) +
  leaf('fromPort', p.FromPort) +
  leaf('toPort', p.ToPort) +
  set('groups', p.UserIdGroupPairs ?? [], (g) => leaf('groupId', g.GroupId)) +
  set('ipRanges', p.IpRanges ?? [], (r) => leaf('cidrIp', r.CidrIp)) +
  set('ipv6Ranges', [], () => '') +
  set('prefixListIds', [], () => '');

const securityGroupXml = (g: EC2.SecurityGroup): Xml =>
  leaf('ownerId', g.OwnerId) +
  leaf('groupId', g.GroupId) +
  leaf('groupName', g.GroupName) +
  leaf('groupDescription', g.Description) +
  leaf('vpcId', g.VpcId) +
  leaf('securityGroupArn', g.SecurityGroupArn) +
  set('ipPermissions', g.IpPermissions ?? [], ipPermissionXml) +
  set('ipPermissionsEgress', g.IpPermissionsEgress ?? [], ipPermissionXml) +
  tagSet(g.Tags);

const vpcEndpointXml = (e: EC2.VpcEndpoint): Xml =>
  leaf('vpcEndpointId', e.VpcEndpointId) +
  leaf('vpcEndpointType', e.VpcEndpointType) +
  leaf('vpcId', e.VpcId) +
  leaf('serviceName', e.ServiceName) +
  leaf('state', e.State) +
  set('routeTableIdSet', e.RouteTableIds, (id) => escapeXml(id)) +
  set('subnetIdSet', e.SubnetIds, (id) => escapeXml(id)) +
  set('groupSet', e.Groups, (g) => leaf('groupId', g.GroupId) + leaf('groupName', g.GroupName)) +
  leaf('privateDnsEnabled', e.PrivateDnsEnabled) +
  leaf('requesterManaged', e.RequesterManaged) +
  set('dnsEntrySet', e.DnsEntries, (d) => leaf('dnsName', d.DnsName) + leaf('hostedZoneId', d.HostedZoneId)) +
  leaf('creationTimestamp', e.CreationTimestamp) +
  leaf('ownerId', e.OwnerId) +
  tagSet(e.Tags);

const availabilityZoneXml = (z: EC2.AvailabilityZone): Xml =>
  leaf('zoneName', z.ZoneName) +
  leaf('zoneId', z.ZoneId) +
  leaf('zoneState', z.State) +
  leaf('optInStatus', z.OptInStatus) +
  leaf('regionName', z.RegionName) +
  leaf('groupName', z.GroupName) +
  leaf('networkBorderGroup', z.NetworkBorderGroup) +
  leaf('zoneType', z.ZoneType) +
  set('messageSet', [], () => '');

const returnTrue = (): Xml => leaf('return', true);

type Encoders = { [K in Ec2Action]: (output: Ec2Actions[K][1]) => Xml };

const encoders: Encoders = {
  DescribeInstances: (o) => set('reservationSet', o.Reservations, reservationXml) + leaf('nextToken', o.NextToken),
  DescribeInstanceAttribute: (o) =>
    leaf('instanceId', o.InstanceId) +
    node('instanceType', opt(o.InstanceType, stringValueXml)) +
    node('userData', opt(o.UserData, stringValueXml)) +
    node('disableApiTermination', opt(o.DisableApiTermination, booleanValueXml)) +
    node('disableApiStop', opt(o.DisableApiStop, booleanValueXml)) +
    node('instanceInitiatedShutdownBehavior', opt(o.InstanceInitiatedShutdownBehavior, stringValueXml)) +
    node('rootDeviceName', opt(o.RootDeviceName, stringValueXml)) +
    set('blockDeviceMapping', o.BlockDeviceMappings, instanceBlockDeviceXml) +
    set('productCodes', o.ProductCodes, productCodeXml) +
    node('sourceDestCheck', opt(o.SourceDestCheck, booleanValueXml)) +
    set('groupSet', o.Groups, groupIdentifierXml) +
    node('ebsOptimized', opt(o.EbsOptimized, booleanValueXml)) +
    node('enaSupport', opt(o.EnaSupport, booleanValueXml)),
  DescribeInstanceTypes: (o) =>
    set('instanceTypeSet', o.InstanceTypes, (t) =>
      leaf('instanceType', t.InstanceType) +
      leaf('instanceStorageSupported', t.InstanceStorageSupported) +
      node(
        'instanceStorageInfo',
        opt(t.InstanceStorageInfo, (i) =>
          leaf('totalSizeInGB', i.TotalSizeInGB) + set('disks', i.Disks, (d) => leaf('sizeInGB', d.SizeInGB) + leaf('count', d.Count) + leaf('type', d.Type)),
        ),
      ),
    ),
  ModifyInstanceAttribute: returnTrue,
  RunInstances: reservationXml,
  StartInstances: (o) => set('instancesSet', o.StartingInstances, stateChangeXml),
  StopInstances: (o) => set('instancesSet', o.StoppingInstances, stateChangeXml),
  TerminateInstances: (o) => set('instancesSet', o.TerminatingInstances, stateChangeXml),
  RebootInstances: returnTrue,
  GetPasswordData: (o) => leaf('instanceId', o.InstanceId) + leaf('timestamp', o.Timestamp) + leaf('passwordData', o.PasswordData),
  DescribeVolumes: (o) => set('volumeSet', o.Volumes, volumeXml) + leaf('nextToken', o.NextToken),
  AttachVolume: attachmentXml,
  DetachVolume: attachmentXml,
  CreateImage: (o) => leaf('imageId', o.ImageId),
  DescribeImages: (o) => set('imagesSet', o.Images, imageXml) + leaf('nextToken', o.NextToken),
  DeregisterImage: (o) =>
    leaf('return', o.Return) +
    set('deleteSnapshotResultSet', o.DeleteSnapshotResults, (r) => leaf('snapshotId', r.SnapshotId) + leaf('returnCode', r.ReturnCode)),
  DescribeSnapshots: (o) => set('snapshotSet', o.Snapshots, snapshotXml) + leaf('nextToken', o.NextToken),
  CreateTags: returnTrue,
  DeleteTags: returnTrue,
  DescribeTags: (o) =>
    set(
      'tagSet',
      o.Tags,
      (t) => leaf('resourceId', t.ResourceId) + leaf('resourceType', t.ResourceType) + leaf('key', t.Key) + leaf('value', t.Value),
    ) + leaf('nextToken', o.NextToken),
  DescribeVpcs: (o) => set('vpcSet', o.Vpcs, vpcXml),
  CreateVpc: (o) => node('vpc', opt(o.Vpc, vpcXml)),
  DeleteVpc: returnTrue,
  DescribeSubnets: (o) => set('subnetSet', o.Subnets, subnetXml),
  CreateSubnet: (o) => node('subnet', opt(o.Subnet, subnetXml)),
  DeleteSubnet: returnTrue,
  ModifySubnetAttribute: returnTrue,
  CreateInternetGateway: (o) => node('internetGateway', opt(o.InternetGateway, internetGatewayXml)),
  AttachInternetGateway: returnTrue,
  DetachInternetGateway: returnTrue,
  DeleteInternetGateway: returnTrue,
  DescribeInternetGateways: (o) => set('internetGatewaySet', o.InternetGateways, internetGatewayXml),
  CreateRouteTable: (o) => node('routeTable', opt(o.RouteTable, routeTableXml)) + leaf('clientToken', o.ClientToken),
  CreateRoute: (o) => leaf('return', o.Return),
  AssociateRouteTable: (o) =>
    leaf('associationId', o.AssociationId) +
    node(
      'associationState',
      opt(o.AssociationState, (s) => leaf('state', s.State)),
    ),
  DisassociateRouteTable: returnTrue,
  DeleteRouteTable: returnTrue,
  DescribeRouteTables: (o) => set('routeTableSet', o.RouteTables, routeTableXml),
  CreateSecurityGroup: (o) =>
    leaf('return', true) + leaf('groupId', o.GroupId) + leaf('securityGroupArn', o.SecurityGroupArn) + tagSet(o.Tags),
  DeleteSecurityGroup: (o) => leaf('return', o.Return) + leaf('groupId', o.GroupId),
  DescribeSecurityGroups: (o) => set('securityGroupInfo', o.SecurityGroups, securityGroupXml),
  CreateVpcEndpoint: (o) => node('vpcEndpoint', opt(o.VpcEndpoint, vpcEndpointXml)) + leaf('clientToken', o.ClientToken),
  DeleteVpcEndpoints: (o) =>
    set(
      'unsuccessful',
      o.Unsuccessful,
      (u) =>
        leaf('resourceId', u.ResourceId) +
        node(
          'error',
          opt(u.Error, (e) => leaf('code', e.Code) + leaf('message', e.Message)),
        ),
    ),
  DescribeVpcEndpoints: (o) => set('vpcEndpointSet', o.VpcEndpoints, vpcEndpointXml),
  DescribeAvailabilityZones: (o) => set('availabilityZoneInfo', o.AvailabilityZones, availabilityZoneXml),
};

// ---- the endpoint ----

const XML_HEADERS = { 'content-type': 'text/xml;charset=UTF-8' };

function errorResponse(error: SimServiceError, requestId: string): WireResponse {
  return {
    status: error.status,
    headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Response><Errors><Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error></Errors>` +
      `<RequestID>${requestId}</RequestID></Response>`,
  };
}

/** Serves one EC2 Query request body (`application/x-www-form-urlencoded`). */
export function handleEc2Query(region: SimulatedRegion, body: string): WireResponse {
  const requestId = randomUUID();
  const params = new Map(new URLSearchParams(body));
  const action = params.get('Action') ?? '';
  try {
    const q = new QueryReader(params);
    // An unknown action still goes to the region, which records the call and answers InvalidAction.
    const input = isEc2Action(action)
      ? compact({ ...(decoders[action] as (q: QueryReader) => object)(q), DryRun: q.bool('DryRun') })
      : Object.fromEntries(params);
    const output = region.invoke('ec2', action, input, requestId);
    const inner = (encoders[action as Ec2Action] as (o: unknown) => Xml)(output);
    return {
      status: 200,
      headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
      body:
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<${action}Response xmlns="${XMLNS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`,
    };
  } catch (error) {
    if (error instanceof SimServiceError) return errorResponse(error, requestId);
    const message = error instanceof Error ? error.message : String(error);
    return errorResponse(new SimServiceError('InternalError', `An internal error has occurred: ${message}`, 500), requestId);
  }
}
