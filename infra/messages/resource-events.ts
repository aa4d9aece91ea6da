/**
 * AWS's own events that can end a job's wait, as EventBridge puts them on the account's default
 * bus, read into the domain's `ResourceEvent`. serverless.yml's rules (AwsEvents*Rule) match on
 * these constants: change them there and here together.
 *
 * Shapes: EC2 User Guide "EventBridge for Amazon EC2" (instance state-change), Systems Manager
 * User Guide "Amazon EventBridge event examples for Systems Manager" (Run Command invocation
 * status), EBS User Guide "Amazon EventBridge events for Amazon EBS" (volume notifications).
 */
import * as z from 'zod/mini';
import { parseJsonInput } from '../../domain/schema';
import type { ResourceEvent } from '../../domain/pipeline/wake-jobs';

export const EC2_SOURCE = 'aws.ec2';
export const SSM_SOURCE = 'aws.ssm';
export const INSTANCE_STATE_DETAIL_TYPE = 'EC2 Instance State-change Notification';
export const COMMAND_INVOCATION_DETAIL_TYPE = 'EC2 Command Invocation Status-change Notification';
export const VOLUME_DETAIL_TYPE = 'EBS Volume Notification';
/** The `detail.event` values of EBS volume notifications a job can wait on. */
export const VOLUME_EVENTS = ['attachVolume', 'reattachVolume', 'detachVolume'] as const;

const id = z.string().check(z.minLength(1));

/** The three events a job waits on: only the fields read, anything else in them is let through. */
const instanceStateEvent = z.pipe(
  z.object({ source: z.literal(EC2_SOURCE), 'detail-type': z.literal(INSTANCE_STATE_DETAIL_TYPE), detail: z.object({ 'instance-id': id, state: id }) }),
  z.transform(({ detail }): ResourceEvent => ({ kind: 'instance-state', instanceId: detail['instance-id'], state: detail.state })),
);
const commandInvocationEvent = z.pipe(
  z.object({
    source: z.literal(SSM_SOURCE),
    'detail-type': z.literal(COMMAND_INVOCATION_DETAIL_TYPE),
    detail: z.object({ 'instance-id': id, 'command-id': id, status: id }),
  }),
  z.transform(
    ({ detail }): ResourceEvent => ({ kind: 'command-status', instanceId: detail['instance-id'], commandId: detail['command-id'], status: detail.status }),
  ),
);
// The volume is named only in `resources`, as an ARN (`…:volume/vol-…`).
const VOLUME_ARN = /:volume\/(vol-[0-9a-z]+)$/;
const volumeEvent = z.pipe(
  z.object({
    source: z.literal(EC2_SOURCE),
    'detail-type': z.literal(VOLUME_DETAIL_TYPE),
    resources: z.array(z.unknown()).check(z.refine((resources) => resources.some((r) => typeof r === 'string' && VOLUME_ARN.test(r)))),
    detail: z.object({ event: id, result: z.optional(z.string()) }),
  }),
  z.transform(({ resources, detail }): ResourceEvent => {
    const volumeId = resources.map((r) => VOLUME_ARN.exec(String(r))?.[1]).find((v) => v !== undefined)!;
    return { kind: 'volume', volumeId, event: detail.event, result: detail.result ?? '' };
  }),
);
export const resourceEventSchema = z.union([instanceStateEvent, commandInvocationEvent, volumeEvent]);

/** The event (an envelope, or its JSON as an SQS body carries it); `undefined` if it is none of these. */
export function parseResourceEvent(value: unknown): ResourceEvent | undefined {
  const read = parseJsonInput(resourceEventSchema, value, 'event');
  return read.ok ? read.value : undefined;
}
