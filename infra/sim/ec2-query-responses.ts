/**
 * The response side of the EC2 Query protocol: the SDK's output shape of each action written as
 * EC2's XML, with its wire names (`reservationSet`, `instanceState`, `imagesSet`…) and lists as
 * `<…Set><item>…</item></…Set>`, one encoder per action. Each shape was checked against the EC2
 * API reference and the SDK's own schemas (`@aws-sdk/client-ec2`). Served by `ec2-query.ts`.
 */
import type * as EC2 from '@aws-sdk/client-ec2';

import type { Ec2Action, Ec2Actions } from './actions';

// ---- response side: SDK-shaped output → EC2 XML ----

export type Xml = string;

export function escapeXml(text: string): string {
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
      (e) => leaf('volumeId', e.VolumeId) + leaf('status', e.Status) + leaf('attachTime', e.AttachTime) + leaf('deleteOnTermination', e.DeleteOnTermination),
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
  leaf('instanceId', c.InstanceId) + node('currentState', opt(c.CurrentState, stateXml)) + node('previousState', opt(c.PreviousState, stateXml));

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
      leaf('destinationCidrBlock', route.DestinationCidrBlock) + leaf('gatewayId', route.GatewayId) + leaf('state', route.State) + leaf('origin', route.Origin),
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

export const encoders: Encoders = {
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
    set(
      'instanceTypeSet',
      o.InstanceTypes,
      (t) =>
        leaf('instanceType', t.InstanceType) +
        leaf('instanceStorageSupported', t.InstanceStorageSupported) +
        node(
          'instanceStorageInfo',
          opt(
            t.InstanceStorageInfo,
            (i) =>
              leaf('totalSizeInGB', i.TotalSizeInGB) +
              set('disks', i.Disks, (d) => leaf('sizeInGB', d.SizeInGB) + leaf('count', d.Count) + leaf('type', d.Type)),
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
    set('tagSet', o.Tags, (t) => leaf('resourceId', t.ResourceId) + leaf('resourceType', t.ResourceType) + leaf('key', t.Key) + leaf('value', t.Value)) +
    leaf('nextToken', o.NextToken),
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
  CreateSecurityGroup: (o) => leaf('return', true) + leaf('groupId', o.GroupId) + leaf('securityGroupArn', o.SecurityGroupArn) + tagSet(o.Tags),
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
