/**
 * Admission buckets as items of the job table: pk `ADMISSION#<bucket>`, sk `ADMISSION`; `tat`
 * (ms since the epoch) and `version`. One item per bucket, written conditionally on the version
 * read (see `domain/admission/admission.ts` for what `tat` means).
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AdmissionState, AdmissionStore } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

const keyOf = (bucket: string) => ({ pk: `ADMISSION#${bucket}`, sk: 'ADMISSION' });

export class DynamoAdmissionStore implements AdmissionStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly options: { tableName: string },
  ) {}

  async get(bucket: string): Promise<AdmissionState | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.options.tableName, Key: keyOf(bucket), ConsistentRead: true }));
      return Item ? { tat: Item.tat as number, version: Item.version as number } : undefined;
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem admission ${bucket}`);
    }
  }

  async put(bucket: string, tat: number, expectedVersion: number | undefined): Promise<boolean> {
    const condition =
      expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': expectedVersion },
          };
    try {
      await this.documents.send(
        new PutCommand({ TableName: this.options.tableName, Item: { ...keyOf(bucket), tat, version: (expectedVersion ?? 0) + 1 }, ...condition }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB PutItem admission ${bucket}`);
    }
  }
}
