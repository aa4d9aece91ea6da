/**
 * How a VPC of the simulated region reaches out: internet gateways (one per VPC, attach and
 * detach with EC2's dependency errors, the account's quota) and route tables (routes through a
 * gateway, subnet associations, the main table's association kept). A route through a gateway
 * that is no longer attached shows as a blackhole. VPCs and subnets: `ec2-network.ts`.
 */
import type {
  AssociateRouteTableRequest,
  AssociateRouteTableResult,
  AttachInternetGatewayRequest,
  AttachmentStatus,
  CreateInternetGatewayRequest,
  CreateInternetGatewayResult,
  CreateRouteRequest,
  CreateRouteResult,
  CreateRouteTableRequest,
  CreateRouteTableResult,
  DeleteInternetGatewayRequest,
  DeleteRouteTableRequest,
  DescribeInternetGatewaysRequest,
  DescribeInternetGatewaysResult,
  DescribeRouteTablesRequest,
  DescribeRouteTablesResult,
  DetachInternetGatewayRequest,
  DisassociateRouteTableRequest,
  InternetGateway,
  RouteTable,
} from '@aws-sdk/client-ec2';

import { parseCidr } from './cidr';
import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import { pickByIds, recallClientToken, rememberClientToken, requireInternetGateway, requireRouteTable, requireSubnet, requireVpc } from './lookup';
import { fail } from './sim-error';
import type { InternetGatewayRecord, RouteTableRecord } from './state';
import { tagsFromSpecifications, toTagList } from './tags';

// ---- records → EC2 shapes ----

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
    fail('InvalidParameterValue', `route table ${rt.routeTableId} and network gateway ${igw.internetGatewayId} belong to different networks`);
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
    fail('Resource.AlreadyAssociated', `the specified association for route table ${rt.routeTableId} conflicts with an existing association`);
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
