/**
 * VPC endpoints of the simulated region, the way a rescue network reaches SSM without an
 * internet gateway: Gateway endpoints on route tables, Interface endpoints in subnets with
 * security groups and private DNS. An Interface endpoint is `pending` until a timed transition
 * makes it `available` (`completeVpcEndpoint`, applied by `transitions.ts`); deletion goes through
 * `deleting` the same way. A ClientToken answers the same endpoint.
 */
import type {
  CreateVpcEndpointRequest,
  CreateVpcEndpointResult,
  DeleteVpcEndpointsRequest,
  DeleteVpcEndpointsResult,
  DescribeVpcEndpointsRequest,
  DescribeVpcEndpointsResult,
  VpcEndpoint,
} from '@aws-sdk/client-ec2';

import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import { pickByIds, recallClientToken, rememberClientToken, requireSecurityGroup, requireSubnet, requireVpc } from './lookup';
import { fail } from './sim-error';
import type { VpcEndpointRecord } from './state';
import { tagsFromSpecifications, toTagList } from './tags';

// ---- records → EC2 shapes ----

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
    Groups: e.type === 'Interface' ? e.securityGroupIds.map((GroupId) => ({ GroupId, GroupName: ctx.state.securityGroups[GroupId]?.groupName })) : undefined,
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
