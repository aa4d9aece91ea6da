/**
 * The phase plans, derived from the phases' declarations (domain/pipeline/phases/index.ts): each path and
 * platform runs the phases declared for it, each after the phases it declares. Phases whose
 * prerequisites are met run in parallel (the helper launch overlaps the target's stop and backup);
 * a phase with several prerequisites is a join.
 */
import type { Job, Platform } from '../job/job';
import type { PhasePath } from './phase';
import { PHASE_DEFINITIONS, type AnyPhaseDefinition, type PhaseName } from './phases';
import type { JobMode } from '../preflight/reset-mode';

const PLATFORMS: readonly Platform[] = ['linux', 'windows'];

export type PhasePlan = ReadonlyArray<{ phase: PhaseName; after: readonly PhaseName[] }>;

/** The phases of `path` on `platform`, in declaration order; a phase held only by some plans goes in front of its `before`. */
function derivePlan(path: PhasePath, platform: Platform): PhasePlan {
  const definitions: readonly AnyPhaseDefinition[] = PHASE_DEFINITIONS;
  const held = definitions.filter((d) => d.paths.includes(path) && (d.platforms ?? PLATFORMS).includes(platform));
  return held.map((d) => {
    let after: PhaseName[] = [...d.after];
    for (const inserted of held.filter((i) => i.before?.includes(d.name))) {
      after = [...after.filter((p) => !inserted.after.includes(p)), inserted.name];
    }
    return { phase: d.name, after };
  });
}

/** After a failed online attempt: the swap, starting where the attempt ended instead of where both paths start. */
function afterFallOver(online: PhasePlan, offline: PhasePlan): PhasePlan {
  const attempt = online.map((step) => step.phase);
  const end = attempt[attempt.length - 1]!;
  const rest = offline.filter((step) => !attempt.includes(step.phase));
  return [...online, ...rest.map((step) => ({ phase: step.phase, after: step.after.map((p) => (attempt.includes(p) ? end : p)) }))];
}

const plans = Object.fromEntries(
  PLATFORMS.map((platform) => {
    const offline = derivePlan('offline', platform);
    const online = derivePlan('online', platform);
    return [platform, { offline, online, fellOver: afterFallOver(online, offline) }];
  }),
) as Record<Platform, { offline: PhasePlan; online: PhasePlan; fellOver: PhasePlan }>;

/** The plan of a job on `platform` that took the path `mode` (no mode: offline, as before modes existed). */
export function planFor(platform: Platform | undefined, mode?: Pick<JobMode, 'chosen' | 'fellOver'>): PhasePlan {
  const of = plans[platform ?? 'linux'];
  if (mode?.chosen === 'online') return of.online;
  return mode?.fellOver ? of.fellOver : of.offline;
}

/**
 * The phases that become runnable once `completed` is done, given what the job has done so far;
 * `'SUCCEEDED'` when `completed` was the plan's last phase.
 */
export function nextPhases(job: Job, completed: PhaseName): PhaseName[] | 'SUCCEEDED' {
  const plan = planFor(job.platform, job.mode);
  const isDone = (p: PhaseName) => p === completed || job.phases[p]?.status === 'done';
  const ready = plan
    .filter((step) => step.after.includes(completed))
    .filter((step) => job.phases[step.phase] === undefined)
    .filter((step) => step.after.every(isDone))
    .map((step) => step.phase);
  if (ready.length > 0) return ready;
  const last = plan[plan.length - 1]!.phase;
  return completed === last ? 'SUCCEEDED' : [];
}
