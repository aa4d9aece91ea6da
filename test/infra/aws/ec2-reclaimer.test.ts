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
  EC2Client,
  EC2ServiceException,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError } from '../../../domain/errors';
import type { NetworkPart } from '../../../domain/ports';
import { Ec2Reclaimer } from '../../../infra/aws/ec2-reclaimer';

const ec2Mock = mockClient(EC2Client);
const reclaimer = new Ec2Reclaimer(new EC2Client({ region: 'us-east-1' }));

function ec2Error(name: string, status = 400): EC2ServiceException {
  return new EC2ServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

const managed = (role: string) => [
  { Key: 'reset-access:managed', Value: 'true' },
  { Key: 'reset-access:deployment', Value: 'ec2-reset-access-local' },
  { Key: 'reset-access:role', Value: role },
];

const helperFilters = [
  { Name: 'tag:reset-access:managed', Values: ['true'] },
  { Name: 'tag:reset-access:deployment', Values: ['ec2-reset-access-local'] },
  { Name: 'tag:reset-access:role', Values: ['helper'] },
];

beforeEach(() => ec2Mock.reset());

describe('Ec2Reclaimer.listHelpers', () => {
  it('finds helpers by both service tags and tells their own volumes from a customer one', async () => {
    // Prepare
    const helper: Instance = {
      InstanceId: 'i-helper',
      State: { Name: 'running' },
      LaunchTime: new Date('2026-01-05T08:00:00Z'),
      VpcId: 'vpc-rescue',
      RootDeviceName: '/dev/xvda',
      Tags: [...managed('helper'), { Key: 'reset-access:job-id', Value: 'r-1' }],
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root', Status: 'attached' } },
        { DeviceName: '/dev/sdf', Ebs: { VolumeId: 'vol-customer', Status: 'attached' } },
        { DeviceName: '/dev/sdg', Ebs: { VolumeId: 'vol-scratch', Status: 'attached' } },
      ],
    };
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [helper] }] });
    ec2Mock.on(DescribeVolumesCommand).resolves({
      Volumes: [
        { VolumeId: 'vol-customer', Tags: [] },
        { VolumeId: 'vol-scratch', Tags: managed('helper') },
      ],
    });

    // Act
    const [found] = await reclaimer.listHelpers();

    // Assess
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.Filters).toEqual([
      ...helperFilters,
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] },
    ]);
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'volume-id', Values: ['vol-customer', 'vol-scratch'] }],
    });
    expect(found).toEqual({
      instanceId: 'i-helper',
      state: 'running',
      launchTime: '2026-01-05T08:00:00.000Z',
      vpcId: 'vpc-rescue',
      rootDeviceName: '/dev/xvda',
      tags: {
        'reset-access:managed': 'true',
        'reset-access:deployment': 'ec2-reset-access-local',
        'reset-access:role': 'helper',
        'reset-access:job-id': 'r-1',
      },
      volumes: [
        { volumeId: 'vol-root', device: '/dev/xvda', state: 'attached', own: true },
        { volumeId: 'vol-customer', device: '/dev/sdf', state: 'attached', own: false },
        { volumeId: 'vol-scratch', device: '/dev/sdg', state: 'attached', own: true },
      ],
    });
  });

  it('reads every page of instances', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'running' } }] }], NextToken: 'page-2' })
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: 'i-2', State: { Name: 'stopped' } }] }] });
    // Act
    const helpers = await reclaimer.listHelpers();
    // Assess
    expect(helpers.map((h) => h.instanceId)).toEqual(['i-1', 'i-2']);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[1]!.args[0].input.NextToken).toBe('page-2');
  });
});

describe('Ec2Reclaimer.listRescueVpcs', () => {
  it("lists the service's parts of each rescue VPC and names what does not carry its tags", async () => {
    // Prepare
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-rescue' }] });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-stray' }] }] });
    ec2Mock.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: [
        { VpcEndpointId: 'vpce-ssm', State: 'Available', Tags: managed('rescue-endpoint') },
        { VpcEndpointId: 'vpce-gone', State: 'Deleted', Tags: managed('rescue-endpoint') },
      ],
    });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        { RouteTableId: 'rtb-main', Associations: [{ Main: true, RouteTableAssociationId: 'rtbassoc-main' }], Tags: [] },
        {
          RouteTableId: 'rtb-rescue',
          Associations: [{ Main: false, RouteTableAssociationId: 'rtbassoc-1', SubnetId: 'subnet-a' }],
          Tags: managed('rescue-route-table'),
        },
      ],
    });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        { GroupId: 'sg-default', GroupName: 'default', Tags: [] },
        { GroupId: 'sg-rescue', GroupName: 'reset-access-rescue', Tags: managed('rescue-security-group') },
        { GroupId: 'sg-customer', GroupName: 'mine', Tags: [] },
      ],
    });
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: 'subnet-a', Tags: managed('rescue-subnet') }] });
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [{ InternetGatewayId: 'igw-rescue', Tags: managed('rescue-igw') }] });

    // Act
    const [vpc] = await reclaimer.listRescueVpcs();

    // Assess
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0]!.args[0].input.Filters).toEqual([
      { Name: 'tag:reset-access:managed', Values: ['true'] },
      { Name: 'tag:reset-access:deployment', Values: ['ec2-reset-access-local'] },
      { Name: 'tag:reset-access:role', Values: ['rescue-vpc'] },
    ]);
    expect(vpc).toEqual({
      vpcId: 'vpc-rescue',
      instanceIds: ['i-stray'],
      endpoints: [{ id: 'vpce-ssm', state: 'available' }],
      routeTables: [{ id: 'rtb-rescue', associationIds: ['rtbassoc-1'] }],
      securityGroupIds: ['sg-rescue'],
      subnetIds: ['subnet-a'],
      internetGatewayIds: ['igw-rescue'],
      foreign: ['sg-customer'],
    });
  });
});

describe('Ec2Reclaimer.terminateHelper', () => {
  it('terminates an instance only while it still carries the helper tags', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: 'i-helper' }] }] })
      .resolvesOnce({ Reservations: [] });
    ec2Mock.on(TerminateInstancesCommand).resolves({});
    // Act
    const first = await reclaimer.terminateHelper('i-helper');
    const second = await reclaimer.terminateHelper('i-customer');
    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[1]!.args[0].input.Filters).toEqual([
      { Name: 'instance-id', Values: ['i-customer'] },
      ...helperFilters,
    ]);
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ['i-helper'] }]);
  });
});

describe('Ec2Reclaimer.listDetachedGateways', () => {
  it('answers the tagged gateways attached to no VPC', async () => {
    // Prepare
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({
      InternetGateways: [
        { InternetGatewayId: 'igw-used', Attachments: [{ VpcId: 'vpc-1', State: 'available' as never }] },
        { InternetGatewayId: 'igw-spare', Attachments: [] },
      ],
    });
    // Act / Assess
    expect(await reclaimer.listDetachedGateways()).toEqual(['igw-spare']);
  });
});

describe('Ec2Reclaimer.deletePart', () => {
  it.each(
    (
      [
        [{ kind: 'vpc-endpoint', id: 'vpce-1' }, new DeleteVpcEndpointsCommand({ VpcEndpointIds: ['vpce-1'] })],
        [{ kind: 'route-table-association', id: 'rtbassoc-1', routeTableId: 'rtb-1' }, new DisassociateRouteTableCommand({ AssociationId: 'rtbassoc-1' })],
        [{ kind: 'route-table', id: 'rtb-1' }, new DeleteRouteTableCommand({ RouteTableId: 'rtb-1' })],
        [{ kind: 'security-group', id: 'sg-1' }, new DeleteSecurityGroupCommand({ GroupId: 'sg-1' })],
        [{ kind: 'subnet', id: 'subnet-1' }, new DeleteSubnetCommand({ SubnetId: 'subnet-1' })],
        [
          { kind: 'internet-gateway-attachment', id: 'igw-1', vpcId: 'vpc-1' },
          new DetachInternetGatewayCommand({ InternetGatewayId: 'igw-1', VpcId: 'vpc-1' }),
        ],
        [{ kind: 'internet-gateway', id: 'igw-1' }, new DeleteInternetGatewayCommand({ InternetGatewayId: 'igw-1' })],
        [{ kind: 'vpc', id: 'vpc-1' }, new DeleteVpcCommand({ VpcId: 'vpc-1' })],
      ] as Array<[NetworkPart, object]>
    ).map(([part, command]) => [part.kind, part, command] as const),
  )('deletes a %s with exactly its command', async (_kind, part, command) => {
    // Prepare
    ec2Mock.onAnyCommand().resolves({});
    // Act
    const result = await reclaimer.deletePart(part);
    // Assess
    expect(result).toEqual({ outcome: 'deleted' });
    const calls = ec2Mock.calls();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0]).toBeInstanceOf(command.constructor);
    expect((calls[0]!.args[0] as { input: object }).input).toEqual((command as { input: object }).input);
  });

  it.each(['DependencyViolation', 'InvalidSubnetID.NotFound', 'Gateway.NotAttached'])('answers deferred to %s', async (code) => {
    // Prepare
    ec2Mock.on(DeleteSubnetCommand).rejects(ec2Error(code));
    // Act
    const result = await reclaimer.deletePart({ kind: 'subnet', id: 'subnet-1' });
    // Assess
    expect(result).toEqual({ outcome: 'deferred', reason: `${code}: ${code} (test)` });
  });

  it('answers deferred when the endpoint deletion is refused per item', async () => {
    // Prepare
    ec2Mock
      .on(DeleteVpcEndpointsCommand)
      .resolves({ Unsuccessful: [{ ResourceId: 'vpce-1', Error: { Code: 'InvalidVpcEndpoint.NotFound', Message: 'gone' } }] });
    // Act / Assess
    expect(await reclaimer.deletePart({ kind: 'vpc-endpoint', id: 'vpce-1' })).toEqual({ outcome: 'deferred', reason: 'InvalidVpcEndpoint.NotFound: gone' });
  });

  it('turns throttling into a RetryableError', async () => {
    // Prepare
    ec2Mock.on(DeleteVpcCommand).rejects(ec2Error('RequestLimitExceeded', 503));
    // Act
    const deleting = reclaimer.deletePart({ kind: 'vpc', id: 'vpc-1' });
    // Assess
    await expect(deleting).rejects.toBeInstanceOf(RetryableError);
  });
});
