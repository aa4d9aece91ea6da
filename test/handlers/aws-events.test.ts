import type { Context, SQSEvent } from 'aws-lambda';
import { sqsRecord } from '../support/events';
import type { Job } from '../../domain/job/job';
import type { Log, PhaseMessage } from '../../domain/ports';
import { createAwsEventsHandler } from '../../handlers/aws-events';
import { MemoryJobStore } from '../../infra/memory/memory-job-store';
import { instanceStateChangeEvent } from '../../infra/sim/events';
import { job as jobFixture } from '../domain/fixtures';

const origin = { id: 'e-1', account: '123456789012', region: 'us-east-1', time: Date.UTC(2026, 0, 1) };

async function setup(options: { failPublishes?: number } = {}) {
  const store = new MemoryJobStore();
  const waiting: Job = jobFixture({
    current: ['stop-target'],
    phases: { 'stop-target': { status: 'running', startedAt: '2026-01-01T00:00:00.000Z', attempt: 2, waitingFor: 'target to stop' } },
  });
  await store.put(waiting, undefined);
  await store.linkResources([{ resourceId: waiting.instanceId, jobId: waiting.jobId, role: 'target' }]);
  const published: PhaseMessage[] = [];
  const warnings: string[] = [];
  const log: Log = { info: () => undefined, warn: (message) => void warnings.push(message), error: () => undefined };
  let failures = options.failPublishes ?? 0;
  const bus = {
    publish: async (messages: PhaseMessage[]) => {
      if (failures-- > 0) throw new Error('EventBridge unavailable');
      published.push(...messages);
    },
  };
  const handler = createAwsEventsHandler(() => ({ store, bus, log }));
  return { handler, published, warnings, instanceId: waiting.instanceId };
}

describe('the aws-events handler', () => {
  it('wakes the job waiting on the instance of each event in the batch, and drops what is not an event', async () => {
    // Prepare
    const t = await setup();
    const event: SQSEvent = {
      Records: [sqsRecord('m-1', JSON.stringify(instanceStateChangeEvent(origin, t.instanceId, 'stopped'))), sqsRecord('m-2', 'not an event')],
    };

    // Act
    const response = await t.handler(event, {} as Context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(t.published).toEqual([{ jobId: 'r-test000001', phase: 'stop-target', attempt: 2 }]);
    expect(t.warnings).toEqual(['not an AWS event a job waits on; dropped']);
  });

  it('reports a record it could not handle, for SQS to deliver again', async () => {
    // Prepare: the first wake cannot be published
    const t = await setup({ failPublishes: 1 });
    const stopped = JSON.stringify(instanceStateChangeEvent(origin, t.instanceId, 'stopped'));
    const event: SQSEvent = { Records: [sqsRecord('m-1', stopped), sqsRecord('m-2', stopped)] };

    // Act
    const response = await t.handler(event, {} as Context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(t.published).toHaveLength(1);
  });
});
