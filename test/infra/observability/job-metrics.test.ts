/** The job metrics as CloudWatch reads them: EMF records on stdout. */
import { createMetrics, METRICS_NAMESPACE, PowertoolsJobMetrics } from '../../../infra/observability/job-metrics';
import { combineObservers } from '../../../infra/observability/observers';
import { job } from '../../domain/fixtures';

interface EmfRecord {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [key: string]: unknown;
}

/** What the metrics print while `act` runs, one EMF record per line. */
async function emfOf(act: () => Promise<void>): Promise<EmfRecord[]> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfRecord);
}

const summary = (records: EmfRecord[]) =>
  records.map((r) => ({
    metric: r._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name,
    dimensions: r._aws.CloudWatchMetrics[0]!.Dimensions,
    namespace: r._aws.CloudWatchMetrics[0]!.Namespace,
    value: r[r._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name],
    service: r.service,
    reason: r.reason,
    phase: r.phase,
  }));

describe('PowertoolsJobMetrics', () => {
  const metrics = new PowertoolsJobMetrics(createMetrics('ec2-reset-access-test'));

  it('counts jobs started and succeeded, with the job duration', async () => {
    // Act
    const records = await emfOf(async () => {
      await metrics.jobStarted(job());
      await metrics.jobFinished(job({ status: 'SUCCEEDED', createdAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:07:30.000Z' }));
    });
    // Assess
    expect(summary(records)).toEqual([
      expect.objectContaining({ metric: 'JobsStarted', dimensions: [['service']], namespace: METRICS_NAMESPACE, value: 1, service: 'ec2-reset-access-test' }),
      expect.objectContaining({ metric: 'JobDuration', dimensions: [['service']], value: 450 }),
      expect.objectContaining({ metric: 'JobsSucceeded', dimensions: [['service']], value: 1 }),
    ]);
  });

  it('counts a failed job by service (for the alarm) and by reason', async () => {
    // Act
    const records = await emfOf(() => metrics.jobFinished(job({ status: 'FAILED', error: { code: 'PHASE_DEADLINE', message: 'late', phase: 'stop-target' } })));
    // Assess
    expect(summary(records)).toEqual([
      expect.objectContaining({ metric: 'JobsFailed', dimensions: [['service']], value: 1 }),
      expect.objectContaining({ metric: 'JobsFailed', dimensions: [['service', 'reason']], value: 1, reason: 'PHASE_DEADLINE' }),
    ]);
  });

  it('counts a failed job whose rollback restored the instance as rolled back, and only such a job', async () => {
    // Act
    const failed = (instanceRestored: boolean) =>
      job({ status: 'FAILED', instanceRestored, error: { code: 'CANCELLED', message: 'cancelled', phase: 'stop-target' } });
    const restored = await emfOf(() => metrics.jobFinished(failed(true)));
    const notRestored = await emfOf(() => metrics.jobFinished(failed(false)));
    // Assess
    expect(summary(restored).map((r) => r.metric)).toEqual(['JobsFailed', 'JobsFailed', 'JobsRolledBack']);
    expect(summary(restored)[2]).toEqual(expect.objectContaining({ dimensions: [['service']], value: 1, service: 'ec2-reset-access-test' }));
    expect(summary(notRestored).map((r) => r.metric)).toEqual(['JobsFailed', 'JobsFailed']);
  });

  it('records each phase duration by phase', async () => {
    // Act
    const records = await emfOf(() => metrics.phaseFinished(job(), 'stop-target', 42.5));
    // Assess
    expect(summary(records)).toEqual([
      expect.objectContaining({ metric: 'PhaseDuration', dimensions: [['service', 'phase']], value: 42.5, phase: 'stop-target' }),
    ]);
  });
});

describe('combineObservers', () => {
  it('tells every observer, and throws the first failure only after all ran', async () => {
    // Prepare
    const told: string[] = [];
    const failing = { jobStarted: async () => Promise.reject(new Error('bus down')), phaseFinished: async () => undefined, jobFinished: async () => undefined };
    const recording = { jobStarted: async () => void told.push('started'), phaseFinished: async () => undefined, jobFinished: async () => undefined };
    // Act
    const call = combineObservers(failing, recording).jobStarted(job());
    // Assess
    await expect(call).rejects.toThrow('bus down');
    expect(told).toEqual(['started']);
  });
});
