/**
 * The region's instances for the `GET /instances` listing, exactly `limit` a page.
 *
 * DescribeInstances pages are at least 5 instances (`MaxResults` 5 to 1000, not with instance ids:
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html) and its
 * `NextToken` can only resume after a whole page, while a listing page may end inside one. The
 * cursor is therefore the service's own: the token the current EC2 page was asked with, how many
 * of that page's instances were answered already, and the page size, kept the same for every call
 * of one listing so that a page asked for again with its token is the same page.
 */
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { RefusedError } from '../../domain/errors';
import { TAG } from '../../domain/naming';
import type { InstanceDirectory, InstanceSummary } from '../../domain/ports';
import { toInstanceFacts } from './ec2-compute';
import { isAwsError, translateAwsError } from './errors';

/** DescribeInstances' `MaxResults`: 5 to 1000. */
const MIN_PAGE = 5;
const MAX_PAGE = 1000;
/**
 * EC2 pages one listing call reads at most: a page of helpers only (left out) could otherwise make
 * a call read the whole region. Past it the answer is short, with a cursor to go on.
 */
const MAX_EC2_PAGES_PER_CALL = 10;

/** Where a listing goes on: the EC2 page (`token`, none for the first), the instances of it answered (`skip`), the page size (`size`). */
interface Position {
  token?: string;
  skip: number;
  size: number;
}

export class Ec2InstanceDirectory implements InstanceDirectory {
  constructor(private readonly ec2: EC2Client) {}

  async list(options: { limit: number; cursor?: string }): Promise<{ instances: InstanceSummary[]; cursor?: string }> {
    let at = options.cursor === undefined ? { skip: 0, size: Math.min(MAX_PAGE, Math.max(MIN_PAGE, options.limit)) } : decodeCursor(options.cursor);
    const instances: InstanceSummary[] = [];
    for (let pages = 0; pages < MAX_EC2_PAGES_PER_CALL; pages++) {
      const page = await this.page(at, options.cursor !== undefined && pages === 0);
      let next = at.skip;
      for (; next < page.instances.length && instances.length < options.limit; next++) {
        const facts = toInstanceFacts(page.instances[next]!);
        // The service's own helpers are not for resetting (a tag filter cannot say "without").
        if (facts.tags[TAG.managed] !== 'true') instances.push({ facts, name: facts.tags.Name });
      }
      if (next < page.instances.length) return { instances, cursor: encodeCursor({ ...at, skip: next }) };
      if (!page.nextToken) return { instances };
      at = { token: page.nextToken, skip: 0, size: at.size };
      if (instances.length === options.limit) break;
    }
    return { instances, cursor: encodeCursor(at) };
  }

  private async page(at: Position, fromCursor: boolean) {
    try {
      const out = await this.ec2.send(
        new DescribeInstancesCommand({
          // Terminated and terminating instances cannot be reset; they only crowd the page.
          Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
          MaxResults: at.size,
          NextToken: at.token,
        }),
      );
      return { instances: (out.Reservations ?? []).flatMap((r) => r.Instances ?? []), nextToken: out.NextToken || undefined };
    } catch (error) {
      // A token of ours that EC2 no longer takes (expired, or from another region).
      if (fromCursor && at.token !== undefined && isAwsError(error, 'InvalidParameterValue', 'InvalidNextToken', 'InvalidPaginationToken'))
        throw invalidCursor();
      throw translateAwsError(error, 'EC2 DescribeInstances (listing)');
    }
  }
}

function encodeCursor(at: Position): string {
  return Buffer.from(JSON.stringify({ t: at.token, s: at.skip, n: at.size })).toString('base64url');
}

/** The position a cursor of `encodeCursor` names; anything else is refused before EC2 is asked. */
function decodeCursor(cursor: string): Position {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (typeof value !== 'object' || value === null) throw invalidCursor();
  const { t, s, n } = value as { t?: unknown; s?: unknown; n?: unknown };
  const whole = (x: unknown, min: number, max: number): x is number => Number.isInteger(x) && (x as number) >= min && (x as number) <= max;
  if (!whole(n, MIN_PAGE, MAX_PAGE) || !whole(s, 0, n - 1)) throw invalidCursor();
  if (t !== undefined && (typeof t !== 'string' || t === '')) throw invalidCursor();
  return { ...(t !== undefined ? { token: t } : {}), skip: s, size: n };
}

/** The same refusal as the job listing's (domain/ports.ts, JobStore.list). */
function invalidCursor(): RefusedError {
  return new RefusedError('INVALID_CURSOR', 'cursor is not one this listing answered', 400);
}
