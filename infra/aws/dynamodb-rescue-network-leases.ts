/**
 * The rescue network's record as one item of the job table (pk `NETWORK#rescue`, sk `NETWORK`):
 * `networkState` (`in-use` | `reclaiming`), `leases` (a map jobId → ISO time taken),
 * `lastReleasedAt`, `creatorOwner` and `creatorExpiresAt` (the CreateVpc lock), `reclaimStartedAt`,
 * `vpcId` (the VPC prepare-network found or made: the only one the sweeper reclaims).
 * Every change is one conditional write: no transactions (dynalite has none), and a lease and the
 * reclaim decision live in the same item, so their conditions cannot interleave.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RetryableError } from '../../domain/errors';
import type { RescueNetworkLeases, RescueNetworkRecord } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

const KEY = { pk: 'NETWORK#rescue', sk: 'NETWORK' } as const;
const NAMES = { '#state': 'networkState' };
/** A lost race with a concurrent first acquire is retried this often before it is left to the caller. */
const MAX_ACQUIRE_RACES = 5;

export class DynamoRescueNetworkLeases implements RescueNetworkLeases {
  private readonly tableName: string;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    options: { tableName: string },
  ) {
    this.tableName = options.tableName;
  }

  async acquire(jobId: string, now: Date): Promise<'held' | 'reclaiming'> {
    const at = now.toISOString();
    for (let race = 0; race < MAX_ACQUIRE_RACES; race++) {
      // Only while the network is in use: `reclaiming` is set under the condition "no lease", so a
      // lease and a reclaim never both succeed.
      const added = await this.conditional('acquire', {
        UpdateExpression: 'SET leases.#job = if_not_exists(leases.#job, :at)',
        ConditionExpression: 'attribute_exists(pk) AND #state = :inUse',
        ExpressionAttributeNames: { ...NAMES, '#job': jobId },
        ExpressionAttributeValues: { ':at': at, ':inUse': 'in-use' },
      });
      if (added) return 'held';
      const record = await this.read();
      if (record?.state === 'reclaiming') return 'reclaiming';
      if (record) continue; // made by a concurrent first acquire since the update was refused
      try {
        await this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...KEY, networkState: 'in-use', leases: { [jobId]: at } },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return 'held';
      } catch (error) {
        if (!isAwsError(error, 'ConditionalCheckFailedException')) throw translateAwsError(error, 'DynamoDB PutItem rescue network');
      }
    }
    throw new RetryableError('CONCURRENT_UPDATE', `rescue network lease for ${jobId}: lost ${MAX_ACQUIRE_RACES} races`);
  }

  async release(jobId: string, now: Date): Promise<void> {
    await this.conditional('release', {
      UpdateExpression: 'REMOVE leases.#job SET lastReleasedAt = :at',
      ConditionExpression: 'attribute_exists(leases.#job)',
      ExpressionAttributeNames: { '#job': jobId },
      ExpressionAttributeValues: { ':at': now.toISOString() },
    });
  }

  async lockCreation(owner: string, now: Date, leaseSeconds: number): Promise<boolean> {
    // Free, ours already (a repeated poll), or expired: ISO times in UTC compare as strings.
    return this.conditional('lockCreation', {
      UpdateExpression: 'SET creatorOwner = :owner, creatorExpiresAt = :expires',
      ConditionExpression:
        'attribute_exists(pk) AND #state = :inUse AND (attribute_not_exists(creatorOwner) OR creatorOwner = :owner OR creatorExpiresAt < :now)',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: {
        ':owner': owner,
        ':expires': new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
        ':now': now.toISOString(),
        ':inUse': 'in-use',
      },
    });
  }

  async read(): Promise<RescueNetworkRecord | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: KEY, ConsistentRead: true }));
      if (!Item) return undefined;
      return {
        state: Item.networkState === 'reclaiming' ? 'reclaiming' : 'in-use',
        leases: { ...((Item.leases as Record<string, string> | undefined) ?? {}) },
        ...(Item.lastReleasedAt ? { lastReleasedAt: Item.lastReleasedAt as string } : {}),
        ...(Item.creatorOwner ? { creator: { owner: Item.creatorOwner as string, expiresAt: Item.creatorExpiresAt as string } } : {}),
        ...(Item.reclaimStartedAt ? { reclaimStartedAt: Item.reclaimStartedAt as string } : {}),
        ...(Item.vpcId ? { vpcId: Item.vpcId as string } : {}),
      };
    } catch (error) {
      throw translateAwsError(error, 'DynamoDB GetItem rescue network');
    }
  }

  async recordVpc(vpcId: string): Promise<void> {
    await this.conditional('recordVpc', {
      UpdateExpression: 'SET vpcId = :vpc',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':vpc': vpcId },
    });
  }

  async beginReclaim(now: Date, idleSince: Date): Promise<boolean> {
    // Idle: in use by nobody, and nobody since `idleSince`. An acquire racing this write either
    // lands first (the map is no longer empty: this fails) or after (it sees `reclaiming`).
    return this.conditional('beginReclaim', {
      UpdateExpression: 'SET #state = :reclaiming, reclaimStartedAt = :now',
      ConditionExpression: '#state = :inUse AND size(leases) = :none AND lastReleasedAt <= :idleSince',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: {
        ':reclaiming': 'reclaiming',
        ':inUse': 'in-use',
        ':none': 0,
        ':now': now.toISOString(),
        ':idleSince': idleSince.toISOString(),
      },
    });
  }

  async endReclaim(): Promise<void> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: KEY,
          ConditionExpression: '#state = :reclaiming',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':reclaiming': 'reclaiming' },
        }),
      );
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw translateAwsError(error, 'DynamoDB DeleteItem rescue network');
    }
  }

  /** One conditional UpdateItem; answers whether its condition held. */
  private async conditional(
    what: string,
    update: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<boolean> {
    try {
      await this.documents.send(new UpdateCommand({ TableName: this.tableName, Key: KEY, ...update }));
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw translateAwsError(error, `DynamoDB UpdateItem rescue network (${what})`);
    }
  }
}
