/**
 * What middy does in front of every function (handlers/lambda-entry.ts): each line the function
 * logs through its ports carries the invocation's Lambda context, so that one invocation's lines
 * can be picked out of the log group that concurrent invocations share.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { sqsRecord } from '../support/events';
import type { RunnerPorts } from '../../domain/pipeline/phase-runner';
import { lambdaLogger } from '../../handlers/lambda-entry';
import { createPhaseHandler } from '../../handlers/phase-handler';
import { createLog } from '../../infra/observability/logger';

const context = {
  awsRequestId: 'req-0001',
  functionName: 'reset-access-prod-cleanup',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:reset-access-prod-cleanup',
  memoryLimitInMB: '512',
} as unknown as Context;

/** The JSON lines written to stdout and stderr while `run` runs. */
async function printed(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => (lines.push(String(chunk)), true);
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a function entry point', () => {
  it('logs each line with the invocation’s request id, function and cold start', async () => {
    // Prepare
    const handler = createPhaseHandler('cleanup', () => ({ log: createLog(lambdaLogger) }) as unknown as RunnerPorts);
    const event: SQSEvent = { Records: [sqsRecord('m-1', 'not a phase message')] };
    // Act
    const lines = await printed(() => handler(event, context));
    // Assess
    expect(lines).toEqual([
      expect.objectContaining({
        message: 'malformed or misrouted phase message dropped',
        messageId: 'm-1',
        function_request_id: 'req-0001',
        function_name: 'reset-access-prod-cleanup',
        function_arn: context.invokedFunctionArn,
        cold_start: expect.any(Boolean),
      }),
    ]);
  });
});
