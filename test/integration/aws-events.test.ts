/**
 * Speed and scale on the simulated region: waits end on AWS's own events (polls are the fallback),
 * the critical path has no step AWS does not force, and throttling costs a fleet time, never a job.
 */
import { defaultConfig } from '../../domain/config';
import type { Job } from '../../domain/job/job';
import { seedLinuxFleet } from '../../infra/local/fleet';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { DEFAULT_TIMINGS } from '../../infra/sim/timings';

const AL2023 = 'i-0a1b2c3d4e5f60001';

async function reset(stack: VirtualStack, instanceId = AL2023): Promise<Job> {
  const { json } = await stack.api('POST', '/resets', { instanceId });
  await stack.run();
  return stack.job(json.jobId);
}

const seconds = (job: Job, phase: keyof Job['phases'], end: 'startedAt' | 'endedAt') =>
  (Date.parse(job.phases[phase]![end]!) - Date.parse(job.createdAt)) / 1000;

describe('waits that end on AWS events', () => {
  it('end as soon as the event arrives, sooner than with polling alone', async () => {
    // Prepare
    const withEvents = new VirtualStack();
    const pollingOnly = new VirtualStack({ awsEvents: false });

    // Act
    const woken = await reset(withEvents);
    const polled = await reset(pollingOnly);

    // Assess
    expect(woken.status).toBe('SUCCEEDED');
    expect(polled.status).toBe('SUCCEEDED');
    // The target stops in stopMs; its `stopped` event arrives awsEventDeliveryMs later.
    expect(seconds(woken, 'stop-target', 'endedAt')).toBe((DEFAULT_TIMINGS.stopMs + DEFAULT_TIMINGS.awsEventDeliveryMs) / 1000);
    expect(withEvents.awsEventDeliveries.some((d) => d.woke > 0)).toBe(true);
    expect(Date.parse(woken.endedAt!) - Date.parse(woken.createdAt)).toBeLessThan(Date.parse(polled.endedAt!) - Date.parse(polled.createdAt));
    // One look to send the stop, one when its event arrives.
    expect(woken.phases['stop-target']!.attempt).toBe(1);
    expect(woken.phases['run-rescue']!.attempt).toBe(1);
  });

  it('still end when no event comes, on the delayed re-check', async () => {
    // Prepare: every AWS event is lost
    const stack = new VirtualStack({ awsEvents: false });

    // Act
    const job = await reset(stack);

    // Assess: the stop is seen on the first re-check after it, not earlier
    expect(job.status).toBe('SUCCEEDED');
    expect(seconds(job, 'stop-target', 'endedAt')).toBeGreaterThanOrEqual(defaultConfig.pollSeconds.afterEvent.first * 0.9);
    expect(stack.awsEventDeliveries).toEqual([]);
  });
});

describe('the critical path', () => {
  it('launches the helper while the target stops, and detaches the root while the backup is still pending', async () => {
    // Prepare
    const stack = new VirtualStack();

    // Act
    const job = await reset(stack);

    // Assess
    expect(seconds(job, 'launch-helper', 'startedAt')).toBeLessThan(seconds(job, 'stop-target', 'endedAt'));
    const backupDone = seconds(job, 'create-backup', 'endedAt');
    expect(backupDone).toBe(seconds(job, 'stop-target', 'endedAt'));
    // Point-in-time: the image becomes available imageMs after CreateImage, long after the detach began.
    expect(seconds(job, 'detach-root', 'startedAt')).toBeLessThan(backupDone + DEFAULT_TIMINGS.imageMs / 1000);
    expect(
      stack.region.calls.filter((c) => c.action === 'DescribeImages' && c.at < Date.parse(job.phases['detach-root']!.startedAt)).length,
    ).toBeLessThanOrEqual(1);
  });
});

describe('a fleet under EC2 request throttling', () => {
  it('finishes every job: throttled calls are retried, none counts against a job', async () => {
    // Prepare: 12 resets at once, EC2's buckets enforced, and RunInstances throttled far more
    // often than maxRetries allows any other error
    const stack = new VirtualStack({ samples: false, region: { throttling: true } });
    const targets = seedLinuxFleet(stack.region, { count: 12 });
    const extra = stack.region.faults.add({ service: 'ec2', action: 'RunInstances', error: 'throttle', times: 3 * defaultConfig.maxRetries });

    // Act
    const started = await Promise.all(targets.map((instanceId) => stack.api('POST', '/resets', { instanceId })));
    await stack.run();
    const accepted = started.filter((r) => r.statusCode === 202).map((r) => r.json.jobId as string);
    const jobs = await Promise.all(accepted.map((id) => stack.job(id)));

    // Assess
    expect(extra.hits).toBe(3 * defaultConfig.maxRetries);
    expect(jobs.map((j) => j.status)).toEqual(jobs.map(() => 'SUCCEEDED'));
    expect(stack.region.calls.filter((c) => c.error?.code === 'RequestLimitExceeded').length).toBeGreaterThan(3 * defaultConfig.maxRetries);
    expect(started.every((r) => r.statusCode === 202 || r.statusCode === 503)).toBe(true);
  });
});
