/** The stop batch store on dynalite, from the production table definition. */
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { jobStoreDocumentClient, JOB_TABLE_TTL_ATTRIBUTE } from '../../../infra/aws/dynamodb-job-store';
import { DynamoStopBatchStore } from '../../../infra/aws/dynamodb-stop-batch-store';
import { describeStopBatchStoreContracts } from '../stop-batch-store.contract';
import { useDynalite } from '../../support/dynalite';

const dynamo = useDynalite('stop-batches');
const client = () => dynamo.client();
const freshTable = () => dynamo.freshTable();

describeStopBatchStoreContracts(
  'DynamoDB on dynalite',
  async () => new DynamoStopBatchStore(jobStoreDocumentClient(client()), { tableName: await freshTable() }),
);

describe('stop batch items on dynalite', () => {
  const expiresAt = new Date('2026-01-05T10:00:00.000Z');
  const opening = { batchId: 'b-1', at: '2026-01-05T09:00:05.000Z', instanceIds: ['i-0123456789abcdef0'] };

  it('carry the table TTL attribute, in epoch seconds, and none of the job indexes keys', async () => {
    // Prepare
    const tableName = await freshTable();
    const documents = jobStoreDocumentClient(client());
    const store = new DynamoStopBatchStore(documents, { tableName });
    // Act
    await store.open(opening, undefined, expiresAt);
    const batch = (await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'STOPBATCH#b-1', sk: 'STOPBATCH' } }))).Item!;
    const pointer = (await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'STOPBATCH#current', sk: 'STOPBATCH' } }))).Item!;
    // Assess
    expect(batch[JOB_TABLE_TTL_ATTRIBUTE]).toBe(expiresAt.getTime() / 1000);
    expect(pointer).toEqual({
      pk: 'STOPBATCH#current',
      sk: 'STOPBATCH',
      batchId: 'b-1',
      at: opening.at,
      [JOB_TABLE_TTL_ATTRIBUTE]: expiresAt.getTime() / 1000,
    });
    for (const item of [batch, pointer]) expect(Object.keys(item).filter((k) => /gsi1|active|recent/.test(k))).toEqual([]);
  });

  it('answers a current batch TTL removed before its pointer as closed and empty, and lets it be replaced', async () => {
    // Prepare
    const tableName = await freshTable();
    const documents = jobStoreDocumentClient(client());
    const store = new DynamoStopBatchStore(documents, { tableName });
    await store.open(opening, undefined, expiresAt);
    await documents.send(new DeleteCommand({ TableName: tableName, Key: { pk: 'STOPBATCH#b-1', sk: 'STOPBATCH' } }));
    // Act
    const gone = await store.current();
    const joined = await store.join('b-1', 'i-0123456789abcdef1', 10);
    const asFirst = await store.open({ ...opening, batchId: 'b-2' }, undefined, expiresAt);
    const replacing = await store.open({ ...opening, batchId: 'b-3' }, 'b-1', expiresAt);
    // Assess
    expect(gone).toEqual({ batchId: 'b-1', at: opening.at, instanceIds: [], state: 'closed' });
    expect([joined, asFirst, replacing]).toEqual([false, false, true]);
    expect((await store.current())?.batchId).toBe('b-3');
    expect(await store.get('b-1')).toBeUndefined();
  });
});
