/**
 * Alarm cool-downs as items of the job table: pk `COOLDOWN#<instanceId>`, sk `COOLDOWN`;
 * `claimant` (the event that holds it), `until` (ISO), `jobId` once a start names one, and the
 * table's TTL attribute a day after `until` (only to keep the table small: expiry is judged here).
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CooldownRecord, CooldownStore } from '../../domain/ports';
import { JOB_TABLE_TTL_ATTRIBUTE } from './dynamodb-job-store';
import { isAwsError, translateAwsError } from './errors';

const keyOf = (instanceId: string) => ({ pk: `COOLDOWN#${instanceId}`, sk: 'COOLDOWN' });

export class DynamoCooldownStore implements CooldownStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly options: { tableName: string },
  ) {}

  async get(instanceId: string): Promise<CooldownRecord | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.tableName, Key: keyOf(instanceId), ConsistentRead: true }));
      if (!Item) return undefined;
      return { instanceId, claimant: Item.claimant as string, until: Item.until as string, ...(Item.jobId ? { jobId: Item.jobId as string } : {}) };
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem cool-down ${instanceId}`);
    }
  }

  async claim(record: CooldownRecord, now: Date): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...keyOf(record.instanceId),
            claimant: record.claimant,
            until: record.until,
            ...(record.jobId ? { jobId: record.jobId } : {}),
            [JOB_TABLE_TTL_ATTRIBUTE]: Math.ceil(Date.parse(record.until) / 1000) + 24 * 3600,
          },
          // No cool-down, one that has run out (ISO-8601 UTC strings compare in time order), or
          // the claimant's own (a redelivered event, or its start naming the job).
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :now OR claimant = :claimant',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':claimant': record.claimant },
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB PutItem cool-down ${record.instanceId}`);
    }
  }

  async release(instanceId: string, claimant: string): Promise<void> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.options.tableName,
          Key: keyOf(instanceId),
          ConditionExpression: 'claimant = :claimant',
          ExpressionAttributeValues: { ':claimant': claimant },
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return;
      throw translateAwsError(error, `DynamoDB DeleteItem cool-down ${instanceId}`);
    }
  }
}
