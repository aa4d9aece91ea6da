/**
 * The warm pool of Windows helpers as one item of the job table (pk `POOL#windows-helpers`, sk
 * `POOL`): `slots`, a map slotId → { availabilityZone, state, instanceId, createdAt, claimedBy,
 * claimedAt }. Every change is one conditional write on the slot's state (no transactions: dynalite
 * has none), so a job's claim and the sweeper's retirement of the same helper cannot both succeed.
 * One item, read with GetItem: the phases' roles have no Query, and a pool holds a few helpers.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { HelperPoolStore, PooledHelper } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

const KEY = { pk: 'POOL#windows-helpers', sk: 'POOL' } as const;
// `state` is a DynamoDB reserved word.
const NAMES = { '#state': 'state' };

export class DynamoHelperPool implements HelperPoolStore {
  private readonly tableName: string;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    options: { tableName: string },
  ) {
    this.tableName = options.tableName;
  }

  async list(): Promise<PooledHelper[]> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: KEY, ConsistentRead: true }));
      const slots = (Item?.slots as Record<string, Omit<PooledHelper, 'slotId'>> | undefined) ?? {};
      return Object.entries(slots).map(([slotId, slot]) => ({ ...slot, slotId }));
    } catch (error) {
      throw translateAwsError(error, 'DynamoDB GetItem helper pool');
    }
  }

  async add(slot: PooledHelper): Promise<void> {
    await this.ensureItem();
    const { slotId, ...fields } = slot;
    await this.conditional('add', {
      UpdateExpression: 'SET slots.#id = :slot',
      ConditionExpression: 'attribute_not_exists(slots.#id)',
      ExpressionAttributeNames: { '#id': slotId },
      ExpressionAttributeValues: { ':slot': fields },
    });
  }

  async update(slotId: string, from: PooledHelper['state'], change: Partial<Pick<PooledHelper, 'state' | 'instanceId'>>): Promise<boolean> {
    const sets = Object.keys(change).map((field) => `slots.#id.#${field} = :${field}`);
    if (sets.length === 0) return false;
    return this.conditional('update', {
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'slots.#id.#state = :from',
      ExpressionAttributeNames: { ...NAMES, '#id': slotId, ...Object.fromEntries(Object.keys(change).map((field) => [`#${field}`, field])) },
      ExpressionAttributeValues: { ':from': from, ...Object.fromEntries(Object.entries(change).map(([field, value]) => [`:${field}`, value])) },
    });
  }

  async remove(slotId: string, from: PooledHelper['state']): Promise<void> {
    await this.conditional('remove', {
      UpdateExpression: 'REMOVE slots.#id',
      ConditionExpression: 'slots.#id.#state = :from',
      ExpressionAttributeNames: { ...NAMES, '#id': slotId },
      ExpressionAttributeValues: { ':from': from },
    });
  }

  async claim(jobId: string, availabilityZone: string, now: Date): Promise<PooledHelper | undefined> {
    const slots = await this.list();
    const mine = slots.find((slot) => slot.state === 'claimed' && slot.claimedBy === jobId);
    if (mine) return mine;
    const ready = slots
      .filter((slot) => slot.state === 'ready' && slot.availabilityZone === availabilityZone)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const slot of ready) {
      const claimedAt = now.toISOString();
      const won = await this.conditional('claim', {
        UpdateExpression: 'SET slots.#id.#state = :claimed, slots.#id.claimedBy = :job, slots.#id.claimedAt = :at',
        ConditionExpression: 'slots.#id.#state = :ready',
        ExpressionAttributeNames: { ...NAMES, '#id': slot.slotId },
        ExpressionAttributeValues: { ':claimed': 'claimed', ':ready': 'ready', ':job': jobId, ':at': claimedAt },
      });
      // Lost: another job (or the sweeper retiring it) was first; the next one is tried.
      if (won) return { ...slot, state: 'claimed', claimedBy: jobId, claimedAt };
    }
    return undefined;
  }

  /** The item, made empty the first time. */
  private async ensureItem(): Promise<void> {
    try {
      await this.documents.send(new PutCommand({ TableName: this.tableName, Item: { ...KEY, slots: {} }, ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw translateAwsError(error, 'DynamoDB PutItem helper pool');
    }
  }

  /** One conditional UpdateItem; false when its condition did not hold (or the item does not exist). */
  private async conditional(what: string, input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>): Promise<boolean> {
    try {
      await this.documents.send(new UpdateCommand({ TableName: this.tableName, Key: KEY, ...input }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB UpdateItem helper pool ${what}`);
    }
  }
}
