import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { defaultConfig } from '../../../domain/config';
import { SqsStartDeferral } from '../../../infra/aws/sqs-start-deferral';
import { parseTriggerMessage } from '../../../infra/messages/trigger-messages';

describe('SqsStartDeferral', () => {
  const client = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });
  const sqs = mockClient(client);
  const start = {
    kind: 'alarm' as const,
    request: {
      instanceId: 'i-0123456789abcdef0',
      subnet: 'CreateNewVPC' as const,
      helperInstanceType: 't3.small',
      allowInstanceStoreLoss: false,
      keyType: 'ed25519' as const,
    },
    eventId: 'e-1',
    requestedBy: 'alarm:arn',
    admitAt: '2026-01-05T09:30:00.000Z',
  };

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });

  it('sends the start to the queue, due when its slot comes, in a message the function reads back', async () => {
    // Act
    await new SqsStartDeferral(client, { queueUrl: 'https://sqs/alarm' }).later(start, 42.2);
    // Assess
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toEqual(expect.objectContaining({ QueueUrl: 'https://sqs/alarm', DelaySeconds: 43 }));
    expect(parseTriggerMessage(input.MessageBody!, defaultConfig)).toEqual({ kind: 'deferred', start });
  });

  it("cuts a longer wait to SQS's 15 minutes (the start comes back early and waits again), and scales simulated time", async () => {
    // Act
    await new SqsStartDeferral(client, { queueUrl: 'q' }).later(start, 3600);
    await new SqsStartDeferral(client, { queueUrl: 'q', timeScale: 20 }).later(start, 60);
    // Assess
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.DelaySeconds)).toEqual([900, 3]);
  });
});
