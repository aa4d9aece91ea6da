/**
 * AWS's own events that can end a job's wait, as EventBridge puts them on the account's default
 * bus, read into the domain's `ResourceEvent`. serverless.yml's rules (AwsEvents*Rule) match on
 * these constants: change them there and here together.
 *
 * Shapes: EC2 User Guide "EventBridge for Amazon EC2" (instance state-change), Systems Manager
 * User Guide "Amazon EventBridge event examples for Systems Manager" (Run Command invocation
 * status), EBS User Guide "Amazon EventBridge events for Amazon EBS" (volume notifications).
 */
import type { ResourceEvent } from '../domain/wake-jobs';

export const EC2_SOURCE = 'aws.ec2';
export const SSM_SOURCE = 'aws.ssm';
export const INSTANCE_STATE_DETAIL_TYPE = 'EC2 Instance State-change Notification';
export const COMMAND_INVOCATION_DETAIL_TYPE = 'EC2 Command Invocation Status-change Notification';
export const VOLUME_DETAIL_TYPE = 'EBS Volume Notification';
/** The `detail.event` values of EBS volume notifications a job can wait on. */
export const VOLUME_EVENTS = ['attachVolume', 'reattachVolume', 'detachVolume'] as const;

/** The event (an envelope, or its JSON as an SQS body carries it); `undefined` if it is none of these. */
export function parseResourceEvent(value: unknown): ResourceEvent | undefined {
  let envelope = value;
  if (typeof envelope === 'string') {
    try {
      envelope = JSON.parse(envelope);
    } catch {
      return undefined;
    }
  }
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const { source, resources } = envelope as Record<string, unknown>;
  const detailType = (envelope as Record<string, unknown>)['detail-type'];
  const detail = (envelope as { detail?: unknown }).detail;
  if (typeof detail !== 'object' || detail === null) return undefined;
  const field = (name: string) => {
    const v = (detail as Record<string, unknown>)[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  if (source === EC2_SOURCE && detailType === INSTANCE_STATE_DETAIL_TYPE) {
    const instanceId = field('instance-id');
    const state = field('state');
    return instanceId && state ? { kind: 'instance-state', instanceId, state } : undefined;
  }
  if (source === SSM_SOURCE && detailType === COMMAND_INVOCATION_DETAIL_TYPE) {
    const instanceId = field('instance-id');
    const commandId = field('command-id');
    const status = field('status');
    return instanceId && commandId && status ? { kind: 'command-status', instanceId, commandId, status } : undefined;
  }
  if (source === EC2_SOURCE && detailType === VOLUME_DETAIL_TYPE) {
    // The volume is named only in `resources`, as an ARN (`…:volume/vol-…`).
    const arn = Array.isArray(resources) ? resources.find((r): r is string => typeof r === 'string' && /:volume\/vol-/.test(r)) : undefined;
    const volumeId = arn?.slice(arn.lastIndexOf('/') + 1);
    const event = field('event');
    return volumeId && event ? { kind: 'volume', volumeId, event, result: field('result') ?? '' } : undefined;
  }
  return undefined;
}
