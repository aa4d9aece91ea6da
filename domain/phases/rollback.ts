import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import type { Job, UndoStep } from '../job';
import { terminateHelper } from './cleanup';
import { restoreRunState } from './restore-target';
import { pendingStopBatch } from '../stop-batches';
import { isArrived, moveVolume, restoreDeleteOnTermination, targetPlacement, type MoveStep } from './volume-moves';

/**
 * Rollback: the undo steps the forward phases recorded, newest first, each one convergent (it
 * looks at where things are and takes the next step back), then a check of the result. The job
 * ends FAILED with `instanceRestored` saying whether the target is as it was.
 */
export async function rollback(job: Job, ports: PhasePorts<'stopBatches'>): Promise<PhaseResult> {
  // A forward handler that was mid-call when the rollback began may still act (a late StopInstances
  // or AttachVolume); give it the phase functions' timeout to finish before undoing its work.
  const started = Date.parse(job.phases.rollback!.startedAt);
  const settleUntil = started + ports.config.inFlightSettleSeconds * 1000;
  if (ports.clock.now().getTime() < settleUntil && job.undo.length > 0) {
    return wait('in-flight phase handlers to finish', undefined, Math.ceil((settleUntil - ports.clock.now().getTime()) / 1000));
  }
  const undone = job.resources.undoneSteps ?? 0;
  for (let i = job.undo.length - 1 - undone; i >= 0; i--) {
    const step = await undo(job.undo[i]!, job, ports);
    if (step !== true) {
      const count = job.undo.length - 1 - i;
      return wait(step.waitingFor, (draft) => {
        draft.resources.undoneSteps = count;
        // What the step sent (a start, an attach, a stop) must be remembered, or it is sent again on every poll.
        step.record?.(draft);
      });
    }
  }
  const restored = await isRestored(job, ports);
  return done((draft) => {
    draft.resources.undoneSteps = draft.undo.length;
    draft.instanceRestored = restored;
  });
}

async function undo(step: UndoStep, job: Job, ports: PhasePorts<'stopBatches'>): Promise<true | MoveStep> {
  if (!job.target) return true; // validate never finished: nothing was touched
  switch (step.kind) {
    case 'return-root-volume': {
      const moved = await moveVolume(job, targetPlacement(job), ports);
      if (!isArrived(moved)) return moved;
      await restoreDeleteOnTermination(job, ports, moved.attachment);
      return true;
    }
    case 'terminate-helper':
      await terminateHelper(job, ports);
      return true;
    case 'restore-run-state': {
      // A stop batch the target is in could still stop it after this step looked (stop-batches.ts).
      const batch = await pendingStopBatch(job, ports);
      if (batch) return batch;
      return restoreRunState(job, ports);
    }
  }
}

/** Root volume at its original device with its original DeleteOnTermination, run state as before. */
export async function isRestored(job: Job, ports: PhasePorts): Promise<boolean> {
  if (!job.target) return true;
  const target = job.target;
  const instance = await ports.compute.describeInstance(job.instanceId);
  if (!instance) return false;
  const root = instance.blockDevices.find((d) => d.deviceName === target.rootDeviceName);
  return (
    root?.volumeId === target.rootVolumeId &&
    root.deleteOnTermination === target.rootDeleteOnTermination &&
    (instance.state === target.state || (target.state === 'stopped' && instance.state === 'running'))
  );
}

export const rollbackPhase = definePhase({
  name: 'rollback',
  step: rollback,
  // No plan holds it: the runner starts it when a phase fails, cancel and the sweeper too.
  paths: [],
  after: [],
  ports: ['stopBatches'],
  grants: ['move-root-volume', 'restore-delete-on-termination', 'start-target', 'terminate-helper', 'use-encrypted-volumes'],
  deadlineSeconds: 6 * 3600,
  wokenBy: ['target', 'helper', 'root-volume'],
});
