import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SweepSummary } from '../../../domain/sweeper/sweeper';
import { publishSweepMetrics } from '../../../infra/observability/sweep-metrics';

const summary = (overrides: Partial<SweepSummary> = {}): SweepSummary => ({
  dryRun: false,
  found: 4,
  deleted: 3,
  deferred: 1,
  redriven: 2,
  rolledBack: 1,
  volumesReturned: 1,
  held: 0,
  helpersRunning: 2,
  actions: [],
  ...overrides,
});

/** What the run printed, as the EMF records CloudWatch reads. */
function emfOf(publish: (metrics: Metrics) => void): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const metrics = new Metrics({ namespace: 'ResetAccess', serviceName: 'ec2-reset-access-test' });
  const spy = jest.spyOn((metrics as unknown as { console: Console }).console, 'log').mockImplementation((line: string) => void lines.push(line));
  publish(metrics);
  spy.mockRestore();
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('sweep metrics', () => {
  it('publishes one record per run with every count under the service dimension', () => {
    // Act
    const [record, ...more] = emfOf((metrics) => publishSweepMetrics(metrics, summary()));
    // Assess
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      service: 'ec2-reset-access-test',
      SweepFound: 4,
      SweepDeleted: 3,
      SweepDeferred: 1,
      SweepRedriven: 2,
      SweepRolledBack: 1,
      SweepVolumesReturned: 1,
      SweepHelpersHeld: 0,
      HelpersRunning: 2,
    });
    const directive = (record!._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> }).CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('ResetAccess');
    expect(directive.Dimensions).toEqual([['service']]);
  });

  it('leaves out the helpers running when the run could not list them', () => {
    // Act
    const [record] = emfOf((metrics) => publishSweepMetrics(metrics, summary({ helpersRunning: undefined })));
    // Assess
    expect(record).not.toHaveProperty('HelpersRunning');
    expect(record).toHaveProperty('SweepDeleted', 3);
  });

  it('keeps a dry run apart under its own dimension, and only for that run', () => {
    // Act
    const records = emfOf((metrics) => {
      publishSweepMetrics(metrics, summary({ dryRun: true }));
      publishSweepMetrics(metrics, summary());
    });
    // Assess
    const dimensions = records.map((r) => (r._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }).CloudWatchMetrics[0]!.Dimensions);
    expect(dimensions).toEqual([[['service', 'dryRun']], [['service']]]);
  });
});
