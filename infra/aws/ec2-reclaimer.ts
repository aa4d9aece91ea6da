/**
 * `Reclaimer` over EC2: what the sweeper may list and delete. Everything is found by the service's
 * tags (`reset-access:managed=true`, this deployment's `reset-access:deployment` and a
 * `reset-access:role`; the sweeper asks for more evidence than tags), and a deletion names only an id the
 * listing answered; a helper is described again, tags and all, right before it is terminated.
 * `DependencyViolation`, `*.NotFound` and the "not yet" states answer `deferred` (docs/aws-facts.md#reclaim-order,
 * "Reclaiming resources"); anything else leaves through `translateAwsError`.
 */
import {
  DeleteInternetGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeInstancesCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  DisassociateRouteTableCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import { defaultConfig } from '../../domain/config';
import { isOwnResource, TAG, type ResourceRole } from '../../domain/naming';
import type {
  DeleteOutcome,
  HelperVolume,
  InstanceState,
  ManagedHelper,
  NetworkPart,
  Reclaimer,
  RescueVpcInventory,
  VolumeAttachment,
} from '../../domain/ports';
import { tagRecord } from './ec2-compute';
import { awsErrorCode, isAwsError, translateAwsError } from './errors';

/** States of an instance that still exists for the sweeper (a terminated one is gone). */
const LIVE_STATES: InstanceState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
/** Answers that mean "not deletable yet, look again next run". */
const NOT_YET_CODES: ReadonlySet<string> = new Set(['DependencyViolation', 'Gateway.NotAttached', 'IncorrectState', 'InvalidState']);
/** DescribeVolumes takes at most this many ids per call (EC2 API reference: 500 filter values). */
const VOLUME_BATCH = 200;
const NETWORK_ROLES: ResourceRole[] = [
  'rescue-subnet',
  'rescue-route-table',
  'rescue-security-group',
  'rescue-endpoint',
  'rescue-endpoint-security-group',
  'rescue-igw',
];

export class Ec2Reclaimer implements Reclaimer {
  private readonly deployment: string;

  constructor(
    private readonly ec2: EC2Client,
    options: { deployment?: string } = {},
  ) {
    this.deployment = options.deployment ?? defaultConfig.deployment;
  }

  async listHelpers(): Promise<ManagedHelper[]> {
    const instances = await this.instances([...this.managedFilters('helper'), { Name: 'instance-state-name', Values: LIVE_STATES }]);
    // Volumes other than the root: read their tags to tell the helper's own from a customer's.
    const nonRoot = instances.flatMap((i) => (i.BlockDeviceMappings ?? []).filter((m) => m.DeviceName !== i.RootDeviceName).map((m) => m.Ebs?.VolumeId));
    const volumeTags = await this.volumeTags(nonRoot.filter((id): id is string => Boolean(id)));
    return instances.map((instance) => {
      const volumes: HelperVolume[] = (instance.BlockDeviceMappings ?? [])
        .filter((m) => m.Ebs?.VolumeId && m.DeviceName)
        .map((m) => {
          const tags = volumeTags.get(m.Ebs!.VolumeId!) ?? {};
          const own = m.DeviceName === instance.RootDeviceName || (tags[TAG.managed] === 'true' && tags[TAG.role] === 'helper');
          return { volumeId: m.Ebs!.VolumeId!, device: m.DeviceName!, state: (m.Ebs!.Status ?? 'attached') as VolumeAttachment['state'], own };
        });
      return {
        instanceId: instance.InstanceId!,
        state: (instance.State?.Name ?? 'pending') as InstanceState,
        launchTime: instance.LaunchTime?.toISOString(),
        vpcId: instance.VpcId || undefined,
        rootDeviceName: instance.RootDeviceName,
        ...(instance.IamInstanceProfile?.Arn ? { instanceProfileArn: instance.IamInstanceProfile.Arn } : {}),
        tags: tagRecord(instance.Tags),
        volumes,
      };
    });
  }

  async listRescueVpcs(): Promise<RescueVpcInventory[]> {
    const out = await this.call('DescribeVpcs', () => this.ec2.send(new DescribeVpcsCommand({ Filters: this.managedFilters('rescue-vpc') })));
    const vpcIds = (out.Vpcs ?? [])
      .map((v) => v.VpcId!)
      .filter(Boolean)
      .sort();
    return Promise.all(vpcIds.map((vpcId) => this.inventory(vpcId)));
  }

  async listDetachedGateways(): Promise<string[]> {
    const out = await this.call('DescribeInternetGateways', () =>
      this.ec2.send(new DescribeInternetGatewaysCommand({ Filters: this.managedFilters('rescue-igw') })),
    );
    return (out.InternetGateways ?? [])
      .filter((g) => (g.Attachments ?? []).every((a) => a.State === 'detached'))
      .map((g) => g.InternetGatewayId!)
      .sort();
  }

  async listEndpoints(vpcId: string): Promise<Array<{ id: string; state: string }>> {
    const out = await this.call(`DescribeVpcEndpoints ${vpcId}`, () =>
      this.ec2.send(
        new DescribeVpcEndpointsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: `tag:${TAG.managed}`, Values: ['true'] },
            { Name: `tag:${TAG.deployment}`, Values: [this.deployment] },
          ],
        }),
      ),
    );
    return (out.VpcEndpoints ?? []).map((e) => ({ id: e.VpcEndpointId!, state: String(e.State ?? '').toLowerCase() }));
  }

  async terminateHelper(instanceId: string): Promise<boolean> {
    // Described again by id *and* tags: an instance that lost them (or never had them) is not found.
    const [instance] = await this.instances([{ Name: 'instance-id', Values: [instanceId] }, ...this.managedFilters('helper')]);
    if (!instance) return false;
    try {
      await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'InvalidInstanceID.NotFound')) return false;
      throw translateAwsError(error, `TerminateInstances ${instanceId}`);
    }
  }

  async deletePart(part: NetworkPart): Promise<DeleteOutcome> {
    const context = `${part.kind} ${part.id}`;
    try {
      switch (part.kind) {
        case 'vpc-endpoint': {
          // Asynchronous: the endpoint goes `deleting`, then disappears (the caller waits on it).
          const out = await this.ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [part.id] }));
          const failure = out.Unsuccessful?.find((u) => u.ResourceId === part.id)?.Error;
          return failure ? { outcome: 'deferred', reason: `${failure.Code ?? 'Unsuccessful'}: ${failure.Message ?? ''}` } : { outcome: 'deleted' };
        }
        case 'route-table-association':
          await this.ec2.send(new DisassociateRouteTableCommand({ AssociationId: part.id }));
          break;
        case 'route-table':
          await this.ec2.send(new DeleteRouteTableCommand({ RouteTableId: part.id }));
          break;
        case 'security-group':
          await this.ec2.send(new DeleteSecurityGroupCommand({ GroupId: part.id }));
          break;
        case 'subnet':
          await this.ec2.send(new DeleteSubnetCommand({ SubnetId: part.id }));
          break;
        case 'internet-gateway-attachment':
          await this.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: part.id, VpcId: part.vpcId }));
          break;
        case 'internet-gateway':
          await this.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: part.id }));
          break;
        case 'vpc':
          await this.ec2.send(new DeleteVpcCommand({ VpcId: part.id }));
          break;
      }
      return { outcome: 'deleted' };
    } catch (error) {
      const code = awsErrorCode(error);
      if (code !== undefined && isAwsError(error) && (NOT_YET_CODES.has(code) || code.endsWith('.NotFound'))) {
        return { outcome: 'deferred', reason: `${code}: ${(error as Error).message}` };
      }
      throw translateAwsError(error, `delete ${context}`);
    }
  }

  // -------------------------------------------------------------------------------------------

  /** What is in the VPC: the service's parts by their tags, anything else as `foreign`. */
  private async inventory(vpcId: string): Promise<RescueVpcInventory> {
    const inVpc: Filter[] = [{ Name: 'vpc-id', Values: [vpcId] }];
    const [instances, endpoints, routeTables, groups, subnets, gateways] = await Promise.all([
      this.instances([...inVpc, { Name: 'instance-state-name', Values: LIVE_STATES }]),
      this.call(`DescribeVpcEndpoints ${vpcId}`, () => this.ec2.send(new DescribeVpcEndpointsCommand({ Filters: inVpc }))),
      this.call(`DescribeRouteTables ${vpcId}`, () => this.ec2.send(new DescribeRouteTablesCommand({ Filters: inVpc }))),
      this.call(`DescribeSecurityGroups ${vpcId}`, () => this.ec2.send(new DescribeSecurityGroupsCommand({ Filters: inVpc }))),
      this.call(`DescribeSubnets ${vpcId}`, () => this.ec2.send(new DescribeSubnetsCommand({ Filters: inVpc }))),
      this.call(`DescribeInternetGateways ${vpcId}`, () =>
        this.ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpcId] }] })),
      ),
    ]);
    const foreign: string[] = [];
    const ours = <T extends { Tags?: Tag[] }>(items: T[] | undefined, id: (item: T) => string, skip: (item: T) => boolean = () => false): T[] =>
      (items ?? []).filter((item) => {
        if (skip(item)) return false;
        if (this.isNetworkPart(item.Tags)) return true;
        foreign.push(id(item));
        return false;
      });
    const liveEndpoints = (endpoints.VpcEndpoints ?? []).filter((e) => String(e.State).toLowerCase() !== 'deleted');
    return {
      vpcId,
      instanceIds: instances.map((i) => i.InstanceId!),
      endpoints: ours(liveEndpoints, (e) => e.VpcEndpointId!).map((e) => ({ id: e.VpcEndpointId!, state: String(e.State ?? '').toLowerCase() })),
      // The main route table and the default group go with the VPC itself.
      routeTables: ours(
        routeTables.RouteTables,
        (t) => t.RouteTableId!,
        (t) => (t.Associations ?? []).some((a) => a.Main),
      ).map((t) => ({
        id: t.RouteTableId!,
        associationIds: (t.Associations ?? []).filter((a) => !a.Main && a.RouteTableAssociationId).map((a) => a.RouteTableAssociationId!),
      })),
      securityGroupIds: ours(
        groups.SecurityGroups,
        (g) => g.GroupId!,
        (g) => g.GroupName === 'default',
      ).map((g) => g.GroupId!),
      subnetIds: ours(subnets.Subnets, (s) => s.SubnetId!).map((s) => s.SubnetId!),
      internetGatewayIds: ours(gateways.InternetGateways, (g) => g.InternetGatewayId!).map((g) => g.InternetGatewayId!),
      foreign,
    };
  }

  private async instances(filters: Filter[]): Promise<Instance[]> {
    const found: Instance[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call('DescribeInstances', () => this.ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken })));
      for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return found;
  }

  private async volumeTags(volumeIds: string[]): Promise<Map<string, Record<string, string>>> {
    const tags = new Map<string, Record<string, string>>();
    for (let i = 0; i < volumeIds.length; i += VOLUME_BATCH) {
      const batch = volumeIds.slice(i, i + VOLUME_BATCH);
      // A filter, not VolumeIds: a volume detached and deleted meanwhile is left out, not an error.
      const out = await this.call('DescribeVolumes', () => this.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'volume-id', Values: batch }] })));
      for (const volume of out.Volumes ?? []) tags.set(volume.VolumeId!, tagRecord(volume.Tags));
    }
    return tags;
  }

  private managedFilters(role: ResourceRole): Filter[] {
    return [
      { Name: `tag:${TAG.managed}`, Values: ['true'] },
      { Name: `tag:${TAG.deployment}`, Values: [this.deployment] },
      { Name: `tag:${TAG.role}`, Values: [role] },
    ];
  }

  private isNetworkPart(tags: Tag[] | undefined): boolean {
    const record = tagRecord(tags);
    return NETWORK_ROLES.some((role) => isOwnResource(record, role, this.deployment));
  }

  private async call<T>(context: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateAwsError(error, context);
    }
  }
}
