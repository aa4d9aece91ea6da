import {
  commandInvocationStatusEvent,
  commandStatusEvent,
  instanceStateChangeEvent,
  volumeAttachFailedEvent,
  type EventOrigin,
} from '../../../infra/sim/events';
import { parseResourceEvent } from '../../../infra/messages/resource-events';

const origin: EventOrigin = { id: 'e-1', account: '123456789012', region: 'us-east-1', time: Date.UTC(2026, 0, 1) };

describe('parseResourceEvent', () => {
  it('reads an instance state change', () => {
    expect(parseResourceEvent(instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'stopped'))).toEqual({
      kind: 'instance-state',
      instanceId: 'i-0123456789abcdef0',
      state: 'stopped',
    });
  });

  it('reads a Run Command invocation status change, also as the JSON an SQS body carries', () => {
    // Prepare
    const event = commandInvocationStatusEvent(origin, {
      commandId: 'c-1',
      documentName: 'AWS-RunShellScript',
      instanceId: 'i-0helper000000000',
      requestedAt: origin.time,
      status: 'Success',
    });

    // Act
    const parsed = parseResourceEvent(JSON.stringify(event));

    // Assess
    expect(parsed).toEqual({ kind: 'command-status', instanceId: 'i-0helper000000000', commandId: 'c-1', status: 'Success' });
  });

  it('reads the volume of an EBS volume notification from its ARN', () => {
    const event = volumeAttachFailedEvent(
      origin,
      'vol-0123456789abcdef0',
      'attachVolume',
      'The KMS key is disabled',
      'arn:aws:kms:us-east-1:123456789012:key/k',
    );
    expect(parseResourceEvent(event)).toEqual({ kind: 'volume', volumeId: 'vol-0123456789abcdef0', event: 'attachVolume', result: 'failed' });
  });

  it.each([
    [
      'the command (not invocation) status event',
      commandStatusEvent(origin, { commandId: 'c', documentName: 'd', instanceIds: ['i-1'], requestedAt: 0, expiresAt: 0, parameters: {}, status: 'Success' }),
    ],
    ['a CloudWatch alarm', { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', detail: { state: { value: 'ALARM' } } }],
    ['a state change without an instance id', { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: { state: 'stopped' } }],
    ['text that is not JSON', '{not json'],
    ['nothing', undefined],
  ])('answers undefined for %s', (_name, value) => {
    expect(parseResourceEvent(value)).toBeUndefined();
  });
});
