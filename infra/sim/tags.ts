import type { Tag, TagSpecification } from '@aws-sdk/client-ec2';

import { fail } from './sim-error';
import type { TagMap } from './state';

/** EC2's tag list shape from the region's tag map (insertion order kept). */
export function toTagList(tags: TagMap): Tag[] | undefined {
  const list = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  return list.length ? list : undefined;
}

/** Checks tags as EC2 does: keys 1–128 characters, not `aws:`-prefixed, values ≤ 256, ≤ 50 tags. */
export function validateTags(tags: Tag[]): void {
  if (tags.length > 50) fail('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
  for (const tag of tags) {
    const key = tag.Key ?? '';
    if (!key || key.length > 128) fail('InvalidParameterValue', `Tag key '${key}' must be 1 to 128 characters.`);
    if (key.toLowerCase().startsWith('aws:')) {
      fail('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
    }
    if ((tag.Value ?? '').length > 256) fail('InvalidParameterValue', `Tag value for '${key}' is longer than 256 characters.`);
  }
}

/**
 * The tags that `TagSpecifications` give to a new resource of `resourceType`; a specification for
 * a type the action cannot create is an `InvalidParameterValue`, as in EC2.
 */
export function tagsFromSpecifications(
  specifications: TagSpecification[] | undefined,
  resourceType: string,
  allowedTypes: readonly string[] = [resourceType],
): TagMap {
  const tags: TagMap = {};
  for (const spec of specifications ?? []) {
    const type = spec.ResourceType ?? '';
    if (!allowedTypes.includes(type)) {
      fail('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
    }
    if (type !== resourceType) continue;
    validateTags(spec.Tags ?? []);
    for (const tag of spec.Tags ?? []) tags[tag.Key ?? ''] = tag.Value ?? '';
  }
  return tags;
}
