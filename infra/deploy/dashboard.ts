/**
 * The operators' CloudWatch dashboard, generated from the phase registry and the topology: jobs
 * started, succeeded, failed and rolled back; phase durations p50/p95; each queue's depth, waits
 * and age; dead-letter queues; the sweeper's reclaims; helper instances running; function errors.
 * The service's own figures are the EMF metrics of infra/observability/job-metrics.ts and infra/observability/sweep-metrics.ts;
 * the rest are AWS/SQS and AWS/Lambda metrics of the resources the template names
 * (docs/aws-facts.md#cloudwatch). The local stack shows the same figures on its page
 * (infra/local/operations-page.ts).
 */
import { PHASE_DEFINITIONS } from '../../domain/pipeline/phases';
import { METRIC, METRICS_NAMESPACE } from '../observability/job-metrics';
import { SWEEP_METRIC } from '../observability/sweep-metrics';
import type { Json } from './grants';
import { consumers, eventsDeadLetterQueueName, type DeployContext } from './topology';

type Dashboard = { Type: 'AWS::CloudWatch::Dashboard'; Properties: Record<string, Json> };

/** One line of a metric widget: namespace, name, dimension name/value pairs, then how to draw it. */
type MetricLine = Json[];
interface Widget {
  title: string;
  metrics: MetricLine[];
  /** Sum for counts, Maximum for gauges (queue depth, helpers), a percentile for durations. */
  stat: string;
  period: number;
  /** The left axis' label. */
  unit?: string;
}

const PERIOD_SECONDS = 300;
/** The sweeper publishes once a run, every 10 minutes (serverless.yml): one point per run. */
const SWEEP_PERIOD_SECONDS = 600;
/** Dashboard grid: 24 columns; two widgets a row. */
const WIDGET_WIDTH = 12;
const WIDGET_HEIGHT = 6;
const TEXT_HEIGHT = 3;

/** The figures' labels, shared with the local page so that both say the same thing. */
export const JOB_FIGURES = [
  { metric: METRIC.started, label: 'started' },
  { metric: METRIC.succeeded, label: 'succeeded' },
  { metric: METRIC.failed, label: 'failed' },
  { metric: METRIC.rolledBack, label: 'rolled back (instance restored)' },
] as const;

export const SWEEP_FIGURES = [
  { metric: SWEEP_METRIC.deleted, label: 'reclaimed (helpers terminated, network parts deleted)' },
  { metric: SWEEP_METRIC.volumesReturned, label: 'volumes given back' },
  { metric: SWEEP_METRIC.redriven, label: 'stalled phases re-driven' },
  { metric: SWEEP_METRIC.rolledBack, label: 'overdue jobs rolled back' },
  { metric: SWEEP_METRIC.held, label: 'helpers held (operator needed)' },
  { metric: SWEEP_METRIC.deferred, label: 'deferred to the next run' },
] as const;

export const PHASE_PERCENTILES = ['p50', 'p95'] as const;

export function operationsDashboard(ctx: DeployContext): Record<string, Dashboard> {
  const service = `${ctx.service}-${ctx.stage}`;
  const own = (metric: string, dimensions: string[], rendering: Record<string, Json>): MetricLine => [
    METRICS_NAMESPACE,
    metric,
    'service',
    service,
    ...dimensions,
    rendering,
  ];
  const all = consumers(ctx);
  const queues = all.map((consumer) => ({ key: consumer.key, name: consumer.queue.name }));
  const deadLetters = [
    ...all.map((consumer) => ({ key: consumer.key, name: consumer.queue.deadLetter.name })),
    { key: 'events', name: eventsDeadLetterQueueName(ctx) },
  ];
  const functionKeys = ['api', 'sweeper', ...all.map((consumer) => consumer.key)];
  const sqs = (metric: string, queue: { key: string; name: string }): MetricLine => ['AWS/SQS', metric, 'QueueName', queue.name, { label: queue.key }];

  const widgets: Widget[] = [
    {
      title: 'Jobs',
      metrics: JOB_FIGURES.map(({ metric, label }) => own(metric, [], { label })),
      stat: 'Sum',
      period: PERIOD_SECONDS,
      unit: 'jobs',
    },
    {
      title: 'Helper instances running',
      metrics: [own(SWEEP_METRIC.helpersRunning, [], { label: 'helpers' })],
      stat: 'Maximum',
      period: SWEEP_PERIOD_SECONDS,
      unit: 'instances',
    },
    ...PHASE_PERCENTILES.map(
      (stat): Widget => ({
        title: `Phase duration ${stat} (seconds)`,
        metrics: PHASE_DEFINITIONS.map((definition) => own(METRIC.phaseDuration, ['phase', definition.name], { label: definition.name })),
        stat,
        period: PERIOD_SECONDS,
        unit: 's',
      }),
    ),
    {
      title: 'Queue depth: messages waiting for a function',
      metrics: queues.map((queue) => sqs('ApproximateNumberOfMessagesVisible', queue)),
      stat: 'Maximum',
      period: PERIOD_SECONDS,
      unit: 'messages',
    },
    {
      title: 'Queue age: oldest message (seconds)',
      metrics: queues.map((queue) => sqs('ApproximateAgeOfOldestMessage', queue)),
      stat: 'Maximum',
      period: PERIOD_SECONDS,
      unit: 's',
    },
    {
      title: 'Phases waiting on AWS: delayed messages',
      metrics: queues.map((queue) => sqs('ApproximateNumberOfMessagesDelayed', queue)),
      stat: 'Maximum',
      period: PERIOD_SECONDS,
      unit: 'messages',
    },
    {
      title: 'Dead-letter queues: messages',
      metrics: deadLetters.map((queue) => sqs('ApproximateNumberOfMessagesVisible', queue)),
      stat: 'Maximum',
      period: PERIOD_SECONDS,
      unit: 'messages',
    },
    {
      title: 'Sweeper, per run',
      metrics: SWEEP_FIGURES.map(({ metric, label }) => own(metric, [], { label })),
      stat: 'Sum',
      period: SWEEP_PERIOD_SECONDS,
    },
    {
      title: 'Function errors',
      metrics: functionKeys.map((key) => ['AWS/Lambda', 'Errors', 'FunctionName', `${service}-${key}`, { label: key }]),
      stat: 'Sum',
      period: PERIOD_SECONDS,
      unit: 'errors',
    },
  ];

  const intro =
    `## ${service}\n` +
    'Reset jobs, their phases (one queue and function each) and the sweeper. Durations are per phase from start to done; ' +
    'a phase waiting on AWS is a delayed message in its own queue, not a backlog. Failed jobs not rolled back need an operator ' +
    '(see the Reset Access Job Failed event).';
  const body = {
    start: '-PT6H',
    periodOverride: 'inherit',
    widgets: [
      { type: 'text', x: 0, y: 0, width: 24, height: TEXT_HEIGHT, properties: { markdown: intro } },
      ...widgets.map((widget, index) => ({
        type: 'metric',
        x: (index % 2) * WIDGET_WIDTH,
        y: TEXT_HEIGHT + Math.floor(index / 2) * WIDGET_HEIGHT,
        width: WIDGET_WIDTH,
        height: WIDGET_HEIGHT,
        properties: {
          title: widget.title,
          view: 'timeSeries',
          stacked: false,
          // Filled in by CloudFormation (Fn::Sub): the dashboard shows the stack's own region.
          region: '${AWS::Region}',
          stat: widget.stat,
          period: widget.period,
          metrics: widget.metrics,
          yAxis: { left: { min: 0, ...(widget.unit ? { label: widget.unit, showUnits: false } : {}) } },
        },
      })),
    ],
  };
  return {
    OperationsDashboard: {
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: { DashboardName: service, DashboardBody: { 'Fn::Sub': JSON.stringify(body) } },
    },
  };
}
