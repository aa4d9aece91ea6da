import { PermanentError } from '../../errors';
import { definePhase, done, waitForEvent, type PhasePorts, type PhaseResult } from '../phase';
import { isFirstDelivery, type Job } from '../../job/job';
import type { InstanceFacts } from '../../ports';
import { enterStopBatch, followStopBatch } from '../stop-batches';

/**
 * Stop the target. Still `stopping` after a while: stop again; still after that: force-stop
 * (docs/aws-facts.md#stop-and-start: a stuck `stopping` can be force-stopped; the runbook escalates the same way).
 */
export async function stopTarget(job: Job, ports: PhasePorts<'stopBatches'>): Promise<PhaseResult> {
  let leftBatch: ((draft: Job) => void) | undefined;
  if (job.resources.stopBatch) {
    const outcome = await followStopBatch(job, ports);
    if ('result' in outcome) return outcome.result;
    leftBatch = (draft) => void delete draft.resources.stopBatch;
    if ('again' in outcome) {
      // EC2 throttled the batch's request, so nothing was stopped: the stop is batched again.
      ports.log.info('stop batch throttled; batching the stop again', { jobId: job.jobId, why: outcome.again });
      const batched = await enterStopBatch(job, ports);
      if (batched) return batched;
      const step = await escalateStop(job, undefined, ports);
      return waitForEvent(step.waitingFor, both(leftBatch, step.record));
    }
    ports.log.info('stopping the target alone', { jobId: job.jobId, why: outcome.alone });
  } else if (isFirstDelivery(job.phases['stop-target']) && job.target?.state === 'running') {
    // Validate saw it running a moment ago: stop without looking first. StopInstances on a stopping
    // or stopped instance succeeds, and refuses one that is terminated; the stop's event ends the wait.
    // While EC2's mutating bucket has a queue, the stop is shared with others (domain/pipeline/stop-batches.ts).
    const batched = await enterStopBatch(job, ports);
    if (batched) return batched;
    const step = await escalateStop(job, undefined, ports);
    return waitForEvent(step.waitingFor, step.record);
  }
  const instance = await ports.compute.describeInstance(job.instanceId);
  if (!instance) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} disappeared`);
  if (instance.state === 'stopped') return done(leftBatch);
  if (instance.state === 'terminated' || instance.state === 'shutting-down') {
    throw new PermanentError('TARGET_TERMINATED', `instance ${job.instanceId} is ${instance.state}`);
  }
  const step = await escalateStop(job, instance, ports);
  return waitForEvent(step.waitingFor, both(leftBatch, step.record));
}

function both(first: ((draft: Job) => void) | undefined, second: ((draft: Job) => void) | undefined): ((draft: Job) => void) | undefined {
  if (!first || !second) return first ?? second;
  return (draft) => {
    first(draft);
    second(draft);
  };
}

/**
 * One step towards a stopped target: the first stop, then (while it stays `stopping`) a second
 * stop after `stopEscalationSeconds[0]` and a force-stop after `[1]`, each counted from the first.
 * Shared with rollback, which must not wait forever on a stop that hangs. `instance` is what a look
 * just found (`undefined`: the first step is taken without one).
 */
export async function escalateStop(
  job: Job,
  instance: InstanceFacts | undefined,
  ports: PhasePorts,
): Promise<{ waitingFor: string; record?: (job: Job) => void }> {
  const now = ports.clock.now();
  const sentAt = job.resources.stopRequestedAt;
  const level = job.resources.stopEscalation ?? -1;
  const elapsed = sentAt ? (now.getTime() - Date.parse(sentAt)) / 1000 : 0;
  const [secondStopAfter, forceAfter] = ports.config.stopEscalationSeconds;
  let nextLevel = level;
  if (level < 0)
    nextLevel = 0; // first look: send the stop, or (someone else stopped it) watch from now
  else if (level === 0 && elapsed >= secondStopAfter) nextLevel = 1;
  else if (level === 1 && elapsed >= forceAfter) nextLevel = 2;

  if (nextLevel === level) return { waitingFor: `target to stop (now ${instance?.state ?? 'stopping'})` };
  if (!(level < 0 && instance?.state === 'stopping')) {
    await ports.compute.stopInstance(job.instanceId, { force: nextLevel === 2 });
  }
  const at = now.toISOString();
  return {
    waitingFor: nextLevel === 2 ? 'target to stop (force-stop sent)' : nextLevel === 1 ? 'target to stop (second stop sent)' : 'target to stop',
    record: (draft) => {
      draft.resources.stopEscalation = nextLevel;
      if (!draft.resources.stopRequestedAt || nextLevel === 0) draft.resources.stopRequestedAt = at;
    },
  };
}

declare module '../../job/job' {
  interface PhaseNames {
    'stop-target': true;
  }
}

export const stopTargetPhase = definePhase({
  name: 'stop-target',
  step: stopTarget,
  paths: ['offline'],
  // The stop needs no network: it starts as soon as the target is validated.
  after: ['validate'],
  ports: ['stopBatches'],
  grants: ['stop-target'],
  undoOnStart: { kind: 'restore-run-state' },
  pacedOnStart: 'stopInstance',
  // A stop takes "a few minutes"; the escalation to a force-stop happens well inside this.
  deadlineSeconds: 25 * 60,
  firstPollSeconds: 15,
  wokenBy: ['target'],
});
