/** The opt-in guards: which tags an instance must carry before a reset of it starts. */
import type { ServiceConfig } from '../config';
import { RefusedError } from '../errors';
import { TAG } from '../naming';
import type { InstanceFacts } from '../ports';

/** Who asked: a person or a tool through the API (and CLI), or an event (an alarm, a request event). */
export type EntryPoint = 'api' | 'event';

/** The tags (each with the value `true`) a reset from `entry` needs, as configured. */
export function requiredOptInTags(entry: EntryPoint, config: ServiceConfig): string[] {
  const tags: string[] = [];
  if (config.optIn.requireAllowedTag) tags.push(TAG.allowed);
  if (entry === 'event' && config.optIn.requireAutoTagForEvents) tags.push(TAG.auto);
  return tags;
}

/** The required tags the instance lacks. */
export function missingOptInTags(instance: Pick<InstanceFacts, 'tags'>, required: string[]): string[] {
  return required.filter((tag) => !isTrueTag(instance.tags[tag]));
}

/**
 * A tag counts when its value is `true` in any case, and only then: the roles' IAM condition on
 * the same tag compares it so (StringEqualsIgnoreCase, infra/deploy/grants.ts), and what the
 * service accepts IAM must accept too.
 */
export function isTrueTag(value: string | undefined): boolean {
  return value?.toLowerCase() === 'true';
}

/** Why `instance` may not be reset, naming the tags it lacks; undefined when it opted in. */
export function optInRefusal(instance: Pick<InstanceFacts, 'instanceId' | 'tags'>, required: string[]): string | undefined {
  const missing = missingOptInTags(instance, required);
  if (missing.length === 0) return undefined;
  return `instance ${instance.instanceId} has not opted in: it needs the tag${missing.length > 1 ? 's' : ''} ${missing.map((t) => `${t}=true`).join(', ')}`;
}

/** 403: the instance did not opt in, whoever asks (the deployed roles could not touch it either). */
export function assertOptedIn(instance: Pick<InstanceFacts, 'instanceId' | 'tags'>, required: string[]): void {
  const refusal = optInRefusal(instance, required);
  if (refusal) throw new RefusedError('NOT_OPTED_IN', refusal, 403);
}
