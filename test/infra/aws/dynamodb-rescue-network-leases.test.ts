import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError } from '../../../domain/errors';
import { jobStoreDocumentClient } from '../../../infra/aws/dynamodb-job-store';
import { DynamoRescueNetworkLeases } from '../../../infra/aws/dynamodb-rescue-network-leases';
import { describeRescueNetworkLeasesContract } from '../rescue-network-leases.contract';
import { useDynalite } from '../../support/dynalite';

const dynamo = useDynalite('reset-access-network');
const client = () => dynamo.client();
const freshTable = () => dynamo.freshTable();

describeRescueNetworkLeasesContract('DynamoRescueNetworkLeases on dynalite', async () => {
  const tableName = await freshTable();
  return new DynamoRescueNetworkLeases(jobStoreDocumentClient(client()), { tableName });
});

describe('DynamoRescueNetworkLeases items on dynalite', () => {
  it('keeps the record in one item of the job table, beside the jobs', async () => {
    // Prepare
    const tableName = await freshTable();
    const documents = jobStoreDocumentClient(client());
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
