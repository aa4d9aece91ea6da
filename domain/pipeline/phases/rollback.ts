import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import type { Job, UndoStep } from '../../job/job';
import { terminateHelper } from './cleanup';
import { heldOnHelper, releaseNtfsVolume } from './ntfs-release';
import { restoreRunState } from './restore-target';
import { pendingStopBatch } from '../stop-batches';
import { isArrived, moveVolume, restoreDeleteOnTermination, targetPlacement, type MoveStep } from './volume-moves';

/**
 * Rollback: the undo steps the forward phases recorded, newest first, each one convergent (it
 * looks at where things are and takes the next step back), then a check of the result. The job
 * ends FAILED with `instanceRestored` saying whether the target is as it was.
 */
export async function rollback(job: Job, ports: PhasePorts<'stopBatches' | 'rescue'>): Promise<PhaseResult> {
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
  const held = heldOnHelper(job);
  const heldReason = held ? await heldVolumeReason(job, ports) : undefined;
  return done((draft) => {
    draft.resources.undoneSteps = draft.undo.length;
    draft.instanceRestored = restored;
    if (heldReason) draft.rollbackError = { code: 'VOLUME_LEFT_ON_HELPER', message: heldReason, phase: 'rollback' };
  });
}

/** Why the volume was left on its helper, in the words an operator needs (ntfs-release.ts). */
async function heldVolumeReason(job: Job, ports: PhasePorts<'rescue'>): Promise<string | undefined> {
  const step = await releaseNtfsVolume(job, ports);
  return step.kind === 'held' ? step.reason : undefined;
}

async function undo(step: UndoStep, job: Job, ports: PhasePorts<'stopBatches' | 'rescue'>): Promise<true | MoveStep> {
  if (!job.target) return true; // validate never finished: nothing was touched
  // A volume that may still be mounted on its Linux helper is released first, or left there for good.
  const release = step.kind === 'return-root-volume' || step.kind === 'restore-run-state' ? await releaseNtfsVolume(job, ports) : undefined;
  if (release?.record || release?.kind === 'wait')
    return { waitingFor: release.kind === 'wait' ? release.waitingFor : 'the volume release to be recorded', record: release.record };
  const held = release?.kind === 'held';
  switch (step.kind) {
    case 'return-root-volume': {
      if (held) return true; // left on the helper: detaching it could corrupt it
      const moved = await moveVolume(job, targetPlacement(job), ports);
      if (!isArrived(moved)) return moved;
      await restoreDeleteOnTermination(job, ports, moved.attachment);
      return true;
    }
    case 'terminate-helper':
      await terminateHelper(job, ports);
      return true;
    case 'restore-run-state': {
      // Without its root (held on the helper) the target cannot start: it stays stopped.
      if (held) return true;
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

declare module '../../job/job' {
  interface PhaseNames {
    rollback: true;
  }
}

export const rollbackPhase = definePhase({
  name: 'rollback',
  step: rollback,
  // No plan holds it: the runner starts it when a phase fails, cancel and the sweeper too.
  paths: [],
  after: [],
  // `rescue`: the release of an NTFS volume that may still be mounted on its Linux helper.
  ports: ['stopBatches', 'rescue'],
  grants: ['move-root-volume', 'restore-delete-on-termination', 'start-target', 'terminate-helper', 'use-encrypted-volumes', 'run-rescue-command'],
  deadlineSeconds: 6 * 3600,
  wokenBy: ['target', 'helper', 'root-volume'],
});
