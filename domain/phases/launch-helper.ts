import { PermanentError } from '../errors';
import { done, wait, waitForEvent, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job } from '../job';
import { clientToken, helperTargetTags, serviceTags } from '../naming';

/**
 * Launch the helper and wait until SSM reports it Online. RunInstances carries a ClientToken
 * derived from the job, so a retry or a duplicate message finds the same instance instead of
 * launching a second one. A helper just launched is `pending` for seconds: its id is recorded at
 * once (a look now would cost a describe, and a throttled one would cost a second RunInstances),
 * and its `running` event wakes the phase.
 */
export async function launchHelper(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const helperId = job.resources.helperInstanceId ?? (await launch(job, ports));
  const recordHelper = (draft: Job) => {
    draft.resources.helperInstanceId = helperId;
  };
  if (!job.resources.helperInstanceId) return waitForEvent('helper instance to be running', recordHelper);
  const helper = await ports.compute.describeInstance(helperId);
  if (!helper || helper.state === 'pending') return waitForEvent('helper instance to be running', recordHelper);
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
    tags: {
      Name: `reset-access-helper-${job.instanceId}`,
      ...serviceTags('helper', { jobId: job.jobId, targetInstanceId: job.instanceId }),
      ...helperTargetTags(job.target!),
    },
  });
}
