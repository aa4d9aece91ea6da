/**
 * The service's rescue network: ONE VPC per region, shared by every job (accounts have 5 VPCs per
 * region by default), with an internet gateway, one route table (default route to the gateway), a
 * public subnet per AZ that a job has needed, and one security group without inbound rules.
 *
 * With `access: 'vpc-endpoints'` there is no gateway and no public IPv4: the helpers reach SSM
 * through interface endpoints for ssm, ssmmessages and ec2messages in the rescue subnets, behind
 * their own security group that lets in HTTPS from the VPC only.
 *
 * The VPC is the one the rescue network's record names (written the moment CreateVpc answers),
 * never one found by its tags: whoever may tag a VPC could otherwise lure the helpers, which mount
 * customers' disks, into a network they control. Inside that VPC, only CreateRouteTable and
 * CreateVpcEndpoint take a ClientToken, so every part is tagged at creation and looked up by its
 * tags (and the VPC) before it is created; `ensure` looks at what exists and
 * creates the next missing parts, so it is safe to repeat and, within the limits noted at each
 * step, to run from two jobs at once. CreateVpc runs only when the caller's guard allows it (the
 * job's creation lock, `domain/pipeline/rescue-network-lease.ts`).
 */
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  ModifySubnetAttributeCommand,
  ModifyVpcAttributeCommand,
  ModifyVpcEndpointCommand,
  ReplaceRouteCommand,
  type EC2Client,
  type Filter,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type Vpc,
  type VpcEndpoint,
} from '@aws-sdk/client-ec2';
import { PermanentError } from '../../domain/errors';
import type { RescueNetwork } from '../../domain/job/job';
import { defaultConfig } from '../../domain/config';
import { isOwnResource, serviceTags, TAG, type ResourceRole } from '../../domain/naming';
import type { RescueNetworkLeases, RescueNetworks, RescueVpcGuard } from '../../domain/ports';
import { tagRecord, tagSpecifications } from './ec2-compute';
import { isAwsError, translateAwsError } from './errors';

/** Default CIDR of the rescue VPC: a /16 unlikely to collide with what customers peer. */
export const DEFAULT_RESCUE_VPC_CIDR = '10.213.0.0/16';
export const RESCUE_NAME = 'reset-access-rescue';
export const ENDPOINTS_GROUP_NAME = 'reset-access-rescue-endpoints';
/** What the SSM agent talks to (AWS Systems Manager docs, "Create VPC endpoints"). */
export const SSM_ENDPOINT_SERVICES = ['ssm', 'ssmmessages', 'ec2messages'] as const;
const ANYWHERE = '0.0.0.0/0';
/** First /24 handed to an AZ whose name has no letter index (Local Zones, Wavelength…). */
const FIRST_UNLETTERED_INDEX = 26;

export type { RescueVpcGuard } from '../../domain/ports';

export interface RescueNetworksOptions {
  /** CIDR of the rescue VPC when it is created; subnets are /24s of whatever the VPC has. */
  cidrBlock?: string;
  /** Used when `ensure` is called without a guard. The default lets every caller create. */
  guard?: RescueVpcGuard;
  /** How helpers reach SSM (domain/config.ts `rescueNetwork.access`); default the gateway. */
  access?: 'internet-gateway' | 'vpc-endpoints';
  /** The region, for the endpoints' service names (`com.amazonaws.<region>.ssm`). */
  region?: string;
  /** Milliseconds since the epoch, for how long a network seen complete is trusted (`Date.now` by default). */
  now?: () => number;
  /** The deployment whose network this is (tagged on every part, and the only one looked up). */
  deployment?: string;
  /**
   * Where the rescue VPC's id is recorded (the job table's rescue network record, which the sweeper
   * also reads). By default a record kept in this adapter, for tests of one adapter alone.
   */
  record?: VpcRecord;
}

/** The part of the rescue network's record that names its VPC. */
export type VpcRecord = Pick<RescueNetworkLeases, 'read' | 'recordVpc'>;

function recordInMemory(): VpcRecord {
  let vpcId: string | undefined;
  return {
    read: async () => (vpcId ? { state: 'in-use', leases: {}, vpcId } : undefined),
    recordVpc: async (id) => {
      vpcId = id;
    },
  };
}

/**
 * How long a network `ensure` found complete is answered after a look at its subnet alone, before
 * it is checked in full again (which also repairs a route or group deleted by hand).
 */
export const KNOWN_NETWORK_TRUST_MS = 15 * 60 * 1000;

const alwaysMayCreate: RescueVpcGuard = { mayCreate: async () => true };

export class Ec2RescueNetworks implements RescueNetworks {
  private readonly cidrBlock: string;
  private readonly guard: RescueVpcGuard;
  private readonly access: 'internet-gateway' | 'vpc-endpoints';
  private readonly region: string;
  private readonly now: () => number;
  private readonly own: Ownership;
  private readonly record: VpcRecord;
  /** The complete network per AZ, as last checked in full (this adapter lives for a cold start). */
  private readonly known = new Map<string, { network: RescueNetwork; checkedAt: number }>();

  constructor(
    private readonly ec2: EC2Client,
    options: RescueNetworksOptions = {},
  ) {
    this.cidrBlock = options.cidrBlock ?? DEFAULT_RESCUE_VPC_CIDR;
    this.guard = options.guard ?? alwaysMayCreate;
    this.access = options.access ?? 'internet-gateway';
    this.region = options.region ?? 'us-east-1';
    this.now = options.now ?? Date.now;
    this.own = ownership(options.deployment ?? defaultConfig.deployment);
    this.record = options.record ?? recordInMemory();
  }

  async vpcExists(): Promise<boolean> {
    return (await this.findVpc()) !== undefined;
  }

  /**
   * A network this adapter found complete in the last `KNOWN_NETWORK_TRUST_MS` costs one call: its
   * subnet is described. While a job holds a lease the sweeper does not reclaim the network, and a
   * reclaim deletes the subnet before the VPC, after the route table and the groups (and finishes
   * before a new lease is given), so a subnet that is still there, `available` and the service's
   * stands for the rest. Anything else is checked in full.
   */
  async ensure(availabilityZone: string, guard: RescueVpcGuard = this.guard): Promise<RescueNetwork | 'not-yet'> {
    const known = this.known.get(availabilityZone);
    if (known && this.now() - known.checkedAt < KNOWN_NETWORK_TRUST_MS && (await this.subnetServes(known.network))) return known.network;
    this.known.delete(availabilityZone);
    const network = await this.ensureInFull(availabilityZone, guard);
    if (network !== 'not-yet') this.known.set(availabilityZone, { network, checkedAt: this.now() });
    return network;
  }

  /**
   * When the network is complete this costs four calls: DescribeVpcs, then DescribeRouteTables,
   * DescribeSubnets and DescribeSecurityGroups together. The internet gateway is described only
   * when the default route is missing or a blackhole: an `active` route through an `igw-` proves the
   * gateway is attached to this VPC.
   */
  private async ensureInFull(availabilityZone: string, guard: RescueVpcGuard): Promise<RescueNetwork | 'not-yet'> {
    let vpc = await this.findVpc();
    if (!vpc) {
      if (!(await guard.mayCreate('vpc'))) return 'not-yet';
      // Looked up again under the lock: the previous holder may have made it since.
      vpc = (await this.findVpc()) ?? (await this.createVpc());
    }
    // Subnets and gateways wait for an available VPC (it is `pending` for a few seconds).
    if (vpc.State !== 'available') return 'not-yet';
    const vpcId = vpc.VpcId!;
    const [routeTables, subnets, securityGroups] = await Promise.all([
      this.call('DescribeRouteTables', () =>
        this.ec2.send(new DescribeRouteTablesCommand({ Filters: [byVpc(vpcId), ...this.own.byRole('rescue-route-table')] })),
      ),
      this.call('DescribeSubnets', () => this.ec2.send(new DescribeSubnetsCommand({ Filters: [byVpc(vpcId)] }))),
      this.call('DescribeSecurityGroups', () =>
        this.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [byVpc(vpcId), ...this.own.byRole('rescue-security-group')] })),
      ),
    ]);

    const routeTable = await this.ensureRouteTable(vpcId, routeTables.RouteTables ?? []);
    if (routeTable === 'not-yet') return 'not-yet';
    const viaGateway = this.access === 'internet-gateway';
    if (viaGateway && (await this.ensureDefaultRoute(vpcId, routeTable, guard)) === 'not-yet') return 'not-yet';

    const subnet = await this.ensureSubnet(vpc, availabilityZone, subnets.Subnets ?? []);
    if (subnet === 'not-yet') return 'not-yet';
    const subnetId = subnet.SubnetId!;
    if ((await this.ensureAssociation(routeTable, subnetId)) === 'not-yet') return 'not-yet';
    if (viaGateway && subnet.MapPublicIpOnLaunch !== true) {
      // The helper reaches the public SSM endpoints through the gateway: it needs a public IPv4.
      await this.call(`ModifySubnetAttribute ${subnetId}`, () =>
        this.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnetId, MapPublicIpOnLaunch: { Value: true } })),
      );
    }

    const securityGroupId = await this.ensureSecurityGroup(vpcId, securityGroups.SecurityGroups?.map((g) => g.GroupId!).sort() ?? []);
    if (securityGroupId === 'not-yet') return 'not-yet';
    if (subnet.State !== 'available') return 'not-yet';
    if (!viaGateway && (await this.ensureEndpoints(vpc, subnetId)) === 'not-yet') return 'not-yet';
    return { kind: 'rescue-vpc', vpcId, subnetId, securityGroupIds: [securityGroupId] };
  }

  // -------------------------------------------------------------------------------------------

  /** The known network's subnet is still there, the service's, in its VPC and ready for helpers. */
  private async subnetServes(network: RescueNetwork): Promise<boolean> {
    let subnets: Subnet[];
    try {
      subnets = (await this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [network.subnetId] }))).Subnets ?? [];
    } catch (error) {
      if (isAwsError(error, 'InvalidSubnetID.NotFound')) return false;
      throw translateAwsError(error, `DescribeSubnets ${network.subnetId}`);
    }
    const subnet = subnets.find((s) => s.SubnetId === network.subnetId);
    return (
      subnet?.State === 'available' &&
      subnet.VpcId === network.vpcId &&
      this.own.isRole(tagRecord(subnet.Tags), 'rescue-subnet') &&
      (this.access !== 'internet-gateway' || subnet.MapPublicIpOnLaunch === true)
    );
  }

  /**
   * The recorded VPC, if it still exists with the service's tags. Should an expired creation lock
   * have let two callers make one each, the record names the last and every caller converges on it;
   * the other one is left to the sweeper's report (it reclaims the recorded VPC only).
   */
  private async findVpc(): Promise<Vpc | undefined> {
    const vpcId = (await this.record.read())?.vpcId;
    if (!vpcId) return undefined;
    const out = await this.call('DescribeVpcs', () =>
      this.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, ...this.own.byRole('rescue-vpc')] })),
    );
    return out.Vpcs?.find((v) => v.VpcId === vpcId);
  }

  /** Recorded at once: until then no caller would adopt it, and a new lock holder would make another. */
  private async createVpc(): Promise<Vpc> {
    const out = await this.call(`CreateVpc ${this.cidrBlock}`, () =>
      this.ec2.send(new CreateVpcCommand({ CidrBlock: this.cidrBlock, TagSpecifications: tagSpecifications(['vpc'], this.own.tags('rescue-vpc')) })),
    );
    await this.record.recordVpc(out.Vpc!.VpcId!);
    return out.Vpc!;
  }

  /** CreateRouteTable takes a ClientToken: one derived from the VPC makes concurrent creates one table. */
  private async ensureRouteTable(vpcId: string, found: RouteTable[]): Promise<RouteTable | 'not-yet'> {
    const existing = [...found].sort((a, b) => a.RouteTableId!.localeCompare(b.RouteTableId!))[0];
    if (existing) return existing;
    const out = await this.call(`CreateRouteTable ${vpcId}`, () =>
      this.ec2.send(
        new CreateRouteTableCommand({
          VpcId: vpcId,
          ClientToken: `reset-access-rtb-${vpcId}`,
          TagSpecifications: tagSpecifications(['route-table'], this.own.tags('rescue-route-table')),
        }),
      ),
    );
    return out.RouteTable ?? 'not-yet';
  }

  private async ensureDefaultRoute(vpcId: string, routeTable: RouteTable, guard: RescueVpcGuard): Promise<'done' | 'not-yet'> {
    const route = routeTable.Routes?.find((r) => r.DestinationCidrBlock === ANYWHERE);
    if (route?.State === 'active' && route.GatewayId?.startsWith('igw-')) return 'done';
    const gatewayId = await this.ensureInternetGateway(vpcId, guard);
    if (gatewayId === 'not-yet') return 'not-yet';
    const routeTableId = routeTable.RouteTableId!;
    const input = { RouteTableId: routeTableId, DestinationCidrBlock: ANYWHERE, GatewayId: gatewayId };
    try {
      await this.ec2.send(route ? new ReplaceRouteCommand(input) : new CreateRouteCommand(input));
    } catch (error) {
      // Another caller added the route since we looked: look again next time.
      if (isAwsError(error, 'RouteAlreadyExists')) return 'not-yet';
      throw translateAwsError(error, `${route ? 'ReplaceRoute' : 'CreateRoute'} ${routeTableId} ${ANYWHERE} → ${gatewayId}`);
    }
    return 'done';
  }

  /**
   * A VPC takes one internet gateway, created (no ClientToken) only by the caller the guard lets
   * create. Should two still make one each (a lock that expired), the second attach fails
   * (`InvalidParameterValue` "already has an internet gateway attached", or
   * `Resource.AlreadyAssociated`), and the gateway that did attach is used. The spare one stays
   * tagged and detached: a later call attaches it if the VPC has none, the sweeper deletes it when
   * it reclaims the network.
   */
  private async ensureInternetGateway(vpcId: string, guard: RescueVpcGuard): Promise<string | 'not-yet'> {
    const out = await this.call('DescribeInternetGateways', () =>
      this.ec2.send(new DescribeInternetGatewaysCommand({ Filters: this.own.byRole('rescue-igw') })),
    );
    const gateways = (out.InternetGateways ?? []).sort((a, b) => a.InternetGatewayId!.localeCompare(b.InternetGatewayId!));
    const attached = gateways.find((g) => g.Attachments?.some((a) => a.VpcId === vpcId && isUsableAttachment(a.State)));
    if (attached) return attached.InternetGatewayId!;
    if (gateways.some((g) => g.Attachments?.some((a) => a.VpcId === vpcId))) return 'not-yet'; // attaching or detaching
    const spare = gateways.find((g) => (g.Attachments ?? []).length === 0);
    if (!spare && !(await guard.mayCreate('internet-gateway'))) return 'not-yet';
    const gatewayId =
      spare?.InternetGatewayId ??
      (
        await this.call('CreateInternetGateway', () =>
          this.ec2.send(new CreateInternetGatewayCommand({ TagSpecifications: tagSpecifications(['internet-gateway'], this.own.tags('rescue-igw')) })),
        )
      ).InternetGateway!.InternetGatewayId!;
    try {
      await this.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: gatewayId, VpcId: vpcId }));
      return gatewayId;
    } catch (error) {
      if (!isAwsError(error, 'InvalidParameterValue', 'Resource.AlreadyAssociated')) {
        throw translateAwsError(error, `AttachInternetGateway ${gatewayId} to ${vpcId}`);
      }
      const winner = await this.call('DescribeInternetGateways', () =>
        this.ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpcId] }] })),
      );
      const id = winner.InternetGateways?.[0]?.InternetGatewayId;
      if (id) return id;
      throw translateAwsError(error, `AttachInternetGateway ${gatewayId} to ${vpcId}`);
    }
  }

  /**
   * A /24 per AZ. Its block comes from the AZ's letter (`us-east-1c` → index 2), so two callers
   * making the same AZ's subnet ask for the same block and the second gets
   * `InvalidSubnet.Conflict` instead of a second subnet; it answers `not-yet` and the next call
   * finds the first one. AZs without a letter index take the first free block from 26 on.
   */
  private async ensureSubnet(vpc: Vpc, availabilityZone: string, inVpc: Subnet[]): Promise<Subnet | 'not-yet'> {
    const ours = inVpc
      .filter((s) => s.AvailabilityZone === availabilityZone && this.own.isRole(tagRecord(s.Tags), 'rescue-subnet'))
      .sort((a, b) => a.SubnetId!.localeCompare(b.SubnetId!))[0];
    if (ours) return ours;
    const vpcCidr = vpc.CidrBlock ?? this.cidrBlock;
    const cidr = chooseSubnetCidr(vpcCidr, availabilityZone, new Set(inVpc.map((s) => s.CidrBlock!)));
    if (!cidr) throw new PermanentError('RESCUE_VPC_FULL', `no free /24 left in the rescue VPC ${vpc.VpcId} (${vpcCidr}) for ${availabilityZone}`);
    try {
      const out = await this.ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc.VpcId!,
          AvailabilityZone: availabilityZone,
          CidrBlock: cidr,
          TagSpecifications: tagSpecifications(['subnet'], this.own.tags('rescue-subnet')),
        }),
      );
      return out.Subnet ?? 'not-yet';
    } catch (error) {
      if (isAwsError(error, 'InvalidSubnet.Conflict')) return 'not-yet';
      throw translateAwsError(error, `CreateSubnet ${cidr} in ${availabilityZone}`);
    }
  }

  private async ensureAssociation(routeTable: RouteTable, subnetId: string): Promise<'done' | 'not-yet'> {
    if (routeTable.Associations?.some((a) => a.SubnetId === subnetId && a.AssociationState?.State !== 'disassociated')) return 'done';
    try {
      await this.ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTable.RouteTableId!, SubnetId: subnetId }));
      return 'done';
    } catch (error) {
      // Associated since we looked (a concurrent call): look again next time.
      if (isAwsError(error, 'Resource.AlreadyAssociated')) return 'not-yet';
      throw translateAwsError(error, `AssociateRouteTable ${routeTable.RouteTableId} ${subnetId}`);
    }
  }

  /**
   * No inbound rules; a new group's default egress (all traffic out) lets the SSM agent reach its
   * endpoints. The group name is unique per VPC, so a concurrent second create gets
   * `InvalidGroup.Duplicate`.
   */
  private async ensureSecurityGroup(vpcId: string, found: string[]): Promise<string | 'not-yet'> {
    if (found[0]) return found[0];
    try {
      const out = await this.ec2.send(
        new CreateSecurityGroupCommand({
          VpcId: vpcId,
          GroupName: RESCUE_NAME,
          Description: 'reset-access rescue helpers: no inbound rules, default egress',
          TagSpecifications: tagSpecifications(['security-group'], this.own.tags('rescue-security-group')),
        }),
      );
      return out.GroupId ?? 'not-yet';
    } catch (error) {
      if (isAwsError(error, 'InvalidGroup.Duplicate')) return 'not-yet';
      throw translateAwsError(error, `CreateSecurityGroup ${RESCUE_NAME} in ${vpcId}`);
    }
  }

  /**
   * Interface endpoints with private DNS, so the agent's usual host names resolve to them: the VPC
   * needs DNS hostnames on (a new VPC has DNS support but not hostnames), the endpoints a group that
   * lets in HTTPS from the VPC, and one subnet per AZ each (ModifyVpcEndpoint adds a new AZ's).
   */
  private async ensureEndpoints(vpc: Vpc, subnetId: string): Promise<'done' | 'not-yet'> {
    const vpcId = vpc.VpcId!;
    const hostnames = await this.call(`DescribeVpcAttribute ${vpcId} enableDnsHostnames`, () =>
      this.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' })),
    );
    if (hostnames.EnableDnsHostnames?.Value !== true) {
      await this.call(`ModifyVpcAttribute ${vpcId} EnableDnsHostnames`, () =>
        this.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } })),
      );
      return 'not-yet';
    }
    const groupId = await this.ensureEndpointGroup(vpc);
    if (groupId === 'not-yet') return 'not-yet';
    const found = await this.call('DescribeVpcEndpoints', () =>
      this.ec2.send(new DescribeVpcEndpointsCommand({ Filters: [byVpc(vpcId), ...this.own.byRole('rescue-endpoint')] })),
    );
    const live = (found.VpcEndpoints ?? []).filter((e) => !['deleting', 'deleted', 'failed', 'rejected'].includes(String(e.State).toLowerCase()));
    let complete = true;
    for (const service of SSM_ENDPOINT_SERVICES) {
      const serviceName = `com.amazonaws.${this.region}.${service}`;
      const endpoint = live.filter((e) => e.ServiceName === serviceName).sort((a, b) => a.VpcEndpointId!.localeCompare(b.VpcEndpointId!))[0];
      if (!endpoint) {
        await this.createEndpoint(vpcId, serviceName, service, subnetId, groupId);
        complete = false;
      } else if (!endpoint.SubnetIds?.includes(subnetId)) {
        await this.addEndpointSubnet(endpoint, subnetId);
        complete = false;
      } else if (String(endpoint.State).toLowerCase() !== 'available') {
        complete = false;
      }
    }
    return complete ? 'done' : 'not-yet';
  }

  /** The ClientToken names the VPC and the service: concurrent creates make one endpoint. */
  private async createEndpoint(vpcId: string, serviceName: string, service: string, subnetId: string, groupId: string): Promise<void> {
    await this.call(`CreateVpcEndpoint ${serviceName} in ${vpcId}`, () =>
      this.ec2.send(
        new CreateVpcEndpointCommand({
          VpcId: vpcId,
          ServiceName: serviceName,
          VpcEndpointType: 'Interface',
          SubnetIds: [subnetId],
          SecurityGroupIds: [groupId],
          PrivateDnsEnabled: true,
          ClientToken: `reset-access-vpce-${vpcId}-${service}`,
          TagSpecifications: tagSpecifications(['vpc-endpoint'], this.own.tags('rescue-endpoint')),
        }),
      ),
    );
  }

  private async addEndpointSubnet(endpoint: VpcEndpoint, subnetId: string): Promise<void> {
    try {
      await this.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: endpoint.VpcEndpointId!, AddSubnetIds: [subnetId] }));
    } catch (error) {
      // A concurrent call added it first ("DuplicateSubnetsInSameZone"): look again next time.
      if (isAwsError(error, 'DuplicateSubnetsInSameZone', 'InvalidParameter')) return;
      throw translateAwsError(error, `ModifyVpcEndpoint ${endpoint.VpcEndpointId} add ${subnetId}`);
    }
  }

  /** HTTPS in from the VPC's block only; created like the helpers' group, then the rule is added. */
  private async ensureEndpointGroup(vpc: Vpc): Promise<string | 'not-yet'> {
    const vpcId = vpc.VpcId!;
    const out = await this.call('DescribeSecurityGroups', () =>
      this.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [byVpc(vpcId), ...this.own.byRole('rescue-endpoint-security-group')] })),
    );
    const group: SecurityGroup | undefined = (out.SecurityGroups ?? []).sort((a, b) => a.GroupId!.localeCompare(b.GroupId!))[0];
    if (!group) {
      try {
        await this.ec2.send(
          new CreateSecurityGroupCommand({
            VpcId: vpcId,
            GroupName: ENDPOINTS_GROUP_NAME,
            Description: 'reset-access rescue SSM endpoints: HTTPS from the rescue VPC only',
            TagSpecifications: tagSpecifications(['security-group'], this.own.tags('rescue-endpoint-security-group')),
          }),
        );
      } catch (error) {
        if (!isAwsError(error, 'InvalidGroup.Duplicate')) throw translateAwsError(error, `CreateSecurityGroup ${ENDPOINTS_GROUP_NAME} in ${vpcId}`);
      }
      return 'not-yet';
    }
    const cidr = vpc.CidrBlock ?? this.cidrBlock;
    const allowed = group.IpPermissions?.some(
      (p) => p.IpProtocol === 'tcp' && p.FromPort === 443 && p.ToPort === 443 && p.IpRanges?.some((r) => r.CidrIp === cidr),
    );
    if (!allowed) {
      try {
        await this.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: group.GroupId!,
            IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: cidr, Description: 'helpers in the rescue VPC' }] }],
          }),
        );
      } catch (error) {
        if (!isAwsError(error, 'InvalidPermission.Duplicate'))
          throw translateAwsError(error, `AuthorizeSecurityGroupIngress ${group.GroupId} 443 from ${cidr}`);
      }
    }
    return group.GroupId!;
  }

  private async call<T>(context: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateAwsError(error, context);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Tags, lookups and checks of this deployment's network parts (another deployment's are not ours). */
interface Ownership {
  tags(role: ResourceRole): Record<string, string>;
  byRole(role: ResourceRole): Filter[];
  isRole(record: Record<string, string>, role: ResourceRole): boolean;
}

function ownership(deployment: string): Ownership {
  return {
    tags: (role) => ({ Name: RESCUE_NAME, ...serviceTags(role, deployment) }),
    byRole: (role) => [
      { Name: `tag:${TAG.role}`, Values: [role] },
      { Name: `tag:${TAG.managed}`, Values: ['true'] },
      { Name: `tag:${TAG.deployment}`, Values: [deployment] },
    ],
    isRole: (record, role) => isOwnResource(record, role, deployment),
  };
}

function byVpc(vpcId: string): Filter {
  return { Name: 'vpc-id', Values: [vpcId] };
}

/** `us-east-1a` → 0, `eu-west-3c` → 2; `undefined` for zone names without a final letter index. */
export function azLetterIndex(availabilityZone: string): number | undefined {
  const match = /^[a-z]{2}(?:-[a-z]+)+-\d+([a-z])$/.exec(availabilityZone);
  return match ? match[1]!.charCodeAt(0) - 'a'.charCodeAt(0) : undefined;
}

/** The `index`-th /24 of `vpcCidr` (prefix ≤ 24), or `undefined` past its end. */
export function nthSubnet24(vpcCidr: string, index: number): string | undefined {
  const [address, prefixText] = vpcCidr.split('/');
  const prefix = Number(prefixText);
  const octets = (address ?? '').split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || !(prefix >= 8 && prefix <= 24)) return undefined;
  if (index < 0 || index >= 2 ** (24 - prefix)) return undefined;
  const network = octets.reduce((n, o) => n * 256 + o, 0) - (octets.reduce((n, o) => n * 256 + o, 0) % 2 ** (32 - prefix));
  const start = network + index * 256;
  return `${[24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256).join('.')}/24`;
}

export function chooseSubnetCidr(vpcCidr: string, availabilityZone: string, used: ReadonlySet<string>): string | undefined {
  const preferred = azLetterIndex(availabilityZone);
  if (preferred !== undefined) {
    const cidr = nthSubnet24(vpcCidr, preferred);
    if (cidr && !used.has(cidr)) return cidr;
  }
  for (let index = FIRST_UNLETTERED_INDEX; ; index++) {
    const cidr = nthSubnet24(vpcCidr, index);
    if (!cidr) return undefined;
    if (!used.has(cidr)) return cidr;
  }
}

/** EC2 reports an internet gateway's attachment as `available` (the SDK's enum says `attached`). */
function isUsableAttachment(state: string | undefined): boolean {
  return state === 'available' || state === 'attached';
}
