/**
 * The figures of the operators' dashboard (infra/deploy/dashboard.ts), taken on the local stack
 * from what it has instead of CloudWatch: the job table (jobs, outcomes, phase durations), the
 * local SQS's queues (depth, waits, in flight, age of the oldest receivable message, dead letters),
 * the sweeper runs since start, and the helpers the sweeper's own listing finds running. The local
 * page (operations-page.ts) shows them.
 */
import type { Job, PhaseName } from '../../domain/job/job';
import { toJobView, type JobView } from '../../domain/job/job-view';
import { PHASES } from '../../domain/pipeline/phases';
import type { Clock, JobStore, ManagedHelper } from '../../domain/ports';
import { runningHelpers } from '../../domain/sweeper/sweep-helpers';
import { PHASE_PERCENTILES } from '../deploy/dashboard';
import { finishedJobCounts, METRIC } from '../observability/job-metrics';

/** What a queue holds now: fauxqs' inspection (`sentTimestamp` in ms of real time). */
export interface QueueContents {
  ready: Array<{ sentTimestamp: number }>;
  delayed: unknown[];
  inflight: unknown[];
}

export interface FleetSources {
  store: Pick<JobStore, 'list'>;
  /** The service's clock (simulated time on the simulated region): job times are on it. */
  clock: Clock;
  /** Every consumer's queue and its DLQ (infra/deploy/topology.ts), and the events DLQ. */
  queues: ReadonlyArray<{ key: string; name: string; deadLetterName: string }>;
  eventsDeadLetterName: string;
  inspectQueue(name: string): QueueContents | undefined;
  listHelpers(): Promise<ManagedHelper[]>;
  /** The sweeper runs since the stack started: their count and each SWEEP_METRIC total. */
  sweeps(): { runs: number; totals: Record<string, number> };
}

export interface QueueFigures {
  key: string;
  name: string;
  /** AWS/SQS ApproximateNumberOfMessagesVisible, …Delayed, …NotVisible. */
  visible: number;
  delayed: number;
  inFlight: number;
  /** Real seconds since the oldest receivable message was sent (ApproximateAgeOfOldestMessage). */
  oldestAgeSeconds?: number;
  deadLetters: number;
}

export interface FleetFigures {
  now: string;
  /** By the dashboard's metric names (JobsStarted, JobsSucceeded, JobsFailed, JobsRolledBack). */
  jobCounts: Record<string, number>;
  running: number;
  /** The newest jobs, as the API shows them. */
  jobs: JobView[];
  phases: Array<{ phase: PhaseName; done: number } & Partial<Record<(typeof PHASE_PERCENTILES)[number], number>>>;
  queues: QueueFigures[];
  eventsDeadLetters: number;
  sweeper: { runs: number; totals: Record<string, number> };
  /** Undefined when the listing failed (the dashboard then has no point either). */
  helpersRunning?: number;
  helpersError?: string;
}

/** Jobs read for the counts at most (newest first): the local stack's fleets stay well under it. */
const MAX_JOBS = 5000;
const PAGE = 100;

export async function collectFleetFigures(sources: FleetSources, options: { jobsShown: number }): Promise<FleetFigures> {
  const jobs = await allJobs(sources.store);
  const jobCounts: Record<string, number> = { [METRIC.started]: jobs.length, [METRIC.succeeded]: 0, [METRIC.failed]: 0, [METRIC.rolledBack]: 0 };
  let running = 0;
  for (const job of jobs) {
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') for (const metric of finishedJobCounts(job)) jobCounts[metric] = (jobCounts[metric] ?? 0) + 1;
    else running++;
  }
  const views = jobs.map(toJobView);
  const durations = new Map<PhaseName, number[]>();
  for (const view of views) {
    // A phase's duration as the runner reports it to PhaseDuration: phases that ended done.
    for (const phase of view.phases)
      if (phase.status === 'done' && phase.durationSeconds !== undefined)
        durations.set(phase.name, [...(durations.get(phase.name) ?? []), phase.durationSeconds]);
  }
  const phases = PHASES.map((phase) => {
    const values = (durations.get(phase) ?? []).sort((a, b) => a - b);
    return {
      phase,
      done: values.length,
      ...Object.fromEntries(values.length ? PHASE_PERCENTILES.map((p) => [p, percentile(values, Number(p.slice(1)))]) : []),
    };
  });
  const realNow = Date.now();
  const depth = (name: string) => sources.inspectQueue(name);
  const queues = sources.queues.map((queue): QueueFigures => {
    const contents = depth(queue.name);
    const oldest = contents?.ready.length ? Math.min(...contents.ready.map((m) => m.sentTimestamp)) : undefined;
    return {
      key: queue.key,
      name: queue.name,
      visible: contents?.ready.length ?? 0,
      delayed: contents?.delayed.length ?? 0,
      inFlight: contents?.inflight.length ?? 0,
      ...(oldest !== undefined ? { oldestAgeSeconds: Math.max(0, (realNow - oldest) / 1000) } : {}),
      deadLetters: depth(queue.deadLetterName)?.ready.length ?? 0,
    };
  });
  let helpers: { helpersRunning?: number; helpersError?: string };
  try {
    helpers = { helpersRunning: runningHelpers(await sources.listHelpers()) };
  } catch (error) {
    helpers = { helpersError: (error as Error).message };
  }
  return {
    now: sources.clock.now().toISOString(),
    jobCounts,
    running,
    jobs: views.slice(0, options.jobsShown),
    phases,
    queues,
    eventsDeadLetters: depth(sources.eventsDeadLetterName)?.ready.length ?? 0,
    sweeper: sources.sweeps(),
    ...helpers,
  };
}

async function allJobs(store: Pick<JobStore, 'list'>): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: PAGE, cursor });
    jobs.push(...page.jobs);
    cursor = page.cursor;
  } while (cursor && jobs.length < MAX_JOBS);
  return jobs;
}

/** Nearest-rank percentile of ascending values (CloudWatch's are estimates of the same). */
export function percentile(ascending: readonly number[], p: number): number {
  return ascending[Math.min(ascending.length - 1, Math.max(0, Math.ceil((p / 100) * ascending.length) - 1))]!;
}
