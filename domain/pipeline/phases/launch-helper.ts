import { PermanentError } from '../../errors';
import { definePhase, done, firstPollSeconds, wait, waitForEvent, type PhasePorts, type PhaseResult } from '../phase';
import type { ServiceConfig } from '../../config';
import type { Job, PhaseName, Platform } from '../../job/job';
import type { InstanceFacts } from '../../ports';
import { clientToken, helperTargetTags, serviceTags } from '../../naming';
import { pollDelaySeconds } from '../wait-policy';

/**
 * Launch the helper and wait until SSM reports it Online. RunInstances carries a ClientToken
 * derived from the job, so a retry or a duplicate message finds the same instance instead of
 * launching a second one. A helper just launched is `pending` for seconds: its id is recorded at
 * once (a look now would cost a describe, and a throttled one would cost a second RunInstances),
 * and its `running` event wakes the phase. No event reports the agent: the first look at it is
 * `pollSeconds.helperAgentFirstLook` after the helper was seen running, then the phase polls, at
 * most `helperAgentMaxGap` apart.
 */
export async function launchHelper(job: Job, ports: PhasePorts<'rescue'>): Promise<PhaseResult> {
  const helperId = job.resources.helperInstanceId;
  if (!helperId) {
    const platform = helperPlatformFor(job, ports.config);
    const launched = await launch(job, platform, ports);
    return waitForEvent('helper instance to be running', (draft) => {
      draft.resources.helperInstanceId = launched;
      if (platform !== job.target!.platform) draft.resources.helperPlatform = platform;
    });
  }
  if (!job.resources.helperRunningAt) {
    const helper = await describeHelper(helperId, ports);
    if (!helper || helper.state === 'pending') return waitForEvent('helper instance to be running');
    const at = ports.clock.now().toISOString();
    const firstLook = ports.config.pollSeconds.helperAgentFirstLook;
    return wait(`helper's SSM agent to register (first look in ${firstLook} s)`, (draft) => void (draft.resources.helperRunningAt = at), firstLook);
  }
  const agent = await ports.rescue.agentStatus(helperId);
  if (agent === 'Online') return done();
  // Not Online yet: the helper itself is looked at too, so that one that died is not waited for
  // until the deadline (its state-change event wakes this phase, and this look tells why).
  await describeHelper(helperId, ports);
  const { helperAgentMaxGap } = ports.config.pollSeconds;
  const attempt = job.phases['launch-helper']?.attempt ?? 0;
  const delay = Math.min(helperAgentMaxGap, pollDelaySeconds(ports.config, firstPollSeconds(launchHelperPhase, ports.config), attempt, job.jobId));
  return wait(`helper's SSM agent to come Online (now ${agent})`, undefined, delay);
}

/** The helper's facts; throws `HELPER_LOST` once it is stopping, stopped or gone. */
export async function describeHelper(helperId: string, ports: PhasePorts): Promise<InstanceFacts | undefined> {
  const helper = await ports.compute.describeInstance(helperId);
  if (helper && helper.state !== 'pending' && helper.state !== 'running') {
    throw new PermanentError('HELPER_LOST', `helper ${helperId} is ${helper.state}${helper.stateReason ? ` (${helper.stateReason})` : ''}`);
  }
  return helper;
}

/**
 * The helper's platform: the target's, except that a Windows target goes to a Linux helper when the
 * fast path is on (its NTFS rescue needs no Windows boot, docs/ntfs-rescue.md). A Marketplace root
 * attaches only to a stopped helper (docs/aws-facts.md#marketplace-product-codes): it stays with
 * the Windows helper, so that a fallback never has to stop one.
 */
export function helperPlatformFor(job: Job, config: ServiceConfig): Platform {
  const target = job.target!;
  if (target.platform === 'windows' && config.windowsFastPath.enabled && target.rootProductCodes.length === 0) return 'linux';
  return target.platform;
}

/** An AMI id as it is, or the AMI an SSM parameter names. */
export async function resolveHelperImage(reference: string, ports: PhasePorts): Promise<string> {
  return /^ami-[0-9a-f]+$/.test(reference) ? reference : ports.compute.resolveImageParameter(reference);
}

async function launch(job: Job, platform: Platform, ports: PhasePorts): Promise<string> {
  const image =
    platform === 'linux' && job.target!.platform === 'windows' ? ports.config.windowsFastPath.helperImage : ports.config.helperImageParameter[platform];
  const imageId = job.resources.helperImageId ?? (await resolveHelperImage(image, ports));
  return launchHelperInstance(job, imageId, 'launch-helper', ports);
}

/** RunInstances of a job's helper into its rescue network; the ClientToken of `phase` makes a repeat find it. */
export function launchHelperInstance(job: Job, imageId: string, phase: PhaseName, ports: PhasePorts): Promise<string> {
  const network = job.resources.rescueNetwork!;
  return ports.compute.launchInstance({
    clientToken: clientToken(job.jobId, phase),
    imageId,
    instanceType: job.request.helperInstanceType,
    subnetId: network.subnetId,
    securityGroupIds: network.securityGroupIds,
    instanceProfile: ports.config.helperInstanceProfile,
    tags: {
      Name: `reset-access-helper-${job.instanceId}`,
      ...serviceTags('helper', ports.config.deployment, { jobId: job.jobId, targetInstanceId: job.instanceId }),
      ...helperTargetTags(job.target!),
    },
  });
}

declare module '../../job/job' {
  interface PhaseNames {
    'launch-helper': true;
  }
}

export const launchHelperPhase = definePhase({
  name: 'launch-helper',
  step: launchHelper,
  paths: ['offline'],
  after: ['prepare-network'],
  ports: ['rescue'],
  grants: ['launch-helper', 'use-encrypted-volumes'],
  undoOnStart: { kind: 'terminate-helper' },
  pacedOnStart: 'launchInstance',
  // Launch ≈ 5–17 s to running, the SSM agent Online 30 s to several minutes (docs/aws-facts.md#timings).
  deadlineSeconds: 15 * 60,
  slowOnWindows: true,
  firstPollSeconds: 6,
  wokenBy: ['helper'],
});
