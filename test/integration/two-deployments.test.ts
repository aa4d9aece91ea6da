/**
 * Two deployments of the service (two stages) in one account and region, and instances that carry
 * the service's tags without being its own: each sweeper acts only on what its deployment made,
 * with evidence a tag alone cannot forge (the helper's instance profile, the rescue VPC the job
 * table recorded).
 */
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import type { Job } from '../../domain/job/job';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const MINUTE = 60_000;

/** A stage: its own deployment id and helper profile; a short grace and idle time so sweeps act soon. */
function stage(name: string): Partial<ServiceConfig> {
  return {
    deployment: `ec2-reset-access-${name}`,
    helperInstanceProfile: `reset-access-helper-${name}`,
    sweeper: { ...defaultConfig.sweeper, graceSeconds: 60 },
    rescueNetwork: { ...defaultConfig.rescueNetwork, idleSeconds: 60 },
  };
}

/** Runs `stack` until its job has the root volume on the helper (attach-to-helper done). */
async function untilVolumeOnHelper(stack: VirtualStack, jobId: string): Promise<Job> {
  for (let i = 0; i < 500; i++) {
    const job = await stack.job(jobId);
    if (job.phases['attach-to-helper']?.status === 'done') return job;
    // `run` stops before work due past its window without moving the clock there: move it on.
    if ((await stack.run(20)) === 'time') stack.clock.advance(20_000);
  }
  throw new Error(`job ${jobId} never had its volume on the helper`);
}

const liveHelpers = (stack: VirtualStack) =>
  Object.values(stack.region.exportState().instances).filter(
    (i) => i.tags['reset-access:role'] === 'helper' && !['shutting-down', 'terminated'].includes(i.state),
  );
const rescueVpcs = (stack: VirtualStack) => Object.values(stack.region.exportState().vpcs).filter((v) => v.tags['reset-access:role'] === 'rescue-vpc');

describe('two deployments in one account and region', () => {
  it("leave each other's helpers, volumes and rescue networks alone while each sweeps", async () => {
    // Prepare: green's job has the root of AL2023 on its helper; blue resets Ubuntu to the end
    const blue = new VirtualStack({ config: stage('blue'), idSeed: 'b' });
    const green = new VirtualStack({ config: stage('green'), idSeed: 'g', shareRegionWith: blue });
    const greenStart = await green.api('POST', '/resets', { instanceId: AL2023 });
    const greenJob = await untilVolumeOnHelper(green, greenStart.json.jobId);
    const greenHelper = greenJob.resources.helperInstanceId!;
    const greenRoot = greenJob.target!.rootVolumeId;
    const blueStart = await blue.api('POST', '/resets', { instanceId: UBUNTU });
    await blue.run();
    const blueJob = await blue.job(blueStart.json.jobId);
    // Past the grace and the idle time of both
    blue.clock.advance(5 * MINUTE);
    const from = blue.region.calls.length;

    // Act: blue sweeps twice (its idle network is reclaimed over runs) while green's job waits
    const sweeps = [await blue.sweep(), await blue.sweep()];
    const blueCalls = blue.region.calls.slice(from).map((c) => ({ action: c.action, input: JSON.stringify(c.input) }));
    const helperAfterBlue = blue.region.getInstance(greenHelper);
    const rootAfterBlue = blue.region.getVolume(greenRoot);
    await green.run();
    const greenEnd = await green.job(greenStart.json.jobId);

    // Assess
    expect(blueJob.status).toBe('SUCCEEDED');
    expect(blueCalls.filter((c) => c.input.includes(greenHelper) || c.input.includes(greenRoot))).toEqual([]);
    expect(helperAfterBlue?.state).toBe('running');
    expect(rootAfterBlue?.attachment?.instanceId).toBe(greenHelper);
    expect(sweeps.flatMap((s) => s.actions).filter((a) => a.id === greenHelper || a.id === greenRoot)).toEqual([]);
    // Blue reclaimed its own idle network, and only that one
    expect(rescueVpcs(blue).map((v) => v.tags['reset-access:deployment'])).toEqual(['ec2-reset-access-green']);
    expect(greenEnd.status).toBe('SUCCEEDED');
    expect(greenEnd.instanceRestored).toBeUndefined();
    expect(liveHelpers(blue)).toEqual([]);
  });
});

describe("an instance or a VPC tagged as the service's, without being its own", () => {
  it('is reported and left alone, however old and whatever job it names', async () => {
    // Prepare: what anyone allowed ec2:CreateTags can do to an instance and a VPC of theirs
    const stack = new VirtualStack({ config: stage('blue') });
    const victim = stack.region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      launchTime: stack.clock.now() - 24 * 60 * MINUTE,
      iamInstanceProfileName: 'payroll-app',
      tags: {
        Name: 'payroll',
        'reset-access:managed': 'true',
        'reset-access:deployment': 'ec2-reset-access-blue',
        'reset-access:role': 'helper',
        'reset-access:job-id': 'r-gone',
      },
    }).instanceId;
    const vpc = stack.region.ec2('CreateVpc', {
      CidrBlock: '10.40.0.0/16',
      TagSpecifications: [
        {
          ResourceType: 'vpc',
          Tags: [
            { Key: 'reset-access:managed', Value: 'true' },
            { Key: 'reset-access:deployment', Value: 'ec2-reset-access-blue' },
            { Key: 'reset-access:role', Value: 'rescue-vpc' },
          ],
        },
      ],
    }).Vpc!.VpcId!;
    const from = stack.region.calls.length;

    // Act
    const summary = await stack.sweep();
    stack.clock.advance(120 * MINUTE);
    const later = await stack.sweep();

    // Assess
    expect(stack.region.getInstance(victim)?.state).toBe('running');
    expect(stack.region.exportState().vpcs[vpc]).toBeDefined();
    expect(stack.region.calls.slice(from).filter((c) => !/^Describe/.test(c.action))).toEqual([]);
    for (const run of [summary, later]) {
      expect(run.actions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: victim, action: 'held', reason: expect.stringMatching(/instance profile payroll-app, not reset-access-helper-blue/) }),
          expect.objectContaining({ id: vpc, action: 'held', reason: expect.stringMatching(/no record of this deployment names it/) }),
        ]),
      );
    }
  });
});
