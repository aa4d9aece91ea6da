import { PermanentError } from '../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job } from '../job';

/**
 * Stop the target. Still `stopping` after a while: stop again; still after that: force-stop
 * (REFERENCE.md: a stuck `stopping` can be force-stopped; the runbook escalates the same way).
 */
export async function stopTarget(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const instance = await ports.compute.describeInstance(job.instanceId);
  if (!instance) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} disappeared`);
  if (instance.state === 'stopped') return done();
  if (instance.state === 'terminated' || instance.state === 'shutting-down') {
    throw new PermanentError('TARGET_TERMINATED', `instance ${job.instanceId} is ${instance.state}`);
  }
  const now = ports.clock.now();
  const sentAt = job.resources.stopRequestedAt;
  const level = job.resources.stopEscalation ?? -1;
  const elapsed = sentAt ? (now.getTime() - Date.parse(sentAt)) / 1000 : 0;
  const [secondStopAfter, forceAfter] = ports.config.stopEscalationSeconds;
  let nextLevel = level;
  if (level < 0 && instance.state !== 'stopping') nextLevel = 0;
  else if (level < 0 && instance.state === 'stopping') nextLevel = 0; // someone else stopped it: watch from now
  else if (level === 0 && elapsed >= secondStopAfter) nextLevel = 1;
  else if (level === 1 && elapsed >= forceAfter) nextLevel = 2;

  if (nextLevel !== level) {
    if (!(level < 0 && instance.state === 'stopping')) {
      await ports.compute.stopInstance(job.instanceId, { force: nextLevel === 2 });
    }
    const at = now.toISOString();
    return wait(nextLevel === 2 ? 'target to stop (force-stop sent)' : 'target to stop', (draft) => {
      draft.resources.stopEscalation = nextLevel;
      if (!draft.resources.stopRequestedAt || nextLevel === 0) draft.resources.stopRequestedAt = at;
    });
  }
  return wait(`target to stop (now ${instance.state})`);
}
