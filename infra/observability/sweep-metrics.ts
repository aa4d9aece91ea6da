/**
 * A sweeper run's summary as metrics in CloudWatch's embedded metric format (Powertools Metrics,
 * namespace `ResetAccess`, dimension `service`): one EMF record per run, with the helpers EC2 runs
 * now (`HelpersRunning`, what the operators' dashboard shows of them). A dry run's are published
 * under the extra dimension `dryRun=true`, so that what it would have done never counts as done.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SweepSummary } from '../../domain/sweeper/sweeper';

export const SWEEP_METRIC = {
  found: 'SweepFound',
  deleted: 'SweepDeleted',
  deferred: 'SweepDeferred',
  redriven: 'SweepRedriven',
  rolledBack: 'SweepRolledBack',
  volumesReturned: 'SweepVolumesReturned',
  held: 'SweepHelpersHeld',
  helpersRunning: 'HelpersRunning',
} as const satisfies Record<keyof Omit<SweepSummary, 'dryRun' | 'actions'>, string>;

export function publishSweepMetrics(metrics: Metrics, summary: SweepSummary): void {
  // Dimensions added here are cleared by the publish: the next run starts from `service` alone.
  if (summary.dryRun) metrics.addDimension('dryRun', 'true');
  for (const [field, name] of Object.entries(SWEEP_METRIC) as Array<[keyof typeof SWEEP_METRIC, string]>) {
    // A count the run could not take (the helper listing failed) is left out, not published as 0.
    const value = summary[field];
    if (value !== undefined) metrics.addMetric(name, MetricUnit.Count, value);
  }
  metrics.publishStoredMetrics();
}
