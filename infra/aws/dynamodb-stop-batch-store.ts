/**
 * Stop batches as items of the job table: pk `STOPBATCH#<batchId>`, sk `STOPBATCH`; `batchId`,
 * `at`, `instanceIds` (a list), `state`, `closedBy`, `closedAt`, `sentAt`, `sentInstanceIds`,
 * `error` and the table's TTL attribute (epoch seconds). The open batch is named by a pointer item,
 * pk `STOPBATCH#current`, sk `STOPBATCH`, holding its `batchId` and `at`, with the same TTL. Every
 * write is conditional on the state it expects.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '../../domain/errors';
import type { StopBatch, StopBatchStore } from '../../domain/ports';
import { JOB_TABLE_TTL_ATTRIBUTE } from './dynamodb-job-store';
import { isAwsError, translateAwsError } from './errors';

const SORT_KEY = 'STOPBATCH';
const batchKey = (batchId: string) => ({ pk: `STOPBATCH#${batchId}`, sk: SORT_KEY });
const POINTER_KEY = { pk: 'STOPBATCH#current', sk: SORT_KEY };

/** `leave` re-reads and retries a removal that lost to another writer of the list this many times. */
const LEAVE_ATTEMPTS = 5;

// `state`, `at`, `error` and `ttl` are DynamoDB reserved words: expressions name them through aliases.
const NAMES = { '#state': 'state' };

function batchOf(item: Record<string, unknown>): StopBatch {
  const batch: StopBatch = {
    batchId: item.batchId as string,
    at: item.at as string,
    instanceIds: [...((item.instanceIds as string[] | undefined) ?? [])],
    state: item.state as StopBatch['state'],
  };
  for (const field of ['closedBy', 'closedAt', 'sentAt', 'error'] as const) {
    if (typeof item[field] === 'string') batch[field] = item[field];
  }
  if (Array.isArray(item.sentInstanceIds)) batch.sentInstanceIds = [...(item.sentInstanceIds as string[])];
  return batch;
}

export class DynamoStopBatchStore implements StopBatchStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly options: { tableName: string },
  ) {}

  async current(): Promise<StopBatch | undefined> {
    const pointer = await this.pointer();
    if (!pointer) return undefined;
    // TTL deletes items independently, so the pointer may outlive its batch: answered as a closed,
    // empty batch, which nobody joins or sends and the next `open` replaces.
    return (await this.get(pointer.batchId)) ?? { batchId: pointer.batchId, at: pointer.at, instanceIds: [], state: 'closed' };
  }

  async get(batchId: string): Promise<StopBatch | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.tableName, Key: batchKey(batchId), ConsistentRead: true }));
      return Item ? batchOf(Item) : undefined;
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem stop batch ${batchId}`);
    }
  }

  async open(batch: { batchId: string; at: string; instanceIds: string[] }, replacing: string | undefined, expiresAt: Date): Promise<boolean> {
    const ttl = Math.ceil(expiresAt.getTime() / 1000);
    try {
      // A batch id is written once: a second open of it (a redelivery) must not reset its list.
      await this.documents.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...batchKey(batch.batchId),
            batchId: batch.batchId,
            at: batch.at,
            instanceIds: [...batch.instanceIds],
            state: 'open',
            [JOB_TABLE_TTL_ATTRIBUTE]: ttl,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB PutItem stop batch ${batch.batchId}`);
    }
    // If the pointer loses, the batch item just written stays unreferenced until its TTL.
    return this.movePointer(batch, replacing, ttl);
  }

  async join(batchId: string, instanceId: string, maxSize: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: batchKey(batchId),
          UpdateExpression: 'SET instanceIds = list_append(instanceIds, :ids)',
          // Also false on a missing item: `#state = :open` cannot hold there, so nothing is created.
          ConditionExpression: '#state = :open AND size(instanceIds) < :max AND NOT contains(instanceIds, :id)',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':ids': [instanceId], ':open': 'open', ':max': maxSize, ':id': instanceId },
        }),
      );
      return true;
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw translateAwsError(error, `DynamoDB UpdateItem stop batch ${batchId} (join)`);
    }
    // Refused: closed, full, or already in (a redelivered join), which counts as joined.
    const batch = await this.get(batchId);
    return batch?.state === 'open' && batch.instanceIds.includes(instanceId);
  }

  async leave(batchId: string, instanceId: string): Promise<boolean> {
    for (let attempt = 0; attempt < LEAVE_ATTEMPTS; attempt++) {
      const batch = await this.get(batchId);
      if (!batch) return true;
      const index = batch.instanceIds.indexOf(instanceId);
      if (batch.state !== 'open') return index < 0;
      if (index < 0) return true;
      try {
        // DynamoDB removes list elements by index only: the condition checks the index still
        // holds this instance (a concurrent leave shifts the list) and the list is still open.
        await this.documents.send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: batchKey(batchId),
            UpdateExpression: `REMOVE instanceIds[${index}]`,
            ConditionExpression: `#state = :open AND instanceIds[${index}] = :id`,
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: { ':open': 'open', ':id': instanceId },
          }),
        );
        return true;
      } catch (error) {
        if (!isAwsError(error, 'ConditionalCheckFailedException')) throw translateAwsError(error, `DynamoDB UpdateItem stop batch ${batchId} (leave)`);
      }
    }
    throw new RetryableError('STOP_BATCH_CONTENDED', `stop batch ${batchId} kept changing while ${instanceId} left it`);
  }

  async close(batchId: string, jobId: string, now: Date): Promise<StopBatch | undefined> {
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: batchKey(batchId),
          UpdateExpression: 'SET #state = :closed, closedBy = :jobId, closedAt = :now',
          ConditionExpression: '#state = :open',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':open': 'open', ':closed': 'closed', ':jobId': jobId, ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? batchOf(Attributes) : undefined;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return undefined;
      throw translateAwsError(error, `DynamoDB UpdateItem stop batch ${batchId} (close)`);
    }
  }

  async settle(batchId: string, outcome: { sentAt: string; instanceIds: string[] } | { error: string }): Promise<void> {
    const change =
      'sentAt' in outcome
        ? {
            UpdateExpression: 'SET #state = :sent, sentAt = :sentAt, sentInstanceIds = :sentInstanceIds',
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: { ':sent': 'sent', ':sentAt': outcome.sentAt, ':sentInstanceIds': [...outcome.instanceIds] },
          }
        : {
            UpdateExpression: 'SET #state = :failed, #error = :error',
            ExpressionAttributeNames: { ...NAMES, '#error': 'error' },
            ExpressionAttributeValues: { ':failed': 'failed', ':error': outcome.error },
          };
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: batchKey(batchId),
          UpdateExpression: change.UpdateExpression,
          ConditionExpression: '#state = :closed',
          ExpressionAttributeNames: change.ExpressionAttributeNames,
          ExpressionAttributeValues: { ':closed': 'closed', ...change.ExpressionAttributeValues },
        }),
      );
    } catch (error) {
      // Not closed (still open, already settled, or gone): nothing to record.
      if (isAwsError(error, 'ConditionalCheckFailedException')) return;
      throw translateAwsError(error, `DynamoDB UpdateItem stop batch ${batchId} (settle)`);
    }
  }

  private async pointer(): Promise<{ batchId: string; at: string } | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.tableName, Key: POINTER_KEY, ConsistentRead: true }));
      return typeof Item?.batchId === 'string' ? { batchId: Item.batchId, at: Item.at as string } : undefined;
    } catch (error) {
      throw translateAwsError(error, 'DynamoDB GetItem current stop batch');
    }
  }

  /** Points the current batch at `batch` if it still names `replacing` (`undefined`: no pointer yet). */
  private async movePointer(batch: { batchId: string; at: string }, replacing: string | undefined, ttl: number): Promise<boolean> {
    const values = { ':batchId': batch.batchId, ':at': batch.at, ':ttl': ttl };
    const condition =
      replacing === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)', ExpressionAttributeValues: values }
        : { ConditionExpression: 'batchId = :replacing', ExpressionAttributeValues: { ...values, ':replacing': replacing } };
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: POINTER_KEY,
          // The pointer expires with the batch it names: nothing is left to join after that. It
          // keeps `at` so that `current()` can still describe a batch TTL removed first.
          UpdateExpression: 'SET batchId = :batchId, #at = :at, #ttl = :ttl',
          ExpressionAttributeNames: { '#at': 'at', '#ttl': JOB_TABLE_TTL_ATTRIBUTE },
          ...condition,
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, 'DynamoDB UpdateItem current stop batch');
    }
  }
}
