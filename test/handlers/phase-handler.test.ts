/**
 * The phase functions' shape: a record that is not a phase message for this queue is dropped, and
 * the log says why (the phase message schema's reason), so that a misrouted or hand-sent message
 * can be traced without retrying it forever.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { sqsRecord } from '../support/events';
import type { RunnerPorts } from '../../domain/pipeline/phase-runner';
import type { Log } from '../../domain/ports';
import { createPhaseHandler } from '../../handlers/phase-handler';

describe('the phase handler', () => {
  it('drops a record that is no phase message, or one for another phase, logging why', async () => {
    // Prepare
    const errors: Array<Record<string, unknown> | undefined> = [];
    const log: Log = { info: () => undefined, warn: () => undefined, error: (_message, context) => void errors.push(context) };
    const handler = createPhaseHandler('cleanup', () => ({ log }) as unknown as RunnerPorts);
    const event: SQSEvent = {
      Records: [
        sqsRecord('m-1', '{"jobId":"r-1","phase":"cleanup","attempt":-1}'),
        sqsRecord('m-2', '{"jobId":"r-1","phase":"rollback","attempt":0}'),
        sqsRecord('m-3', 'hello'),
      ],
    };

    // Act
    const response = await handler(event, {} as Context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(errors).toEqual([
      { queuePhase: 'cleanup', messageId: 'm-1', reason: 'attempt: Too small: expected number to be >=0' },
      { queuePhase: 'cleanup', messageId: 'm-2', reason: 'a message for rollback' },
      { queuePhase: 'cleanup', messageId: 'm-3', reason: 'message: is not JSON' },
    ]);
  });
});
