/**
 * Ec2RescueNetworks with `access: 'vpc-endpoints'` (no gateway, no public IPv4), and the guard a
 * caller passes per call. The simulated region has no AuthorizeSecurityGroupIngress,
 * Describe/ModifyVpcAttribute or ModifyVpcEndpoint, so this mode is tested against the SDK mock only.
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
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ModifySubnetAttributeCommand,
  ModifyVpcAttributeCommand,
  ModifyVpcEndpointCommand,
  type Filter,
  type SecurityGroup,
  type Tag,
  type VpcEndpoint,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Ec2RescueNetworks } from '../../../infra/aws/rescue-networks';

const ec2Mock = mockClient(EC2Client);
const managed = (role: string): Tag[] => [
  { Key: 'Name', Value: 'reset-access-rescue' },
  { Key: 'reset-access:managed', Value: 'true' },
  { Key: 'reset-access:deployment', Value: 'ec2-reset-access-local' },
  { Key: 'reset-access:role', Value: role },
];

const hasRole = (filters: Filter[] | undefined, role: string) => filters?.some((f) => f.Name === 'tag:reset-access:role' && f.Values?.includes(role)) ?? false;

/** A rescue VPC whose route table, subnet (us-east-1a) and helpers' group exist already. */
class EndpointModel {
  dnsHostnames = false;
  groups: SecurityGroup[] = [{ GroupId: 'sg-helpers', VpcId: 'vpc-1', Tags: managed('rescue-security-group') }];
  endpoints: VpcEndpoint[] = [];
  subnets = [
    {
      SubnetId: 'subnet-a',
      VpcId: 'vpc-1',
      AvailabilityZone: 'us-east-1a',
      CidrBlock: '10.213.0.0/24',
      State: 'available' as const,
      Tags: managed('rescue-subnet'),
    },
    {
      SubnetId: 'subnet-b',
      VpcId: 'vpc-1',
      AvailabilityZone: 'us-east-1b',
      CidrBlock: '10.213.1.0/24',
      State: 'available' as const,
      Tags: managed('rescue-subnet'),
    },
  ];

  install(): void {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1', CidrBlock: '10.213.0.0/16', State: 'available', Tags: managed('rescue-vpc') }] });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          RouteTableId: 'rtb-1',
          VpcId: 'vpc-1',
          Associations: this.subnets.map((s, i) => ({
            SubnetId: s.SubnetId,
            RouteTableAssociationId: `rtbassoc-${i}`,
            AssociationState: { State: 'associated' },
          })),
          Tags: managed('rescue-route-table'),
        },
      ],
    });
    ec2Mock.on(DescribeSubnetsCommand).callsFake(() => ({ Subnets: structuredClone(this.subnets) }));
    ec2Mock.on(DescribeSecurityGroupsCommand).callsFake((input) => ({
      SecurityGroups: structuredClone(this.groups.filter((g) => g.Tags?.some((t) => t.Key === 'reset-access:role' && hasRole(input.Filters, t.Value!)))),
    }));
    ec2Mock.on(DescribeVpcAttributeCommand).callsFake(() => ({ EnableDnsHostnames: { Value: this.dnsHostnames } }));
    ec2Mock.on(ModifyVpcAttributeCommand).callsFake(() => {
      this.dnsHostnames = true;
      return {};
    });
    ec2Mock.on(CreateSecurityGroupCommand).callsFake((input) => {
      this.groups.push({ GroupId: 'sg-endpoints', VpcId: input.VpcId, IpPermissions: [], Tags: input.TagSpecifications?.[0]?.Tags });
      return { GroupId: 'sg-endpoints' };
    });
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).callsFake((input) => {
      this.groups.find((g) => g.GroupId === input.GroupId)!.IpPermissions = input.IpPermissions;
      return { Return: true };
    });
    ec2Mock.on(DescribeVpcEndpointsCommand).callsFake(() => ({ VpcEndpoints: structuredClone(this.endpoints) }));
    ec2Mock.on(CreateVpcEndpointCommand).callsFake((input) => {
      const endpoint: VpcEndpoint = {
        VpcEndpointId: `vpce-${input.ServiceName!.split('.').pop()}`,
        ServiceName: input.ServiceName,
        State: 'pending' as VpcEndpoint['State'],
        SubnetIds: input.SubnetIds,
        Tags: input.TagSpecifications?.[0]?.Tags,
      };
      this.endpoints.push(endpoint);
      return { VpcEndpoint: endpoint };
    });
    ec2Mock.on(ModifyVpcEndpointCommand).callsFake((input) => {
      const endpoint = this.endpoints.find((e) => e.VpcEndpointId === input.VpcEndpointId)!;
      endpoint.SubnetIds = [...(endpoint.SubnetIds ?? []), ...(input.AddSubnetIds ?? [])];
      return { Return: true };
    });
  }

  settle(): void {
    for (const endpoint of this.endpoints) endpoint.State = 'available' as VpcEndpoint['State'];
  }
}

/** A rescue network record that names `vpcId`. */
function recording(vpcId: string) {
  return { read: async () => ({ state: 'in-use' as const, leases: {}, vpcId }), recordVpc: async () => undefined };
}

let model: EndpointModel;
let networks: Ec2RescueNetworks;

beforeEach(() => {
  ec2Mock.reset();
  model = new EndpointModel();
  model.install();
  // A fresh adapter per region model: it remembers the networks it found complete.
  networks = new Ec2RescueNetworks(new EC2Client({ region: 'eu-west-1' }), { access: 'vpc-endpoints', region: 'eu-west-1', record: recording('vpc-1') });
});

async function ensureUntilComplete(az: string) {
  for (let call = 0; call < 6; call++) {
    const result = await networks.ensure(az);
    if (result !== 'not-yet') return result;
    model.settle();
  }
  return 'not-yet';
}

describe('rescue network with VPC endpoints', () => {
  it('turns DNS hostnames on, lets HTTPS in from the VPC to the endpoints, and makes the three SSM endpoints once', async () => {
    // Act
    const network = await ensureUntilComplete('us-east-1a');

    // Assess
    expect(network).toEqual({ kind: 'rescue-vpc', vpcId: 'vpc-1', subnetId: 'subnet-a', securityGroupIds: ['sg-helpers'] });
    expect(ec2Mock.commandCalls(ModifyVpcAttributeCommand).map((c) => c.args[0].input)).toEqual([{ VpcId: 'vpc-1', EnableDnsHostnames: { Value: true } }]);
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({
        VpcId: 'vpc-1',
        GroupName: 'reset-access-rescue-endpoints',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: managed('rescue-endpoint-security-group') }],
      }),
    ]);
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual([
      {
        GroupId: 'sg-endpoints',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.213.0.0/16', Description: 'helpers in the rescue VPC' }] }],
      },
    ]);
    expect(ec2Mock.commandCalls(CreateVpcEndpointCommand).map((c) => c.args[0].input)).toEqual(
      ['ssm', 'ssmmessages', 'ec2messages'].map((service) => ({
        VpcId: 'vpc-1',
        ServiceName: `com.amazonaws.eu-west-1.${service}`,
        VpcEndpointType: 'Interface',
        SubnetIds: ['subnet-a'],
        SecurityGroupIds: ['sg-endpoints'],
        PrivateDnsEnabled: true,
        ClientToken: `reset-access-vpce-vpc-1-${service}`,
        TagSpecifications: [{ ResourceType: 'vpc-endpoint', Tags: managed('rescue-endpoint') }],
      })),
    );
  });

  it('neither attaches a gateway nor maps public IPs', async () => {
    // Act
    await ensureUntilComplete('us-east-1a');
    // Assess
    expect(ec2Mock.commandCalls(CreateInternetGatewayCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(AttachInternetGatewayCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateRouteCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(ModifySubnetAttributeCommand)).toHaveLength(0);
  });

  it('adds a second AZ subnet to the existing endpoints instead of making new ones', async () => {
    // Prepare
    await ensureUntilComplete('us-east-1a');
    ec2Mock.resetHistory();
    // Act
    const network = await ensureUntilComplete('us-east-1b');
    // Assess
    expect(network).toMatchObject({ subnetId: 'subnet-b' });
    expect(ec2Mock.commandCalls(CreateVpcEndpointCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(ModifyVpcEndpointCommand).map((c) => c.args[0].input)).toEqual(
      ['ssm', 'ssmmessages', 'ec2messages'].map((service) => ({ VpcEndpointId: `vpce-${service}`, AddSubnetIds: ['subnet-b'] })),
    );
  });

  it('is not complete while an endpoint is pending', async () => {
    // Prepare: DNS, group and rule in place; endpoints just created
    await networks.ensure('us-east-1a');
    await networks.ensure('us-east-1a');
    await networks.ensure('us-east-1a');
    // Act
    const result = await networks.ensure('us-east-1a');
    // Assess
    expect(model.endpoints.map((e) => e.State)).toEqual(['pending', 'pending', 'pending']);
    expect(result).toBe('not-yet');
  });
});

describe('the guard a caller passes', () => {
  it('is asked before CreateVpc, and the VPC is looked up again under it', async () => {
    // Prepare: no VPC recorded until the guard is asked; a concurrent holder made and recorded one meanwhile
    ec2Mock.reset();
    const made = { VpcId: 'vpc-theirs', CidrBlock: '10.213.0.0/16', State: 'pending' as const, Tags: managed('rescue-vpc') };
    let asked = 0;
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [made] });
    const record = { ...recording('vpc-theirs'), read: async () => (asked > 0 ? recording('vpc-theirs').read() : undefined) };
    const plain = new Ec2RescueNetworks(new EC2Client({ region: 'us-east-1' }), { record });
    // Act
    const result = await plain.ensure('us-east-1a', { mayCreate: async () => ++asked > 0 });
    // Assess
    expect(result).toBe('not-yet');
    expect(asked).toBe(1);
    expect(ec2Mock.commandCalls(CreateVpcCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateRouteTableCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(CreateSubnetCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(AssociateRouteTableCommand)).toHaveLength(0);
  });
});
