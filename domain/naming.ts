/** Names and tags of everything the service creates, and idempotency tokens. */
import type { PhaseName, TargetSnapshot } from './job/job';

export const TAG = {
  managed: 'reset-access:managed',
  /**
   * The deployment that made it (`ServiceConfig.deployment`, `<service>-<stage>`): a deployment
   * looks up, reuses and reclaims only its own, and its roles may touch only its own (IAM).
   */
  deployment: 'reset-access:deployment',
  role: 'reset-access:role',
  jobId: 'reset-access:job-id',
  targetInstanceId: 'reset-access:target-instance-id',
  /**
   * On a helper, from its launch: what the sweeper needs to give a target its root volume back
   * when the job's record is gone (the volume, the run state and DeleteOnTermination to restore).
   */
  targetRootVolumeId: 'reset-access:target-root-volume-id',
  targetState: 'reset-access:target-state',
  targetRootDeleteOnTermination: 'reset-access:target-root-delete-on-termination',
  /** Opt-in tags on customer instances. */
  allowed: 'reset-access:allowed',
  auto: 'reset-access:auto',
} as const;

export type ResourceRole =
  | 'helper'
  /** A stopped Windows helper of the warm pool (helper-pool.ts); no job's until one claims it. */
  | 'pool-helper'
  | 'backup-image'
  | 'password-image'
  | 'rescue-vpc'
  | 'rescue-subnet'
  | 'rescue-igw'
  | 'rescue-route-table'
  | 'rescue-security-group'
  | 'rescue-endpoint'
  | 'rescue-endpoint-security-group';

export function serviceTags(role: ResourceRole, deployment: string, extra: { jobId?: string; targetInstanceId?: string } = {}): Record<string, string> {
  const tags: Record<string, string> = { [TAG.managed]: 'true', [TAG.deployment]: deployment, [TAG.role]: role };
  if (extra.jobId) tags[TAG.jobId] = extra.jobId;
  if (extra.targetInstanceId) tags[TAG.targetInstanceId] = extra.targetInstanceId;
  return tags;
}

/** Whether `tags` mark a resource of this deployment in `role` (its tags alone: evidence the sweeper does not stop at). */
export function isOwnResource(tags: Record<string, string>, role: ResourceRole, deployment: string): boolean {
  return tags[TAG.managed] === 'true' && tags[TAG.deployment] === deployment && tags[TAG.role] === role;
}

/** Tags a helper carries about its target, set at launch (RunInstances TagSpecifications). */
export function helperTargetTags(target: TargetSnapshot): Record<string, string> {
  return {
    [TAG.targetRootVolumeId]: target.rootVolumeId,
    [TAG.targetState]: target.state,
    [TAG.targetRootDeleteOnTermination]: String(target.rootDeleteOnTermination),
  };
}

export function backupImageName(instanceId: string, jobId: string): string {
  return `ResetAccess-backup-${instanceId}-${jobId}`;
}

export function passwordImageName(instanceId: string, jobId: string): string {
  return `ResetAccess-password-enabled-${instanceId}-${jobId}`;
}

/** EC2 ClientToken: ≤ 64 ASCII characters, derived from job and phase so retries reuse it. */
export function clientToken(jobId: string, phase: PhaseName, purpose = ''): string {
  const token = `ra-${jobId}-${phase}${purpose ? `-${purpose}` : ''}`;
  if (token.length > 64) throw new Error(`client token too long: ${token}`);
  return token;
}

/** The Run Command comment that identifies a job's rescue command (≤ 100 characters in SSM). */
export function rescueCommandComment(jobId: string): string {
  return `reset-access ${jobId} rescue`;
}

/** The comment of a job's release of an NTFS volume on its Linux helper (ntfs-release.ts). */
export function releaseCommandComment(jobId: string): string {
  return `reset-access ${jobId} release`;
}

/** RunInstances ClientToken of a warm-pool slot: a repeated launch of the slot finds its helper. */
export function poolClientToken(slotId: string): string {
  const token = `ra-pool-${slotId}`;
  if (token.length > 64) throw new Error(`client token too long: ${token}`);
  return token;
}

/** Device the customer's root volume is attached at on the helper (as the runbook does). */
export const HELPER_DEVICE = { linux: '/dev/sdf', windows: 'xvdf' } as const;
