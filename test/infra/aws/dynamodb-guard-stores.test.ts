/** The idempotency, cool-down and admission stores on dynalite, from the production table definition. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { jobStoreDocumentClient, JOB_TABLE_TTL_ATTRIBUTE } from '../../../infra/aws/dynamodb-job-store';
import { dynamoGuardStores } from '../../../infra/wiring/composition';
import { describeGuardStoreContracts } from '../guard-stores.contract';
import { useDynalite } from '../../support/dynalite';

const dynamo = useDynalite('guards');
const client = () => dynamo.client();
const freshTable = () => dynamo.freshTable();

describeGuardStoreContracts('DynamoDB on dynalite', async () => dynamoGuardStores(jobStoreDocumentClient(client()), await freshTable()));

describe('guard items on dynalite', () => {
  it('carry the table TTL attribute, in epoch seconds, and none of the job indexes keys', async () => {
    // Prepare
    const tableName = await freshTable();
    const documents = jobStoreDocumentClient(client());
    const stores = dynamoGuardStores(documents, tableName);
    const now = new Date('2026-01-05T09:00:00.000Z');
    // Act
    await stores.idempotency.claim({ key: 'k', request: '{}', jobId: 'r-1', createdAt: now.toISOString(), expiresAt: '2026-01-06T09:00:00.000Z' }, now);
    await stores.cooldowns.claim({ instanceId: 'i-0123456789abcdef0', claimant: 'e', until: '2026-01-05T15:00:00.000Z' }, now);
    const key = (await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'IDEMPOTENCY#k', sk: 'IDEMPOTENCY' } }))).Item!;
    const cooldown = (await documents.send(new GetCommand({ TableName: tableName, Key: { pk: 'COOLDOWN#i-0123456789abcdef0', sk: 'COOLDOWN' } }))).Item!;
    // Assess
    expect(key[JOB_TABLE_TTL_ATTRIBUTE]).toBe(Date.parse('2026-01-06T09:00:00.000Z') / 1000);
    expect(cooldown[JOB_TABLE_TTL_ATTRIBUTE]).toBe(Date.parse('2026-01-06T15:00:00.000Z') / 1000);
    for (const item of [key, cooldown]) expect(Object.keys(item).filter((k) => /gsi1|active|recent/.test(k))).toEqual([]);
  });
});
