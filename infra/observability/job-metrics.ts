/**
 * Job metrics in CloudWatch's embedded metric format (Powertools Metrics, printed to stdout, which
 * Lambda ships to CloudWatch Logs): jobs started, succeeded, failed by reason, rolled back with the
 * instance restored, job and phase durations (one value a record: CloudWatch can take percentiles of
 * them, docs/aws-facts.md#cloudwatch). Namespace {@link METRICS_NAMESPACE}; every metric has the `service` dimension (the
 * deployment's name), failures also `service` + `reason`, phase durations `service` + `phase`.
 * The failed-jobs alarm (infra/deploy/operations.ts) watches `JobsFailed` by `service` alone; the
 * operators' dashboard (infra/deploy/dashboard.ts) shows them all.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Job, PhaseName } from '../../domain/job/job';
import type { JobObserver } from '../../domain/ports';

export const METRICS_NAMESPACE = 'ResetAccess';

export const METRIC = {
  started: 'JobsStarted',
  succeeded: 'JobsSucceeded',
  failed: 'JobsFailed',
  /** Failed jobs whose rollback put the instance back as it was (`instanceRestored`); the rest of JobsFailed need an operator. */
  rolledBack: 'JobsRolledBack',
  jobDuration: 'JobDuration',
  phaseDuration: 'PhaseDuration',
} as const;

export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}

export class PowertoolsJobMetrics implements JobObserver {
  constructor(private readonly metrics: Metrics) {}

  async jobStarted(_job: Job): Promise<void> {
    this.metrics.singleMetric().addMetric(METRIC.started, MetricUnit.Count, 1);
  }

  async phaseFinished(_job: Job, phase: PhaseName, durationSeconds: number): Promise<void> {
    const metric = this.metrics.singleMetric();
    metric.addDimension('phase', phase);
    metric.addMetric(METRIC.phaseDuration, MetricUnit.Seconds, durationSeconds);
  }

  async jobFinished(job: Job): Promise<void> {
    const seconds = job.endedAt ? (Date.parse(job.endedAt) - Date.parse(job.createdAt)) / 1000 : undefined;
    const counts = finishedJobCounts(job);
    if (counts.includes(METRIC.succeeded)) {
      const metric = this.metrics.singleMetric();
      if (seconds !== undefined) metric.addMetric(METRIC.jobDuration, MetricUnit.Seconds, seconds);
      metric.addMetric(METRIC.succeeded, MetricUnit.Count, 1);
      return;
    }
    // Two records, one per dimension set (CloudWatch keeps a metric per set, so nothing is counted
    // twice): [service] for the alarm, [service, reason] to break failures down.
    this.metrics.singleMetric().addMetric(METRIC.failed, MetricUnit.Count, 1);
    const byReason = this.metrics.singleMetric();
    byReason.addDimension('reason', job.error?.code ?? 'UNKNOWN');
    byReason.addMetric(METRIC.failed, MetricUnit.Count, 1);
    if (counts.includes(METRIC.rolledBack)) this.metrics.singleMetric().addMetric(METRIC.rolledBack, MetricUnit.Count, 1);
  }
}

/**
 * The job counts a job that ended adds: succeeded, or failed and, when its rollback put the
 * instance back as it was, rolled back. The local page counts its jobs with it (infra/local/fleet-figures.ts).
 */
export function finishedJobCounts(job: Pick<Job, 'status' | 'instanceRestored'>): string[] {
  if (job.status === 'SUCCEEDED') return [METRIC.succeeded];
  return job.instanceRestored === true ? [METRIC.failed, METRIC.rolledBack] : [METRIC.failed];
}
