/**
 * What operators are told of: the alarms on the service's own metrics and on the sweeper. The
 * metrics' `service` dimension is the deployment's name, `<service>-<stage>` (infra/observability/job-metrics.ts,
 * infra/observability/sweep-metrics.ts).
 */
import type { Json } from './grants';
import type { DeployContext } from './topology';

type Alarm = { Type: 'AWS::CloudWatch::Alarm'; Properties: Record<string, Json> };

function alarm(ctx: DeployContext, name: string, properties: Record<string, Json>): Alarm {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${ctx.service}-${ctx.stage}-${name}`,
      ...properties,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
  };
}

export function operationsAlarms(ctx: DeployContext): Record<string, Alarm> {
  const service = [{ Name: 'service', Value: `${ctx.service}-${ctx.stage}` }];
  return {
    // The sweeper failed (a whole run threw): stalled jobs and orphans wait until it works again.
    SweeperErrorsAlarm: alarm(ctx, 'sweeper-errors', {
      AlarmDescription: 'The sweeper function failed; stalled jobs are not re-driven and orphans not reclaimed',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: `${ctx.service}-${ctx.stage}-sweeper` }],
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    }),
    // A helper holds a customer's volume that cannot go back on its own (its target is running, has
    // another root, or is gone): an operator must look (the sweeper's summary log names both).
    SweeperHeldVolumesAlarm: alarm(ctx, 'sweeper-volume-held', {
      AlarmDescription: 'An orphaned helper holds a customer volume the sweeper cannot give back; see the sweep summary log',
      Namespace: 'ResetAccess',
      MetricName: 'SweepHelpersHeld',
      Dimensions: service,
      Statistic: 'Maximum',
      Period: 600,
      EvaluationPeriods: 1,
    }),
    // The same things deferred run after run for an hour (something not deletable: a resource
    // without the service's tags in the rescue VPC, an endpoint that does not go).
    SweeperStuckAlarm: alarm(ctx, 'sweeper-deferring', {
      AlarmDescription: 'The sweeper has deferred work on every run for an hour; see the sweep summary log',
      Namespace: 'ResetAccess',
      MetricName: 'SweepDeferred',
      Dimensions: service,
      Statistic: 'Minimum',
      Period: 600,
      EvaluationPeriods: 6,
    }),
    FailedJobsAlarm: alarm(ctx, 'jobs-failed', {
      AlarmDescription: 'A reset job ended FAILED (rolled back, or not restored); see the Reset Access Job Failed event',
      Namespace: 'ResetAccess',
      MetricName: 'JobsFailed',
      Dimensions: service,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
    }),
  };
}
