/**
 * Shared stops (domain/pipeline/stop-batches.ts) through the phase runner and the real stop-target step, on
 * simulated time with memory stores: stops queued behind a busy mutating bucket go out in one
 * StopInstances at the batch's slot; a refused batch sends every member back to stopping alone; a
 * job that leaves (rollback) or never recorded the batch is never stopped by it; a batch whose
 * closer died is given up once the closer's invocation must be over.
 */
import { PermanentError, RetryableError, ThrottledError } from '../../../domain/errors';
import type { Job, PhaseName } from '../../../domain/job/job';
import { type PhaseStep } from '../../../domain/pipeline/phase';
import { runPhase, type RunnerPorts } from '../../../domain/pipeline/phase-runner';
import { stopTarget } from '../../../domain/pipeline/phases/stop-target';
import type { InstanceFacts, PhaseMessage } from '../../../domain/ports';
import type { PacingPolicy } from '../../../domain/admission/request-pacing';
import { pendingStopBatch } from '../../../domain/pipeline/stop-batches';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { MemoryStopBatchStore } from '../../../infra/memory/memory-stop-batch-store';
import { config, instanceFacts, job as jobFixture } from '../fixtures';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
/** One mutating request a second after a burst of 2 (EC2's is 5 a second after 50: the same shape, smaller). */
const pacing: PacingPolicy = { scope: 'category', mutating: { ratePerMinute: 60, burst: 2 }, runStart: { ratePerMinute: 60, burst: 1 } };

interface StopCall {
  at: number;
  ids: string[];
  ok: boolean;
}

function setup(options: { batching?: boolean } = {}) {
  const store = new MemoryJobStore();
  const batches = new MemoryStopBatchStore();
  let now = T0;
  const queue: Array<{ message: PhaseMessage; dueAt: number; seq: number }> = [];
  let seq = 0;
  const states = new Map<string, InstanceFacts['state']>();
  const protectedIds = new Set<string>();
  const stops: StopCall[] = [];
  let throttleNextBatch = false;
  const stop = async (ids: string[]) => {
    if (throttleNextBatch && ids.length > 1) {
      throttleNextBatch = false;
      stops.push({ at: now, ids, ok: false });
      throw new ThrottledError('RequestLimitExceeded', 'Request limit exceeded.');
    }
    const refused = ids.find((id) => protectedIds.has(id));
    stops.push({ at: now, ids, ok: !refused });
    if (refused) throw new PermanentError('OperationNotPermitted', `The instance '${refused}' may not be stopped.`);
    for (const id of ids) states.set(id, 'stopped');
  };
  const looks: Array<{ at: number; id: string }> = [];
  const compute = {
    describeInstance: async (id: string) => {
      looks.push({ at: now, id });
      return states.has(id) ? instanceFacts({ instanceId: id, state: states.get(id)! }) : undefined;
    },
    stopInstance: async (id: string) => stop([id]),
    stopInstances: async (ids: string[]) => stop(ids),
  };
  const ports = {
    store,
    admission: new MemoryAdmissionStore(),
    stopBatches: batches,
    compute,
    bus: { publish: async (messages: PhaseMessage[]) => void messages.forEach((message) => queue.push({ message, dueAt: now, seq: seq++ })) },
    scheduler: { later: async (message: PhaseMessage, delaySeconds: number) => void queue.push({ message, dueAt: now + delaySeconds * 1000, seq: seq++ }) },
    clock: { now: () => new Date(now) },
    log: silentLog,
    config: { ...config, requestPacing: pacing, stopBatching: { enabled: options.batching ?? true, maxInstances: 50 } },
  } as unknown as Required<RunnerPorts>;
  const steps = { 'stop-target': stopTarget } as Record<PhaseName, PhaseStep>;

  return {
    store,
    batches,
    ports,
    stops,
    looks,
    states,
    protectedIds,
    now: () => now,
    throttleNextBatch: () => void (throttleNextBatch = true),
    advance: (seconds: number) => void (now += seconds * 1000),
    /** Jobs in stop-target with their running targets, each holding its instance's lock. */
    async jobs(count: number): Promise<Job[]> {
      const made: Job[] = [];
      for (let i = 1; i <= count; i++) {
        const jobId = `r-stop${String(i).padStart(5, '0')}`;
        const instanceId = `i-0000000000000${String(i).padStart(4, '0')}`;
        const startedAt = new Date(now).toISOString();
        const job = jobFixture({
          jobId,
          instanceId,
          current: ['stop-target'],
          phases: { 'stop-target': { status: 'running', startedAt, attempt: 0 } },
          target: { state: 'running' } as Job['target'],
          undo: [{ kind: 'restore-run-state' }],
        });
        await store.put(job, undefined);
        await store.acquireLock({ instanceId, jobId, acquiredAt: startedAt });
        states.set(instanceId, 'running');
        made.push(job);
      }
      return made;
    },
    /** Each job's first delivery, in order, at the current time. */
    async firstDeliveries(jobs: Job[]): Promise<void> {
      for (const job of jobs) await runPhase({ jobId: job.jobId, phase: 'stop-target', attempt: 0 }, ports, steps);
    },
    /** Delivers every queued stop-target message in the order it falls due, moving the clock, until none is left. */
    async drain(max = 2000): Promise<void> {
      for (let i = 0; queue.length > 0 && i < max; i++) {
        queue.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
        const next = queue.shift()!;
        if (next.message.phase !== 'stop-target') continue;
        now = Math.max(now, next.dueAt);
        await runPhase(next.message, ports, steps);
      }
    },
  };
}

describe('shared stops (stop-batches.ts)', () => {
  it('sends a stop alone and at once while the bucket has room, and opens no batch', async () => {
    // Prepare
    const t = setup();
    const [job] = await t.jobs(1);
    // Act
    await t.firstDeliveries([job!]);
    await t.drain();
    // Assess
    expect(t.stops).toEqual([{ at: T0, ids: [job!.instanceId], ok: true }]);
    expect(await t.batches.current()).toBeUndefined();
    expect((await t.store.get(job!.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('stops ten jobs queued behind a busy bucket in three requests: two alone, then one for the eight that waited', async () => {
    // Prepare
    const t = setup();
    const jobs = await t.jobs(10);
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess: the burst of 2 goes alone; the third opens a batch at its slot (1 s) and the rest join it.
    expect(t.stops.map((s) => [s.at - T0, s.ids.length])).toEqual([
      [0, 1],
      [0, 1],
      [1000, 8],
    ]);
    expect(new Set(t.stops.flatMap((s) => s.ids))).toEqual(new Set(jobs.map((j) => j.instanceId)));
    for (const job of jobs) {
      const stored = (await t.store.get(job.jobId))!;
      expect(stored.phases['stop-target']).toMatchObject({ status: 'done' });
      expect(stored.resources.stopBatch).toBeUndefined();
      expect(stored.resources.stopRequestedAt).toBeDefined();
    }
  });

  it('sends one StopInstances per job when batching is off', async () => {
    // Prepare
    const t = setup({ batching: false });
    const jobs = await t.jobs(10);
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess: one a second after the burst of 2
    expect(t.stops.map((s) => s.ids.length)).toEqual(Array(10).fill(1));
    expect(t.stops.map((s) => (s.at - T0) / 1000)).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('without batching, a stop that waited for its request slot is sent without a look first (the wait changed nothing)', async () => {
    // Prepare
    const t = setup({ batching: false });
    const jobs = await t.jobs(10);
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess: no DescribeInstances of a target before its stop (the looks after it see it stopped)
    for (const job of jobs) {
      const stoppedAt = t.stops.find((s) => s.ids.includes(job.instanceId))!.at;
      expect(t.looks.filter((l) => l.id === job.instanceId && l.at <= stoppedAt)).toEqual([]);
    }
    expect((await t.store.get(jobs[9]!.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('a refused batch sends every member back to stopping alone; only the protected one fails', async () => {
    // Prepare: stop protection switched on for one target after validate
    const t = setup();
    const jobs = await t.jobs(10);
    t.protectedIds.add(jobs[4]!.instanceId);
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess
    const batch = t.stops.find((s) => s.ids.length > 1)!;
    expect(batch).toMatchObject({ ok: false });
    expect(batch.ids).toHaveLength(8);
    const alone = t.stops.filter((s) => s.at > batch.at);
    expect(alone.every((s) => s.ids.length === 1)).toBe(true);
    expect(
      alone
        .filter((s) => s.ok)
        .map((s) => s.ids[0])
        .sort(),
    ).toEqual(batch.ids.filter((id) => id !== jobs[4]!.instanceId).sort());
    for (const job of jobs) {
      const stored = (await t.store.get(job.jobId))!;
      if (job === jobs[4]) expect({ status: stored.status, code: stored.error?.code }).toEqual({ status: 'ROLLING_BACK', code: 'OperationNotPermitted' });
      else expect(stored.phases['stop-target']).toMatchObject({ status: 'done' });
    }
    expect(t.states.get(jobs[4]!.instanceId)).toBe('running');
  });

  it('a job that rolls back while its batch is open is taken out of it, and its target is never stopped', async () => {
    // Prepare: jobs 3..10 wait in a batch
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const leaving = (await t.store.get(jobs[6]!.jobId))!;
    expect(leaving.resources.stopBatch).toBeDefined();
    // Act: its rollback looks before it restores the run state; then the job ends
    const pending = await pendingStopBatch(leaving, t.ports);
    await t.store.put({ ...leaving, status: 'FAILED', current: [] }, leaving.version);
    await t.drain();
    // Assess
    expect(pending).toBeUndefined();
    expect(t.stops.flatMap((s) => s.ids)).not.toContain(leaving.instanceId);
    expect(t.stops.find((s) => s.ids.length > 1)!.ids).toHaveLength(7);
    expect(t.states.get(leaving.instanceId)).toBe('running');
  });

  it('a rollback waits for a closed batch to be sent, or for its closer to be over, before it looks at the target', async () => {
    // Prepare: the batch closed by another member that has not said what it sent
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const member = (await t.store.get(jobs[6]!.jobId))!;
    t.advance(1);
    await t.batches.close(member.resources.stopBatch!.batchId, jobs[2]!.jobId, new Date(t.now()));
    // Act
    const whileSending = await pendingStopBatch(member, t.ports);
    t.advance(config.inFlightSettleSeconds);
    const afterwards = await pendingStopBatch(member, t.ports);
    // Assess
    expect(whileSending?.waitingFor).toMatch(/stop batch .* to be sent or refused/);
    expect(afterwards).toBeUndefined();
  });

  it('members of a batch whose closer never sent it stop alone once the closer must be over', async () => {
    // Prepare: the closer closed the batch and died before StopInstances
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const batchId = (await t.store.get(jobs[2]!.jobId))!.resources.stopBatch!.batchId;
    t.advance(1);
    await t.batches.close(batchId, jobs[2]!.jobId, new Date(t.now()));
    // Act
    await t.drain();
    // Assess: nothing sent for the batch; each member stopped alone, after the closer's invocation
    expect(t.stops.every((s) => s.ids.length === 1)).toBe(true);
    const late = t.stops.filter((s) => s.at - T0 >= (1 + config.inFlightSettleSeconds) * 1000);
    expect(late).toHaveLength(8);
    for (const job of jobs) expect((await t.store.get(job.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('members of a batch whose closer died after StopInstances, before recording it, find their targets stopping and send nothing more', async () => {
    // Prepare: the closer's StopInstances landed; its record of it did not
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const batchId = (await t.store.get(jobs[2]!.jobId))!.resources.stopBatch!.batchId;
    t.advance(1);
    const closed = (await t.batches.close(batchId, jobs[2]!.jobId, new Date(t.now())))!;
    for (const id of closed.instanceIds) t.states.set(id, 'stopped');
    // Act
    await t.drain();
    // Assess: only the two stops sent alone at the start
    expect(t.stops).toHaveLength(2);
    for (const job of jobs) expect((await t.store.get(job.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('leaves out an instance whose job never recorded the batch (a duplicate delivery) or has moved on', async () => {
    // Prepare: a job past stop-target whose instance got into the batch anyway
    const t = setup();
    const jobs = await t.jobs(11);
    const movedOn = jobs[10]!;
    await t.store.put(
      { ...movedOn, current: ['create-backup'], phases: { 'stop-target': { status: 'done', startedAt: movedOn.createdAt, attempt: 1 } } },
      movedOn.version,
    );
    await t.firstDeliveries(jobs.slice(0, 10));
    const batch = (await t.batches.current())!;
    expect(await t.batches.join(batch.batchId, movedOn.instanceId, 50)).toBe(true);
    // Act
    await t.drain();
    // Assess
    const sent = t.stops.find((s) => s.ids.length > 1)!;
    expect(sent.ids).toHaveLength(8);
    expect(sent.ids).not.toContain(movedOn.instanceId);
    expect(t.states.get(movedOn.instanceId)).toBe('running');
    expect((await t.batches.get(batch.batchId))!.sentInstanceIds).toEqual(sent.ids);
  });

  it('a batch EC2 throttled (nothing stopped) is batched again, not stopped one by one', async () => {
    // Prepare
    const t = setup();
    const jobs = await t.jobs(10);
    t.throttleNextBatch();
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess: the throttled request, then the members again in shared requests
    const throttled = t.stops.findIndex((s) => !s.ok);
    expect(t.stops[throttled]!.ids).toHaveLength(8);
    const after = t.stops.slice(throttled + 1);
    expect(after.flatMap((s) => s.ids).sort()).toEqual([...t.stops[throttled]!.ids].sort());
    expect(after.length).toBeLessThan(8);
    for (const job of jobs) expect((await t.store.get(job.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('leaves out a member whose job cannot be read when the batch is sent; that member stops alone', async () => {
    // Prepare: the job table fails one read of one member's lock
    const t = setup();
    const jobs = await t.jobs(10);
    const unread = jobs[7]!.instanceId;
    const getLock = t.store.getLock.bind(t.store);
    let failures = 1;
    t.store.getLock = async (id: string) => {
      if (id === unread && failures-- > 0) throw new RetryableError('DYNAMODB_UNAVAILABLE', 'ServiceUnavailable');
      return getLock(id);
    };
    // Act
    await t.firstDeliveries(jobs);
    await t.drain();
    // Assess
    const batch = t.stops.find((s) => s.ids.length > 1)!;
    expect(batch.ids).toHaveLength(7);
    expect(batch.ids).not.toContain(unread);
    expect(t.stops.filter((s) => s.ids.length === 1 && s.ids[0] === unread && s.at > batch.at)).toHaveLength(1);
    for (const job of jobs) expect((await t.store.get(job.jobId))!.phases['stop-target']).toMatchObject({ status: 'done' });
  });

  it('does not join an open batch whose slot has passed (nobody is left to send it)', async () => {
    // Prepare: a batch left open at a slot 5 s ago (its members all gone)
    const t = setup();
    const [job] = await t.jobs(1);
    await t.batches.open({ batchId: 'stale', at: new Date(t.now() - 5000).toISOString(), instanceIds: ['i-0gone'] }, undefined, new Date(t.now() + 3600_000));
    // Act
    await t.firstDeliveries([job!]);
    await t.drain();
    // Assess: stopped alone at once; the stale batch untouched
    expect(t.stops).toEqual([{ at: T0, ids: [job!.instanceId], ok: true }]);
    expect((await t.batches.get('stale'))!.instanceIds).toEqual(['i-0gone']);
  });

  it('a rollback that cannot leave a contended batch waits and tries again, rather than failing its undo step', async () => {
    // Prepare
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const member = (await t.store.get(jobs[6]!.jobId))!;
    t.batches.leave = async () => {
      throw new RetryableError('STOP_BATCH_CONTENDED', 'stop batch kept changing');
    };
    // Act
    const pending = await pendingStopBatch(member, t.ports);
    // Assess
    expect(pending?.waitingFor).toMatch(/to be sent or refused/);
  });

  it('a member woken early (an AWS event) waits again for the slot and sends nothing', async () => {
    // Prepare
    const t = setup();
    const jobs = await t.jobs(10);
    await t.firstDeliveries(jobs);
    const member = (await t.store.get(jobs[5]!.jobId))!;
    // Act: delivered before the slot
    await runPhase({ jobId: member.jobId, phase: 'stop-target', attempt: member.phases['stop-target']!.attempt }, t.ports, {
      'stop-target': stopTarget,
    } as unknown as Record<PhaseName, PhaseStep>);
    // Assess
    expect(t.stops).toHaveLength(2);
    expect((await t.batches.get(member.resources.stopBatch!.batchId))!.state).toBe('open');
    expect((await t.store.get(member.jobId))!.resources.stopBatch).toEqual(member.resources.stopBatch);
  });
});
