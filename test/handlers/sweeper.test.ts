import { DescribeInstancesCommand, DescribeInternetGatewaysCommand, DescribeVpcsCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';

const ec2Mock = mockClient(EC2Client);
const dynamoMock = mockClient(DynamoDBDocumentClient);

beforeAll(() => {
  process.env.TABLE_NAME = 'ec2-reset-access-test-jobs';
  process.env.EVENT_BUS_NAME = 'ec2-reset-access-test';
});

describe('the sweeper handler', () => {
  it('runs one sweep through the deployed wiring and answers its counts', async () => {
    // Prepare: no jobs, no network record; one orphaned helper of a job that does not exist
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
    dynamoMock.on(GetCommand).resolves({});
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
    const helper = {
      InstanceId: 'i-orphan',
      State: { Name: 'running' as const },
      LaunchTime: new Date(Date.now() - 24 * 3600_000),
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-own' } }],
      IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/reset-access-helper' },
      Tags: [
        { Key: 'reset-access:managed', Value: 'true' },
        { Key: 'reset-access:deployment', Value: 'ec2-reset-access-local' },
        { Key: 'reset-access:role', Value: 'helper' },
        { Key: 'reset-access:job-id', Value: 'r-gone00001' },
      ],
    };
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [helper] }] });
    ec2Mock.on(TerminateInstancesCommand).resolves({});
    const { handler } = await import('../../handlers/sweeper');
    const print = jest.spyOn(console, 'log').mockImplementation(() => undefined);

    // Act
    const counts = await handler(undefined, {} as Context);
    print.mockRestore();

    // Assess
    expect(counts).toEqual({ dryRun: false, found: 1, deleted: 1, deferred: 0, redriven: 0, rolledBack: 0, volumesReturned: 0, held: 0, helpersRunning: 1 });
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ['i-orphan'] }]);
  });
});
