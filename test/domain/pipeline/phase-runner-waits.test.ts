/**
 * The phase runner's side of speed and scale: throttling costs time, never the job; waits that an
 * AWS event ends re-check late; the resources a job learns are linked for the events to find it.
 */
import { PermanentError, RetryableError, ThrottledError } from '../../../domain/errors';
import type { Job, PhaseName } from '../../../domain/job/job';
import { done, wait, waitForEvent, type PhaseStep } from '../../../domain/pipeline/phase';
import { runPhase, type RunnerPorts } from '../../../domain/pipeline/phase-runner';
import type { PhaseMessage } from '../../../domain/ports';
import { throttleDelaySeconds } from '../../../domain/pipeline/wait-policy';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { stopTargetPhase } from '../../../domain/pipeline/phases/stop-target';
import { config, job as jobFixture } from '../fixtures';

const JOB_ID = 'r-test000001';

function setup(initial: Job) {
  const store = new MemoryJobStore();
  const later: Array<{ message: PhaseMessage; delaySeconds: number }> = [];
  const published: PhaseMessage[] = [];
  let now = Date.parse('2026-01-01T00:00:10.000Z');
  const ports = {
    store,
    bus: { publish: async (messages: PhaseMessage[]) => void published.push(...messages) },
    scheduler: { later: async (message: PhaseMessage, delaySeconds: number) => void later.push({ message, delaySeconds }) },
    clock: { now: () => new Date(now) },
    log: silentLog,
    admission: new MemoryAdmissionStore(),
    compute: {},
    config,
  } as unknown as Required<RunnerPorts>;
  const steps = (step: PhaseStep) => new Proxy({} as Record<PhaseName, PhaseStep>, { get: () => step });
  return { store, later, published, ports, steps, advance: (seconds: number) => void (now += seconds * 1000), seed: () => store.put(initial, undefined) };
}

/** Delivers each re-sent message in turn until the phase stops asking to be re-sent (or `max`). */
async function deliverUntilSettled(t: ReturnType<typeof setup>, first: PhaseMessage, step: PhaseStep, max = 100) {
  let message: PhaseMessage | undefined = first;
  const outcomes: string[] = [];
  for (let i = 0; message && i < max; i++) {
    const before = t.later.length;
    outcomes.push(await runPhase(message, t.ports, t.steps(step)));
    message = t.later.length > before ? t.later[t.later.length - 1]!.message : undefined;
    if (message) t.advance(t.later[t.later.length - 1]!.delaySeconds);
  }
  return outcomes;
}

const stopMessage: PhaseMessage = { jobId: JOB_ID, phase: 'stop-target', attempt: 0 };
const stopping = () =>
  jobFixture({ current: ['stop-target'], phases: { 'stop-target': { status: 'running', startedAt: '2026-01-01T00:00:00.000Z', attempt: 0 } } });

describe('throttling costs time, never the job', () => {
  it('retries a throttled phase far past maxRetries, then carries on', async () => {
    // Prepare: AWS throttles the first 3 × maxRetries calls
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    const step: PhaseStep = async () => {
      calls += 1;
      if (calls <= 3 * config.maxRetries) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      return done();
    };

    // Act
    const outcomes = await deliverUntilSettled(t, stopMessage, step);

    // Assess
    const stored = (await t.store.get(JOB_ID))!;
    expect(outcomes[outcomes.length - 1]).toBe('advanced');
    expect(stored.status).toBe('RUNNING');
    expect(stored.phases['stop-target']).toMatchObject({ status: 'done' });
    expect(stored.phases['stop-target']!.throttles).toBeUndefined();
  });

  it('still counts other retryable errors: past maxRetries the job rolls back', async () => {
    // Prepare
    const t = setup(stopping());
    await t.seed();
    const step: PhaseStep = async () => {
      throw new RetryableError('InternalError', 'We encountered an internal error.');
    };

    // Act
    const outcomes = await deliverUntilSettled(t, stopMessage, step);

    // Assess
    expect(outcomes[outcomes.length - 1]).toBe('rolling-back');
    expect((await t.store.get(JOB_ID))!.status).toBe('ROLLING_BACK');
  });

  it("does not count the backoff against the phase's deadline", async () => {
    // Prepare: throttled for longer than the stop's whole deadline, then through
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    let throttledFor = 0;
    const step: PhaseStep = async (job) => {
      calls += 1;
      throttledFor = job.phases['stop-target']!.throttledSeconds ?? 0;
      if (throttledFor <= stopTargetPhase.deadlineSeconds) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      return done();
    };

    // Act
    const outcomes = await deliverUntilSettled(t, stopMessage, step, 1000);

    // Assess
    expect(outcomes[outcomes.length - 1]).toBe('advanced');
    expect(throttledFor).toBeGreaterThan(stopTargetPhase.deadlineSeconds);
    expect(calls).toBeGreaterThan(config.maxRetries);
  });

  it('still rolls back a phase that waits past its deadline', async () => {
    // Prepare: one throttle, then a stop that never ends
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    const step: PhaseStep = async () => {
      calls += 1;
      if (calls === 1) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      return wait('target to stop');
    };

    // Act
    const outcomes = await deliverUntilSettled(t, stopMessage, step, 1000);

    // Assess
    expect(outcomes[outcomes.length - 1]).toBe('rolling-back');
    expect((await t.store.get(JOB_ID))!.error?.code).toBe('PHASE_DEADLINE');
  });

  it('backs off with full jitter: delays grow with each throttle in a row, up to the cap', async () => {
    // Prepare
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    const step: PhaseStep = async () => {
      calls += 1;
      if (calls <= 12) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      return done();
    };

    // Act
    await deliverUntilSettled(t, stopMessage, step);

    // Assess
    const delays = t.later.map((l) => l.delaySeconds);
    expect(delays).toHaveLength(12);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(1);
      expect(delay).toBeLessThanOrEqual(Math.min(config.throttleBackoff.maxSeconds, config.throttleBackoff.baseSeconds * 2 ** (i + 1)));
    });
    expect(Math.max(...delays.slice(6))).toBeGreaterThan(Math.max(...delays.slice(0, 2)));
  });

  it('resets the backoff once the phase gets through', async () => {
    // Prepare: two throttles, then a wait
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    const step: PhaseStep = async () => {
      calls += 1;
      if (calls <= 2) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      return wait('target to stop');
    };

    // Act
    await runPhase(stopMessage, t.ports, t.steps(step));
    const throttled = (await t.store.get(JOB_ID))!.phases['stop-target']!.throttles;
    await runPhase({ ...stopMessage, attempt: 1 }, t.ports, t.steps(step));
    await runPhase({ ...stopMessage, attempt: 2 }, t.ports, t.steps(step));

    // Assess
    expect(throttled).toBe(1);
    expect((await t.store.get(JOB_ID))!.phases['stop-target']!.throttles).toBeUndefined();
  });

  it('rolls back at once on a permanent error, throttles before it notwithstanding', async () => {
    const t = setup(stopping());
    await t.seed();
    let calls = 0;
    const step: PhaseStep = async () => {
      calls += 1;
      if (calls === 1) throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
      throw new PermanentError('UnauthorizedOperation', 'not allowed');
    };
    const outcomes = await deliverUntilSettled(t, stopMessage, step);
    expect(outcomes).toEqual(['waiting', 'rolling-back']);
  });
});

describe('throttleDelaySeconds', () => {
  it('spreads a fleet: jobs throttled together come back at different times', () => {
    // Act
    const delays = Array.from({ length: 200 }, (_, i) => throttleDelaySeconds(config, 5, `r-fleet${i}`, 'launch-helper', 3));

    // Assess: 200 draws over 1..60 s, none outside, many distinct values
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(config.throttleBackoff.maxSeconds);
    expect(new Set(delays).size).toBeGreaterThan(30);
  });

  it('repeats for the same job, phase and attempt', () => {
    expect(throttleDelaySeconds(config, 3, 'r-a', 'stop-target', 4)).toBe(throttleDelaySeconds(config, 3, 'r-a', 'stop-target', 4));
  });
});

describe('waits an AWS event ends', () => {
  it('re-check late (the event wakes the phase), where other waits poll soon', async () => {
    // Prepare
    const t = setup(stopping());
    await t.seed();

    // Act
    await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => waitForEvent('target to stop')),
    );
    await runPhase(
      { ...stopMessage, attempt: 1 },
      t.ports,
      t.steps(async () => wait('something that sends no event')),
    );

    // Assess
    const [eventWait, pollWait] = t.later.map((l) => l.delaySeconds);
    expect(eventWait).toBeGreaterThanOrEqual(config.pollSeconds.afterEvent.first * 0.9);
    expect(pollWait).toBeLessThan(eventWait!);
  });
});

describe('resource links', () => {
  it('links the target, its root volume and the helper once each, as the job learns them', async () => {
    // Prepare
    const t = setup(jobFixture());
    await t.seed();
    const target = { state: 'running', platform: 'linux', availabilityZone: 'us-east-1a', rootDeviceName: '/dev/xvda', rootVolumeId: 'vol-0123456789abcdef0' };
    const validate: PhaseStep = async () => done((draft) => void (draft.target = target as Job['target']));
    const launch: PhaseStep = async () => wait('helper', (draft) => void (draft.resources.helperInstanceId = 'i-0helper000000000'));

    // Act
    await runPhase({ jobId: JOB_ID, phase: 'validate', attempt: 0 }, t.ports, t.steps(validate));
    const afterValidate = await Promise.all(['i-0123456789abcdef0', 'vol-0123456789abcdef0', 'i-0helper000000000'].map((id) => t.store.resourceLink(id)));
    await t.store.put(
      {
        ...(await t.store.get(JOB_ID))!,
        current: ['launch-helper'],
        phases: { 'launch-helper': { status: 'running', startedAt: '2026-01-01T00:00:00.000Z', attempt: 0 } },
      },
      2,
    );
    await runPhase({ jobId: JOB_ID, phase: 'launch-helper', attempt: 0 }, t.ports, t.steps(launch));
    await runPhase({ jobId: JOB_ID, phase: 'launch-helper', attempt: 1 }, t.ports, t.steps(launch));

    // Assess
    expect(afterValidate.map((link) => link?.role)).toEqual(['target', 'root-volume', undefined]);
    expect(await t.store.resourceLink('i-0helper000000000')).toEqual({ resourceId: 'i-0helper000000000', jobId: JOB_ID, role: 'helper' });
    expect((await t.store.get(JOB_ID))!.resources.linkedResources).toEqual(['i-0123456789abcdef0', 'vol-0123456789abcdef0', 'i-0helper000000000']);
  });

  it('never fails a phase when the links cannot be written', async () => {
    // Prepare
    const t = setup(stopping());
    await t.seed();
    t.store.linkResources = async () => {
      throw new Error('DynamoDB unavailable');
    };

    // Act
    const outcome = await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => waitForEvent('target to stop')),
    );

    // Assess
    expect(outcome).toBe('waiting');
  });
});

describe('a wait whose next message was lost', () => {
  const failingSend = (t: ReturnType<typeof setup>) => {
    const send = t.ports.scheduler.later;
    t.ports.scheduler.later = async () => {
      t.ports.scheduler.later = send;
      throw new RetryableError('InternalError', 'SendMessage failed after the state write');
    };
  };

  it('is sent again by the redelivery of the attempt before it, once that attempt is overdue', async () => {
    // Prepare: the wait is written, then its SendMessage fails (SQS will redeliver attempt 0)
    const t = setup(stopping());
    await t.seed();
    failingSend(t);
    await expect(
      runPhase(
        stopMessage,
        t.ports,
        t.steps(async () => wait('the instance to stop')),
      ),
    ).rejects.toThrow('SendMessage failed');
    expect(t.later).toEqual([]);

    // Act: SQS redelivers attempt 0 after its visibility timeout
    t.advance(360);
    const outcome = await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => done()),
    );

    // Assess
    expect(outcome).toBe('ignored');
    expect(t.later).toEqual([{ message: { ...stopMessage, attempt: 1 }, delaySeconds: 0 }]);
  });

  it('is not sent again by a duplicate while the next delivery is not overdue', async () => {
    // Prepare: attempt 0 waited and sent attempt 1
    const t = setup(stopping());
    await t.seed();
    await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => wait('the instance to stop')),
    );
    expect(t.later).toHaveLength(1);

    // Act: a duplicate of attempt 0 arrives just after, and another after attempt 1 is due but may be in flight
    await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => done()),
    );
    t.advance(t.later[0]!.delaySeconds + config.inFlightSettleSeconds);
    await runPhase(
      stopMessage,
      t.ports,
      t.steps(async () => done()),
    );

    // Assess
    expect(t.later).toHaveLength(1);
  });
});
