/**
 * What can be reset: the region's instances with their state, platform and opt-in tags, the job
 * resetting each now, and the refusals that can be judged from what the listing shows (state,
 * root device, Spot, hibernation, Auto Scaling, opt-in). The full preflight (stop protection,
 * shutdown behaviour, instance storage, KMS, quota) runs when a reset is asked for.
 */
import { authorizeInstance, type CallerAccess } from './access';
import type { ServiceConfig } from '../config';
import { RefusedError } from '../errors';
import { isActive } from '../job/job';
import { TAG } from '../naming';
import { isTrueTag, missingOptInTags, requiredOptInTags } from '../preflight/opt-in';
import type { InstanceDirectory, JobStore } from '../ports';
import { parseResetRequest } from './request';
import { refusals, type Refusal } from '../preflight/validation';

export interface InstanceView {
  instanceId: string;
  name?: string;
  state: string;
  platform: string;
  instanceType: string;
  availabilityZone: string;
  optIn: { allowed: boolean; auto: boolean };
  /** Nothing the listing can see refuses an API reset (the start runs the full preflight). */
  resettable: boolean;
  blockers: Refusal[];
  activeJobId?: string;
}

/** `caller`: what the access rule knows of the caller; an instance not its own shows `ACCESS_DENIED` (and no job). */
export async function listInstances(
  options: { limit: number; cursor?: string },
  ports: { directory: InstanceDirectory; store: JobStore; config: ServiceConfig },
  caller: CallerAccess = { rule: undefined },
): Promise<{ instances: InstanceView[]; cursor?: string }> {
  const page = await ports.directory.list(options);
  const instances = await Promise.all(
    page.instances.map(async ({ facts, name }): Promise<InstanceView> => {
      const request = parseResetRequest({ instanceId: facts.instanceId }, ports.config);
      const blockers = refusals(request, { instance: facts }, ports.config);
      const missing = missingOptInTags(facts, requiredOptInTags('api', ports.config));
      if (missing.length > 0) blockers.unshift({ code: 'NOT_OPTED_IN', message: `needs the tag ${missing.map((t) => `${t}=true`).join(', ')}` });
      const denied = accessRefusal(caller, facts);
      if (denied) blockers.unshift({ code: 'ACCESS_DENIED', message: denied });
      const lock = denied ? undefined : await ports.store.getLock(facts.instanceId);
      const holder = lock ? await ports.store.get(lock.jobId) : undefined;
      return {
        instanceId: facts.instanceId,
        ...(name ? { name } : {}),
        state: facts.state,
        platform: facts.platform,
        instanceType: facts.instanceType,
        availabilityZone: facts.availabilityZone,
        optIn: { allowed: isTrueTag(facts.tags[TAG.allowed]), auto: isTrueTag(facts.tags[TAG.auto]) },
        resettable: blockers.length === 0 && !(holder && isActive(holder)),
        blockers,
        ...(holder && isActive(holder) ? { activeJobId: holder.jobId } : {}),
      };
    }),
  );
  return { instances, cursor: page.cursor };
}

function accessRefusal(caller: CallerAccess, instance: Parameters<typeof authorizeInstance>[1]): string | undefined {
  try {
    authorizeInstance(caller, instance);
    return undefined;
  } catch (error) {
    if (error instanceof RefusedError) return error.message;
    throw error;
  }
}
