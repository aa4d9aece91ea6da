/**
 * Who may reset what (attribute-based): with `config.access` set, a caller may start, read, list and
 * cancel only the resets of instances whose tag `access.tag` has the caller's own value, so that one
 * team cannot reset, see or cancel another's. The caller's value is the same tag on its IAM role (or
 * user), read from IAM (`source: 'principal-tag'`), or the value of the first `mapping` entry whose
 * principal pattern the caller's ARN matches (`source: 'mapping'`). A job records the instance's
 * value when it starts: reads, lists and cancels judge that record, not the instance's tag now.
 * Every refusal is 403 `ACCESS_DENIED` with the reason; nothing is changed.
 */
import type { AccessRule, ServiceConfig } from '../config';
export type { AccessRule } from '../config';
import { RefusedError } from '../errors';
import type { Job, JobAccess } from '../job/job';
import type { InstanceFacts, Principal, PrincipalTags } from '../ports';

/** What the rule knows of a caller: nothing to check (no rule), or its value under the rule. */
export type CallerAccess = { rule: undefined } | { rule: AccessRule; caller: string; value: string };

export interface AccessPorts {
  config: Pick<ServiceConfig, 'access'>;
  /** IAM, for `source: 'principal-tag'`. */
  principals?: PrincipalTags;
}

const refuse = (message: string) => new RefusedError('ACCESS_DENIED', message, 403);

/**
 * The caller's value under the configured rule (403 when it has none). Without a rule, anyone
 * the API lets in may reset any instance that opted in.
 */
export async function callerAccess(caller: string | undefined, ports: AccessPorts): Promise<CallerAccess> {
  const rule = ports.config.access;
  if (!rule) return { rule: undefined };
  if (!caller) throw refuse(`the access rule (tag ${rule.tag}) needs the caller's IAM identity, and the request has none`);
  const principal = principalOf(caller);
  if (rule.source === 'mapping') {
    const names = principal ? [caller, principal.arn] : [caller];
    const entry = (rule.mapping ?? []).find((m) => names.some((name) => matchesPattern(m.principal, name)));
    if (!entry) throw refuse(`caller ${caller} matches no principal of the access mapping (tag ${rule.tag})`);
    return { rule, caller, value: entry.value };
  }
  if (!principal) throw refuse(`caller ${caller} is neither an IAM role session nor an IAM user: no tag ${rule.tag} to read`);
  if (!ports.principals) throw new Error('access.source principal-tag needs the IAM port (principals)');
  const tags = await ports.principals.tagsOf(principal);
  if (!tags) throw refuse(`caller ${caller}: ${principal.kind} ${principal.name} was not found in IAM`);
  const value = tags[rule.tag];
  if (value === undefined || value === '') throw refuse(`caller ${caller}: ${principal.kind} ${principal.name} carries no tag ${rule.tag}`);
  return { rule, caller, value };
}

/**
 * Refuses (403) a caller whose value is not the instance's; answers what the job records (the
 * instance's value), or undefined without a rule.
 */
export function authorizeInstance(access: CallerAccess, instance: Pick<InstanceFacts, 'instanceId' | 'tags'>): JobAccess | undefined {
  if (!access.rule) return undefined;
  const value = instance.tags[access.rule.tag];
  if (value === undefined)
    throw refuse(`instance ${instance.instanceId} carries no tag ${access.rule.tag}; caller ${access.caller} is of ${access.rule.tag}=${access.value}`);
  if (value !== access.value)
    throw refuse(`instance ${instance.instanceId} is of ${access.rule.tag}=${value}; caller ${access.caller} is of ${access.rule.tag}=${access.value}`);
  return { tag: access.rule.tag, value };
}

/** What a job records when the rule is set but nobody is checked (an event started it). */
export function recordedAccess(config: Pick<ServiceConfig, 'access'>, instance: Pick<InstanceFacts, 'tags'>): JobAccess | undefined {
  const rule = config.access;
  if (!rule) return undefined;
  const value = instance.tags[rule.tag];
  return value === undefined ? { tag: rule.tag } : { tag: rule.tag, value };
}

/** Why the caller may not see or cancel `job`; undefined when it may. */
export function jobRefusal(access: CallerAccess, job: Pick<Job, 'jobId' | 'access'>): string | undefined {
  if (!access.rule) return undefined;
  const recorded = job.access?.tag === access.rule.tag ? job.access.value : undefined;
  if (recorded === undefined) return `job ${job.jobId} records no ${access.rule.tag} (started before the access rule, or on an instance without the tag)`;
  if (recorded !== access.value)
    return `job ${job.jobId} is of ${access.rule.tag}=${recorded}; caller ${access.caller} is of ${access.rule.tag}=${access.value}`;
  return undefined;
}

/** 403 unless the caller may see and cancel `job`. */
export function authorizeJob(access: CallerAccess, job: Pick<Job, 'jobId' | 'access'>): void {
  const refusal = jobRefusal(access, job);
  if (refusal) throw refuse(refusal);
}

/**
 * The IAM principal behind a caller ARN: an assumed-role session (`arn:…:sts::<account>:assumed-role/<role>/<session>`)
 * is its role, an IAM user is itself; anything else (the account root, a federated user) is none.
 * A session ARN names the role without its path, and ListRoleTags takes the name alone.
 */
export function principalOf(callerArn: string): Principal | undefined {
  const session = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/.exec(callerArn);
  if (session) {
    const [, partition, account, name] = session as unknown as [string, string, string, string];
    return { kind: 'role', name, account, arn: `arn:${partition}:iam::${account}:role/${name}` };
  }
  const user = /^arn:([\w-]+):iam::(\d{12}):user\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/.exec(callerArn);
  if (user) {
    const [, , account, name] = user as unknown as [string, string, string, string];
    return { kind: 'user', name, account, arn: callerArn };
  }
  return undefined;
}

/** `*` any run of characters, `?` one; everything else literally; the whole name. */
export function matchesPattern(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(name);
}
