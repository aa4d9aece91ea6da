import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError } from '../../../domain/errors';
import { jobStoreDocumentClient, jobTableDefinition } from '../../../infra/aws/dynamodb-job-store';
import { DynamoRescueNetworkLeases } from '../../../infra/aws/dynamodb-rescue-network-leases';
import { describeRescueNetworkLeasesContract } from '../rescue-network-leases.contract';

// dynalite ships no types: the part we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs?: number }) => Server;

let server: Server;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

async function freshTable(): Promise<string> {
  tables += 1;
  const tableName = `reset-access-network-${tables}`;
  await client.send(new CreateTableCommand(jobTableDefinition(tableName)));
  for (let poll = 0; poll < 100; poll++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return tableName;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

describeRescueNetworkLeasesContract('DynamoRescueNetworkLeases on dynalite', async () => {
  const tableName = await freshTable();
  return new DynamoRescueNetworkLeases(jobStoreDocumentClient(client), { tableName });
});

describe('DynamoRescueNetworkLeases items on dynalite', () => {
  it('keeps the record in one item of the job table, beside the jobs', async () => {
    // Prepare
    const tableName = await freshTable();
    const documents = jobStoreDocumentClient(client);
    const leases = new DynamoRescueNetworkLeases(documents, { tableName });
    // Act
    await Promise.all(['r-1', 'r-2', 'r-3', 'r-4'].map((jobId) => leases.acquire(jobId, new Date('2026-01-05T09:00:00Z'))));
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'NETWORK#rescue', sk: 'NETWORK' } }));
    // Assess: four concurrent first acquires, one item, four leases
    expect(Item).toMatchObject({ networkState: 'in-use' });
    expect(Object.keys(Item!.leases).sort()).toEqual(['r-1', 'r-2', 'r-3', 'r-4']);
  });
});

describe('DynamoRescueNetworkLeases errors', () => {
  const documents = jobStoreDocumentClient(new DynamoDBClient({ region: 'us-east-1' }));
  const mock = mockClient(documents);
  afterEach(() => mock.reset());

  it('turns throttling into a RetryableError', async () => {
    // Prepare
    mock.on(UpdateCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }));
    const leases = new DynamoRescueNetworkLeases(documents, { tableName: 't' });
    // Act
    const acquiring = leases.acquire('r-1', new Date());
    // Assess
    await expect(acquiring).rejects.toBeInstanceOf(RetryableError);
  });

  it('sends the reclaim decision as one conditional update on the record', async () => {
    // Prepare
    mock.on(UpdateCommand).resolves({});
    const leases = new DynamoRescueNetworkLeases(documents, { tableName: 't' });
    // Act
    const begun = await leases.beginReclaim(new Date('2026-01-05T10:00:00Z'), new Date('2026-01-05T09:00:00Z'));
    // Assess
    expect(begun).toBe(true);
    expect(mock.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      TableName: 't',
      Key: { pk: 'NETWORK#rescue', sk: 'NETWORK' },
      ConditionExpression: '#state = :inUse AND size(leases) = :none AND lastReleasedAt <= :idleSince',
      ExpressionAttributeValues: expect.objectContaining({ ':none': 0, ':idleSince': '2026-01-05T09:00:00.000Z' }),
    });
  });
});
