import { PermanentError, RetryableError } from '../../../domain/errors';
import type { Job, PhaseName } from '../../../domain/job/job';
import { done, wait, type PhaseStep } from '../../../domain/pipeline/phase';
import { runPhase, type RunnerPorts } from '../../../domain/pipeline/phase-runner';
import type { PhaseMessage } from '../../../domain/ports';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';
import { validatePhase } from '../../../domain/pipeline/phases/validate';
import { config, job as jobFixture } from '../fixtures';

class Recorder {
  published: PhaseMessage[] = [];
  later: Array<{ message: PhaseMessage; delaySeconds: number }> = [];
  failPublish = false;
}

function setup(initial: Job) {
  const store = new MemoryJobStore();
  const rec = new Recorder();
  let now = Date.parse('2026-01-01T00:00:10.000Z');
  const ports = {
    store,
    bus: {
      publish: async (messages: PhaseMessage[]) => {
        if (rec.failPublish) throw new Error('process died before publish');
        rec.published.push(...messages);
      },
    },
    scheduler: { later: async (message: PhaseMessage, delaySeconds: number) => void rec.later.push({ message, delaySeconds }) },
    clock: { now: () => new Date(now) },
    log: silentLog,
    admission: new MemoryAdmissionStore(),
    compute: {},
    config,
  } as unknown as Required<RunnerPorts>;
  const calls: Partial<Record<PhaseName, number>> = {};
  const steps = (overrides: Partial<Record<PhaseName, PhaseStep>>) =>
    new Proxy({} as Record<PhaseName, PhaseStep>, {
      get: (_t, phase: PhaseName) => async (j: Job, p: Required<RunnerPorts>) => {
        calls[phase] = (calls[phase] ?? 0) + 1;
        return (overrides[phase] ?? (async () => done()))(j, p);
      },
    });
  return {
    store,
    rec,
    ports,
    calls,
    steps,
    advance: (seconds: number) => void (now += seconds * 1000),
    seed: () => store.put(initial, undefined),
  };
}

const validateMsg: PhaseMessage = { jobId: 'r-test000001', phase: 'validate', attempt: 0 };

describe('phase runner', () => {
  it('advances to the next phases and publishes them after the write', async () => {
    // Prepare
    const t = setup(jobFixture());
    await t.seed();
    // Act
    const outcome = await runPhase(validateMsg, t.ports, t.steps({}));
    // Assess
    expect(outcome).toBe('advanced');
    const stored = (await t.store.get('r-test000001'))!;
    expect(stored.current.sort()).toEqual(['prepare-network', 'stop-target']);
    expect(stored.phases.validate?.status).toBe('done');
    expect(t.rec.published.map((m) => m.phase).sort()).toEqual(['prepare-network', 'stop-target']);
    expect(stored.undo).toEqual([{ kind: 'restore-run-state' }]);
  });

  it('runs a duplicate message once: the second finds the phase over', async () => {
    const t = setup(jobFixture());
    await t.seed();
    await runPhase(validateMsg, t.ports, t.steps({}));
    const again = await runPhase(validateMsg, t.ports, t.steps({}));
    expect(again).toBe('ignored');
    expect(t.calls.validate).toBe(1);
  });

  it('waits by writing progress and re-sending the message with the next attempt; stale attempts are dropped', async () => {
    const t = setup(jobFixture());
    await t.seed();
    const steps = t.steps({ validate: async () => wait('something') });
    expect(await runPhase(validateMsg, t.ports, steps)).toBe('waiting');
    expect(t.rec.later).toHaveLength(1);
    expect(t.rec.later[0]!.message.attempt).toBe(1);
    expect(t.rec.later[0]!.delaySeconds).toBeGreaterThan(0);
    expect(await runPhase(validateMsg, t.ports, steps)).toBe('ignored');
    expect(t.calls.validate).toBe(1);
    expect((await t.store.get('r-test000001'))!.phases.validate!.waitingFor).toBe('something');
  });

  it('rolls back on a permanent error, recording the phase and reason', async () => {
    const t = setup(jobFixture());
    await t.seed();
    await runPhase(
      validateMsg,
      t.ports,
      t.steps({
        validate: async () => {
          throw new PermanentError('SPOT_INSTANCE', 'no spot');
        },
      }),
    );
    const stored = (await t.store.get('r-test000001'))!;
    expect(stored.status).toBe('ROLLING_BACK');
    expect(stored.error).toEqual({ code: 'SPOT_INSTANCE', message: 'no spot', phase: 'validate' });
    expect(stored.current).toEqual(['rollback']);
    expect(t.rec.published).toEqual([{ jobId: 'r-test000001', phase: 'rollback', attempt: 0 }]);
  });

  it('retries a retryable error with backoff, then gives up into rollback after maxRetries', async () => {
    const t = setup(jobFixture());
    await t.seed();
    const steps = t.steps({
      validate: async () => {
        throw new RetryableError('RequestLimitExceeded', 'slow down');
      },
    });
    let message = validateMsg;
    for (let i = 0; i < config.maxRetries; i++) {
      expect(await runPhase(message, t.ports, steps)).toBe('waiting');
      message = t.rec.later.at(-1)!.message;
    }
    expect(await runPhase(message, t.ports, steps)).toBe('rolling-back');
    expect((await t.store.get('r-test000001'))!.error?.code).toBe('RequestLimitExceeded');
  });

  it('rolls back a phase past its deadline without running it', async () => {
    const t = setup(jobFixture());
    await t.seed();
    t.advance(validatePhase.deadlineSeconds + 1);
    expect(await runPhase(validateMsg, t.ports, t.steps({}))).toBe('rolling-back');
    expect(t.calls.validate).toBeUndefined();
    expect((await t.store.get('r-test000001'))!.error?.code).toBe('PHASE_DEADLINE');
  });

  it('re-publishes the next phases when the original message comes back after a crash before publish', async () => {
    const t = setup(jobFixture());
    await t.seed();
    t.rec.failPublish = true;
    await expect(runPhase(validateMsg, t.ports, t.steps({}))).rejects.toThrow('process died');
    t.rec.failPublish = false;
    expect(await runPhase(validateMsg, t.ports, t.steps({}))).toBe('ignored');
    expect(t.rec.published.map((m) => m.phase).sort()).toEqual(['prepare-network', 'stop-target']);
    expect(t.calls.validate).toBe(1);
  });

  it('joins parallel branches: the second to finish starts the next phase, once', async () => {
    const now = '2026-01-01T00:00:00.000Z';
    const base = jobFixture({
      current: ['launch-helper', 'create-backup'],
      phases: {
        validate: { status: 'done', startedAt: now, attempt: 0 },
        'prepare-network': { status: 'done', startedAt: now, attempt: 0 },
        'stop-target': { status: 'done', startedAt: now, attempt: 0 },
        'launch-helper': { status: 'running', startedAt: now, attempt: 0 },
        'create-backup': { status: 'running', startedAt: now, attempt: 0 },
      },
    });
    const t = setup(base);
    await t.seed();
    expect(await runPhase({ jobId: base.jobId, phase: 'launch-helper', attempt: 0 }, t.ports, t.steps({}))).toBe('advanced');
    expect(t.rec.published).toEqual([]);
    await runPhase({ jobId: base.jobId, phase: 'create-backup', attempt: 0 }, t.ports, t.steps({}));
    expect(t.rec.published).toEqual([{ jobId: base.jobId, phase: 'detach-root', attempt: 0 }]);
  });

  it('ends a rollback FAILED and frees the instance lock', async () => {
    const now = '2026-01-01T00:00:00.000Z';
    const base = jobFixture({ status: 'ROLLING_BACK', current: ['rollback'], phases: { rollback: { status: 'running', startedAt: now, attempt: 0 } } });
    const t = setup(base);
    await t.seed();
    await t.store.acquireLock({ instanceId: base.instanceId, jobId: base.jobId, acquiredAt: now });
    await runPhase(
      { jobId: base.jobId, phase: 'rollback', attempt: 0 },
      t.ports,
      t.steps({ rollback: async () => done((j) => void (j.instanceRestored = true)) }),
    );
    const stored = (await t.store.get(base.jobId))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.instanceRestored).toBe(true);
    expect(await t.store.getLock(base.instanceId)).toBeUndefined();
  });
});
