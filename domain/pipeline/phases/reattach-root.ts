import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { isArrived, moveStep, restoreDeleteOnTermination, targetPlacement } from './volume-moves';

/** Back at the original device, with the original DeleteOnTermination (an attach resets it to false). */
export async function reattachRoot(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const step = await moveStep(job, 'reattach-root', { attachTo: targetPlacement(job) }, ports);
  if (!isArrived(step)) return wait(step.waitingFor, step.record);
  await restoreDeleteOnTermination(job, ports, step.attachment);
  return done();
}

declare module '../../job/job' {
  interface PhaseNames {
    'reattach-root': true;
  }
}

export const reattachRootPhase = definePhase({
  name: 'reattach-root',
  step: reattachRoot,
  paths: ['offline'],
  after: ['detach-from-helper'],
  ports: [],
  grants: ['move-root-volume', 'restore-delete-on-termination', 'use-encrypted-volumes'],
  pacedOnStart: 'attachVolume',
  deadlineSeconds: 10 * 60,
  firstPollSeconds: 6,
  wokenBy: ['root-volume'],
});
