/** The local page's figures: the same counts, percentiles and queue figures the dashboard draws. */
import type { Job } from '../../../domain/job/job';
import type { ManagedHelper } from '../../../domain/ports';
import { collectFleetFigures, percentile, type FleetSources, type QueueContents } from '../../../infra/local/fleet-figures';
import { renderOperationsPage } from '../../../infra/local/operations-page';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { job } from '../../domain/fixtures';

const at = (seconds: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + seconds * 1000).toISOString();

/** A job that ran validate for `validateSeconds`, then ended as told. */
function ended(id: string, status: Job['status'], validateSeconds: number, extra: Partial<Job> = {}): Job {
  return job({
    jobId: id,
    status,
    current: [],
    endedAt: at(validateSeconds),
    phases: { validate: { status: 'done', startedAt: at(0), endedAt: at(validateSeconds), attempt: 0 } },
    ...extra,
  });
}

const helper = (instanceId: string, state: ManagedHelper['state']): ManagedHelper => ({
  instanceId,
  state,
  tags: { 'reset-access:managed': 'true', 'reset-access:role': 'helper' },
  volumes: [],
});

async function figuresOf(jobs: Job[], overrides: Partial<FleetSources> = {}) {
  const store = new MemoryJobStore();
  for (const j of jobs) await store.put(j, undefined);
  const sources: FleetSources = {
    store,
    clock: { now: () => new Date(at(600)) },
    queues: [{ key: 'validate', name: 'svc-validate', deadLetterName: 'svc-validate-dlq' }],
    eventsDeadLetterName: 'svc-events-dlq',
    inspectQueue: () => undefined,
    listHelpers: async () => [],
    sweeps: () => ({ runs: 0, totals: {} }),
    ...overrides,
  };
  return collectFleetFigures(sources, { jobsShown: 10 });
}

describe('the local fleet figures', () => {
  it('counts jobs as the job metrics do: a failed job whose instance was restored is also rolled back', async () => {
    // Act
    const figures = await figuresOf([
      ended('r-ok0000001', 'SUCCEEDED', 10),
      ended('r-back00001', 'FAILED', 20, { instanceRestored: true, error: { code: 'CANCELLED', message: 'cancelled', phase: 'validate' } }),
      ended('r-lost00001', 'FAILED', 30, { instanceRestored: false, error: { code: 'PHASE_DEADLINE', message: 'late', phase: 'validate' } }),
      job({ jobId: 'r-run000001' }),
    ]);
    // Assess
    expect(figures.jobCounts).toEqual({ JobsStarted: 4, JobsSucceeded: 1, JobsFailed: 2, JobsRolledBack: 1 });
    expect(figures.running).toBe(1);
  });

  it('takes p50 and p95 of the phases that ended done, by nearest rank', async () => {
    // Act
    const figures = await figuresOf([10, 20, 30, 40].map((s, i) => ended(`r-ok000000${i}`, 'SUCCEEDED', s)));
    // Assess
    expect(figures.phases.find((p) => p.phase === 'validate')).toEqual({ phase: 'validate', done: 4, p50: 20, p95: 40 });
    expect(figures.phases.find((p) => p.phase === 'cleanup')).toEqual({ phase: 'cleanup', done: 0 });
    expect([percentile([1], 95), percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)]).toEqual([1, 5, 10]);
  });

  it('reads each queue: receivable, delayed, in flight, the oldest receivable message, its dead letters', async () => {
    // Prepare
    const sent = Date.now() - 30_000;
    const contents: Record<string, QueueContents> = {
      'svc-validate': { ready: [{ sentTimestamp: sent }, { sentTimestamp: sent + 20_000 }], delayed: [{}, {}, {}], inflight: [{}] },
      'svc-validate-dlq': { ready: [{ sentTimestamp: sent }], delayed: [], inflight: [] },
    };
    // Act
    const figures = await figuresOf([], { inspectQueue: (name) => contents[name] });
    // Assess
    expect(figures.queues).toEqual([
      { key: 'validate', name: 'svc-validate', visible: 2, delayed: 3, inFlight: 1, oldestAgeSeconds: expect.any(Number), deadLetters: 1 },
    ]);
    expect(figures.queues[0]!.oldestAgeSeconds).toBeGreaterThanOrEqual(30);
    expect(figures.eventsDeadLetters).toBe(0);
  });

  it('counts the helpers running as the sweeper does, and says so when it cannot list them', async () => {
    // Act
    const listed = await figuresOf([], {
      listHelpers: async () => [helper('i-1', 'running'), helper('i-2', 'pending'), helper('i-3', 'stopped'), helper('i-4', 'shutting-down')],
    });
    const failed = await figuresOf([], { listHelpers: async () => Promise.reject(new Error('UnauthorizedOperation')) });
    // Assess
    expect(listed.helpersRunning).toBe(2);
    expect(failed).toMatchObject({ helpersError: 'UnauthorizedOperation' });
    expect(failed.helpersRunning).toBeUndefined();
  });

  it('renders what a job says as text, never as markup', async () => {
    // Prepare
    const figures = await figuresOf([
      ended('r-bad000001', 'FAILED', 5, { instanceRestored: true, error: { code: 'X', message: '<img src=x onerror=alert(1)>', phase: 'validate' } }),
    ]);
    // Act
    const html = renderOperationsPage(figures, { title: 'svc', refreshSeconds: 0 });
    // Assess
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('http-equiv="refresh"');
  });
});
