/**
 * EventBridge events as AWS sends them, for tests: a CloudWatch alarm state change (the shape of
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html,
 * and the older single-metric shape) and a `Reset Access Requested`; and the SQS record that carries
 * a message to a queue consumer.
 */
import type { SQSRecord } from 'aws-lambda';
import { ALARM_SOURCE, ALARM_STATE_CHANGE_DETAIL_TYPE, RESET_REQUESTED_DETAIL_TYPE, RESET_REQUESTED_SOURCE } from '../../infra/messages/events';

let counter = 0;

export interface AlarmEventOptions {
  id?: string;
  state?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  /** `metrics`: the documented shape (metrics array); `legacy`: the metric at the top of `configuration`. */
  shape?: 'metrics' | 'legacy';
  alarmName?: string;
  time?: string;
}

export function alarmEvent(instanceIds: string | string[], options: AlarmEventOptions = {}): Record<string, unknown> {
  const ids = Array.isArray(instanceIds) ? instanceIds : [instanceIds];
  const alarmName = options.alarmName ?? `StatusCheckFailed-${ids[0] ?? 'none'}`;
  const metric = (instanceId: string | undefined, n: number) => ({
    id: `m${n}`,
    metricStat: {
      metric: { dimensions: instanceId ? { InstanceId: instanceId } : { AutoScalingGroupName: 'web' }, name: 'StatusCheckFailed', namespace: 'AWS/EC2' },
      period: 60,
      stat: 'Maximum',
    },
    returnData: true,
  });
  const configuration =
    options.shape === 'legacy'
      ? { description: 'instance unreachable', metricName: 'StatusCheckFailed', namespace: 'AWS/EC2', dimensions: { InstanceId: ids[0] } }
      : { description: 'instance unreachable', metrics: ids.length ? ids.map((id, n) => metric(id, n)) : [metric(undefined, 0)] };
  return {
    version: '0',
    id: options.id ?? `alarm-event-${++counter}`,
    'detail-type': ALARM_STATE_CHANGE_DETAIL_TYPE,
    source: ALARM_SOURCE,
    account: '123456789012',
    time: options.time ?? '2026-01-05T09:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value: options.state ?? 'ALARM',
        reason: 'Threshold Crossed: 1 out of the last 1 datapoints [1.0] was greater than the threshold (0.0)',
        timestamp: '2026-01-05T09:00:00.000+0000',
      },
      previousState: { value: 'OK', reason: 'Threshold Crossed', timestamp: '2026-01-05T08:00:00.000+0000' },
      configuration,
    },
  };
}

export function resetRequestedEvent(detail: Record<string, unknown>, options: { id?: string; source?: string } = {}): Record<string, unknown> {
  return {
    version: '0',
    id: options.id ?? `request-event-${++counter}`,
    'detail-type': RESET_REQUESTED_DETAIL_TYPE,
    source: options.source ?? RESET_REQUESTED_SOURCE,
    account: '123456789012',
    time: '2026-01-05T09:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** An SQS record as Lambda hands it to a queue consumer, carrying `body`. */
export function sqsRecord(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    body,
    receiptHandle: messageId,
    attributes: {},
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
    awsRegion: 'us-east-1',
  } as unknown as SQSRecord;
}
