import { PermanentError } from '../../errors';
import { definePhase, done, waitForEvent, type PhasePorts, type PhaseResult } from '../phase';
import { isFirstDelivery, type Job } from '../../job/job';
import { escalateStop } from './stop-target';

/** Start the target again only if it was running before the job. */
export async function restoreTarget(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  if (isFirstDelivery(job.phases['restore-target']) && job.target!.state === 'running' && !job.resources.startRequestedAt) {
    // The job stopped the target and has just put its root back: start it without looking first.
    // StartInstances on a pending or running instance succeeds; the start's event ends the wait.
    const step = await sendStart(job, ports);
    return waitForEvent(step.waitingFor, step.record);
  }
  const step = await restoreRunState(job, ports);
  return step === true ? done() : waitForEvent(step.waitingFor, step.record);
}

/**
 * Shared with rollback: one step towards the target's original run state. The `record` of a step
 * must be written with it: it remembers a start already sent, so that a start EC2 could not carry
 * out (an encrypted root whose KMS key was disabled meanwhile: `pending` → `stopped` with
 * `Client.InternalError`) ends the phase instead of being sent again and again.
 */
export async function restoreRunState(job: Job, ports: PhasePorts): Promise<true | { waitingFor: string; record?: (job: Job) => void }> {
  const original = job.target!.state;
  const instance = await ports.compute.describeInstance(job.instanceId);
  if (!instance) throw new PermanentError('INSTANCE_NOT_FOUND', `instance ${job.instanceId} disappeared`);
  if (instance.state === original) return true;
  if (instance.state === 'pending') return { waitingFor: 'target to settle (now pending)' };
  // A stop that hangs would hold the rollback until its deadline: escalate as stop-target does.
  if (instance.state === 'stopping') return escalateStop(job, instance, ports);
  if (original === 'stopped') {
    if (instance.state === 'running') {
      // Only a run state this job changed is restored; a stopped target that someone started is left alone.
      return true;
    }
  }
  if (original === 'running' && instance.state === 'stopped') {
    if (job.resources.startRequestedAt && instance.stateReason) {
      throw new PermanentError('START_FAILED', `target did not start: ${instance.stateReason}`);
    }
    return sendStart(job, ports);
  }
  throw new PermanentError('TARGET_STATE', `target is ${instance.state}; expected ${original}`);
}

/** StartInstances, remembered with the wait (see `restoreRunState`). */
async function sendStart(job: Job, ports: PhasePorts): Promise<{ waitingFor: string; record: (job: Job) => void }> {
  await ports.compute.startInstance(job.instanceId);
  const at = ports.clock.now().toISOString();
  return { waitingFor: 'target to start', record: (draft) => void (draft.resources.startRequestedAt = at) };
}

declare module '../../job/job' {
  interface PhaseNames {
    'restore-target': true;
  }
}

export const restoreTargetPhase = definePhase({
  name: 'restore-target',
  step: restoreTarget,
  paths: ['offline'],
  after: ['reattach-root'],
  ports: [],
  grants: ['start-target', 'use-encrypted-volumes'],
  pacedOnStart: 'startInstance',
  deadlineSeconds: 20 * 60,
  slowOnWindows: true,
  firstPollSeconds: 10,
  wokenBy: ['target'],
});
