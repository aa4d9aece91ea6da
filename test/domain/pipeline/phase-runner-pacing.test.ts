/**
 * The phase runner's pacing of calls into EC2's scarce buckets (domain/admission/request-pacing.ts), on
 * simulated time: a fleet of phases takes its slots in order and never overdraws the bucket, a phase
 * waits for its slot without reading AWS, and waiting costs time only (never a retry, never the
 * phase's deadline, never a second slot).
 */
import { ThrottledError } from '../../../domain/errors';
import type { Job, PhaseName } from '../../../domain/job/job';
import { done, waitForEvent, type PhaseStep } from '../../../domain/pipeline/phase';
import { runPhase, type RunnerPorts } from '../../../domain/pipeline/phase-runner';
import type { PhaseMessage } from '../../../domain/ports';
import type { PacingPolicy } from '../../../domain/admission/request-pacing';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { config, job as jobFixture } from '../fixtures';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
/** One mutating call a second after a burst of 2 (EC2's is 5 a second after 50: the same shape, smaller). */
const pacing: PacingPolicy = { scope: 'category', mutating: { ratePerMinute: 60, burst: 2 }, runStart: { ratePerMinute: 60, burst: 1 } };

interface Sent {
  at: number;
  call: string;
  jobId: string;
}

/** A runner over memory stores and a queue on simulated time; `sent` records every AWS call. */
function setup(policy: PacingPolicy = pacing) {
  const store = new MemoryJobStore();
  const admission = new MemoryAdmissionStore();
  let now = T0;
  const queue: Array<{ message: PhaseMessage; dueAt: number; seq: number }> = [];
  let seq = 0;
  const sent: Sent[] = [];
  const record = (call: string) => async (id: string) => void sent.push({ at: now, call, jobId: id });
  const compute = {
    describeInstance: async (id: string) => {
      sent.push({ at: now, call: 'DescribeInstances', jobId: id });
      return undefined;
    },
    stopInstance: record('StopInstances'),
    attachVolume: record('AttachVolume'),
    startInstance: record('StartInstances'),
  };
  const ports = {
    store,
    admission,
    compute,
    bus: { publish: async (messages: PhaseMessage[]) => void messages.forEach((message) => queue.push({ message, dueAt: now, seq: seq++ })) },
    scheduler: { later: async (message: PhaseMessage, delaySeconds: number) => void queue.push({ message, dueAt: now + delaySeconds * 1000, seq: seq++ }) },
    clock: { now: () => new Date(now) },
    log: silentLog,
    config: { ...config, requestPacing: policy },
  } as unknown as Required<RunnerPorts>;
  const steps = (byPhase: Partial<Record<PhaseName, PhaseStep>>) => byPhase as Record<PhaseName, PhaseStep>;
  return {
    store,
    admission,
    ports,
    sent,
    queue,
    steps,
    advance: (seconds: number) => void (now += seconds * 1000),
    /**
     * Delivers every queued message of the phases given in the order it falls due, moving the clock,
     * until none is left (the phases that follow are not run).
     */
    async drain(byPhase: Partial<Record<PhaseName, PhaseStep>>, max = 1000): Promise<string[]> {
      const outcomes: string[] = [];
      for (let i = 0; queue.length > 0 && i < max; i++) {
        queue.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
        const next = queue.shift()!;
        if (!byPhase[next.message.phase]) continue;
        now = Math.max(now, next.dueAt);
        outcomes.push(await runPhase(next.message, ports, steps(byPhase)));
      }
      return outcomes;
    },
  };
}

function stopping(jobId: string): Job {
  const startedAt = new Date(T0).toISOString();
  return jobFixture({ jobId, instanceId: `i-${jobId}`, current: ['stop-target'], phases: { 'stop-target': { status: 'running', startedAt, attempt: 0 } } });
}

/** stop-target as it is: a look at the target, then StopInstances, then a wait for the stop's event. */
const stopStep: PhaseStep = async (job, ports) => {
  await ports.compute.describeInstance(job.instanceId);
  if (job.resources.stopRequestedAt) return done();
  await ports.compute.stopInstance(job.instanceId, { force: false });
  return waitForEvent('target to stop', (draft) => void (draft.resources.stopRequestedAt = ports.clock.now().toISOString()));
};

describe('pacing a fleet of phases', () => {
  it('sends each stop once, in the order asked, never more than the bucket allows, reading nothing while a phase waits', async () => {
    // Prepare: ten jobs whose stop starts at the same moment
    const t = setup();
    const ids = Array.from({ length: 10 }, (_, i) => `r-fleet0000${i}`);
    for (const id of ids) await t.store.put(stopping(id), undefined);
    for (const id of ids) await t.ports.bus.publish([{ jobId: id, phase: 'stop-target', attempt: 0 }]);

    // Act
    const outcomes = await t.drain({ 'stop-target': stopStep });

    // Assess
    const stops = t.sent.filter((s) => s.call === 'StopInstances');
    expect(stops.map((s) => s.jobId)).toEqual(ids.map((id) => `i-${id}`));
    // A token bucket of 2 refilled at 1/s: by t seconds, at most 2 + t calls.
    stops.forEach((stop, i) => expect(i + 1).toBeLessThanOrEqual(2 + (stop.at - T0) / 1000));
    expect(stops[stops.length - 1]!.at - T0).toBe(8000);
    // Each job looked at its target once before its stop and once after: no look while it waited.
    expect(t.sent.filter((s) => s.call === 'DescribeInstances')).toHaveLength(2 * ids.length);
    expect(outcomes.filter((o) => o === 'advanced')).toHaveLength(ids.length);
    for (const id of ids) expect((await t.store.get(id))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('waits for its slot as long as it takes: never a retry, never past the deadline', async () => {
    // Prepare: one slot an hour, far longer than stop-target's deadline; the first job takes it
    const t = setup({ ...pacing, mutating: { ratePerMinute: 1 / 60, burst: 1 } });
    for (const id of ['r-first00001', 'r-second0001']) {
      await t.store.put(stopping(id), undefined);
      await t.ports.bus.publish([{ jobId: id, phase: 'stop-target', attempt: 0 }]);
    }

    // Act
    await t.drain({ 'stop-target': stopStep });

    // Assess
    const second = (await t.store.get('r-second0001'))!;
    expect(second.status).toBe('RUNNING');
    expect(second.phases['stop-target']).toMatchObject({ status: 'done' });
    expect(second.phases['stop-target']!.retries).toBeUndefined();
    expect(t.sent.filter((s) => s.call === 'StopInstances').map((s) => s.at - T0)).toEqual([0, 3600_000]);
  });
});

describe('a phase waiting for its slot', () => {
  async function waitingForSlot() {
    const t = setup();
    for (const id of ['r-a00000001', 'r-b00000001', 'r-c00000001']) {
      await t.store.put(stopping(id), undefined);
      await runPhase({ jobId: id, phase: 'stop-target', attempt: 0 }, t.ports, t.steps({ 'stop-target': stopStep }));
    }
    return t;
  }

  it('records the slot and why it waits; an early delivery (an event, a re-drive) waits again for the same slot, reading nothing', async () => {
    // Prepare: the third job waits for the slot one second on
    const t = await waitingForSlot();
    const waiting = (await t.store.get('r-c00000001'))!.phases['stop-target']!;
    const tatBefore = (await t.admission.get('ec2-mutating'))!.tat;
    const sentBefore = t.sent.length;

    // Act: delivered again before its slot, at its current attempt
    const outcome = await runPhase({ jobId: 'r-c00000001', phase: 'stop-target', attempt: waiting.attempt }, t.ports, t.steps({ 'stop-target': stopStep }));

    // Assess
    const after = (await t.store.get('r-c00000001'))!.phases['stop-target']!;
    expect(waiting.pacedSlot).toEqual({ bucket: 'ec2-mutating', at: new Date(T0 + 1000).toISOString() });
    expect(waiting.waitingFor).toMatch(/ec2-mutating/);
    expect(outcome).toBe('waiting');
    expect(after.pacedSlot).toEqual(waiting.pacedSlot);
    expect(after.throttledSeconds).toBe(waiting.throttledSeconds);
    expect(t.sent.length).toBe(sentBefore);
    expect((await t.admission.get('ec2-mutating'))!.tat).toBe(tatBefore);
  });

  it('keeps its slot through a throttled read before the call, and spends it on the call', async () => {
    // Prepare
    const t = await waitingForSlot();
    t.advance(1);
    const tatBefore = (await t.admission.get('ec2-mutating'))!.tat;
    let reads = 0;
    const throttledOnce: PhaseStep = async (job, ports) => {
      if (++reads === 1) throw new ThrottledError('RequestLimitExceeded', 'DescribeInstances: Request limit exceeded.');
      return stopStep(job, ports);
    };

    // Act
    const attempt = (await t.store.get('r-c00000001'))!.phases['stop-target']!.attempt;
    await runPhase({ jobId: 'r-c00000001', phase: 'stop-target', attempt }, t.ports, t.steps({ 'stop-target': throttledOnce }));
    const kept = (await t.store.get('r-c00000001'))!.phases['stop-target']!;
    t.advance(60);
    await runPhase({ jobId: 'r-c00000001', phase: 'stop-target', attempt: kept.attempt }, t.ports, t.steps({ 'stop-target': throttledOnce }));

    // Assess
    const after = (await t.store.get('r-c00000001'))!;
    expect(kept.pacedSlot).toBeDefined();
    expect(t.sent.filter((s) => s.call === 'StopInstances' && s.jobId === 'i-r-c00000001')).toHaveLength(1);
    expect((await t.admission.get('ec2-mutating'))!.tat).toBe(tatBefore);
    expect(after.phases['stop-target']!.pacedSlot).toBeUndefined();
  });

  it("paces a call a phase makes later in its life too, and rollback's, without counting retries", async () => {
    // Prepare: the mutating bucket is empty; a rollback must put a volume back
    const t = await waitingForSlot();
    const rollingBack = jobFixture({
      jobId: 'r-rollback01',
      status: 'ROLLING_BACK',
      current: ['rollback'],
      phases: { rollback: { status: 'running', startedAt: new Date(T0).toISOString(), attempt: 3 } },
    });
    await t.store.put(rollingBack, undefined);
    const rollback: PhaseStep = async (job, ports) => {
      await ports.compute.attachVolume('vol-0123456789abcdef0', job.instanceId, '/dev/xvda');
      return done();
    };

    // Act
    const outcome = await runPhase({ jobId: 'r-rollback01', phase: 'rollback', attempt: 3 }, t.ports, t.steps({ rollback }));

    // Assess
    const record = (await t.store.get('r-rollback01'))!.phases.rollback!;
    expect(outcome).toBe('waiting');
    expect(record.retries).toBeUndefined();
    expect(record.pacedSlot?.bucket).toBe('ec2-mutating');
    expect(t.sent.some((s) => s.call === 'AttachVolume')).toBe(false);
  });
});
