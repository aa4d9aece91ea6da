import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoHelperPool } from '../../../infra/aws/dynamodb-helper-pool';
import { jobStoreDocumentClient } from '../../../infra/aws/dynamodb-job-store';
import { useDynalite } from '../../support/dynalite';
import { describeHelperPoolContract } from '../helper-pool.contract';

const dynamo = useDynalite('reset-access-pool');

describeHelperPoolContract('DynamoHelperPool on dynalite', async () => {
  const tableName = await dynamo.freshTable();
  return new DynamoHelperPool(jobStoreDocumentClient(dynamo.client()), { tableName });
});

describe('DynamoHelperPool items on dynalite', () => {
  it('keeps the pool in one item of the job table, a slot per key of its map', async () => {
    // Prepare
    const tableName = await dynamo.freshTable();
    const documents = jobStoreDocumentClient(dynamo.client());
    const pool = new DynamoHelperPool(documents, { tableName });
    // Act
    await Promise.all(
      ['a', 'b'].map((slotId) => pool.add({ slotId, availabilityZone: 'us-east-1a', state: 'launching', createdAt: '2026-01-05T09:00:00.000Z' })),
    );
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'POOL#windows-helpers', sk: 'POOL' } }));
    // Assess: two concurrent first adds, one item, two slots
    expect(Object.keys(Item!.slots).sort()).toEqual(['a', 'b']);
  });
});
