import { definePhase, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { asPhaseResult, moveStep } from './volume-moves';

/** The root volume off the stopped target. */
export async function detachRoot(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  return asPhaseResult(await moveStep(job, 'detach-root', { detachFrom: job.instanceId }, ports));
}

declare module '../../job/job' {
  interface PhaseNames {
    'detach-root': true;
  }
}

export const detachRootPhase = definePhase({
  name: 'detach-root',
  step: detachRoot,
  paths: ['offline'],
  // The helper must be up and the backup taken (point-in-time: its image may still be pending).
  after: ['launch-helper', 'create-backup'],
  ports: [],
  grants: ['detach-root-volume'],
  undoOnStart: { kind: 'return-root-volume' },
  pacedOnStart: 'detachVolume',
  deadlineSeconds: 10 * 60,
  // Attach and detach take ≈ 5 s: one look at 6 s usually finds them done (docs/aws-facts.md#timings).
  firstPollSeconds: 6,
  wokenBy: ['root-volume'],
});
