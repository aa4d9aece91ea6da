/**
 * Idempotency keys as items of the job table: pk `IDEMPOTENCY#<key>`, sk `IDEMPOTENCY`;
 * `request`, `jobId`, `createdAt`, `expiresAt` (ISO) and the table's TTL attribute (epoch seconds).
 * DynamoDB removes expired items only eventually, so every read and condition treats a record
 * past `expiresAt` as absent itself.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyRecord, IdempotencyStore } from '../../domain/ports';
import { JOB_TABLE_TTL_ATTRIBUTE } from './dynamodb-job-store';
import { isAwsError, translateAwsError } from './errors';

const keyOf = (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: 'IDEMPOTENCY' });

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly options: { tableName: string },
  ) {}

  async get(key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.tableName, Key: keyOf(key), ConsistentRead: true }));
      if (!Item || Date.parse(Item.expiresAt as string) <= now.getTime()) return undefined;
      return { key, request: Item.request as string, jobId: Item.jobId as string, createdAt: Item.createdAt as string, expiresAt: Item.expiresAt as string };
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem idempotency key`);
    }
  }

  async claim(record: IdempotencyRecord, now: Date, replacing?: string): Promise<boolean> {
    const values: Record<string, unknown> = { ':now': now.toISOString() };
    // Free (never used, or expired: ISO-8601 UTC strings compare in time order), or still naming
    // the job of a start that died before writing it (the caller judged its lease).
    let condition = 'attribute_not_exists(pk) OR expiresAt <= :now';
    if (replacing !== undefined) {
      values[':replacing'] = replacing;
      condition += ' OR jobId = :replacing';
    }
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...keyOf(record.key),
            request: record.request,
            jobId: record.jobId,
            createdAt: record.createdAt,
            expiresAt: record.expiresAt,
            [JOB_TABLE_TTL_ATTRIBUTE]: Math.ceil(Date.parse(record.expiresAt) / 1000),
          },
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, 'DynamoDB PutItem idempotency key');
    }
  }

  async release(key: string, jobId: string): Promise<void> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: keyOf(key),
          ConditionExpression: 'jobId = :jobId',
          ExpressionAttributeValues: { ':jobId': jobId },
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return;
      throw translateAwsError(error, 'DynamoDB DeleteItem idempotency key');
    }
  }
}
