import type { Job, PhaseName, Platform } from './job';
import type { JobMode } from './reset-mode';

/**
 * A phase plan: each phase with the phases that must be done before it starts. Phases whose
 * prerequisites are met run in parallel (the helper launch overlaps the target's stop and
 * backup); a phase with several prerequisites is a join.
 */
export type PhasePlan = ReadonlyArray<{ phase: PhaseName; after: readonly PhaseName[] }>;

const linuxPlan: PhasePlan = [
  { phase: 'validate', after: [] },
  { phase: 'prepare-network', after: ['validate'] },
  { phase: 'launch-helper', after: ['prepare-network'] },
  // The stop needs no network: it starts as soon as the target is validated.
  { phase: 'stop-target', after: ['validate'] },
  { phase: 'create-backup', after: ['stop-target'] },
  { phase: 'detach-root', after: ['launch-helper', 'create-backup'] },
  { phase: 'attach-to-helper', after: ['detach-root'] },
  { phase: 'run-rescue', after: ['attach-to-helper'] },
  { phase: 'detach-from-helper', after: ['run-rescue'] },
  { phase: 'reattach-root', after: ['detach-from-helper'] },
  { phase: 'restore-target', after: ['reattach-root'] },
  { phase: 'cleanup', after: ['restore-target'] },
];

const windowsPlan: PhasePlan = [
  ...linuxPlan.filter((p) => p.phase !== 'restore-target' && p.phase !== 'cleanup'),
  { phase: 'create-password-image', after: ['reattach-root'] },
  { phase: 'restore-target', after: ['create-password-image'] },
  { phase: 'cleanup', after: ['restore-target'] },
];

/** Online (Linux): the key goes onto the running instance; nothing is stopped or moved. */
const onlinePlan: PhasePlan = [
  { phase: 'validate', after: [] },
  { phase: 'online-reset', after: ['validate'] },
];

/** After a failed online attempt: the swap, starting where the attempt ended instead of after validate. */
function afterFallOver(offline: PhasePlan): PhasePlan {
  const rest = offline.filter((step) => step.phase !== 'validate');
  return [...onlinePlan, ...rest.map((step) => ({ phase: step.phase, after: step.after.map((p) => (p === 'validate' ? 'online-reset' : p)) }))];
}

const fellOverPlans: Record<Platform, PhasePlan> = { linux: afterFallOver(linuxPlan), windows: afterFallOver(windowsPlan) };

/** The plan of a job on `platform` that took the path `mode` (no mode: offline, as before modes existed). */
export function planFor(platform: Platform | undefined, mode?: Pick<JobMode, 'chosen' | 'fellOver'>): PhasePlan {
  if (mode?.chosen === 'online') return onlinePlan;
  if (mode?.fellOver) return fellOverPlans[platform ?? 'linux'];
  return platform === 'windows' ? windowsPlan : linuxPlan;
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
