/**
 * The job store on one DynamoDB table. Every write is a single conditional item write: no
 * transactions (dynalite, the local stand-in, has no TransactWriteItems).
 *
 * Items:
 * - job:  pk `JOB#<jobId>`, sk `JOB`; `version`, `status`, `instanceId`, `createdAt`, `updatedAt`,
 *         `job` (the whole Job as a map); GSI `byInstance` keys `gsi1pk` `INSTANCE#<instanceId>`,
 *         `gsi1sk` `<createdAt>#<jobId>`; sparse GSI `active` keys `activePk` `ACTIVE`,
 *         `activeSk` `<updatedAt>`, present only while the job is RUNNING or ROLLING_BACK; GSI
 *         `recent` keys `recentPk` `JOBS`, `recentSk` `<createdAt>#<jobId>` (every job, for the
 *         listing without an instance: one partition, which holds while the whole fleet writes
 *         far fewer than DynamoDB's 1,000 writes/s per partition, as resets do).
 * - lock: pk `LOCK#<instanceId>`, sk `LOCK`; `instanceId`, `jobId`, `acquiredAt`.
 * - resource link: pk `RESOURCE#<instance or volume id>`, sk `RESOURCE`; `jobId`, `role`; expires
 *   after {@link RESOURCE_LINK_TTL_SECONDS}.
 * - idempotency keys, alarm cool-downs and admission buckets: see their stores; they carry none of
 *   the index keys and expire through the table's TTL attribute {@link JOB_TABLE_TTL_ATTRIBUTE}.
 */
import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, RefusedError } from '../../domain/errors';
import { isActive, type Job, type JobStatus } from '../../domain/job/job';
import type { InstanceLock, JobQuery, JobStore, ResourceLink, ResourceRole } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

export const BY_INSTANCE_INDEX = 'byInstance';
export const ACTIVE_INDEX = 'active';
export const RECENT_INDEX = 'recent';
const ACTIVE_PARTITION = 'ACTIVE';
const RECENT_PARTITION = 'JOBS';

/**
 * The table's TTL attribute (epoch seconds; serverless.yml's `TimeToLiveSpecification`). DynamoDB
 * deletes expired items only eventually (and dynalite never): stores treat expiry in their
 * conditions themselves and use TTL only to keep the table small.
 */
export const JOB_TABLE_TTL_ATTRIBUTE = 'ttl';

/** Query calls one filtered `list` page makes at most before it answers a short page with a cursor. */
const MAX_QUERIES_PER_PAGE = 10;

/** Page size of `listByInstance` when the caller gives none, and the largest page it answers. */
export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

export interface DynamoJobStoreOptions {
  tableName: string;
}

/**
 * The table's CreateTable input. The local runtime creates the table from it, and `serverless.yml`'s
 * table resource is written from it: keep the two identical (attributes, keys, the GSIs with
 * projection ALL, on-demand billing; TTL on {@link JOB_TABLE_TTL_ATTRIBUTE} is set there only).
 */
export function jobTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
      { AttributeName: 'activePk', AttributeType: 'S' },
      { AttributeName: 'activeSk', AttributeType: 'S' },
      { AttributeName: 'recentPk', AttributeType: 'S' },
      { AttributeName: 'recentSk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BY_INSTANCE_INDEX,
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: ACTIVE_INDEX,
        KeySchema: [
          { AttributeName: 'activePk', KeyType: 'HASH' },
          { AttributeName: 'activeSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: RECENT_INDEX,
        KeySchema: [
          { AttributeName: 'recentPk', KeyType: 'HASH' },
          { AttributeName: 'recentSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/**
 * A document client whose marshalling suits the store (undefined values dropped). The store also
 * drops them itself, so any document client works; this is a convenience for the wiring.
 */
export function jobStoreDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
const lockKey = (instanceId: string) => ({ pk: `LOCK#${instanceId}`, sk: 'LOCK' });
const resourceKey = (resourceId: string) => ({ pk: `RESOURCE#${resourceId}`, sk: 'RESOURCE' });

/** A link is needed while its job runs (config.sweeper.jobDeadlineSeconds, 3 h); a week is plenty. */
export const RESOURCE_LINK_TTL_SECONDS = 7 * 24 * 3600;
const instancePartition = (instanceId: string) => `INSTANCE#${instanceId}`;

type Key = Record<string, string>;

export class DynamoJobStore implements JobStore {
  private readonly tableName: string;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    options: DynamoJobStoreOptions,
  ) {
    this.tableName = options.tableName;
  }

  async get(jobId: string): Promise<Job | undefined> {
    try {
      // Strongly consistent: a read-modify-write must start from the latest version.
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }));
      return Item ? (Item.job as Job) : undefined;
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem job ${jobId}`);
    }
  }

  async put(job: Job, expectedVersion: number | undefined): Promise<void> {
    const active = isActive(job);
    // PutItem replaces the whole item, so the `active` index keys vanish when a job finishes.
    const item = {
      ...jobKey(job.jobId),
      version: job.version,
      status: job.status,
      instanceId: job.instanceId,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      job: withoutUndefined(job),
      gsi1pk: instancePartition(job.instanceId),
      gsi1sk: `${job.createdAt}#${job.jobId}`,
      recentPk: RECENT_PARTITION,
      recentSk: `${job.createdAt}#${job.jobId}`,
      ...(active ? { activePk: ACTIVE_PARTITION, activeSk: job.updatedAt } : {}),
    };
    const condition =
      expectedVersion === undefined
        ? // A new job: no item with this key may exist yet (a reused id or a replayed create).
          { ConditionExpression: 'attribute_not_exists(pk)' }
        : // Optimistic concurrency: write only over the version this writer read. A missing item
          // has no version and fails the condition too.
          {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': expectedVersion },
          };
    try {
      await this.documents.send(new PutCommand({ TableName: this.tableName, Item: item, ...condition }));
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) throw new ConcurrentUpdateError(job.jobId);
      throw translateAwsError(error, `DynamoDB PutItem job ${job.jobId}`);
    }
  }

  async listByInstance(instanceId: string, options: { limit?: number; cursor?: string } = {}): Promise<{ jobs: Job[]; cursor?: string }> {
    const limit = pageSize(options.limit);
    const partition = instancePartition(instanceId);
    const startKey = options.cursor === undefined ? undefined : decodeCursor(options.cursor, partition);
    try {
      // One item more than the page: then a cursor is answered only when another page exists.
      const { Items = [], LastEvaluatedKey } = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: BY_INSTANCE_INDEX,
          KeyConditionExpression: 'gsi1pk = :partition',
          ExpressionAttributeValues: { ':partition': partition },
          ScanIndexForward: false,
          Limit: limit + 1,
          ExclusiveStartKey: startKey,
        }),
      );
      const page = Items.slice(0, limit);
      let cursor: string | undefined;
      if (Items.length > limit) cursor = encodeCursor(indexKey(page[page.length - 1]));
      // A page cut short by the 1 MB response limit: more items may follow.
      else if (LastEvaluatedKey) cursor = encodeCursor(LastEvaluatedKey as Key);
      return { jobs: page.map((item) => item.job as Job), cursor };
    } catch (error) {
      throw translateAwsError(error, `DynamoDB Query jobs of ${instanceId}`);
    }
  }

  async list(query: JobQuery): Promise<{ jobs: Job[]; cursor?: string }> {
    const limit = pageSize(query.limit);
    const index = query.instanceId === undefined ? RECENT_INDEX : BY_INSTANCE_INDEX;
    const [partitionKey, partition] = query.instanceId === undefined ? ['recentPk', RECENT_PARTITION] : ['gsi1pk', instancePartition(query.instanceId)];
    const scope = listScope(query);
    let startKey: Key | undefined = query.cursor === undefined ? undefined : decodeListCursor(query.cursor, scope);
    const found: Array<Record<string, unknown>> = [];
    try {
      // A status filter applies after DynamoDB's Limit: keep querying until the page is full (one
      // item more than the page, so that a cursor is answered only when another page exists), the
      // index is exhausted, or the call budget is spent (then a short page with a cursor).
      for (let call = 0; call < MAX_QUERIES_PER_PAGE && found.length <= limit; call++) {
        const { Items = [], LastEvaluatedKey } = await this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: index,
            KeyConditionExpression: '#partition = :partition',
            ...(query.status ? { FilterExpression: '#status = :status' } : {}),
            ExpressionAttributeNames: { '#partition': partitionKey, ...(query.status ? { '#status': 'status' } : {}) },
            ExpressionAttributeValues: { ':partition': partition, ...(query.status ? { ':status': query.status satisfies JobStatus } : {}) },
            ScanIndexForward: false,
            Limit: limit + 1,
            ExclusiveStartKey: startKey,
          }),
        );
        found.push(...Items);
        startKey = LastEvaluatedKey as Key | undefined;
        if (!startKey) break;
      }
    } catch (error) {
      throw translateAwsError(error, `DynamoDB Query jobs (${scope})`);
    }
    const page = found.slice(0, limit);
    let cursor: string | undefined;
    if (found.length > limit) cursor = encodeListCursor(listIndexKey(page[page.length - 1]!, index), scope);
    else if (startKey) cursor = encodeListCursor(startKey, scope);
    return { jobs: page.map((item) => item.job as Job), cursor };
  }

  async listActive(): Promise<Job[]> {
    const jobs: Job[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const { Items = [], LastEvaluatedKey } = await this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: ACTIVE_INDEX,
            KeyConditionExpression: 'activePk = :active',
            ExpressionAttributeValues: { ':active': ACTIVE_PARTITION },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of Items) jobs.push(item.job as Job);
        startKey = LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      throw translateAwsError(error, 'DynamoDB Query active jobs');
    }
    // The index is eventually consistent: a job that has just finished may still be listed.
    return jobs.filter(isActive);
  }

  async getLock(instanceId: string): Promise<InstanceLock | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: lockKey(instanceId), ConsistentRead: true }));
      if (!Item) return undefined;
      return { instanceId: Item.instanceId as string, jobId: Item.jobId as string, acquiredAt: Item.acquiredAt as string };
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem lock ${instanceId}`);
    }
  }

  async acquireLock(lock: InstanceLock, replacing?: string): Promise<boolean> {
    // Free, or already ours (a retried request), or held by the job we were told to replace: the
    // condition is evaluated atomically with the write, so two takers cannot both win.
    const holders: Record<string, string> = { ':jobId': lock.jobId };
    let condition = 'attribute_not_exists(pk) OR jobId = :jobId';
    if (replacing !== undefined) {
      holders[':replacing'] = replacing;
      condition += ' OR jobId = :replacing';
    }
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...lockKey(lock.instanceId), instanceId: lock.instanceId, jobId: lock.jobId, acquiredAt: lock.acquiredAt },
          ConditionExpression: condition,
          ExpressionAttributeValues: holders,
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB PutItem lock ${lock.instanceId}`);
    }
  }

  async releaseLock(instanceId: string, jobId: string): Promise<void> {
    try {
      // Only the holder frees the lock: a late release must not free another job's lock.
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: lockKey(instanceId),
          ConditionExpression: 'jobId = :jobId',
          ExpressionAttributeValues: { ':jobId': jobId },
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return;
      throw translateAwsError(error, `DynamoDB DeleteItem lock ${instanceId}`);
    }
  }

  async linkResources(links: ResourceLink[]): Promise<void> {
    // Unconditional: the newest job to learn a resource owns its link (an instance reset again).
    const expires = Math.floor(Date.now() / 1000) + RESOURCE_LINK_TTL_SECONDS;
    await Promise.all(
      links.map(async (link) => {
        try {
          await this.documents.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...resourceKey(link.resourceId), jobId: link.jobId, role: link.role, [JOB_TABLE_TTL_ATTRIBUTE]: expires },
            }),
          );
        } catch (error) {
          throw translateAwsError(error, `DynamoDB PutItem link ${link.resourceId}`);
        }
      }),
    );
  }

  async resourceLink(resourceId: string): Promise<ResourceLink | undefined> {
    try {
      // Eventually consistent is enough: a link written a moment ago and missed only leaves the
      // wake to the job's own re-check.
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: resourceKey(resourceId) }));
      return Item ? { resourceId, jobId: Item.jobId as string, role: Item.role as ResourceRole } : undefined;
    } catch (error) {
      throw translateAwsError(error, `DynamoDB GetItem link ${resourceId}`);
    }
  }
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIST_LIMIT;
  return Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(limit)));
}

/** The `byInstance` key of an item: what DynamoDB answers as LastEvaluatedKey for that index. */
function indexKey(item: Record<string, unknown>): Key {
  return { pk: item.pk as string, sk: item.sk as string, gsi1pk: item.gsi1pk as string, gsi1sk: item.gsi1sk as string };
}

/** What a `list` cursor is valid for: the same instance (or all) and the same status filter. */
function listScope(query: JobQuery): string {
  return `${query.instanceId ?? '*'}|${query.status ?? '*'}`;
}

function listIndexKey(item: Record<string, unknown>, index: string): Key {
  const key: Key = { pk: item.pk as string, sk: item.sk as string };
  if (index === RECENT_INDEX) Object.assign(key, { recentPk: item.recentPk as string, recentSk: item.recentSk as string });
  else Object.assign(key, { gsi1pk: item.gsi1pk as string, gsi1sk: item.gsi1sk as string });
  return key;
}

function encodeListCursor(key: Key, scope: string): string {
  return Buffer.from(JSON.stringify({ k: key, s: scope }), 'utf8').toString('base64url');
}

function decodeListCursor(cursor: string, scope: string): Key {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const { k, s } = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as { k?: unknown; s?: unknown };
  const valid = s === scope && typeof k === 'object' && k !== null && Object.values(k).length === 4 && Object.values(k).every((v) => typeof v === 'string');
  if (!valid) throw new RefusedError('INVALID_CURSOR', 'cursor is not one this listing answered', 400);
  return k as Key;
}

function encodeCursor(key: Key): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, partition: string): Key {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const fields = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
  const valid =
    typeof key === 'object' &&
    key !== null &&
    Object.keys(key).length === fields.length &&
    fields.every((field) => typeof (key as Key)[field] === 'string') &&
    (key as Key).gsi1pk === partition;
  if (!valid) throw new RefusedError('INVALID_CURSOR', 'cursor is not one this listing answered', 400);
  return key as Key;
}

/** The job without `undefined` values (DynamoDB has no such value; the marshaller would refuse it). */
function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((entry) => entry !== undefined).map((entry) => withoutUndefined(entry)) as T;
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(value)) if (entry !== undefined) copy[name] = withoutUndefined(entry);
    return copy as T;
  }
  return value;
}
