import type { Clock } from './clock';

/** A token bucket: `capacity` requests at once, refilled by `refillPerSecond`. */
export interface BucketSpec {
  capacity: number;
  refillPerSecond: number;
}

export type Ec2BucketName = 'describe' | 'unfilteredDescribe' | 'mutating' | 'runStart' | 'terminate' | 'createTags' | 'vpcEndpoints';

/**
 * How the buckets are shared. `category`: one bucket per row of the table, shared by every action
 * in it (the API reference's older wording: "the bucket size for non-mutating (Describe*) API
 * actions is 100 tokens"). `action`: every action has a bucket of its own of its row's size (the
 * EC2 Developer Guide's current wording: "each API is evaluated individually … requests for other
 * API are not affected").
 */
export type ThrottlingScope = 'category' | 'action';

/**
 * EC2's request-rate buckets, per account and region, from the EC2 API reference "Request
 * throttling for the Amazon EC2 API" (figures as gathered in docs/aws-facts.md#ec2-request-throttling).
 */
export const EC2_BUCKETS: Readonly<Record<Ec2BucketName, BucketSpec>> = {
  describe: { capacity: 100, refillPerSecond: 20 },
  unfilteredDescribe: { capacity: 50, refillPerSecond: 10 },
  mutating: { capacity: 50, refillPerSecond: 5 },
  runStart: { capacity: 5, refillPerSecond: 2 },
  terminate: { capacity: 100, refillPerSecond: 5 },
  createTags: { capacity: 100, refillPerSecond: 10 },
  vpcEndpoints: { capacity: 4, refillPerSecond: 0.3 },
};

/** Which bucket an EC2 call draws from. */
export function ec2BucketFor(action: string, input: Record<string, unknown>): Ec2BucketName {
  if (action === 'RunInstances' || action === 'StartInstances') return 'runStart';
  if (action === 'TerminateInstances' || action === 'CreateSnapshot' || action === 'DeregisterImage') return 'terminate';
  if (action === 'CreateTags') return 'createTags';
  if (action === 'CreateVpcEndpoint' || action === 'DeleteVpcEndpoints') return 'vpcEndpoints';
  if (action.startsWith('Describe') || action.startsWith('Get')) {
    const unfiltered = ['DescribeInstances', 'DescribeVolumes', 'DescribeSnapshots'].includes(action);
    const narrowed = ['Filters', 'InstanceIds', 'VolumeIds', 'SnapshotIds', 'MaxResults'].some((k) => {
      const value = input[k];
      return Array.isArray(value) ? value.length > 0 : value !== undefined;
    });
    return unfiltered && !narrowed ? 'unfilteredDescribe' : 'describe';
  }
  return 'mutating';
}

/** EC2's token buckets over simulated time. */
export class Ec2Throttle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly specs: Record<Ec2BucketName, BucketSpec>,
    private readonly scope: ThrottlingScope = 'category',
  ) {}

  /** Takes a token for the call; false when the bucket is empty (answer RequestLimitExceeded). */
  tryTake(action: string, input: Record<string, unknown>): boolean {
    const name = ec2BucketFor(action, input);
    const spec = this.specs[name];
    const key = this.scope === 'action' ? `${name}:${action}` : name;
    const now = this.clock.now();
    const bucket = this.buckets.get(key) ?? { tokens: spec.capacity, at: now };
    bucket.tokens = Math.min(spec.capacity, bucket.tokens + ((now - bucket.at) / 1000) * spec.refillPerSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
