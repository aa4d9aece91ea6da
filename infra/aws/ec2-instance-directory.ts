/** The region's instances for the `GET /instances` listing: one DescribeInstances page per call. */
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { RefusedError } from '../../domain/errors';
import { TAG } from '../../domain/naming';
import type { InstanceDirectory, InstanceSummary } from '../../domain/ports';
import { toInstanceFacts } from './ec2-compute';
import { isAwsError, translateAwsError } from './errors';

/** DescribeInstances' `MaxResults`: 5 to 1000. */
const MIN_PAGE = 5;
const MAX_PAGE = 1000;

export class Ec2InstanceDirectory implements InstanceDirectory {
  constructor(private readonly ec2: EC2Client) {}

  async list(options: { limit: number; cursor?: string }): Promise<{ instances: InstanceSummary[]; cursor?: string }> {
    try {
      const out = await this.ec2.send(
        new DescribeInstancesCommand({
          // Terminated and terminating instances cannot be reset; they only crowd the page.
          Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
          MaxResults: Math.min(MAX_PAGE, Math.max(MIN_PAGE, options.limit)),
          NextToken: options.cursor,
        }),
      );
      const instances = (out.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map(toInstanceFacts)
        // The service's own helpers are not for resetting (a tag filter cannot say "without").
        .filter((facts) => facts.tags[TAG.managed] !== 'true')
        .map((facts) => ({ facts, name: facts.tags.Name }));
      return { instances, cursor: out.NextToken || undefined };
    } catch (error) {
      if (options.cursor !== undefined && isAwsError(error, 'InvalidParameterValue', 'InvalidNextToken', 'InvalidPaginationToken')) {
        throw new RefusedError('INVALID_CURSOR', 'cursor is not one this listing answered', 400);
      }
      throw translateAwsError(error, 'EC2 DescribeInstances (listing)');
    }
  }
}
