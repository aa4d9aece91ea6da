import {
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateVpcEndpointCommand,
  DeleteTagsCommand,
  DescribeInstanceAttributeCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  GetPasswordDataCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';

import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { simulatedRegion } from './sim-harness';

/** Shapes the other tests do not read: a wrong wire name would leave a field undefined here. */
describe('EC2 Query responses as the SDK reads them', () => {
  test('network shapes: VPC, subnet, internet gateway, route table, security group, VPC endpoint', async () => {
    // Prepare
    const { ec2 } = simulatedRegion();
    const vpc = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0];
    const subnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).Subnets![0];

    // Act
    const igw = (await ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpc.VpcId!] }] }))).InternetGateways![0];
    const mainTable = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.main', Values: ['true'] }] }))).RouteTables![0];
    const created = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'helper',
        Description: 'reset-access helper & co',
        VpcId: vpc.VpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'reset-access:job', Value: 'job-1' }] }],
      }),
    );
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [created.GroupId!] }))).SecurityGroups![0];
    await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: vpc.VpcId,
        VpcEndpointType: 'Interface',
        ServiceName: 'com.amazonaws.us-east-1.ssmmessages',
        SubnetIds: [subnet.SubnetId!],
        SecurityGroupIds: [created.GroupId!],
      }),
    );
    const endpoint = (await ec2.send(new DescribeVpcEndpointsCommand({}))).VpcEndpoints![0];

    // Assess
    expect(vpc.CidrBlockAssociationSet?.[0]).toEqual(expect.objectContaining({ CidrBlock: '172.31.0.0/16', CidrBlockState: { State: 'associated' } }));
    expect(subnet).toEqual(
      expect.objectContaining({
        AvailabilityZoneId: 'use1-az1',
        AvailableIpAddressCount: 4091,
        SubnetArn: expect.stringContaining(subnet.SubnetId!),
      }),
    );
    expect(igw.Attachments).toEqual([{ State: 'available', VpcId: vpc.VpcId }]);
    expect(mainTable.Routes).toEqual([
      { DestinationCidrBlock: '172.31.0.0/16', GatewayId: 'local', Origin: 'CreateRouteTable', State: 'active' },
      { DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId, Origin: 'CreateRoute', State: 'active' },
    ]);
    expect(mainTable.Associations?.[0]).toEqual(expect.objectContaining({ Main: true, AssociationState: { State: 'associated' } }));
    expect(created.Tags).toEqual([{ Key: 'reset-access:job', Value: 'job-1' }]);
    expect(group).toEqual(
      expect.objectContaining({
        GroupName: 'helper',
        Description: 'reset-access helper & co',
        IpPermissions: [],
        IpPermissionsEgress: [expect.objectContaining({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] })],
      }),
    );
    expect(endpoint).toEqual(
      expect.objectContaining({
        State: 'pending',
        SubnetIds: [subnet.SubnetId],
        Groups: [{ GroupId: created.GroupId, GroupName: 'helper' }],
        DnsEntries: [expect.objectContaining({ DnsName: expect.stringContaining('.ssmmessages.us-east-1.vpce.amazonaws.com') })],
        PrivateDnsEnabled: true,
        CreationTimestamp: expect.any(Date),
      }),
    );
  });

  test('instance attributes, tags, snapshots and the Windows password', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const windows = (await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.windowsServer2022, MinCount: 1, MaxCount: 1 }))).Instances![0];
    const instanceId = windows.InstanceId!;

    // Act
    advance(DEFAULT_TIMINGS.launchMs);
    const passwordEarly = await ec2.send(new GetPasswordDataCommand({ InstanceId: instanceId }));
    advance(DEFAULT_TIMINGS.windowsFirstBootMs);
    const passwordLater = await ec2.send(new GetPasswordDataCommand({ InstanceId: instanceId }));
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceInitiatedShutdownBehavior: { Value: 'terminate' } }));
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiStop: { Value: true } }));
    const shutdown = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'instanceInitiatedShutdownBehavior' }));
    const stop = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'disableApiStop' }));
    await ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: [
          { Key: 'team', Value: 'a<b>&"c"' },
          { Key: 'gone', Value: 'x' },
        ],
      }),
    );
    await ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: 'gone' }] }));
    const tags = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }] }));
    const publicSnapshots = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['amazon'] }));

    // Assess
    expect(windows.Platform).toBe('windows');
    expect(passwordEarly.PasswordData).toBe('');
    expect(passwordLater.PasswordData).not.toBe('');
    expect(passwordLater.Timestamp).toBeInstanceOf(Date);
    expect(shutdown.InstanceInitiatedShutdownBehavior).toEqual({ Value: 'terminate' });
    expect(stop.DisableApiStop).toEqual({ Value: true });
    expect(tags.Tags).toEqual([{ ResourceId: instanceId, ResourceType: 'instance', Key: 'team', Value: 'a<b>&"c"' }]);
    expect(publicSnapshots.Snapshots?.map((s) => [s.OwnerAlias, s.State, s.Progress])).toEqual([
      ['amazon', 'completed', '100%'],
      ['amazon', 'completed', '100%'],
    ]);
  });
});
