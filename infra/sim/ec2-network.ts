import type {
  AssociateRouteTableRequest,
  AttachmentStatus,
  AssociateRouteTableResult,
  AttachInternetGatewayRequest,
  AvailabilityZone,
  CreateInternetGatewayRequest,
  CreateInternetGatewayResult,
  CreateRouteRequest,
  CreateRouteResult,
  CreateRouteTableRequest,
  CreateRouteTableResult,
  CreateSecurityGroupRequest,
  CreateSecurityGroupResult,
  CreateSubnetRequest,
  CreateSubnetResult,
  CreateVpcEndpointRequest,
  CreateVpcEndpointResult,
  CreateVpcRequest,
  CreateVpcResult,
  DeleteInternetGatewayRequest,
  DeleteRouteTableRequest,
  DeleteSecurityGroupRequest,
  DeleteSecurityGroupResult,
  DeleteSubnetRequest,
  DeleteVpcEndpointsRequest,
  DeleteVpcEndpointsResult,
  DeleteVpcRequest,
  DescribeAvailabilityZonesRequest,
  DescribeAvailabilityZonesResult,
  DescribeInternetGatewaysRequest,
  DescribeInternetGatewaysResult,
  DescribeRouteTablesRequest,
  DescribeRouteTablesResult,
  DescribeSecurityGroupsRequest,
  DescribeSecurityGroupsResult,
  DescribeSubnetsRequest,
  DescribeSubnetsResult,
  DescribeVpcEndpointsRequest,
  DescribeVpcEndpointsResult,
  DescribeVpcsRequest,
  DescribeVpcsResult,
  DetachInternetGatewayRequest,
  DisassociateRouteTableRequest,
  InternetGateway,
  IpPermission,
  ModifySubnetAttributeRequest,
  RouteTable,
  SecurityGroup,
  Subnet,
  Vpc,
  VpcEndpoint,
} from '@aws-sdk/client-ec2';

import { cidrContains, cidrHost, cidrOverlaps, cidrSize, parseCidr } from './cidr';
import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import {
  pickByIds,
  recallClientToken,
  rememberClientToken,
  requireInternetGateway,
  requireRouteTable,
  requireSecurityGroup,
  requireSubnet,
  requireVpc,
} from './lookup';
import { fail } from './sim-error';
import type {
  InternetGatewayRecord,
  IpPermissionRecord,
  RouteTableRecord,
  SecurityGroupRecord,
  SubnetRecord,
  TagMap,
  VpcEndpointRecord,
  VpcRecord,
} from './state';
import { tagsFromSpecifications, toTagList } from './tags';

/** Zone id as AWS names them (`use1-az1`), from the region name and the zone's position. */
export function availabilityZoneId(regionName: string, zoneName: string, zones: string[]): string {
  const [area = '', direction = '', number = ''] = regionName.split('-');
  return `${area}${direction.charAt(0)}${number}-az${zones.indexOf(zoneName) + 1}`;
}

function requireZone(ctx: RegionContext, zone: string): void {
  if (!ctx.config.availabilityZones.includes(zone)) {
    fail(
      'InvalidParameterValue',
      `Value (${zone}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${ctx.config.availabilityZones.join(', ')}.`,
    );
  }
}

// ---- records → EC2 shapes ----

function vpcShape(ctx: RegionContext, vpc: VpcRecord): Vpc {
  return {
    VpcId: vpc.vpcId,
    OwnerId: ctx.config.accountId,
    State: vpc.state,
    CidrBlock: vpc.cidrBlock,
    CidrBlockAssociationSet: [{ AssociationId: vpc.cidrAssociationId, CidrBlock: vpc.cidrBlock, CidrBlockState: { State: 'associated' } }],
    DhcpOptionsId: 'dopt-0000000000000000d',
    InstanceTenancy: 'default',
    IsDefault: vpc.isDefault,
    Tags: toTagList(vpc.tags),
  };
}

function subnetShape(ctx: RegionContext, subnet: SubnetRecord): Subnet {
  const used = Object.values(ctx.state.instances).filter((i) => i.subnetId === subnet.subnetId && i.state !== 'terminated').length;
  return {
    SubnetId: subnet.subnetId,
    SubnetArn: `arn:aws:ec2:${ctx.config.regionName}:${ctx.config.accountId}:subnet/${subnet.subnetId}`,
    VpcId: subnet.vpcId,
    State: 'available',
    CidrBlock: subnet.cidrBlock,
    AvailabilityZone: subnet.availabilityZone,
    AvailabilityZoneId: availabilityZoneId(ctx.config.regionName, subnet.availabilityZone, ctx.config.availabilityZones),
    AvailableIpAddressCount: cidrSize(parseCidr(subnet.cidrBlock)) - 5 - used,
    DefaultForAz: subnet.defaultForAz,
    MapPublicIpOnLaunch: subnet.mapPublicIpOnLaunch,
    OwnerId: ctx.config.accountId,
    AssignIpv6AddressOnCreation: false,
    Tags: toTagList(subnet.tags),
  };
}

function internetGatewayShape(ctx: RegionContext, igw: InternetGatewayRecord): InternetGateway {
  return {
    InternetGatewayId: igw.internetGatewayId,
    OwnerId: ctx.config.accountId,
    // Internet gateway attachments report `available`, outside the SDK's AttachmentStatus enum.
    Attachments: igw.attachedVpcId ? [{ State: 'available' as AttachmentStatus, VpcId: igw.attachedVpcId }] : undefined,
    Tags: toTagList(igw.tags),
  };
}

function routeTableShape(ctx: RegionContext, rt: RouteTableRecord): RouteTable {
  return {
    RouteTableId: rt.routeTableId,
    VpcId: rt.vpcId,
    OwnerId: ctx.config.accountId,
    Routes: rt.routes.map((r) => ({
      DestinationCidrBlock: r.destinationCidrBlock,
      GatewayId: r.gatewayId,
      Origin: r.origin,
      // A route through a gateway that is no longer attached is a blackhole.
      State: r.gatewayId === 'local' || ctx.state.internetGateways[r.gatewayId]?.attachedVpcId === rt.vpcId ? 'active' : 'blackhole',
    })),
    Associations: rt.associations.map((a) => ({
      Main: a.main,
      RouteTableAssociationId: a.associationId,
      RouteTableId: rt.routeTableId,
      SubnetId: a.subnetId,
      AssociationState: { State: 'associated' },
    })),
    PropagatingVgws: undefined,
    Tags: toTagList(rt.tags),
  };
}

function permissionShape(p: IpPermissionRecord): IpPermission {
  return {
    IpProtocol: p.ipProtocol,
    FromPort: p.fromPort,
    ToPort: p.toPort,
    IpRanges: p.cidrs.length ? p.cidrs.map((CidrIp) => ({ CidrIp })) : undefined,
    UserIdGroupPairs: p.groupIds.length ? p.groupIds.map((GroupId) => ({ GroupId })) : undefined,
  };
}

function securityGroupShape(ctx: RegionContext, sg: SecurityGroupRecord): SecurityGroup {
  return {
    GroupId: sg.groupId,
    GroupName: sg.groupName,
    Description: sg.description,
    VpcId: sg.vpcId,
    OwnerId: ctx.config.accountId,
    SecurityGroupArn: `arn:aws:ec2:${ctx.config.regionName}:${ctx.config.accountId}:security-group/${sg.groupId}`,
    IpPermissions: sg.ingress.length ? sg.ingress.map(permissionShape) : undefined,
    IpPermissionsEgress: sg.egress.length ? sg.egress.map(permissionShape) : undefined,
    Tags: toTagList(sg.tags),
  };
}

function vpcEndpointShape(ctx: RegionContext, e: VpcEndpointRecord): VpcEndpoint {
  const service = e.serviceName.split('.').pop() ?? '';
  return {
    VpcEndpointId: e.vpcEndpointId,
    VpcEndpointType: e.type,
    VpcId: e.vpcId,
    ServiceName: e.serviceName,
    // EC2 answers lowercase endpoint states (`pending`, `available`, `deleting`).
    State: e.state as VpcEndpoint['State'],
    RouteTableIds: e.type === 'Gateway' ? e.routeTableIds : undefined,
    SubnetIds: e.type === 'Interface' ? e.subnetIds : undefined,
    Groups:
      e.type === 'Interface'
        ? e.securityGroupIds.map((GroupId) => ({ GroupId, GroupName: ctx.state.securityGroups[GroupId]?.groupName }))
        : undefined,
    PrivateDnsEnabled: e.privateDnsEnabled,
    RequesterManaged: false,
    DnsEntries:
      e.type === 'Interface'
        ? [{ DnsName: `${e.vpcEndpointId}.${service}.${ctx.config.regionName}.vpce.amazonaws.com`, HostedZoneId: 'Z7HUB22UULQXV' }]
        : undefined,
    CreationTimestamp: new Date(e.creationTimestamp),
    OwnerId: ctx.config.accountId,
    Tags: toTagList(e.tags),
  };
}

// ---- VPCs ----

/** Makes a VPC with its main route table and default security group, as CreateVpc does. */
export function createVpcRecord(ctx: RegionContext, cidrBlock: string, isDefault: boolean, tags: TagMap): VpcRecord {
  const vpcId = ctx.ids.resourceId('vpc');
  const routeTableId = ctx.ids.resourceId('rtb');
  const groupId = ctx.ids.resourceId('sg');
  ctx.state.routeTables[routeTableId] = {
    routeTableId,
    vpcId,
    routes: [{ destinationCidrBlock: cidrBlock, gatewayId: 'local', origin: 'CreateRouteTable' }],
    associations: [{ associationId: ctx.ids.resourceId('rtbassoc'), main: true }],
    tags: {},
  };
  ctx.state.securityGroups[groupId] = {
    groupId,
    groupName: 'default',
    description: 'default VPC security group',
    vpcId,
    isDefault: true,
    tags: {},
    ingress: [{ ipProtocol: '-1', cidrs: [], groupIds: [groupId] }],
    egress: [{ ipProtocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
  };
  const vpc: VpcRecord = {
    vpcId,
    cidrBlock,
    isDefault,
    state: 'available',
    tags,
    mainRouteTableId: routeTableId,
    defaultSecurityGroupId: groupId,
    cidrAssociationId: ctx.ids.resourceId('vpc-cidr-assoc'),
  };
  ctx.state.vpcs[vpcId] = vpc;
  return vpc;
}

/** Makes a subnet without the checks of CreateSubnet (for the default VPC). */
export function createSubnetRecord(
  ctx: RegionContext,
  vpcId: string,
  cidrBlock: string,
  availabilityZone: string,
  options: { defaultForAz?: boolean; mapPublicIpOnLaunch?: boolean; tags?: TagMap } = {},
): SubnetRecord {
  const subnet: SubnetRecord = {
    subnetId: ctx.ids.resourceId('subnet'),
    vpcId,
    cidrBlock,
    availabilityZone,
    defaultForAz: options.defaultForAz ?? false,
    mapPublicIpOnLaunch: options.mapPublicIpOnLaunch ?? false,
    tags: options.tags ?? {},
    nextHost: 4,
  };
  ctx.state.subnets[subnet.subnetId] = subnet;
  return subnet;
}

/** The default VPC every region starts with: one default subnet per zone, an attached gateway. */
export function createDefaultVpc(ctx: RegionContext): VpcRecord {
  const vpc = createVpcRecord(ctx, '172.31.0.0/16', true, {});
  ctx.config.availabilityZones.forEach((zone, i) => {
    createSubnetRecord(ctx, vpc.vpcId, `172.31.${i * 16}.0/20`, zone, { defaultForAz: true, mapPublicIpOnLaunch: true });
  });
  const igwId = ctx.ids.resourceId('igw');
  ctx.state.internetGateways[igwId] = { internetGatewayId: igwId, attachedVpcId: vpc.vpcId, tags: {} };
  ctx.state.routeTables[vpc.mainRouteTableId].routes.push({ destinationCidrBlock: '0.0.0.0/0', gatewayId: igwId, origin: 'CreateRoute' });
  return vpc;
}

/** The next private IP of a subnet. */
export function allocatePrivateIp(subnet: SubnetRecord): string {
  const ip = cidrHost(parseCidr(subnet.cidrBlock), subnet.nextHost);
  subnet.nextHost += 1;
  return ip;
}

export function createVpc(ctx: RegionContext, input: CreateVpcRequest): CreateVpcResult {
  const cidr = parseCidr(input.CidrBlock);
  if (cidr.prefix < 16 || cidr.prefix > 28) fail('InvalidVpc.Range', `The CIDR '${input.CidrBlock}' is invalid.`);
  const tags = tagsFromSpecifications(input.TagSpecifications, 'vpc');
  if (Object.keys(ctx.state.vpcs).length >= ctx.config.quotas.vpcs) {
    fail('VpcLimitExceeded', 'The maximum number of VPCs has been reached.');
  }
  const vpc = createVpcRecord(ctx, input.CidrBlock ?? '', false, tags);
  // CreateVpc answers `pending`; the VPC is usable at once.
  return { Vpc: { ...vpcShape(ctx, vpc), State: 'pending' } };
}

export function deleteVpc(ctx: RegionContext, input: DeleteVpcRequest): Record<string, never> {
  const vpc = requireVpc(ctx, input.VpcId);
  const { state } = ctx;
  const dependent =
    Object.values(state.subnets).some((s) => s.vpcId === vpc.vpcId) ||
    Object.values(state.internetGateways).some((g) => g.attachedVpcId === vpc.vpcId) ||
    Object.values(state.routeTables).some((r) => r.vpcId === vpc.vpcId && r.routeTableId !== vpc.mainRouteTableId) ||
    Object.values(state.securityGroups).some((g) => g.vpcId === vpc.vpcId && !g.isDefault) ||
    Object.values(state.vpcEndpoints).some((e) => e.vpcId === vpc.vpcId);
  if (dependent) fail('DependencyViolation', `The vpc '${vpc.vpcId}' has dependencies and cannot be deleted.`);
  delete state.routeTables[vpc.mainRouteTableId];
  delete state.securityGroups[vpc.defaultSecurityGroupId];
  delete state.vpcs[vpc.vpcId];
  return {};
}

const vpcFilters: FilterSpec<VpcRecord> = {
  'vpc-id': (v) => v.vpcId,
  'is-default': (v) => v.isDefault,
  'cidr-block': (v) => v.cidrBlock,
  cidr: (v) => v.cidrBlock,
  state: (v) => v.state,
  'owner-id': () => undefined,
};

export function describeVpcs(ctx: RegionContext, input: DescribeVpcsRequest): DescribeVpcsResult {
  const picked = pickByIds(ctx.state.vpcs, input.VpcIds, (missing) =>
    fail('InvalidVpcID.NotFound', `The vpc ID '${missing.join(', ')}' does not exist`),
  );
  return { Vpcs: applyFilters(picked, input.Filters, vpcFilters, (v) => v.tags).map((v) => vpcShape(ctx, v)) };
}

// ---- subnets ----

export function createSubnet(ctx: RegionContext, input: CreateSubnetRequest): CreateSubnetResult {
  const vpc = requireVpc(ctx, input.VpcId);
  const cidr = parseCidr(input.CidrBlock);
  if (!cidrContains(parseCidr(vpc.cidrBlock), cidr) || cidr.prefix > 28) {
    fail('InvalidSubnet.Range', `The CIDR '${input.CidrBlock}' is invalid.`);
  }
  const clash = Object.values(ctx.state.subnets).find((s) => s.vpcId === vpc.vpcId && cidrOverlaps(parseCidr(s.cidrBlock), cidr));
  if (clash) fail('InvalidSubnet.Conflict', `The CIDR '${input.CidrBlock}' conflicts with another subnet`);
  const zone = input.AvailabilityZone ?? ctx.config.availabilityZones[0];
  requireZone(ctx, zone);
  const tags = tagsFromSpecifications(input.TagSpecifications, 'subnet');
  const subnet = createSubnetRecord(ctx, vpc.vpcId, input.CidrBlock ?? '', zone, { tags });
  return { Subnet: subnetShape(ctx, subnet) };
}

export function deleteSubnet(ctx: RegionContext, input: DeleteSubnetRequest): Record<string, never> {
  const subnet = requireSubnet(ctx, input.SubnetId);
  const inUse =
    Object.values(ctx.state.instances).some((i) => i.subnetId === subnet.subnetId && i.state !== 'terminated') ||
    Object.values(ctx.state.vpcEndpoints).some((e) => e.subnetIds.includes(subnet.subnetId));
  if (inUse) fail('DependencyViolation', `The subnet '${subnet.subnetId}' has dependencies and cannot be deleted.`);
  for (const rt of Object.values(ctx.state.routeTables)) {
    rt.associations = rt.associations.filter((a) => a.subnetId !== subnet.subnetId);
  }
  delete ctx.state.subnets[subnet.subnetId];
  return {};
}

export function modifySubnetAttribute(ctx: RegionContext, input: ModifySubnetAttributeRequest): Record<string, never> {
  const subnet = requireSubnet(ctx, input.SubnetId);
  if (input.MapPublicIpOnLaunch?.Value !== undefined) subnet.mapPublicIpOnLaunch = input.MapPublicIpOnLaunch.Value;
  return {};
}

const subnetFilters: FilterSpec<SubnetRecord> = {
  'subnet-id': (s) => s.subnetId,
  'vpc-id': (s) => s.vpcId,
  'availability-zone': (s) => s.availabilityZone,
  availabilityZone: (s) => s.availabilityZone,
  'default-for-az': (s) => s.defaultForAz,
  defaultForAz: (s) => s.defaultForAz,
  'cidr-block': (s) => s.cidrBlock,
  'map-public-ip-on-launch': (s) => s.mapPublicIpOnLaunch,
  state: () => 'available',
};

export function describeSubnets(ctx: RegionContext, input: DescribeSubnetsRequest): DescribeSubnetsResult {
  const picked = pickByIds(ctx.state.subnets, input.SubnetIds, (missing) =>
    fail('InvalidSubnetID.NotFound', `The subnet ID '${missing.join(', ')}' does not exist`),
  );
  return { Subnets: applyFilters(picked, input.Filters, subnetFilters, (s) => s.tags).map((s) => subnetShape(ctx, s)) };
}

// ---- internet gateways ----

export function createInternetGateway(ctx: RegionContext, input: CreateInternetGatewayRequest): CreateInternetGatewayResult {
  const tags = tagsFromSpecifications(input.TagSpecifications, 'internet-gateway');
  if (Object.keys(ctx.state.internetGateways).length >= ctx.config.quotas.internetGateways) {
    fail('InternetGatewayLimitExceeded', 'The maximum number of internet gateways has been reached.');
  }
  const igw: InternetGatewayRecord = { internetGatewayId: ctx.ids.resourceId('igw'), tags };
  ctx.state.internetGateways[igw.internetGatewayId] = igw;
  return { InternetGateway: internetGatewayShape(ctx, igw) };
}

export function attachInternetGateway(ctx: RegionContext, input: AttachInternetGatewayRequest): Record<string, never> {
  const igw = requireInternetGateway(ctx, input.InternetGatewayId);
  const vpc = requireVpc(ctx, input.VpcId);
  if (igw.attachedVpcId) {
    fail('Resource.AlreadyAssociated', `resource ${igw.internetGatewayId} is already attached to network ${igw.attachedVpcId}`);
  }
  const other = Object.values(ctx.state.internetGateways).find((g) => g.attachedVpcId === vpc.vpcId);
  if (other) fail('Resource.AlreadyAssociated', `Network ${vpc.vpcId} already has an internet gateway attached`);
  igw.attachedVpcId = vpc.vpcId;
  return {};
}

export function detachInternetGateway(ctx: RegionContext, input: DetachInternetGatewayRequest): Record<string, never> {
  const igw = requireInternetGateway(ctx, input.InternetGatewayId);
  requireVpc(ctx, input.VpcId);
  if (igw.attachedVpcId !== input.VpcId) {
    fail('Gateway.NotAttached', `resource ${igw.internetGatewayId} is not attached to network ${input.VpcId}`);
  }
  const mapped = Object.values(ctx.state.instances).some((i) => i.vpcId === input.VpcId && i.publicIpAddress);
  if (mapped) {
    fail(
      'DependencyViolation',
      `Network ${input.VpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
    );
  }
  igw.attachedVpcId = undefined;
  return {};
}

export function deleteInternetGateway(ctx: RegionContext, input: DeleteInternetGatewayRequest): Record<string, never> {
  const igw = requireInternetGateway(ctx, input.InternetGatewayId);
  if (igw.attachedVpcId) {
    fail('DependencyViolation', `The internetGateway '${igw.internetGatewayId}' has dependencies and cannot be deleted.`);
  }
  delete ctx.state.internetGateways[igw.internetGatewayId];
  return {};
}

const internetGatewayFilters: FilterSpec<InternetGatewayRecord> = {
  'internet-gateway-id': (g) => g.internetGatewayId,
  'attachment.vpc-id': (g) => g.attachedVpcId,
  'attachment.state': (g) => (g.attachedVpcId ? 'available' : undefined),
};

export function describeInternetGateways(ctx: RegionContext, input: DescribeInternetGatewaysRequest): DescribeInternetGatewaysResult {
  const picked = pickByIds(ctx.state.internetGateways, input.InternetGatewayIds, (missing) =>
    fail('InvalidInternetGatewayID.NotFound', `The internetGateway ID '${missing.join(', ')}' does not exist`),
  );
  return {
    InternetGateways: applyFilters(picked, input.Filters, internetGatewayFilters, (g) => g.tags).map((g) => internetGatewayShape(ctx, g)),
  };
}

// ---- route tables ----

export function createRouteTable(ctx: RegionContext, input: CreateRouteTableRequest): CreateRouteTableResult {
  const earlier = recallClientToken(ctx, 'CreateRouteTable', input.ClientToken, input);
  if (earlier) {
    return { RouteTable: routeTableShape(ctx, requireRouteTable(ctx, earlier[0])), ClientToken: input.ClientToken };
  }
  const vpc = requireVpc(ctx, input.VpcId);
  const tags = tagsFromSpecifications(input.TagSpecifications, 'route-table');
  const rt: RouteTableRecord = {
    routeTableId: ctx.ids.resourceId('rtb'),
    vpcId: vpc.vpcId,
    routes: [{ destinationCidrBlock: vpc.cidrBlock, gatewayId: 'local', origin: 'CreateRouteTable' }],
    associations: [],
    tags,
  };
  ctx.state.routeTables[rt.routeTableId] = rt;
  rememberClientToken(ctx, 'CreateRouteTable', input.ClientToken, input, [rt.routeTableId]);
  return { RouteTable: routeTableShape(ctx, rt), ClientToken: input.ClientToken };
}

export function createRoute(ctx: RegionContext, input: CreateRouteRequest): CreateRouteResult {
  const rt = requireRouteTable(ctx, input.RouteTableId);
  const destination = input.DestinationCidrBlock ?? fail('MissingParameter', 'The request must contain the parameter destinationCidrBlock');
  parseCidr(destination, 'destinationCidrBlock');
  const igw = requireInternetGateway(ctx, input.GatewayId);
  if (igw.attachedVpcId !== rt.vpcId) {
    fail(
      'InvalidParameterValue',
      `route table ${rt.routeTableId} and network gateway ${igw.internetGatewayId} belong to different networks`,
    );
  }
  if (rt.routes.some((r) => r.destinationCidrBlock === destination)) {
    fail('RouteAlreadyExists', `The route identified by ${destination} already exists.`);
  }
  rt.routes.push({ destinationCidrBlock: destination, gatewayId: igw.internetGatewayId, origin: 'CreateRoute' });
  return { Return: true };
}

export function associateRouteTable(ctx: RegionContext, input: AssociateRouteTableRequest): AssociateRouteTableResult {
  const rt = requireRouteTable(ctx, input.RouteTableId);
  const subnet = requireSubnet(ctx, input.SubnetId);
  if (subnet.vpcId !== rt.vpcId) {
    fail('InvalidParameterValue', `Route table ${rt.routeTableId} and subnet ${subnet.subnetId} belong to different networks`);
  }
  const existing = Object.values(ctx.state.routeTables).find((r) => r.associations.some((a) => a.subnetId === subnet.subnetId));
  if (existing) {
    fail(
      'Resource.AlreadyAssociated',
      `the specified association for route table ${rt.routeTableId} conflicts with an existing association`,
    );
  }
  const associationId = ctx.ids.resourceId('rtbassoc');
  rt.associations.push({ associationId, subnetId: subnet.subnetId, main: false });
  return { AssociationId: associationId, AssociationState: { State: 'associated' } };
}

export function disassociateRouteTable(ctx: RegionContext, input: DisassociateRouteTableRequest): Record<string, never> {
  const rt = Object.values(ctx.state.routeTables).find((r) => r.associations.some((a) => a.associationId === input.AssociationId));
  const association = rt?.associations.find((a) => a.associationId === input.AssociationId);
  if (!rt || !association) {
    fail('InvalidAssociationID.NotFound', `The association ID '${input.AssociationId ?? ''}' does not exist`);
  }
  if (association.main) fail('InvalidParameterValue', 'cannot disassociate the main route table association');
  rt.associations = rt.associations.filter((a) => a !== association);
  return {};
}

export function deleteRouteTable(ctx: RegionContext, input: DeleteRouteTableRequest): Record<string, never> {
  const rt = requireRouteTable(ctx, input.RouteTableId);
  if (rt.associations.length) {
    fail('DependencyViolation', `The routeTable '${rt.routeTableId}' has dependencies and cannot be deleted.`);
  }
  delete ctx.state.routeTables[rt.routeTableId];
  return {};
}

const routeTableFilters: FilterSpec<RouteTableRecord> = {
  'route-table-id': (r) => r.routeTableId,
  'vpc-id': (r) => r.vpcId,
  'association.subnet-id': (r) => r.associations.map((a) => a.subnetId),
  'association.main': (r) => r.associations.some((a) => a.main),
  'association.route-table-association-id': (r) => r.associations.map((a) => a.associationId),
  'route.gateway-id': (r) => r.routes.map((route) => route.gatewayId),
  'route.destination-cidr-block': (r) => r.routes.map((route) => route.destinationCidrBlock),
};

export function describeRouteTables(ctx: RegionContext, input: DescribeRouteTablesRequest): DescribeRouteTablesResult {
  const picked = pickByIds(ctx.state.routeTables, input.RouteTableIds, (missing) =>
    fail('InvalidRouteTableID.NotFound', `The routeTable ID '${missing.join(', ')}' does not exist`),
  );
  return { RouteTables: applyFilters(picked, input.Filters, routeTableFilters, (r) => r.tags).map((r) => routeTableShape(ctx, r)) };
}

// ---- security groups ----

function defaultVpc(ctx: RegionContext): VpcRecord | undefined {
  return Object.values(ctx.state.vpcs).find((v) => v.isDefault);
}

export function createSecurityGroup(ctx: RegionContext, input: CreateSecurityGroupRequest): CreateSecurityGroupResult {
  const groupName = input.GroupName ?? fail('MissingParameter', 'The request must contain the parameter groupName');
  const description = input.Description ?? fail('MissingParameter', 'The request must contain the parameter groupDescription');
  const vpc = input.VpcId ? requireVpc(ctx, input.VpcId) : (defaultVpc(ctx) ?? fail('VPCIdNotSpecified', 'No default VPC for this user.'));
  if (groupName === 'default') fail('InvalidGroup.Reserved', "The security group 'default' is reserved");
  if (Object.values(ctx.state.securityGroups).some((g) => g.vpcId === vpc.vpcId && g.groupName === groupName)) {
    fail('InvalidGroup.Duplicate', `The security group '${groupName}' already exists for VPC '${vpc.vpcId}'`);
  }
  const tags = tagsFromSpecifications(input.TagSpecifications, 'security-group');
  const sg: SecurityGroupRecord = {
    groupId: ctx.ids.resourceId('sg'),
    groupName,
    description,
    vpcId: vpc.vpcId,
    isDefault: false,
    tags,
    ingress: [],
    egress: [{ ipProtocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
  };
  ctx.state.securityGroups[sg.groupId] = sg;
  const shape = securityGroupShape(ctx, sg);
  return { GroupId: sg.groupId, Tags: shape.Tags, SecurityGroupArn: shape.SecurityGroupArn };
}

export function deleteSecurityGroup(ctx: RegionContext, input: DeleteSecurityGroupRequest): DeleteSecurityGroupResult {
  let sg: SecurityGroupRecord;
  if (input.GroupId) {
    sg = requireSecurityGroup(ctx, input.GroupId);
  } else {
    const vpcId = defaultVpc(ctx)?.vpcId;
    sg =
      Object.values(ctx.state.securityGroups).find((g) => g.vpcId === vpcId && g.groupName === input.GroupName) ??
      fail('InvalidGroup.NotFound', `The security group '${input.GroupName ?? ''}' does not exist in default VPC '${vpcId}'`);
  }
  if (sg.isDefault) {
    fail('CannotDelete', `the specified group: "${sg.groupId}" name: "default" cannot be deleted by a user`);
  }
  const inUse =
    Object.values(ctx.state.instances).some((i) => i.state !== 'terminated' && i.securityGroupIds.includes(sg.groupId)) ||
    Object.values(ctx.state.vpcEndpoints).some((e) => e.securityGroupIds.includes(sg.groupId)) ||
    Object.values(ctx.state.securityGroups).some(
      (g) => g !== sg && [...g.ingress, ...g.egress].some((p) => p.groupIds.includes(sg.groupId)),
    );
  if (inUse) fail('DependencyViolation', `resource ${sg.groupId} has a dependent object`);
  delete ctx.state.securityGroups[sg.groupId];
  return { Return: true, GroupId: sg.groupId };
}

const securityGroupFilters: FilterSpec<SecurityGroupRecord> = {
  'group-id': (g) => g.groupId,
  'group-name': (g) => g.groupName,
  'vpc-id': (g) => g.vpcId,
  description: (g) => g.description,
};

export function describeSecurityGroups(ctx: RegionContext, input: DescribeSecurityGroupsRequest): DescribeSecurityGroupsResult {
  let picked = pickByIds(ctx.state.securityGroups, input.GroupIds, (missing) =>
    fail('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist`),
  );
  if (input.GroupNames?.length) {
    const vpcId = defaultVpc(ctx)?.vpcId;
    const missing = input.GroupNames.filter((n) => !picked.some((g) => g.vpcId === vpcId && g.groupName === n));
    if (missing.length)
      fail('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist in default VPC '${vpcId}'`);
    picked = picked.filter((g) => g.vpcId === vpcId && input.GroupNames?.includes(g.groupName));
  }
  return {
    SecurityGroups: applyFilters(picked, input.Filters, securityGroupFilters, (g) => g.tags).map((g) => securityGroupShape(ctx, g)),
  };
}

// ---- VPC endpoints ----

export function createVpcEndpoint(ctx: RegionContext, input: CreateVpcEndpointRequest): CreateVpcEndpointResult {
  const earlier = recallClientToken(ctx, 'CreateVpcEndpoint', input.ClientToken, input);
  if (earlier) {
    const endpoint = ctx.state.vpcEndpoints[earlier[0]];
    if (endpoint) return { VpcEndpoint: vpcEndpointShape(ctx, endpoint), ClientToken: input.ClientToken };
  }
  const vpc = requireVpc(ctx, input.VpcId);
  const serviceName = input.ServiceName ?? fail('MissingParameter', 'The request must contain the parameter ServiceName');
  if (!serviceName.startsWith(`com.amazonaws.${ctx.config.regionName}.`)) {
    fail('InvalidServiceName', `The Vpc Endpoint Service '${serviceName}' does not exist`);
  }
  const type = input.VpcEndpointType === 'Interface' ? 'Interface' : 'Gateway';
  const subnetIds = input.SubnetIds ?? [];
  for (const subnetId of subnetIds) {
    if (requireSubnet(ctx, subnetId).vpcId !== vpc.vpcId) {
      fail('InvalidParameter', `The subnet ID '${subnetId}' does not belong to VPC '${vpc.vpcId}'`);
    }
  }
  const securityGroupIds = input.SecurityGroupIds?.length ? input.SecurityGroupIds : [vpc.defaultSecurityGroupId];
  for (const groupId of securityGroupIds) requireSecurityGroup(ctx, groupId);
  const tags = tagsFromSpecifications(input.TagSpecifications, 'vpc-endpoint');
  const endpoint: VpcEndpointRecord = {
    vpcEndpointId: ctx.ids.resourceId('vpce'),
    vpcId: vpc.vpcId,
    serviceName,
    type,
    state: type === 'Interface' ? 'pending' : 'available',
    subnetIds: type === 'Interface' ? subnetIds : [],
    securityGroupIds: type === 'Interface' ? securityGroupIds : [],
    routeTableIds: type === 'Gateway' ? (input.RouteTableIds ?? []) : [],
    privateDnsEnabled: type === 'Interface' ? (input.PrivateDnsEnabled ?? true) : false,
    creationTimestamp: ctx.now(),
    tags,
    epoch: 0,
  };
  ctx.state.vpcEndpoints[endpoint.vpcEndpointId] = endpoint;
  if (endpoint.state === 'pending') {
    ctx.schedule(ctx.timings.vpcEndpointCreateMs, {
      kind: 'vpc-endpoint',
      vpcEndpointId: endpoint.vpcEndpointId,
      epoch: endpoint.epoch,
      to: 'available',
    });
  }
  rememberClientToken(ctx, 'CreateVpcEndpoint', input.ClientToken, input, [endpoint.vpcEndpointId]);
  return { VpcEndpoint: vpcEndpointShape(ctx, endpoint), ClientToken: input.ClientToken };
}

export function deleteVpcEndpoints(ctx: RegionContext, input: DeleteVpcEndpointsRequest): DeleteVpcEndpointsResult {
  const unsuccessful: NonNullable<DeleteVpcEndpointsResult['Unsuccessful']> = [];
  for (const id of input.VpcEndpointIds ?? []) {
    const endpoint = ctx.state.vpcEndpoints[id];
    if (!endpoint) {
      unsuccessful.push({
        ResourceId: id,
        Error: { Code: 'InvalidVpcEndpoint.NotFound', Message: `The Vpc Endpoint Id '${id}' does not exist` },
      });
      continue;
    }
    if (endpoint.state === 'deleting') continue;
    endpoint.state = 'deleting';
    endpoint.epoch += 1;
    ctx.schedule(ctx.timings.vpcEndpointDeleteMs, { kind: 'vpc-endpoint', vpcEndpointId: id, epoch: endpoint.epoch, to: 'deleted' });
  }
  return { Unsuccessful: unsuccessful };
}

const vpcEndpointFilters: FilterSpec<VpcEndpointRecord> = {
  'vpc-endpoint-id': (e) => e.vpcEndpointId,
  'vpc-id': (e) => e.vpcId,
  'service-name': (e) => e.serviceName,
  'vpc-endpoint-state': (e) => e.state,
  'vpc-endpoint-type': (e) => e.type,
};

export function describeVpcEndpoints(ctx: RegionContext, input: DescribeVpcEndpointsRequest): DescribeVpcEndpointsResult {
  const picked = pickByIds(ctx.state.vpcEndpoints, input.VpcEndpointIds, (missing) =>
    fail('InvalidVpcEndpointId.NotFound', `The Vpc Endpoint Id '${missing.join(', ')}' does not exist`),
  );
  return {
    VpcEndpoints: applyFilters(picked, input.Filters, vpcEndpointFilters, (e) => e.tags).map((e) => vpcEndpointShape(ctx, e)),
  };
}

/** Applies a timed VPC endpoint change (creation finished or deletion finished). */
export function completeVpcEndpoint(ctx: RegionContext, vpcEndpointId: string, epoch: number, to: 'available' | 'deleted'): void {
  const endpoint = ctx.state.vpcEndpoints[vpcEndpointId];
  if (!endpoint || endpoint.epoch !== epoch) return;
  if (to === 'deleted') delete ctx.state.vpcEndpoints[vpcEndpointId];
  else endpoint.state = 'available';
}

// ---- availability zones ----

export function describeAvailabilityZones(ctx: RegionContext, input: DescribeAvailabilityZonesRequest): DescribeAvailabilityZonesResult {
  const zones = ctx.config.availabilityZones;
  for (const name of input.ZoneNames ?? []) {
    if (!zones.includes(name)) fail('InvalidParameterValue', `The zone '${name}' does not exist in the current region`);
  }
  const picked = input.ZoneNames?.length ? zones.filter((z) => input.ZoneNames?.includes(z)) : zones;
  const shapes: AvailabilityZone[] = picked.map((ZoneName) => ({
    ZoneName,
    ZoneId: availabilityZoneId(ctx.config.regionName, ZoneName, zones),
    State: 'available',
    OptInStatus: 'opt-in-not-required',
    RegionName: ctx.config.regionName,
    GroupName: ctx.config.regionName,
    NetworkBorderGroup: ctx.config.regionName,
    ZoneType: 'availability-zone',
  }));
  const zoneFilters: FilterSpec<AvailabilityZone> = {
    'zone-name': (z) => z.ZoneName,
    'zone-id': (z) => z.ZoneId,
    state: (z) => z.State,
    'region-name': (z) => z.RegionName,
    'zone-type': (z) => z.ZoneType,
  };
  return { AvailabilityZones: applyFilters(shapes, input.Filters, zoneFilters, () => ({})) };
}
