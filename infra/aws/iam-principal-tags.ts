/**
 * `PrincipalTags` over IAM: the tags of a caller's role (ListRoleTags) or user (ListUserTags), every
 * page, remembered for `cacheSeconds` per principal (its absence too), so that the API reads IAM
 * about once per caller per cache period and function instance, not on every request. IAM's
 * answers: docs/aws-facts.md#iam-caller-tags.
 */
import { ListRoleTagsCommand, ListUserTagsCommand, type IAMClient, type Tag } from '@aws-sdk/client-iam';
import type { Principal, PrincipalTags } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

export interface IamPrincipalTagsOptions {
  /** How long an answer is kept (seconds). */
  cacheSeconds: number;
  /** Milliseconds since the epoch (`Date.now` by default). */
  now?: () => number;
}

export class IamPrincipalTags implements PrincipalTags {
  private readonly cache = new Map<string, { tags: Record<string, string> | undefined; until: number }>();
  private readonly now: () => number;

  constructor(
    private readonly iam: IAMClient,
    private readonly options: IamPrincipalTagsOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async tagsOf(principal: Principal): Promise<Record<string, string> | undefined> {
    const now = this.now();
    const cached = this.cache.get(principal.arn);
    if (cached && cached.until > now) return cached.tags;
    const tags = await this.read(principal);
    this.cache.set(principal.arn, { tags, until: now + this.options.cacheSeconds * 1000 });
    return tags;
  }

  private async read(principal: Principal): Promise<Record<string, string> | undefined> {
    const tags: Record<string, string> = {};
    let marker: string | undefined;
    try {
      do {
        const page: { Tags?: Tag[]; IsTruncated?: boolean; Marker?: string } =
          principal.kind === 'role'
            ? await this.iam.send(new ListRoleTagsCommand({ RoleName: principal.name, Marker: marker }))
            : await this.iam.send(new ListUserTagsCommand({ UserName: principal.name, Marker: marker }));
        for (const tag of page.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (error) {
      if (isAwsError(error, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
      throw translateAwsError(error, `IAM List${principal.kind === 'role' ? 'Role' : 'User'}Tags ${principal.name}`);
    }
    return tags;
  }
}
