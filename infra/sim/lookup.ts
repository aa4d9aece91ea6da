import type { RegionContext } from './context';
import { fail } from './sim-error';
import type {
  ImageRecord,
  InstanceRecord,
  InternetGatewayRecord,
  RouteTableRecord,
  SecurityGroupRecord,
  SnapshotRecord,
  SubnetRecord,
  VolumeRecord,
  VpcRecord,
} from './state';

const ID_SHAPE = /^[a-z]+-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Answers like EC2 does for the ids of the resources the simulator keeps. */
export function requireInstance(ctx: RegionContext, instanceId: string | undefined): InstanceRecord {
  if (!instanceId || !instanceId.startsWith('i-') || !ID_SHAPE.test(instanceId)) {
    fail('InvalidInstanceID.Malformed', `Invalid id: "${instanceId ?? ''}"`);
  }
  return ctx.state.instances[instanceId] ?? fail('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
}

/** Every id must exist, or the whole call fails naming the missing ones (EC2's plural message). */
export function requireInstances(ctx: RegionContext, instanceIds: string[] | undefined): InstanceRecord[] {
  if (!instanceIds?.length) fail('MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of instanceIds) {
    if (!id.startsWith('i-') || !ID_SHAPE.test(id)) fail('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
  }
  const missing = instanceIds.filter((id) => !ctx.state.instances[id]);
  if (missing.length === 1) fail('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
  if (missing.length > 1) fail('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  return [...new Set(instanceIds)].map((id) => ctx.state.instances[id]);
}

export function requireVolume(ctx: RegionContext, volumeId: string | undefined): VolumeRecord {
  if (!volumeId || !volumeId.startsWith('vol-') || !ID_SHAPE.test(volumeId)) {
    fail('InvalidParameterValue', `Invalid id: "${volumeId ?? ''}" (expecting "vol-...")`);
  }
  return ctx.state.volumes[volumeId] ?? fail('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
}

export function requireImage(ctx: RegionContext, imageId: string | undefined): ImageRecord {
  if (!imageId || !imageId.startsWith('ami-') || !ID_SHAPE.test(imageId)) {
    fail('InvalidAMIID.Malformed', `Invalid id: "${imageId ?? ''}" (expecting "ami-...")`);
  }
  const image = ctx.state.images[imageId];
  if (!image || image.state === 'deregistered') fail('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  return image;
}

export function requireSnapshot(ctx: RegionContext, snapshotId: string | undefined): SnapshotRecord {
  return ctx.state.snapshots[snapshotId ?? ''] ?? fail('InvalidSnapshot.NotFound', `The snapshot '${snapshotId ?? ''}' does not exist.`);
}

export function requireVpc(ctx: RegionContext, vpcId: string | undefined): VpcRecord {
  return ctx.state.vpcs[vpcId ?? ''] ?? fail('InvalidVpcID.NotFound', `The vpc ID '${vpcId ?? ''}' does not exist`);
}

export function requireSubnet(ctx: RegionContext, subnetId: string | undefined): SubnetRecord {
  return ctx.state.subnets[subnetId ?? ''] ?? fail('InvalidSubnetID.NotFound', `The subnet ID '${subnetId ?? ''}' does not exist`);
}

export function requireInternetGateway(ctx: RegionContext, id: string | undefined): InternetGatewayRecord {
  return ctx.state.internetGateways[id ?? ''] ?? fail('InvalidInternetGatewayID.NotFound', `The internetGateway ID '${id ?? ''}' does not exist`);
}

export function requireRouteTable(ctx: RegionContext, id: string | undefined): RouteTableRecord {
  return ctx.state.routeTables[id ?? ''] ?? fail('InvalidRouteTableID.NotFound', `The routeTable ID '${id ?? ''}' does not exist`);
}

export function requireSecurityGroup(ctx: RegionContext, groupId: string | undefined): SecurityGroupRecord {
  return ctx.state.securityGroups[groupId ?? ''] ?? fail('InvalidGroup.NotFound', `The security group '${groupId ?? ''}' does not exist`);
}

/** Records of one kind whose id is in `ids` (all must exist), or all of them when `ids` is empty. */
export function pickByIds<R>(all: Record<string, R>, ids: string[] | undefined, notFound: (missing: string[]) => never): R[] {
  if (!ids?.length) return Object.values(all);
  const missing = ids.filter((id) => !all[id]);
  if (missing.length) notFound(missing);
  return [...new Set(ids)].map((id) => all[id]);
}

/** ClientToken idempotency: the ids made by an earlier call with the same token, if any. */
export function recallClientToken(ctx: RegionContext, action: string, clientToken: string | undefined, input: object): string[] | undefined {
  if (!clientToken) return undefined;
  if (clientToken.length > 64) fail('InvalidParameterValue', 'ClientToken must be at most 64 characters.');
  const previous = ctx.state.clientTokens[`${action}:${clientToken}`];
  if (!previous) return undefined;
  if (previous.fingerprint !== fingerprint(input)) {
    fail('IdempotentParameterMismatch', `The client token '${clientToken}' was used with different parameters.`);
  }
  return previous.resourceIds;
}

export function rememberClientToken(ctx: RegionContext, action: string, clientToken: string | undefined, input: object, resourceIds: string[]): void {
  if (clientToken) ctx.state.clientTokens[`${action}:${clientToken}`] = { fingerprint: fingerprint(input), resourceIds };
}

function fingerprint(input: object): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k, v]) => v !== undefined && k !== 'ClientToken' && k !== 'DryRun')
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, canonical(v)]),
      );
    }
    return value;
  };
  return JSON.stringify(canonical(input));
}
