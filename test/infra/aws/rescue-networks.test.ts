import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  EC2ServiceException,
  ModifySubnetAttributeCommand,
  ReplaceRouteCommand,
  type Filter,
  type InternetGateway,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type Tag,
  type TagSpecification,
  type Vpc,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError } from '../../../domain/errors';
import { azLetterIndex, chooseSubnetCidr, Ec2RescueNetworks, KNOWN_NETWORK_TRUST_MS, nthSubnet24 } from '../../../infra/aws/rescue-networks';

const ec2Mock = mockClient(EC2Client);

const MUTATIONS = [
  CreateVpcCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  CreateRouteTableCommand,
  CreateRouteCommand,
  ReplaceRouteCommand,
  CreateSubnetCommand,
  AssociateRouteTableCommand,
  ModifySubnetAttributeCommand,
  CreateSecurityGroupCommand,
] as const;

function ec2Error(name: string, status = 400): EC2ServiceException {
  return new EC2ServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

/**
 * A small EC2 VPC model behind the mock: enough state and filtering (`tag:*`, `vpc-id`,
 * `attachment.vpc-id`) for `ensure` to be driven from nothing to a complete network. New VPCs and
 * subnets are `pending` until `settle()`.
 */
class VpcModel {
  vpcs: Vpc[] = [];
  gateways: InternetGateway[] = [];
  routeTables: RouteTable[] = [];
  subnets: Subnet[] = [];
  groups: SecurityGroup[] = [];
  private next = 1;

  private id(prefix: string): string {
    return `${prefix}-${String(this.next++).padStart(4, '0')}`;
  }

  settle(): void {
    for (const vpc of this.vpcs) vpc.State = 'available';
    for (const subnet of this.subnets) subnet.State = 'available';
  }

  install(): void {
    const tagsOf = (specs: TagSpecification[] | undefined): Tag[] => specs?.[0]?.Tags ?? [];
    ec2Mock.on(DescribeVpcsCommand).callsFake((input) => ({ Vpcs: clone(filtered(this.vpcs, input.Filters)) }));
    ec2Mock.on(DescribeInternetGatewaysCommand).callsFake((input) => ({ InternetGateways: clone(filtered(this.gateways, input.Filters)) }));
    ec2Mock.on(DescribeRouteTablesCommand).callsFake((input) => ({ RouteTables: clone(filtered(this.routeTables, input.Filters)) }));
    ec2Mock.on(DescribeSubnetsCommand).callsFake((input) => ({ Subnets: clone(filtered(this.subnets, input.Filters)) }));
    ec2Mock.on(DescribeSecurityGroupsCommand).callsFake((input) => ({ SecurityGroups: clone(filtered(this.groups, input.Filters)) }));
    ec2Mock.on(CreateVpcCommand).callsFake((input) => {
      const vpc: Vpc = { VpcId: this.id('vpc'), CidrBlock: input.CidrBlock, State: 'pending', Tags: tagsOf(input.TagSpecifications) };
      this.vpcs.push(vpc);
      return { Vpc: clone(vpc) };
    });
    ec2Mock.on(CreateInternetGatewayCommand).callsFake((input) => {
      const gateway: InternetGateway = { InternetGatewayId: this.id('igw'), Attachments: [], Tags: tagsOf(input.TagSpecifications) };
      this.gateways.push(gateway);
      return { InternetGateway: clone(gateway) };
    });
    ec2Mock.on(AttachInternetGatewayCommand).callsFake((input) => {
      if (this.gateways.some((g) => g.Attachments?.some((a) => a.VpcId === input.VpcId))) {
        throw ec2Error('InvalidParameterValue');
      }
      this.gateways.find((g) => g.InternetGatewayId === input.InternetGatewayId)!.Attachments = [{ VpcId: input.VpcId, State: 'available' as never }];
      return {};
    });
    ec2Mock.on(CreateRouteTableCommand).callsFake((input) => {
      const table: RouteTable = {
        RouteTableId: this.id('rtb'),
        VpcId: input.VpcId,
        Routes: [{ DestinationCidrBlock: '10.213.0.0/16', GatewayId: 'local', State: 'active' }],
        Associations: [],
        Tags: tagsOf(input.TagSpecifications),
      };
      this.routeTables.push(table);
      return { RouteTable: clone(table), ClientToken: input.ClientToken };
    });
    ec2Mock.on(CreateRouteCommand).callsFake((input) => {
      this.routeTables
        .find((t) => t.RouteTableId === input.RouteTableId)!
        .Routes!.push({ DestinationCidrBlock: input.DestinationCidrBlock, GatewayId: input.GatewayId, State: 'active' });
      return { Return: true };
    });
    ec2Mock.on(CreateSubnetCommand).callsFake((input) => {
      if (this.subnets.some((s) => s.VpcId === input.VpcId && s.CidrBlock === input.CidrBlock)) throw ec2Error('InvalidSubnet.Conflict');
      const subnet: Subnet = {
        SubnetId: this.id('subnet'),
        VpcId: input.VpcId,
        AvailabilityZone: input.AvailabilityZone,
        CidrBlock: input.CidrBlock,
        State: 'pending',
        MapPublicIpOnLaunch: false,
        Tags: tagsOf(input.TagSpecifications),
      };
      this.subnets.push(subnet);
      return { Subnet: clone(subnet) };
    });
    ec2Mock.on(AssociateRouteTableCommand).callsFake((input) => {
      this.routeTables
        .find((t) => t.RouteTableId === input.RouteTableId)!
        .Associations!.push({
          RouteTableAssociationId: this.id('rtbassoc'),
          SubnetId: input.SubnetId,
          AssociationState: { State: 'associated' },
        });
      return {};
    });
    ec2Mock.on(ModifySubnetAttributeCommand).callsFake((input) => {
      this.subnets.find((s) => s.SubnetId === input.SubnetId)!.MapPublicIpOnLaunch = input.MapPublicIpOnLaunch?.Value;
      return {};
    });
    ec2Mock.on(CreateSecurityGroupCommand).callsFake((input) => {
      const group: SecurityGroup = {
        GroupId: this.id('sg'),
        GroupName: input.GroupName,
        VpcId: input.VpcId,
        IpPermissions: [],
        Tags: tagsOf(input.TagSpecifications),
      };
      this.groups.push(group);
      return { GroupId: group.GroupId };
    });
  }
}

function filtered<T extends { Tags?: Tag[]; VpcId?: string; Attachments?: Array<{ VpcId?: string }> }>(items: T[], filters: Filter[] | undefined): T[] {
  return items.filter((item) =>
    (filters ?? []).every((f) => {
      const values = f.Values ?? [];
      if (f.Name?.startsWith('tag:')) return item.Tags?.some((t) => t.Key === f.Name!.slice(4) && values.includes(t.Value!)) ?? false;
      if (f.Name === 'vpc-id') return values.includes(item.VpcId!);
      if (f.Name === 'attachment.vpc-id') return item.Attachments?.some((a) => values.includes(a.VpcId!)) ?? false;
      throw new Error(`filter ${f.Name} not modelled`);
    }),
  );
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function mutationCount(): number {
  const names = new Set<string>(MUTATIONS.map((command) => command.name));
  return ec2Mock.calls().filter((call) => names.has((call.args[0] as object).constructor.name)).length;
}

const roleTags = (role: string) => [
  { Key: 'Name', Value: 'reset-access-rescue' },
  { Key: 'reset-access:managed', Value: 'true' },
  { Key: 'reset-access:deployment', Value: 'ec2-reset-access-local' },
  { Key: 'reset-access:role', Value: role },
];

let model: VpcModel;
let networks: Ec2RescueNetworks;

beforeEach(() => {
  ec2Mock.reset();
  model = new VpcModel();
  model.install();
  networks = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }));
});

describe('ensure', () => {
  it('goes from nothing to a complete network step by step, then finds it without creating anything', async () => {
    // Prepare: an empty region

    // Act 1: only the VPC can be made; it is pending
    const first = await networks.ensure('us-east-1c');

    // Assess 1
    expect(first).toBe('not-yet');
    expect(ec2Mock.commandCalls(CreateVpcCommand).map((c) => c.args[0].input)).toEqual([
      { CidrBlock: '10.213.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: roleTags('rescue-vpc') }] },
    ]);
    expect(mutationCount()).toBe(1);

    // Act 2: the VPC is available; everything else is made, the subnet is still pending
    model.settle();
    ec2Mock.resetHistory();
    const second = await networks.ensure('us-east-1c');

    // Assess 2
    expect(second).toBe('not-yet');
    const vpcId = model.vpcs[0]!.VpcId!;
    const igwId = model.gateways[0]!.InternetGatewayId!;
    expect(ec2Mock.commandCalls(CreateRouteTableCommand)[0]!.args[0].input).toEqual({
      VpcId: vpcId,
      ClientToken: `reset-access-rtb-${vpcId}`,
      TagSpecifications: [{ ResourceType: 'route-table', Tags: roleTags('rescue-route-table') }],
    });
    expect(ec2Mock.commandCalls(CreateInternetGatewayCommand)[0]!.args[0].input).toEqual({
      TagSpecifications: [{ ResourceType: 'internet-gateway', Tags: roleTags('rescue-igw') }],
    });
    expect(ec2Mock.commandCalls(AttachInternetGatewayCommand)[0]!.args[0].input).toEqual({ InternetGatewayId: igwId, VpcId: vpcId });
    expect(ec2Mock.commandCalls(CreateRouteCommand)[0]!.args[0].input).toEqual({
      RouteTableId: model.routeTables[0]!.RouteTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      GatewayId: igwId,
    });
    expect(ec2Mock.commandCalls(CreateSubnetCommand)[0]!.args[0].input).toEqual({
      VpcId: vpcId,
      AvailabilityZone: 'us-east-1c',
      CidrBlock: '10.213.2.0/24',
      TagSpecifications: [{ ResourceType: 'subnet', Tags: roleTags('rescue-subnet') }],
    });
    expect(ec2Mock.commandCalls(AssociateRouteTableCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(ModifySubnetAttributeCommand)[0]!.args[0].input).toEqual({
      SubnetId: model.subnets[0]!.SubnetId,
      MapPublicIpOnLaunch: { Value: true },
    });
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)[0]!.args[0].input).toEqual({
      VpcId: vpcId,
      GroupName: 'reset-access-rescue',
      Description: expect.any(String),
      TagSpecifications: [{ ResourceType: 'security-group', Tags: roleTags('rescue-security-group') }],
    });
    expect(model.groups[0]!.IpPermissions).toEqual([]);

    // Act 3: the subnet is available; the network is complete and nothing is created
    model.settle();
    ec2Mock.resetHistory();
    const third = await networks.ensure('us-east-1c');

    // Assess 3
    expect(third).toEqual({
      kind: 'rescue-vpc',
      vpcId,
      subnetId: model.subnets[0]!.SubnetId,
      securityGroupIds: [model.groups[0]!.GroupId],
    });
    expect(mutationCount()).toBe(0);
    // Four describes: an active default route proves the gateway, so it is not described.
    expect(ec2Mock.calls()).toHaveLength(4);
    expect(ec2Mock.commandCalls(DescribeInternetGatewaysCommand)).toHaveLength(0);
  });

  it('looks only at the subnet of a network it found complete, and in full again once the subnet is gone', async () => {
    // Prepare: a complete network, found so by this adapter
    await networks.ensure('us-east-1c');
    model.settle();
    await networks.ensure('us-east-1c');
    model.settle();
    const complete = await networks.ensure('us-east-1c');
    ec2Mock.resetHistory();

    // Act 1
    const again = await networks.ensure('us-east-1c');

    // Assess 1: one DescribeSubnets of that subnet
    expect(again).toEqual(complete);
    expect(ec2Mock.calls()).toHaveLength(1);
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)[0]!.args[0].input).toEqual({ SubnetIds: [model.subnets[0]!.SubnetId] });

    // Act 2: the subnet was deleted (the network reclaimed): EC2 answers NotFound for its id
    const subnetId = model.subnets[0]!.SubnetId!;
    model.subnets = [];
    ec2Mock.on(DescribeSubnetsCommand, { SubnetIds: [subnetId] }).rejects(ec2Error('InvalidSubnetID.NotFound'));
    ec2Mock.resetHistory();
    const afterReclaim = await networks.ensure('us-east-1c');

    // Assess 2: looked at in full, and a subnet is made again
    expect(afterReclaim).toBe('not-yet');
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(CreateSubnetCommand)).toHaveLength(1);
  });

  it('checks a network it found complete in full again after KNOWN_NETWORK_TRUST_MS, repairing what was removed', async () => {
    // Prepare: a complete network; later its default route is gone (deleted by hand)
    let now = 0;
    const clocked = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { now: () => now });
    await clocked.ensure('us-east-1c');
    model.settle();
    await clocked.ensure('us-east-1c');
    model.settle();
    await clocked.ensure('us-east-1c');
    const table = model.routeTables[0]!;
    table.Routes = table.Routes!.filter((r) => r.DestinationCidrBlock !== '0.0.0.0/0');
    ec2Mock.resetHistory();

    // Act
    now = KNOWN_NETWORK_TRUST_MS - 1;
    await clocked.ensure('us-east-1c');
    const withinTrust = ec2Mock.calls().length;
    now = KNOWN_NETWORK_TRUST_MS;
    await clocked.ensure('us-east-1c');

    // Assess
    expect(withinTrust).toBe(1);
    expect(ec2Mock.commandCalls(CreateRouteCommand)).toHaveLength(1);
  });

  it('adds only a subnet (and its association and public IPs) for a second AZ', async () => {
    // Prepare: a complete network in us-east-1c
    await networks.ensure('us-east-1c');
    model.settle();
    await networks.ensure('us-east-1c');
    model.settle();
    ec2Mock.resetHistory();

    // Act
    const pending = await networks.ensure('us-east-1a');
    model.settle();
    const complete = await networks.ensure('us-east-1a');

    // Assess
    expect(pending).toBe('not-yet');
    expect(complete).toMatchObject({ kind: 'rescue-vpc', subnetId: model.subnets[1]!.SubnetId, securityGroupIds: [model.groups[0]!.GroupId] });
    expect(ec2Mock.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input.CidrBlock)).toEqual(['10.213.0.0/24']);
    expect(ec2Mock.commandCalls(AssociateRouteTableCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(ModifySubnetAttributeCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(CreateVpcCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateInternetGatewayCommand)).toHaveLength(0);
  });

  it('answers not-yet when a concurrent call made the same AZ subnet first', async () => {
    // Prepare: the VPC exists; another job's CreateSubnet lands between our describe and our create
    await networks.ensure('us-east-1c');
    model.settle();
    ec2Mock.on(CreateSubnetCommand).rejectsOnce(ec2Error('InvalidSubnet.Conflict'));

    // Act
    const result = await networks.ensure('us-east-1c');

    // Assess
    expect(result).toBe('not-yet');
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
  });

  it('uses the gateway another call attached when its own attach is refused', async () => {
    // Prepare: the VPC exists; a concurrent caller attaches its own gateway right after our describe
    await networks.ensure('us-east-1c');
    model.settle();
    const vpcId = model.vpcs[0]!.VpcId!;
    const theirs: InternetGateway = { InternetGatewayId: 'igw-theirs', Attachments: [], Tags: roleTags('rescue-igw') };
    ec2Mock.on(CreateInternetGatewayCommand).callsFake(() => {
      model.gateways.push(theirs);
      theirs.Attachments = [{ VpcId: vpcId, State: 'available' as never }];
      const ours: InternetGateway = { InternetGatewayId: 'igw-ours', Attachments: [], Tags: roleTags('rescue-igw') };
      model.gateways.push(ours);
      return { InternetGateway: clone(ours) };
    });

    // Act
    await networks.ensure('us-east-1c');

    // Assess
    expect(ec2Mock.commandCalls(AttachInternetGatewayCommand)[0]!.args[0].input).toEqual({ InternetGatewayId: 'igw-ours', VpcId: vpcId });
    expect(ec2Mock.commandCalls(CreateRouteCommand)[0]!.args[0].input.GatewayId).toBe('igw-theirs');
  });

  it('replaces a default route left as a blackhole by a detached gateway', async () => {
    // Prepare: a complete network whose gateway was detached
    await networks.ensure('us-east-1c');
    model.settle();
    await networks.ensure('us-east-1c');
    model.settle();
    model.gateways[0]!.Attachments = [];
    model.routeTables[0]!.Routes!.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')!.State = 'blackhole';
    ec2Mock.on(ReplaceRouteCommand).resolves({});
    ec2Mock.resetHistory();

    // Act
    await networks.ensure('us-east-1c');

    // Assess
    expect(ec2Mock.commandCalls(AttachInternetGatewayCommand)[0]!.args[0].input.InternetGatewayId).toBe(model.gateways[0]!.InternetGatewayId);
    expect(ec2Mock.commandCalls(ReplaceRouteCommand)).toHaveLength(1);
    expect(ec2Mock.commandCalls(CreateInternetGatewayCommand)).toHaveLength(0);
  });

  it("never adopts a VPC that only carries the service's tags: it makes its own, records it, and uses that one", async () => {
    // Prepare: someone allowed CreateTags dressed their VPC as the rescue VPC
    model.vpcs.push({ VpcId: 'vpc-0lure', CidrBlock: '10.213.0.0/16', State: 'available', Tags: roleTags('rescue-vpc') });
    const record = recordHolder();
    const recorded = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { record });

    // Act
    await recorded.ensure('us-east-1c');
    model.settle();
    await recorded.ensure('us-east-1c');

    // Assess
    const made = ec2Mock.commandCalls(CreateVpcCommand).map((c) => c.args[0].input.CidrBlock);
    expect(made).toEqual(['10.213.0.0/16']);
    const ownVpc = model.vpcs.find((v) => v.VpcId !== 'vpc-0lure')!.VpcId;
    expect(record.vpcId).toBe(ownVpc);
    expect(ec2Mock.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input.VpcId)).toEqual([ownVpc]);
    expect(ec2Mock.commandCalls(CreateRouteTableCommand).map((c) => c.args[0].input.VpcId)).toEqual([ownVpc]);
  });

  it('follows the record when an expired creation lock let a second caller make and record another VPC', async () => {
    // Prepare: this adapter made and recorded a VPC; another caller then made one and recorded it
    const record = recordHolder();
    const first = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { record });
    await first.ensure('us-east-1c');
    const second = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { record: { ...record, read: async () => undefined } });
    await second.ensure('us-east-1c');
    model.settle();
    ec2Mock.resetHistory();

    // Act
    await first.ensure('us-east-1c');

    // Assess
    expect(model.vpcs.map((v) => v.VpcId)).toHaveLength(2);
    expect(record.vpcId).toBe(model.vpcs[1]!.VpcId);
    expect(ec2Mock.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input.VpcId)).toEqual([model.vpcs[1]!.VpcId]);
  });

  it('creates no VPC while the guard says no', async () => {
    // Prepare
    const guarded = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { guard: { mayCreate: async () => false } });

    // Act
    const result = await guarded.ensure('us-east-1c');

    // Assess
    expect(result).toBe('not-yet');
    expect(mutationCount()).toBe(0);
  });

  it('creates no internet gateway while the guard says no, and asks for that part', async () => {
    // Prepare: the VPC exists and is available; a guard that lets nothing be created
    await networks.ensure('us-east-1c');
    model.settle();
    ec2Mock.resetHistory();
    const asked: string[] = [];

    // Act
    const result = await networks.ensure('us-east-1c', {
      mayCreate: async (part) => {
        asked.push(part);
        return false;
      },
    });

    // Assess
    expect(result).toBe('not-yet');
    expect(asked).toEqual(['internet-gateway']);
    expect(ec2Mock.commandCalls(CreateInternetGatewayCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateVpcCommand)).toHaveLength(0);
  });

  it('turns throttling into a RetryableError', async () => {
    // Prepare
    ec2Mock.on(CreateVpcCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const result = networks.ensure('us-east-1c');

    // Assess
    await expect(result).rejects.toBeInstanceOf(RetryableError);
  });
});

describe('vpcExists', () => {
  it("looks at the recorded VPC only, and only while it carries the service's tags", async () => {
    // Prepare: a VPC dressed with the service's tags, and one that is not the service's
    model.vpcs.push({ VpcId: 'vpc-0lure', State: 'available', Tags: roleTags('rescue-vpc') });
    model.vpcs.push({ VpcId: 'vpc-0other', State: 'available', Tags: [{ Key: 'Name', Value: 'prod' }] });
    const record = recordHolder();
    const recorded = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { record });

    // Act
    const unrecorded = await recorded.vpcExists();
    await record.recordVpc('vpc-0other');
    const notTheService = await recorded.vpcExists();
    await record.recordVpc('vpc-0lure');
    const theRecordedOne = await recorded.vpcExists();

    // Assess
    expect([unrecorded, notTheService, theRecordedOne]).toEqual([false, false, true]);
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0]!.args[0].input).toEqual({
      Filters: [
        { Name: 'vpc-id', Values: ['vpc-0other'] },
        { Name: 'tag:reset-access:role', Values: ['rescue-vpc'] },
        { Name: 'tag:reset-access:managed', Values: ['true'] },
        { Name: 'tag:reset-access:deployment', Values: ['ec2-reset-access-local'] },
      ],
    });
  });
});

/** The rescue network record's VPC, shared by the adapters of a test as the job table shares it. */
function recordHolder() {
  const holder = {
    vpcId: undefined as string | undefined,
    read: async () => (holder.vpcId ? { state: 'in-use' as const, leases: {}, vpcId: holder.vpcId } : undefined),
    recordVpc: async (vpcId: string) => {
      holder.vpcId = vpcId;
    },
  };
  return holder;
}

describe('subnet blocks', () => {
  it('indexes standard AZ names by their letter, and no others', () => {
    expect(azLetterIndex('us-east-1a')).toBe(0);
    expect(azLetterIndex('ap-southeast-2c')).toBe(2);
    expect(azLetterIndex('us-gov-west-1b')).toBe(1);
    expect(azLetterIndex('us-west-2-lax-1a')).toBeUndefined();
  });

  it('cuts /24s out of the VPC block', () => {
    expect(nthSubnet24('10.213.0.0/16', 0)).toBe('10.213.0.0/24');
    expect(nthSubnet24('10.213.0.0/16', 255)).toBe('10.213.255.0/24');
    expect(nthSubnet24('10.213.0.0/16', 256)).toBeUndefined();
    expect(nthSubnet24('10.20.4.0/22', 3)).toBe('10.20.7.0/24');
  });

  it('gives a zone without a letter index the first free block from 26 on', () => {
    const used = new Set(['10.213.26.0/24']);
    expect(chooseSubnetCidr('10.213.0.0/16', 'us-west-2-lax-1a', used)).toBe('10.213.27.0/24');
    expect(chooseSubnetCidr('10.213.0.0/16', 'us-west-2b', used)).toBe('10.213.1.0/24');
  });
});
