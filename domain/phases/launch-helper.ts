import { PermanentError } from '../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job } from '../job';
import { clientToken, serviceTags } from '../naming';

/**
 * Launch the helper and wait until SSM reports it Online. RunInstances carries a ClientToken
 * derived from the job, so a retry or a duplicate message finds the same instance instead of
 * launching a second one.
 */
export async function launchHelper(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const helperId = job.resources.helperInstanceId ?? (await launch(job, ports));
  const helper = await ports.compute.describeInstance(helperId);
  const recordHelper = (draft: Job) => {
    draft.resources.helperInstanceId = helperId;
  };
  if (!helper || helper.state === 'pending') return wait('helper instance to be running', recordHelper);
  if (helper.state !== 'running') {
    throw new PermanentError('HELPER_LOST', `helper ${helperId} is ${helper.state}${helper.stateReason ? ` (${helper.stateReason})` : ''}`);
  }
  const agent = await ports.rescue.agentStatus(helperId);
  if (agent !== 'Online') return wait(`helper's SSM agent to come Online (now ${agent})`, recordHelper);
  return done(recordHelper);
}

async function launch(job: Job, ports: PhasePorts): Promise<string> {
  const platform = job.target!.platform;
  const network = job.resources.rescueNetwork!;
  const imageId = job.resources.helperImageId ?? (await ports.compute.resolveImageParameter(ports.config.helperImageParameter[platform]));
  return ports.compute.launchInstance({
    clientToken: clientToken(job.jobId, 'launch-helper'),
    imageId,
    instanceType: job.request.helperInstanceType,
    subnetId: network.subnetId,
    securityGroupIds: network.securityGroupIds,
    instanceProfile: ports.config.helperInstanceProfile,
    tags: { Name: `reset-access-helper-${job.instanceId}`, ...serviceTags('helper', { jobId: job.jobId, targetInstanceId: job.instanceId }) },
  });
}
