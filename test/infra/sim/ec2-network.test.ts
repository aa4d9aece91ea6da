import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DeleteInternetGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  DisassociateRouteTableCommand,
  ModifySubnetAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';

import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

describe('VPCs and their parts through the real EC2 client', () => {
  test('a region starts with a default VPC and one default subnet per zone', async () => {
    // Prepare
    const { ec2 } = simulatedRegion();

    // Act
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1a'] }] }));
    const zones = await ec2.send(new DescribeAvailabilityZonesCommand({}));

    // Assess
    expect(vpcs.Vpcs).toEqual([expect.objectContaining({ CidrBlock: '172.31.0.0/16', IsDefault: true, State: 'available' })]);
    expect(subnets.Subnets).toEqual([
      expect.objectContaining({ VpcId: vpcs.Vpcs![0].VpcId, DefaultForAz: true, MapPublicIpOnLaunch: true, CidrBlock: '172.31.0.0/20' }),
    ]);
    expect(zones.AvailabilityZones?.map((z) => z.ZoneName)).toEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `us-east-1${l}`));
  });

  test('5 VPCs per region, the default one included: the fifth extra is VpcLimitExceeded', async () => {
    // Prepare
    const { ec2 } = simulatedRegion();

    // Act
    const created = [];
    for (let i = 0; i < 4; i++) created.push(await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${i}.0.0/16` })));
    const refused = await errorCodeOf(ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' })));

    // Assess
    expect(created).toHaveLength(4);
    expect(refused).toBe('VpcLimitExceeded');
  });

  test('a rescue network is built, refused deletion while it has parts, then torn down in dependency order', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const tags = [{ ResourceType: 'vpc' as const, Tags: [{ Key: 'reset-access:rescue-network', Value: 'us-east-1a' }] }];
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.90.0.0/16', TagSpecifications: tags }))).Vpc!.VpcId!;
    const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.90.0.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    await ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnetId, MapPublicIpOnLaunch: { Value: true } }));
    const igwId = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }));
    const rt1 = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId, ClientToken: 'job-1-rt' }));
    const rt2 = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId, ClientToken: 'job-1-rt' }));
    const routeTableId = rt1.RouteTable!.RouteTableId!;
    await ec2.send(new CreateRouteCommand({ RouteTableId: routeTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igwId }));
    const { AssociationId } = await ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId, SubnetId: subnetId }));
    const groupId = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'reset-access-helper', Description: 'no inbound', VpcId: vpcId }))).GroupId!;
    const endpoint = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: vpcId,
        VpcEndpointType: 'Interface',
        ServiceName: 'com.amazonaws.us-east-1.ssm',
        SubnetIds: [subnetId],
        SecurityGroupIds: [groupId],
        ClientToken: 'job-1-ssm',
      }),
    );
    const endpointId = endpoint.VpcEndpoint!.VpcEndpointId!;
    const helper = (
      await ec2.send(
        new RunInstancesCommand({
          ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
          MinCount: 1,
          MaxCount: 1,
          SubnetId: subnetId,
          SecurityGroupIds: [groupId],
        }),
      )
    ).Instances![0].InstanceId!;
    advance(DEFAULT_TIMINGS.launchMs);

    // Act: every deletion that AWS refuses while dependants exist.
    const refusals = {
      vpc: await errorCodeOf(ec2.send(new DeleteVpcCommand({ VpcId: vpcId }))),
      subnet: await errorCodeOf(ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }))),
      group: await errorCodeOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))),
      routeTable: await errorCodeOf(ec2.send(new DeleteRouteTableCommand({ RouteTableId: routeTableId }))),
      gatewayAttached: await errorCodeOf(ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igwId }))),
      gatewayMapped: await errorCodeOf(ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }))),
    };
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [helper] }));
    advance(Math.max(DEFAULT_TIMINGS.terminateMs, DEFAULT_TIMINGS.vpcEndpointCreateMs));
    const endpointState = (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [endpointId] }))).VpcEndpoints![0].State;
    const deletion = await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [endpointId, 'vpce-0123456789abcdef0'] }));
    const deleting = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).VpcEndpoints![0].State;
    const vpcWhileDeleting = await errorCodeOf(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })));
    advance(DEFAULT_TIMINGS.vpcEndpointDeleteMs);
    await ec2.send(new DisassociateRouteTableCommand({ AssociationId }));
    await ec2.send(new DeleteRouteTableCommand({ RouteTableId: routeTableId }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
    await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }));
    await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igwId }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));

    // Assess
    expect(rt2.RouteTable!.RouteTableId).toBe(routeTableId);
    expect(endpoint.VpcEndpoint!.State).toBe('pending');
    expect(refusals).toEqual({
      vpc: 'DependencyViolation',
      subnet: 'DependencyViolation',
      group: 'DependencyViolation',
      routeTable: 'DependencyViolation',
      gatewayAttached: 'DependencyViolation',
      gatewayMapped: 'DependencyViolation',
    });
    expect(endpointState).toBe('available');
    expect(deletion.Unsuccessful).toEqual([
      { ResourceId: 'vpce-0123456789abcdef0', Error: { Code: 'InvalidVpcEndpoint.NotFound', Message: expect.any(String) } },
    ]);
    expect(deleting).toBe('deleting');
    expect(vpcWhileDeleting).toBe('DependencyViolation');
    expect(await errorCodeOf(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })))).toBe('InvalidVpcID.NotFound');
    expect((await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables).toEqual([]);
  });
});
