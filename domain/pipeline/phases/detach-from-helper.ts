import { definePhase, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { asPhaseResult, moveStep } from './volume-moves';

/** The root volume off the helper, once the rescue has run. */
export async function detachFromHelper(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  return asPhaseResult(await moveStep(job, 'detach-from-helper', { detachFrom: job.resources.helperInstanceId! }, ports));
}

declare module '../../job/job' {
  interface PhaseNames {
    'detach-from-helper': true;
  }
}

export const detachFromHelperPhase = definePhase({
  name: 'detach-from-helper',
  step: detachFromHelper,
  paths: ['offline'],
  after: ['run-rescue'],
  ports: [],
  grants: ['detach-root-volume'],
  pacedOnStart: 'detachVolume',
  deadlineSeconds: 10 * 60,
  firstPollSeconds: 6,
  wokenBy: ['root-volume'],
});
