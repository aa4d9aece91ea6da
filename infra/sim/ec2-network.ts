/**
 * The simulated region's networks: VPCs (each with its main route table and default security
 * group, the account's VPC quota, no delete while anything depends on it), subnets (CIDR checks,
 * private IPs handed out in order), the default VPC every region starts with, and the
 * availability zones. The parts a VPC is wired with: `ec2-network-routing.ts` (internet gateways,
 * route tables), `ec2-network-security-groups.ts`, `ec2-network-endpoints.ts` (VPC endpoints).
 */
import type {
  AvailabilityZone,
  CreateSubnetRequest,
  CreateSubnetResult,
  CreateVpcRequest,
  CreateVpcResult,
  DeleteSubnetRequest,
  DeleteVpcRequest,
  DescribeAvailabilityZonesRequest,
  DescribeAvailabilityZonesResult,
  DescribeSubnetsRequest,
  DescribeSubnetsResult,
  DescribeVpcsRequest,
  DescribeVpcsResult,
  ModifySubnetAttributeRequest,
  Subnet,
  Vpc,
} from '@aws-sdk/client-ec2';

import { cidrContains, cidrHost, cidrOverlaps, cidrSize, parseCidr } from './cidr';
import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import { pickByIds, requireSubnet, requireVpc } from './lookup';
import { fail } from './sim-error';
import type { SubnetRecord, TagMap, VpcRecord } from './state';
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
  const picked = pickByIds(ctx.state.vpcs, input.VpcIds, (missing) => fail('InvalidVpcID.NotFound', `The vpc ID '${missing.join(', ')}' does not exist`));
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
