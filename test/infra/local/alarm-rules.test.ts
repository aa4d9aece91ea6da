/**
 * The deployment's rules for (infra/deploy/topology.ts) the alarm function, run by the local bus: CloudWatch alarm events (both
 * shapes) on the default bus and `Reset Access Requested` on the service bus reach the alarm queue
 * as whole events; anything else does not.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { LocalEventBus, rulesOf } from '../../../infra/local/event-bus';
import { alarmEvent, resetRequestedEvent } from '../../support/events';

const DEPLOYMENT = { service: 'ec2-reset-access', stage: 'test' };
const BUS = 'ec2-reset-access-test';
const ALARM_QUEUE = 'ec2-reset-access-test-alarm';

describe('the alarm rules on the local bus', () => {
  const client = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const sqs = mockClient(client);
  const bus = new LocalEventBus({
    rules: rulesOf(DEPLOYMENT),
    buses: [BUS],
    sqs: client,
    region: 'us-east-1',
    accountId: '123456789012',
    queueUrl: (name) => `https://sqs.local/${name}`,
    onDeliveryFailure: ({ error }) => {
      throw error;
    },
  });

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  /** Puts an event as its producer would; answers the queues it reached and what they got. */
  async function put(event: Record<string, unknown>, eventBusName?: string): Promise<Array<{ queue: string; body: Record<string, unknown> }>> {
    await bus.putEvents([
      { Source: event.source as string, DetailType: event['detail-type'] as string, Detail: JSON.stringify(event.detail), EventBusName: eventBusName },
    ]);
    return sqs
      .commandCalls(SendMessageCommand)
      .map((c) => ({ queue: c.args[0].input.QueueUrl!.split('/').pop()!, body: JSON.parse(c.args[0].input.MessageBody!) }));
  }

  it.each([['metrics'], ['legacy']] as const)('sends a %s-shaped alarm in ALARM from the default bus to the alarm queue, whole', async (shape) => {
    // Act
    const delivered = await put(alarmEvent('i-0a1b2c3d4e5f60001', { shape }));
    // Assess
    expect(delivered).toEqual([
      {
        queue: ALARM_QUEUE,
        body: expect.objectContaining({ id: expect.any(String), source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change' }),
      },
    ]);
  });

  it.each([
    ['an alarm back to OK', alarmEvent('i-0a1b2c3d4e5f60001', { state: 'OK' }), undefined],
    ['an alarm that names no instance', alarmEvent([]), undefined],
    ['an alarm event on the service bus', alarmEvent('i-0a1b2c3d4e5f60001'), BUS],
    ['a reset request on the default bus', resetRequestedEvent({ instanceId: 'i-0a1b2c3d4e5f60001' }), undefined],
    ['a reset request from the service itself', resetRequestedEvent({ instanceId: 'i-0a1b2c3d4e5f60001' }, { source: 'reset-access' }), BUS],
  ])('sends nothing for %s', async (_what, event, eventBusName) => {
    // Act
    const delivered = await put(event, eventBusName);
    // Assess
    expect(delivered).toEqual([]);
  });

  it('sends a Reset Access Requested on the service bus to the alarm queue', async () => {
    // Act
    const delivered = await put(resetRequestedEvent({ instanceId: 'i-0a1b2c3d4e5f60001' }), BUS);
    // Assess
    expect(delivered).toEqual([
      { queue: ALARM_QUEUE, body: expect.objectContaining({ 'detail-type': 'Reset Access Requested', detail: { instanceId: 'i-0a1b2c3d4e5f60001' } }) },
    ]);
  });
});
