import { QueueDoesNotExist, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import type { PhaseName } from '../../../domain/job/job';
import { SqsPhaseScheduler, sqsDelaySeconds } from '../../../infra/aws/sqs-phase-scheduler';

const queueUrlFor = (phase: PhaseName) => `https://sqs.us-east-1.amazonaws.com/123456789012/reset-access-${phase}`;

describe('SqsPhaseScheduler', () => {
  const sqsClient = new SQSClient({ region: 'us-east-1' });
  const sqs = mockClient(sqsClient);

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });

  async function scheduledDelay(delaySeconds: number, timeScale?: number): Promise<number | undefined> {
    sqs.resetHistory();
    await new SqsPhaseScheduler(sqsClient, { queueUrlFor, timeScale }).later({ jobId: 'job-1', phase: 'stop-target', attempt: 2 }, delaySeconds);
    return sqs.commandCalls(SendMessageCommand)[0].args[0].input.DelaySeconds;
  }

  it("sends the phase message to the phase's own queue with the delay", async () => {
    // Prepare
    const scheduler = new SqsPhaseScheduler(sqsClient, { queueUrlFor });

    // Act
    await scheduler.later({ jobId: 'job-1', phase: 'stop-target', attempt: 2 }, 30);

    // Assess
    expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual([
      {
        QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/reset-access-stop-target',
        MessageBody: '{"jobId":"job-1","phase":"stop-target","attempt":2}',
        DelaySeconds: 30,
      },
    ]);
  });

  it('clamps a delay beyond 900 s to the SQS maximum', async () => {
    // Act
    const delay = await scheduledDelay(3600);

    // Assess
    expect(delay).toBe(900);
  });

  it('rounds a fractional delay up to whole seconds', async () => {
    // Act
    const delay = await scheduledDelay(2.2);

    // Assess
    expect(delay).toBe(3);
  });

  it('divides the delay by the time scale, rounding up', async () => {
    // Act
    const delay = await scheduledDelay(25, 10);

    // Assess
    expect(delay).toBe(3);
  });

  it('keeps a positive delay at least 1 s however fast the clock runs', async () => {
    // Act
    const delay = await scheduledDelay(5, 100);

    // Assess
    expect(delay).toBe(1);
  });

  it('sends a zero delay as 0, also with a time scale', async () => {
    // Act
    const delay = await scheduledDelay(0, 10);

    // Assess
    expect(delay).toBe(0);
  });

  it('refuses a time scale that is not positive', () => {
    // Act
    const make = () => new SqsPhaseScheduler(sqsClient, { queueUrlFor, timeScale: 0 });

    // Assess
    expect(make).toThrow(/timeScale/);
  });

  it('translates throttling into RetryableError', async () => {
    // Prepare
    sqs
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    const scheduler = new SqsPhaseScheduler(sqsClient, { queueUrlFor });

    // Act
    const later = scheduler.later({ jobId: 'job-1', phase: 'run-rescue', attempt: 0 }, 10);

    // Assess
    await expect(later).rejects.toBeInstanceOf(RetryableError);
    await expect(later).rejects.toMatchObject({ code: 'ThrottlingException' });
  });

  it('translates a missing queue into PermanentError', async () => {
    // Prepare
    sqs.on(SendMessageCommand).rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: { httpStatusCode: 400 } }));
    const scheduler = new SqsPhaseScheduler(sqsClient, { queueUrlFor });

    // Act
    const later = scheduler.later({ jobId: 'job-1', phase: 'run-rescue', attempt: 0 }, 10);

    // Assess
    await expect(later).rejects.toBeInstanceOf(PermanentError);
    await expect(later).rejects.toMatchObject({ code: 'QueueDoesNotExist' });
  });
});

describe('sqsDelaySeconds', () => {
  it.each([
    [-5, 1, 0],
    [Number.NaN, 1, 0],
    [0.1, 1, 1],
    [900, 1, 900],
    [901, 1, 900],
    [9000, 10, 900],
    [9001, 10, 900],
    [1800, 2, 900],
    [60, 60, 1],
    [61, 60, 2],
  ])('answers DelaySeconds for %p s at time scale %p: %p', (delay, timeScale, expected) => {
    // Act
    const delaySeconds = sqsDelaySeconds(delay, timeScale);

    // Assess
    expect(delaySeconds).toBe(expected);
  });
});
