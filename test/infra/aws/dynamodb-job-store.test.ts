import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { ConcurrentUpdateError, PermanentError, RetryableError } from '../../../domain/errors';
import { DynamoJobStore, jobStoreDocumentClient, jobTableDefinition } from '../../../infra/aws/dynamodb-job-store';
import { describeJobStoreContract, sampleJob } from '../job-store.contract';

// dynalite ships no types: the part we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;

let server: Server;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

/** A fresh table per store, created from the same definition as production's. */
async function freshTable(): Promise<string> {
  tables += 1;
  const tableName = `reset-access-jobs-${tables}`;
  await client.send(new CreateTableCommand(jobTableDefinition(tableName)));
  for (let poll = 0; poll < 100; poll++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return tableName;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

describeJobStoreContract('DynamoJobStore on dynalite', async () => {
  const tableName = await freshTable();
  return new DynamoJobStore(jobStoreDocumentClient(client), { tableName });
});

describe('DynamoJobStore items on dynalite', () => {
  let tableName: string;
  let documents: DynamoDBDocumentClient;
  let store: DynamoJobStore;

  beforeEach(async () => {
    tableName = await freshTable();
    documents = jobStoreDocumentClient(client);
    store = new DynamoJobStore(documents, { tableName });
  });

  async function rawJobItem(jobId: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' } }));
    return Item;
  }

  it('writes the job item with its keys, top-level attributes and the whole job as a map', async () => {
    // Prepare
    const job = sampleJob({ jobId: 'job-layout', instanceId: 'i-0layout', createdAt: '2025-03-01T12:00:00.000Z', updatedAt: '2025-03-01T12:00:05.000Z' });

    // Act
    await store.put(job, undefined);

    // Assess
    expect(await rawJobItem('job-layout')).toEqual({
      pk: 'JOB#job-layout',
      sk: 'JOB',
      version: 1,
      status: 'RUNNING',
      instanceId: 'i-0layout',
      createdAt: '2025-03-01T12:00:00.000Z',
      updatedAt: '2025-03-01T12:00:05.000Z',
      gsi1pk: 'INSTANCE#i-0layout',
      gsi1sk: '2025-03-01T12:00:00.000Z#job-layout',
      activePk: 'ACTIVE',
      activeSk: '2025-03-01T12:00:05.000Z',
      recentPk: 'JOBS',
      recentSk: '2025-03-01T12:00:00.000Z#job-layout',
      job,
    });
  });

  it('removes the sparse active-index keys when the job finishes', async () => {
    // Prepare
    const job = sampleJob({ jobId: 'job-finishing' });
    await store.put(job, undefined);

    // Act
    await store.put({ ...job, status: 'SUCCEEDED', version: 2, updatedAt: '2025-01-01T00:09:00.000Z' }, 1);

    // Assess
    const item = await rawJobItem('job-finishing');
    expect(item).toMatchObject({ status: 'SUCCEEDED', version: 2 });
    expect(item).not.toHaveProperty('activePk');
    expect(item).not.toHaveProperty('activeSk');
  });

  it('writes the lock item under the instance', async () => {
    // Act
    await store.acquireLock({ instanceId: 'i-0locked', jobId: 'job-a', acquiredAt: '2025-01-01T00:00:00.000Z' });

    // Assess
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'LOCK#i-0locked', sk: 'LOCK' } }));
    expect(Item).toEqual({ pk: 'LOCK#i-0locked', sk: 'LOCK', instanceId: 'i-0locked', jobId: 'job-a', acquiredAt: '2025-01-01T00:00:00.000Z' });
  });

  it('stores a job with undefined fields even through a document client that does not drop them', async () => {
    // Prepare
    const strict = DynamoDBDocumentClient.from(client);
    const strictStore = new DynamoJobStore(strict, { tableName });
    const job = sampleJob({ jobId: 'job-undefined', error: undefined, target: undefined });

    // Act
    await strictStore.put(job, undefined);

    // Assess
    expect(await strictStore.get('job-undefined')).toEqual(job);
  });
});

describe('DynamoJobStore commands', () => {
  const tableName = 'jobs-table';
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const dynamo = mockClient(documents);
  const store = new DynamoJobStore(documents, { tableName });
  const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });

  beforeEach(() => dynamo.reset());

  it('creates a job on condition that it does not exist', async () => {
    // Prepare
    dynamo.on(PutCommand).resolves({});
    const job = sampleJob({ jobId: 'job-new' });

    // Act
    await store.put(job, undefined);

    // Assess
    const [call] = dynamo.commandCalls(PutCommand);
    expect(call.args[0].input).toMatchObject({ TableName: tableName, ConditionExpression: 'attribute_not_exists(pk)', Item: { pk: 'JOB#job-new', sk: 'JOB' } });
    expect(call.args[0].input.ExpressionAttributeValues).toBeUndefined();
  });

  it('updates a job on condition of the version it read', async () => {
    // Prepare
    dynamo.on(PutCommand).resolves({});
    const job = sampleJob({ jobId: 'job-old', version: 8 });

    // Act
    await store.put(job, 7);

    // Assess
    expect(dynamo.commandCalls(PutCommand)[0].args[0].input).toMatchObject({
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':expected': 7 },
      Item: { version: 8 },
    });
  });

  it('turns a failed condition on a job into ConcurrentUpdateError', async () => {
    // Prepare
    dynamo.on(PutCommand).rejects(conditionFailed());

    // Act
    const write = store.put(sampleJob({ jobId: 'job-raced' }), 3);

    // Assess
    await expect(write).rejects.toBeInstanceOf(ConcurrentUpdateError);
  });

  it('turns throttling into RetryableError, keeping the AWS code and the cause', async () => {
    // Prepare
    const throttled = new ProvisionedThroughputExceededException({
      message: 'Rate of requests exceeds the allowed throughput',
      $metadata: { httpStatusCode: 400 },
    });
    dynamo.on(GetCommand).rejects(throttled);

    // Act
    const read = store.get('job-x');

    // Assess
    await expect(read).rejects.toBeInstanceOf(RetryableError);
    await expect(read).rejects.toMatchObject({ code: 'ProvisionedThroughputExceededException', cause: throttled });
  });

  it('turns a client error into PermanentError', async () => {
    // Prepare
    const missingTable = Object.assign(new Error('Requested resource not found'), {
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    dynamo.on(QueryCommand).rejects(missingTable);

    // Act
    const list = store.listActive();

    // Assess
    await expect(list).rejects.toBeInstanceOf(PermanentError);
    await expect(list).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
  });

  it('reads jobs and locks strongly consistently', async () => {
    // Prepare
    dynamo.on(GetCommand).resolves({});

    // Act
    await store.get('job-a');
    await store.getLock('i-0a');

    // Assess
    expect(dynamo.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: tableName, Key: { pk: 'JOB#job-a', sk: 'JOB' }, ConsistentRead: true },
      { TableName: tableName, Key: { pk: 'LOCK#i-0a', sk: 'LOCK' }, ConsistentRead: true },
    ]);
  });

  it('queries the byInstance index newest first, one item beyond the page', async () => {
    // Prepare
    dynamo.on(QueryCommand).resolves({ Items: [] });

    // Act
    await store.listByInstance('i-0a', { limit: 5 });

    // Assess
    expect(dynamo.commandCalls(QueryCommand)[0].args[0].input).toEqual({
      TableName: tableName,
      IndexName: 'byInstance',
      KeyConditionExpression: 'gsi1pk = :partition',
      ExpressionAttributeValues: { ':partition': 'INSTANCE#i-0a' },
      ScanIndexForward: false,
      Limit: 6,
      ExclusiveStartKey: undefined,
    });
  });

  it('follows LastEvaluatedKey through the whole active index', async () => {
    // Prepare
    const first = sampleJob({ jobId: 'job-1' });
    const second = sampleJob({ jobId: 'job-2', status: 'ROLLING_BACK' });
    const lastKey = { pk: 'JOB#job-1', sk: 'JOB', activePk: 'ACTIVE', activeSk: first.updatedAt };
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ job: first }], LastEvaluatedKey: lastKey })
      .resolvesOnce({ Items: [{ job: second }] });

    // Act
    const active = await store.listActive();

    // Assess
    expect(active.map((job) => job.jobId)).toEqual(['job-1', 'job-2']);
    const inputs = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(inputs.map((input) => [input.IndexName, input.ExclusiveStartKey])).toEqual([
      ['active', undefined],
      ['active', lastKey],
    ]);
  });

  it('takes a lock on condition that it is free, ours, or held by the job being replaced', async () => {
    // Prepare
    dynamo.on(PutCommand).resolves({});
    const lock = { instanceId: 'i-0a', jobId: 'job-b', acquiredAt: '2025-01-01T00:00:00.000Z' };

    // Act
    await store.acquireLock(lock);
    await store.acquireLock(lock, 'job-a');

    // Assess
    const [plain, replacing] = dynamo.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(plain).toMatchObject({
      Item: { pk: 'LOCK#i-0a', sk: 'LOCK', jobId: 'job-b' },
      ConditionExpression: 'attribute_not_exists(pk) OR jobId = :jobId',
      ExpressionAttributeValues: { ':jobId': 'job-b' },
    });
    expect(replacing).toMatchObject({
      ConditionExpression: 'attribute_not_exists(pk) OR jobId = :jobId OR jobId = :replacing',
      ExpressionAttributeValues: { ':jobId': 'job-b', ':replacing': 'job-a' },
    });
  });

  it('answers false, not an error, when the lock condition fails', async () => {
    // Prepare
    dynamo.on(PutCommand).rejects(conditionFailed());

    // Act
    const taken = await store.acquireLock({ instanceId: 'i-0a', jobId: 'job-b', acquiredAt: '2025-01-01T00:00:00.000Z' });

    // Assess
    expect(taken).toBe(false);
  });

  it('releases a lock on condition that the job holds it, and ignores a failed condition', async () => {
    // Prepare
    dynamo.on(DeleteCommand).rejects(conditionFailed());

    // Act
    const release = store.releaseLock('i-0a', 'job-b');

    // Assess
    await expect(release).resolves.toBeUndefined();
    expect(dynamo.commandCalls(DeleteCommand)[0].args[0].input).toEqual({
      TableName: tableName,
      Key: { pk: 'LOCK#i-0a', sk: 'LOCK' },
      ConditionExpression: 'jobId = :jobId',
      ExpressionAttributeValues: { ':jobId': 'job-b' },
    });
  });
});

describe('jobTableDefinition', () => {
  it('defines the keys, the GSIs with projection ALL and on-demand billing', () => {
    // Act
    const definition = jobTableDefinition('jobs');

    // Assess
    expect(definition.BillingMode).toBe('PAY_PER_REQUEST');
    expect(definition.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(
      definition.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.KeySchema?.map((key) => key.AttributeName), index.Projection?.ProjectionType]),
    ).toEqual([
      ['byInstance', ['gsi1pk', 'gsi1sk'], 'ALL'],
      ['active', ['activePk', 'activeSk'], 'ALL'],
      ['recent', ['recentPk', 'recentSk'], 'ALL'],
    ]);
  });
});
