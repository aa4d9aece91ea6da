import { PermanentError } from '../../errors';
import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import type { Job } from '../../job/job';
import { asPhaseResult, helperPlacement, isArrived, moveStep, moveVolume } from './volume-moves';

/**
 * The root volume onto the helper. A volume with Marketplace product codes attaches only to a
 * stopped instance (docs/aws-facts.md#marketplace-product-codes): for such a root the helper is stopped,
 * the volume attached, the helper started again and awaited Online.
 */
export async function attachToHelper(job: Job, ports: PhasePorts<'rescue'>): Promise<PhaseResult> {
  const helperId = job.resources.helperInstanceId!;
  const marketplace = job.target!.rootProductCodes.length > 0;
  if (!marketplace) return asPhaseResult(await moveStep(job, 'attach-to-helper', { attachTo: helperPlacement(job) }, ports));
  const volume = await ports.compute.describeVolume(job.target!.rootVolumeId);
  const onHelper = volume?.attachments.some((a) => a.instanceId === helperId && a.state === 'attached');
  const helper = await ports.compute.describeInstance(helperId);
  if (!helper) throw new PermanentError('HELPER_LOST', `helper ${helperId} disappeared`);
  if (!onHelper) {
    if (helper.state === 'running' || helper.state === 'pending') {
      await ports.compute.stopInstance(helperId, { force: false });
      return wait('helper to stop (Marketplace volume attaches only to a stopped instance)');
    }
    if (helper.state !== 'stopped') return wait(`helper to stop (now ${helper.state})`);
    const step = await moveVolume(job, helperPlacement(job), ports);
    return isArrived(step) ? wait('helper to start with the volume attached', undefined, 1) : wait(step.waitingFor, step.record);
  }
  if (helper.state === 'stopped') {
    await ports.compute.startInstance(helperId);
    return wait('helper to start with the volume attached');
  }
  if (helper.state !== 'running') return wait(`helper to be running (now ${helper.state})`);
  const agent = await ports.rescue.agentStatus(helperId);
  return agent === 'Online' ? done() : wait(`helper's SSM agent to come Online (now ${agent})`);
}

declare module '../../job/job' {
  interface PhaseNames {
    'attach-to-helper': true;
  }
}

export const attachToHelperPhase = definePhase({
  name: 'attach-to-helper',
  step: attachToHelper,
  paths: ['offline'],
  after: ['detach-root'],
  ports: ['rescue'],
  grants: ['move-root-volume', 'stop-start-helper', 'use-encrypted-volumes'],
  pacedOnStart: 'attachVolume',
  deadlineSeconds: 10 * 60,
  // A Marketplace root waits for a Windows helper to boot again.
  slowOnWindows: true,
  firstPollSeconds: 6,
  wokenBy: ['helper', 'root-volume'],
});
