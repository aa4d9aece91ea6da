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

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `i-${String(from + i).padStart(17, '0')}`);

describe('Ec2InstanceDirectory', () => {
  const client = new EC2Client({ region: 'us-east-1' });
  const ec2 = mockClient(client);
  const directory = new Ec2InstanceDirectory(client);

  beforeEach(() => ec2.reset());

  /** EC2 answering `all` a page of MaxResults at a time, its NextToken the offset (as EC2's, opaque to the adapter). */
  function region(all: Array<ReturnType<typeof instance>>): void {
    ec2.on(DescribeInstancesCommand).callsFake((input: { MaxResults?: number; NextToken?: string }) => {
      const start = input.NextToken ? Number(input.NextToken.slice('tok-'.length)) : 0;
      const end = start + input.MaxResults!;
      return { Reservations: [{ Instances: all.slice(start, end) }], ...(end < all.length ? { NextToken: `tok-${end}` } : {}) };
    });
  }

  /** Every page of a listing of `limit`, following its cursors. */
  async function walk(limit: number): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await directory.list({ limit, ...(cursor ? { cursor } : {}) });
      pages.push(page.instances.map((i) => i.facts.instanceId));
      cursor = page.cursor;
    } while (cursor && pages.length < 50);
    return pages;
  }

  it('asks for live instances and answers them with their facts and name', async () => {
    // Prepare
    region([instance('i-0000000000000000a', { Name: 'web' })]);
    // Act
    const page = await directory.list({ limit: 20 });
    // Assess
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
      MaxResults: 20,
    });
    expect(page).toEqual({
      instances: [expect.objectContaining({ name: 'web', facts: expect.objectContaining({ instanceId: 'i-0000000000000000a', state: 'running' }) })],
    });
  });

  it("answers exactly `limit` instances, though EC2's smallest page is 5, and its cursor goes on after the last one", async () => {
    // Prepare
    region(ids(7).map((id) => instance(id)));
    // Act
    const pages = await walk(1);
    // Assess
    expect(pages).toEqual(ids(7).map((id) => [id]));
    expect(ec2.commandCalls(DescribeInstancesCommand).every((call) => call.args[0].input.MaxResults === 5)).toBe(true);
  });

  it('goes on into the next EC2 page when a page ends inside one', async () => {
    // Prepare: EC2 pages of 5 (the listing's first limit), a listing of 3 a page
    region(ids(12).map((id) => instance(id)));
    // Act
    const pages = await walk(3);
    // Assess
    expect(pages).toEqual([ids(3), ids(3, 3), ids(3, 6), ids(3, 9)]);
  });

  it("leaves out the service's own helpers, still answering `limit` instances a page", async () => {
    // Prepare
    region([instance('i-0000000000000000a'), instance('i-0000000000000000b', { 'reset-access:managed': 'true' }), instance('i-0000000000000000c')]);
    // Act
    const pages = await walk(2);
    // Assess
    expect(pages).toEqual([['i-0000000000000000a', 'i-0000000000000000c']]);
  });

  it('reads a bounded number of EC2 pages a call, answering fewer with a cursor to go on', async () => {
    // Prepare: 60 helpers, then one instance
    region([...ids(60).map((id) => instance(id, { 'reset-access:managed': 'true' })), instance('i-0000000000000000f')]);
    // Act
    const first = await directory.list({ limit: 5 });
    const callsForFirst = ec2.commandCalls(DescribeInstancesCommand).length;
    const second = await directory.list({ limit: 5, cursor: first.cursor });
    // Assess
    expect(callsForFirst).toBe(10);
    expect(first.instances).toEqual([]);
    expect(first.cursor).toEqual(expect.any(String));
    expect(second.instances.map((i) => i.facts.instanceId)).toEqual(['i-0000000000000000f']);
    expect(second.cursor).toBeUndefined();
  });

  it("keeps the page size within DescribeInstances' 5 to 1000", async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    // Act
    await directory.list({ limit: 1 });
    // Assess
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.MaxResults).toBe(5);
  });

  it.each([
    ['zzzz'],
    ['not a cursor'],
    [Buffer.from('{"s":7,"n":5}').toString('base64url')],
    [Buffer.from('{"s":0,"n":2}').toString('base64url')],
    [Buffer.from('[]').toString('base64url')],
  ])('refuses the cursor %s as INVALID_CURSOR (400) without asking EC2', async (cursor) => {
    // Act
    const listing = directory.list({ limit: 20, cursor });
    // Assess
    await expect(listing).rejects.toEqual(expect.objectContaining({ code: 'INVALID_CURSOR', status: 400, message: expect.stringMatching(/^cursor/) }));
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('answers a token EC2 rejects as INVALID_CURSOR (400), and throttling as retryable', async () => {
    // Prepare
    region(ids(7).map((id) => instance(id)));
    const cursor = (await directory.list({ limit: 5 })).cursor!;
    ec2.reset();
    ec2.on(DescribeInstancesCommand, { NextToken: 'tok-5' }).rejects(awsError('InvalidParameterValue', 400));
    ec2.on(DescribeInstancesCommand, { NextToken: undefined }).rejects(awsError('RequestLimitExceeded', 503));
    // Act
    const bad = directory.list({ limit: 20, cursor });
    const throttled = directory.list({ limit: 20 });
    // Assess
    await expect(bad).rejects.toEqual(expect.objectContaining({ code: 'INVALID_CURSOR' }));
    await expect(bad).rejects.toBeInstanceOf(RefusedError);
    await expect(throttled).rejects.toBeInstanceOf(RetryableError);
  });
});
