/**
 * AWS calls per job (issue 7): the benchmark's second Linux reset, counted call by call on the
 * simulated region and charged to the phase delivery (or the API request) that made it. Simulated
 * time and seeded ids make the count the same on every machine.
 */
import type { Job } from '../../domain/job/job';
import { seedLinuxFleet } from '../../infra/local/fleet';
import { VirtualStack } from '../../infra/local/virtual-stack';
import type { SimCall } from '../../infra/sim/region';

/** What each step of a Linux reset may cost when the region's rescue network exists already. */
const BUDGET: Record<string, number> = {
  // DescribeInstances, 2 × DescribeInstanceAttribute, DescribeVolumes, DescribeVpcs, DescribeInstanceInformation
  api: 6,
  // DescribeInstances: the rest of the API's facts is fresh
  validate: 1,
  // DescribeSubnets: the network was found complete by the first job
  'prepare-network': 1,
  // StopInstances; DescribeInstances when the stop's event arrives
  'stop-target': 2,
  // GetParameter, RunInstances; DescribeInstances on the running event; agent polls from 30 s on
  'launch-helper': 6,
  // CreateImage
  'create-backup': 1,
  // DetachVolume or AttachVolume, then one DescribeVolumes after the first-look delay
  'detach-root': 2,
  'attach-to-helper': 2,
  // ListCommands, DescribeImages (the backup is usable), SendCommand, GetCommandInvocation
  'run-rescue': 4,
  'detach-from-helper': 2,
  // AttachVolume, DescribeVolumes, ModifyInstanceAttribute (DeleteOnTermination)
  'reattach-root': 3,
  // StartInstances; DescribeInstances when the start's event arrives
  'restore-target': 2,
  // DescribeImages (the backup's state, reported), TerminateInstances
  cleanup: 2,
};

interface Measured {
  job: Job;
  calls: SimCall[];
  byStep: Record<string, number>;
}

/** A reset requested through the API and run to its end, its calls charged to each step. */
async function measure(stack: VirtualStack, instanceId: string, beforeRun?: () => void): Promise<Measured> {
  const from = stack.region.calls.length;
  const steps: string[] = [];
  let step = 'api';
  const charge = () => {
    while (from + steps.length < stack.region.calls.length) steps.push(step);
  };
  stack.beforeDelivery = (message) => {
    charge();
    step = message.phase;
  };
  const started = await stack.api('POST', '/resets', { instanceId });
  expect(started.statusCode).toBe(202);
  beforeRun?.();
  await stack.run();
  charge();
  stack.beforeDelivery = undefined;
  const byStep: Record<string, number> = {};
  for (const s of steps) byStep[s] = (byStep[s] ?? 0) + 1;
  return { job: await stack.job(started.json.jobId), calls: stack.region.calls.slice(from), byStep };
}

function regionWithTwoTargets(): { stack: VirtualStack; first: string; second: string } {
  const stack = new VirtualStack({ samples: false, idSeed: 'budget', region: { callLogLimit: 100_000 } });
  const [first, second] = seedLinuxFleet(stack.region, { count: 2, namePrefix: 'budget', availabilityZone: stack.region.config.availabilityZones[0] });
  return { stack, first: first!, second: second! };
}

describe('AWS calls of a Linux reset', () => {
  it('stay under 40 for a reset in a region whose rescue network exists, and within each step’s budget', async () => {
    // Prepare: a first reset makes the rescue network
    const { stack, first, second } = regionWithTwoTargets();
    expect((await measure(stack, first)).job.status).toBe('SUCCEEDED');

    // Act
    const { job, calls, byStep } = await measure(stack, second);

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(calls.length).toBeLessThan(40);
    const over = Object.entries(byStep)
      .filter(([s, n]) => n > (BUDGET[s] ?? 0))
      .map(([s, n]) => `${s}: ${n} calls, budget ${BUDGET[s] ?? 0}`);
    expect(over).toEqual([]);
    expect(calls.length).toBeLessThanOrEqual(Object.values(BUDGET).reduce((a, b) => a + b, 0));
  });

  it('asks for the helper’s agent only once it can be Online, 30 s after the helper was seen running', async () => {
    // Prepare
    const { stack, first } = regionWithTwoTargets();

    // Act
    const { job, calls } = await measure(stack, first);

    // Assess
    const helperId = job.resources.helperInstanceId!;
    const names = (c: SimCall) => JSON.stringify(c.input).includes(helperId);
    const agentLooks = calls.filter((c) => c.action === 'DescribeInstanceInformation' && names(c));
    const runningSeenAt = Date.parse(job.resources.helperRunningAt!);
    expect(job.status).toBe('SUCCEEDED');
    expect(agentLooks.length).toBeGreaterThan(0);
    expect(agentLooks.every((c) => c.at >= runningSeenAt + stack.ports.config.pollSeconds.helperAgentFirstLook * 1000)).toBe(true);
  });
});

describe('validate after the API’s preflight', () => {
  it('reads the instance again, and keeps a target stopped meanwhile stopped', async () => {
    // Prepare: the owner stops the target between the API's answer and validate, which runs once
    // it is stopped and while the API's facts are still fresh
    const { stack, first } = regionWithTwoTargets();
    const stopMeanwhile = () => {
      stack.region.ec2('StopInstances', { InstanceIds: [first] });
      stack.clock.advance(stack.region.timings.stopMs + 1000);
    };

    // Act
    const { job, byStep } = await measure(stack, first, stopMeanwhile);

    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(byStep.validate).toBe(1);
    expect(job.target?.state).toBe('stopped');
    expect(stack.region.getInstance(first)?.state).toBe('stopped');
  });

  it('reads everything again when it runs after the API’s facts went stale', async () => {
    // Prepare: validate is delivered 150 s after the API gathered its facts (reuse ends at 120 s)
    const { stack, first } = regionWithTwoTargets();

    // Act
    const { job, calls, byStep } = await measure(stack, first, () => stack.clock.advance(150_000));

    // Assess
    const validateEnd = Date.parse(job.phases.validate!.endedAt!);
    expect(job.status).toBe('SUCCEEDED');
    expect(byStep.validate).toBeGreaterThan(BUDGET.validate!);
    expect(calls.filter((c) => c.action === 'DescribeInstanceAttribute' && c.at === validateEnd).length).toBe(2);
  });

  it('leaves stop protection turned on meanwhile to StopInstances, which refuses: nothing on the target changes', async () => {
    // Prepare
    const { stack, first } = regionWithTwoTargets();

    // Act
    const { job, calls } = await measure(
      stack,
      first,
      () => void stack.region.ec2('ModifyInstanceAttribute', { InstanceId: first, DisableApiStop: { Value: true } }),
    );

    // Assess
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'OperationNotPermitted', phase: 'stop-target' });
    expect(job.instanceRestored).toBe(true);
    expect(stack.region.getInstance(first)?.state).toBe('running');
    const onTarget = calls.filter((c) => !c.error && !/^(Describe|Get|List)/.test(c.action) && JSON.stringify(c.input).includes(first));
    expect(onTarget.map((c) => c.action)).toEqual(['ModifyInstanceAttribute']);
  });
});

describe('volume moves that send their call without looking first', () => {
  it('still stop at a root volume found on an instance the job does not own, and leave it there', async () => {
    // Prepare: just before detach-root's first delivery, someone moves the target's root volume to
    // another instance
    const { stack, first, second } = regionWithTwoTargets();
    let rootVolumeId = '';
    const deliver = stack.deliver.bind(stack);
    let moved = false;
    stack.deliver = async (message) => {
      if (!moved && message.phase === 'detach-root') {
        moved = true;
        rootVolumeId = (await stack.job(message.jobId)).target!.rootVolumeId;
        stack.region.ec2('DetachVolume', { VolumeId: rootVolumeId, InstanceId: first });
        stack.clock.advance(stack.region.timings.detachMs + 1000);
        stack.region.ec2('AttachVolume', { VolumeId: rootVolumeId, InstanceId: second, Device: '/dev/sdg' });
      }
      await deliver(message);
    };

    // Act
    const { job, calls } = await measure(stack, first);

    // Assess
    expect(moved).toBe(true);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'VOLUME_ATTACHED_ELSEWHERE', phase: 'detach-root' });
    expect(stack.region.getVolume(rootVolumeId)?.attachment).toMatchObject({ instanceId: second, device: '/dev/sdg' });
    const serviceTouchedSecond = calls.filter(
      (c) => !c.error && /^(Detach|Attach)Volume$/.test(c.action) && (c.input as { InstanceId?: string }).InstanceId === second,
    );
    expect(serviceTouchedSecond).toHaveLength(1); // the test's own attach
  });
});
