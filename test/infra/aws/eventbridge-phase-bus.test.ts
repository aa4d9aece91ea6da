import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import type { PhaseMessage } from '../../../domain/ports';
import { EventBridgePhaseBus } from '../../../infra/aws/eventbridge-phase-bus';

const message = (index: number): PhaseMessage => ({ jobId: `job-${index}`, phase: 'validate', attempt: 0 });
const details = (input: PutEventsCommandInput) => (input.Entries ?? []).map((entry) => JSON.parse(entry.Detail ?? 'null').jobId as string);

describe('EventBridgePhaseBus', () => {
  const eventsClient = new EventBridgeClient({ region: 'us-east-1' });
  const events = mockClient(eventsClient);
  let sleeps: number[];
  let bus: EventBridgePhaseBus;

  beforeEach(() => {
    events.reset();
    sleeps = [];
    bus = new EventBridgePhaseBus(eventsClient, {
      eventBusName: 'reset-access-dev',
      maxAttempts: 3,
      baseDelayMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  });

  const inputs = () => events.commandCalls(PutEventsCommand).map((call) => call.args[0].input);

  it('puts one event per phase message on the bus', async () => {
    // Prepare
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }, { EventId: 'e-2' }] });

    // Act
    await bus.publish([
      { jobId: 'job-1', phase: 'launch-helper', attempt: 0 },
      { jobId: 'job-1', phase: 'stop-target', attempt: 0 },
    ]);

    // Assess
    expect(inputs()).toEqual([
      {
        Entries: [
          {
            EventBusName: 'reset-access-dev',
            Source: 'reset-access',
            DetailType: 'Reset Access Phase Requested',
            Detail: '{"jobId":"job-1","phase":"launch-helper","attempt":0}',
          },
          {
            EventBusName: 'reset-access-dev',
            Source: 'reset-access',
            DetailType: 'Reset Access Phase Requested',
            Detail: '{"jobId":"job-1","phase":"stop-target","attempt":0}',
          },
        ],
      },
    ]);
  });

  it('sends nothing for no messages', async () => {
    // Act
    await bus.publish([]);

    // Assess
    expect(inputs()).toEqual([]);
  });

  it('sends at most 10 entries per PutEvents call', async () => {
    // Prepare
    events.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      FailedEntryCount: 0,
      Entries: (input.Entries ?? []).map((_, index) => ({ EventId: `e-${index}` })),
    }));
    const messages = Array.from({ length: 23 }, (_, index) => message(index));

    // Act
    await bus.publish(messages);

    // Assess
    expect(inputs().map((input) => input.Entries?.length)).toEqual([10, 10, 3]);
    expect(inputs().flatMap(details)).toEqual(messages.map((m) => m.jobId));
  });

  it('resends only the entries that failed, after a backoff', async () => {
    // Prepare
    events
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'e-0' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
          { EventId: 'e-2' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }, { EventId: 'e-3' }] });

    // Act
    await bus.publish([message(0), message(1), message(2), message(3)]);

    // Assess
    expect(inputs().map(details)).toEqual([
      ['job-0', 'job-1', 'job-2', 'job-3'],
      ['job-1', 'job-3'],
    ]);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[0]).toBeLessThanOrEqual(100);
  });

  it('gives up with RetryableError after its bounded attempts, backing off longer each time', async () => {
    // Prepare
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'oops' }] });

    // Act
    const publish = bus.publish([message(0)]);

    // Assess
    await expect(publish).rejects.toBeInstanceOf(RetryableError);
    await expect(publish).rejects.toMatchObject({ code: 'InternalFailure' });
    expect(inputs()).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThanOrEqual(200);
  });

  it('does not resend an entry refused for good, and throws PermanentError once the rest is sent', async () => {
    // Prepare
    events
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    // Act
    const publish = bus.publish([message(0), message(1)]);

    // Assess
    await expect(publish).rejects.toBeInstanceOf(PermanentError);
    await expect(publish).rejects.toMatchObject({ code: 'AccessDeniedException' });
    expect(inputs().map(details)).toEqual([['job-0', 'job-1'], ['job-1']]);
  });

  it('translates a throttled PutEvents call into RetryableError', async () => {
    // Prepare
    events
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));

    // Act
    const publish = bus.publish([message(0)]);

    // Assess
    await expect(publish).rejects.toBeInstanceOf(RetryableError);
    await expect(publish).rejects.toMatchObject({ code: 'ThrottlingException' });
  });

  it('translates a missing bus into PermanentError', async () => {
    // Prepare
    events.on(PutEventsCommand).rejects(
      Object.assign(new Error('Event bus reset-access-dev does not exist.'), {
        name: 'ResourceNotFoundException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    // Act
    const publish = bus.publish([message(0)]);

    // Assess
    await expect(publish).rejects.toBeInstanceOf(PermanentError);
  });
});
