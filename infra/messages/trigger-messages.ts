/**
 * The messages of the alarm function's queue: EventBridge events as the rules deliver them (the
 * whole envelope: a CloudWatch alarm state change, or a `Reset Access Requested`), and the
 * deferred starts the function sends back to itself. Parsing only: what they mean is the domain's.
 */
import * as z from 'zod/mini';
import type { ServiceConfig } from '../../domain/config';
import { RefusedError } from '../../domain/errors';
import type { DeferredStart } from '../../domain/ports';
import { INSTANCE_ID, startRequestSchema, type ResetRequest } from '../../domain/api/request';
import { parseJsonInput, parseInput } from '../../domain/schema';
import { ALARM_SOURCE, ALARM_STATE_CHANGE_DETAIL_TYPE, RESET_REQUESTED_DETAIL_TYPE } from './events';

export const DEFERRED_START_TYPE = 'reset-access.deferred-start';

export type TriggerMessage =
  | { kind: 'alarm'; eventId: string; alarmName: string; alarmArn?: string; instanceIds: string[] }
  | { kind: 'request'; eventId: string; source: string; account?: string; request: ResetRequest }
  | { kind: 'deferred'; start: DeferredStart }
  /** Understood, but nothing to do (an alarm not in ALARM, or naming no instance). */
  | { kind: 'ignored'; reason: string };

export function deferredStartJson(start: DeferredStart): string {
  return JSON.stringify({ type: DEFERRED_START_TYPE, ...start });
}

/** An EventBridge event as a rule delivers it whole: what is read of every one. */
const eventSchema = z.looseObject({
  id: z.string({ error: 'is missing: the message is neither an EventBridge event nor a deferred start' }).check(z.minLength(1)),
  source: z.optional(z.string()),
  'detail-type': z.optional(z.string()),
  account: z.optional(z.string()),
  resources: z.optional(z.array(z.unknown())),
});

/** What the alarm function sends itself for a start that waits for its admission slot. */
const deferredStartSchema = (config: ServiceConfig) =>
  z.object({
    kind: z.enum(['alarm', 'request']),
    request: startRequestSchema(config),
    eventId: z.string(),
    requestedBy: z.string(),
    admitAt: z.iso.datetime(),
  });

const NONE: string[] = [];
/** A metric's dimensions naming an instance: `{ InstanceId }`, or a `[{ name, value }]` list (also `Name`/`Value`). */
const instanceDimensions = z.catch(
  z.union([
    z.pipe(
      z.array(
        z.catch(
          z.looseObject({ name: z.optional(z.string()), Name: z.optional(z.string()), value: z.optional(z.string()), Value: z.optional(z.string()) }),
          {},
        ),
      ),
      z.transform((list) => list.filter((d) => (d.name ?? d.Name) === 'InstanceId').map((d) => d.value ?? d.Value ?? '')),
    ),
    z.pipe(
      z.looseObject({ InstanceId: z.optional(z.string()) }),
      z.transform((d) => (d.InstanceId ? [d.InstanceId] : NONE)),
    ),
  ]),
  NONE,
);
const metricInstances = z.catch(
  z.pipe(
    z.looseObject({ metricStat: z.looseObject({ metric: z.looseObject({ dimensions: instanceDimensions }) }) }),
    z.transform((m) => m.metricStat.metric.dimensions),
  ),
  NONE,
);

/**
 * The `detail` of a CloudWatch alarm state change. The instances come from both shapes of its
 * configuration: the metrics array (`configuration.metrics[].metricStat.metric.dimensions`,
 * single-metric and metric-math alarms alike) and the older single-metric shape with the metric at
 * the top level (`configuration.dimensions`); a part of another shape names no instance.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
 */
const alarmDetailSchema = z.looseObject({
  alarmName: z.optional(z.string()),
  state: z.looseObject({ value: z.string() }),
  configuration: z.catch(z.looseObject({ metrics: z.catch(z.array(metricInstances), []), dimensions: z.optional(instanceDimensions) }), { metrics: [] }),
});

/** Reads one queue message; throws RefusedError (400) for one that is none of the above (dropped, never retried). */
export function parseTriggerMessage(body: string, config: ServiceConfig): TriggerMessage {
  const read = parseJsonInput(z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }), body, 'message');
  if (!read.ok) throw new RefusedError(read.message === 'message: is not JSON' ? 'INVALID_JSON' : 'INVALID_MESSAGE', read.message, 400);
  const message = read.value;
  if (message.type === DEFERRED_START_TYPE) {
    const start = parseInput(deferredStartSchema(config), message, 'deferred start');
    if (!start.ok) throw new RefusedError('INVALID_MESSAGE', `deferred start is malformed: ${start.message}`, 400);
    return { kind: 'deferred', start: start.value };
  }
  const event = parseInput(eventSchema, message, 'event');
  if (!event.ok) throw new RefusedError('INVALID_MESSAGE', event.message, 400);
  const { id: eventId, source, 'detail-type': detailType, account, resources } = event.value;
  if (detailType === ALARM_STATE_CHANGE_DETAIL_TYPE && source === ALARM_SOURCE) return parseAlarm(eventId, message, resources);
  if (detailType === RESET_REQUESTED_DETAIL_TYPE) {
    // The detail is the API's start request; its fields are named from the event (`detail.subnet`).
    const request = parseInput(z.looseObject({ detail: startRequestSchema(config) }), message, 'event');
    if (!request.ok) throw new RefusedError('INVALID_REQUEST', request.message, 400);
    return { kind: 'request', eventId, source: source ?? 'unknown', ...(account !== undefined ? { account } : {}), request: request.value.detail };
  }
  throw new RefusedError('INVALID_MESSAGE', `event ${String(detailType)} from ${String(source)} is not one the alarm function handles`, 400);
}

/** The instances an alarm's `detail` names (well-formed instance ids only, each once). */
export function alarmInstanceIds(detail: unknown): string[] {
  const read = z.safeParse(alarmDetailSchema.shape.configuration, (detail as { configuration?: unknown } | null | undefined)?.configuration);
  return read.success ? instancesOf(read.data) : [];
}

function instancesOf(configuration: z.output<typeof alarmDetailSchema>['configuration']): string[] {
  const found = [...configuration.metrics.flat(), ...(configuration.dimensions ?? [])];
  return [...new Set(found.filter((id) => INSTANCE_ID.test(id)))];
}

function parseAlarm(eventId: string, message: unknown, resources: unknown[] | undefined): TriggerMessage {
  const read = parseInput(z.looseObject({ detail: alarmDetailSchema }), message, 'event');
  if (!read.ok) throw new RefusedError('INVALID_MESSAGE', `alarm event: ${read.message}`, 400);
  const { detail } = read.value;
  if (detail.state.value !== 'ALARM') return { kind: 'ignored', reason: `alarm state is ${detail.state.value}, not ALARM` };
  const instanceIds = instancesOf(detail.configuration);
  if (instanceIds.length === 0) return { kind: 'ignored', reason: 'the alarm names no InstanceId dimension' };
  const alarmArn = resources?.find((r): r is string => typeof r === 'string');
  return { kind: 'alarm', eventId, alarmName: detail.alarmName ?? 'unknown', ...(alarmArn ? { alarmArn } : {}), instanceIds };
}
