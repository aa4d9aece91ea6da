import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { RefusedError, RetryableError } from '../../../domain/errors';
import { Ec2InstanceDirectory } from '../../../infra/aws/ec2-instance-directory';

const instance = (id: string, tags: Record<string, string> = {}) => ({
  InstanceId: id,
  State: { Name: 'running' as const },
  InstanceType: 't3.micro' as const,
  Placement: { AvailabilityZone: 'us-east-1a' },
  RootDeviceType: 'ebs' as const,
  RootDeviceName: '/dev/xvda',
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: `vol-${id.slice(2)}`, DeleteOnTermination: true } }],
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});

const awsError = (name: string, status: number) =>
  new EC2ServiceException({ name, message: name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });

describe('Ec2InstanceDirectory', () => {
  const client = new EC2Client({ region: 'us-east-1' });
  const ec2 = mockClient(client);
  const directory = new Ec2InstanceDirectory(client);

  beforeEach(() => ec2.reset());

  it('asks for one page of live instances and answers the next page token as the cursor', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance('i-0000000000000000a', { Name: 'web' })] }], NextToken: 'token-2' });
    // Act
    const page = await directory.list({ limit: 20, cursor: 'token-1' });
    // Assess
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
      MaxResults: 20,
      NextToken: 'token-1',
    });
    expect(page).toEqual({ instances: [expect.objectContaining({ name: 'web', facts: expect.objectContaining({ instanceId: 'i-0000000000000000a', state: 'running' }) })], cursor: 'token-2' });
  });

  it("keeps the page size within DescribeInstances' 5 to 1000", async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    // Act
    await directory.list({ limit: 1 });
    // Assess
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.MaxResults).toBe(5);
  });

  it("leaves out the service's own helpers", async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance('i-0000000000000000a'), instance('i-0000000000000000b', { 'reset-access:managed': 'true' })] }] });
    // Act
    const page = await directory.list({ limit: 20 });
    // Assess
    expect(page.instances.map((i) => i.facts.instanceId)).toEqual(['i-0000000000000000a']);
    expect(page.cursor).toBeUndefined();
  });

  it('answers a cursor EC2 rejects as INVALID_CURSOR (400), and throttling as retryable', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand, { NextToken: 'bad' }).rejects(awsError('InvalidParameterValue', 400));
    ec2.on(DescribeInstancesCommand, { NextToken: undefined }).rejects(awsError('RequestLimitExceeded', 503));
    // Act
    const bad = directory.list({ limit: 20, cursor: 'bad' });
    const throttled = directory.list({ limit: 20 });
    // Assess
    await expect(bad).rejects.toEqual(expect.objectContaining({ code: 'INVALID_CURSOR' }));
    await expect(bad).rejects.toBeInstanceOf(RefusedError);
    await expect(throttled).rejects.toBeInstanceOf(RetryableError);
  });
});
