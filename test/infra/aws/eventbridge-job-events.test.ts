import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import { EventBridgeJobEvents } from '../../../infra/aws/eventbridge-job-events';
import { job } from '../../domain/fixtures';

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----';

describe('EventBridgeJobEvents', () => {
  const client = new EventBridgeClient({ region: 'us-east-1' });
  const events = mockClient(client);
  const observer = new EventBridgeJobEvents(client, { eventBusName: 'ec2-reset-access-dev' });
  const entries = () => events.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

  beforeEach(() => {
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  it('publishes Reset Access Job Succeeded on the service bus with the job view and its outputs', async () => {
    // Prepare
    const succeeded = job({
      status: 'SUCCEEDED',
      current: [],
      endedAt: '2026-01-01T00:09:00.000Z',
      outputs: { sshKeyParameter: '/ec2rl/openssh/i-0123456789abcdef0/key', backupImageId: 'ami-0123456789abcdef0' },
    });
    // Act
    await observer.jobFinished(succeeded);
    // Assess
    expect(entries()).toEqual([
      expect.objectContaining({ EventBusName: 'ec2-reset-access-dev', Source: 'reset-access', DetailType: 'Reset Access Job Succeeded' }),
    ]);
    const detail = JSON.parse(entries()[0]!.Detail!);
    expect(detail).toEqual(
      expect.objectContaining({ jobId: succeeded.jobId, instanceId: succeeded.instanceId, status: 'SUCCEEDED', outputs: succeeded.outputs }),
    );
  });

  it('publishes Reset Access Job Failed with the reason, and never a private key', async () => {
    // Prepare: an error message that (by some bug) echoes a key.
    const failed = job({
      status: 'FAILED',
      current: [],
      error: { code: 'RESCUE_FAILED', message: `script said: ${PEM}`, phase: 'run-rescue' },
      instanceRestored: true,
    });
    // Act
    await observer.jobFinished(failed);
    // Assess
    const entry = entries()[0]!;
    expect(entry.DetailType).toBe('Reset Access Job Failed');
    expect(entry.Detail).not.toMatch(/PRIVATE KEY/);
    expect(entry.Detail).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
    expect(JSON.parse(entry.Detail!)).toEqual(
      expect.objectContaining({ error: expect.objectContaining({ code: 'RESCUE_FAILED', phase: 'run-rescue' }), instanceRestored: true }),
    );
  });

  it('sends a throttled entry once more, then gives up retryably', async () => {
    // Prepare
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] });
    // Act
    const publish = observer.jobFinished(job({ status: 'SUCCEEDED' }));
    // Assess
    await expect(publish).rejects.toBeInstanceOf(RetryableError);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('does not resend an entry EventBridge refused for good', async () => {
    // Prepare
    events.reset();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' }] });
    // Act
    const publish = observer.jobFinished(job({ status: 'FAILED' }));
    // Assess
    await expect(publish).rejects.toBeInstanceOf(PermanentError);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('publishes nothing when a job starts or a phase finishes', async () => {
    // Act
    await observer.jobStarted(job());
    await observer.phaseFinished(job(), 'validate', 3);
    // Assess
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
