/**
 * The messages of the alarm function's queue: EventBridge events as the rules deliver them (the
 * whole envelope: a CloudWatch alarm state change, or a `Reset Access Requested`), and the
 * deferred starts the function sends back to itself. Parsing only: what they mean is the domain's.
 */
import type { ServiceConfig } from '../domain/config';
import { RefusedError } from '../domain/errors';
import type { DeferredStart } from '../domain/ports';
import { INSTANCE_ID, parseResetRequest } from '../domain/request';
import type { ResetRequest } from '../domain/job';
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

/** Reads one queue message; throws RefusedError (400) for one that is none of the above (dropped, never retried). */
export function parseTriggerMessage(body: string, config: ServiceConfig): TriggerMessage {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    throw new RefusedError('INVALID_JSON', 'message body is not JSON', 400);
  }
  if (!isObject(message)) throw new RefusedError('INVALID_MESSAGE', 'message is not a JSON object', 400);
  if (message.type === DEFERRED_START_TYPE) return { kind: 'deferred', start: parseDeferred(message, config) };
  const detailType = message['detail-type'];
  const eventId = typeof message.id === 'string' && message.id !== '' ? message.id : undefined;
  if (!eventId) throw new RefusedError('INVALID_MESSAGE', 'message is neither an EventBridge event (no id) nor a deferred start', 400);
  if (detailType === ALARM_STATE_CHANGE_DETAIL_TYPE && message.source === ALARM_SOURCE) return parseAlarm(eventId, message);
  if (detailType === RESET_REQUESTED_DETAIL_TYPE) {
    return {
      kind: 'request',
      eventId,
      source: String(message.source ?? 'unknown'),
      ...(typeof message.account === 'string' ? { account: message.account } : {}),
      request: parseResetRequest(message.detail, config),
    };
  }
  throw new RefusedError('INVALID_MESSAGE', `event ${String(detailType)} from ${String(message.source)} is not one the alarm function handles`, 400);
}

/**
 * The instances a CloudWatch alarm names, from both shapes of its configuration: the metrics array
 * (`detail.configuration.metrics[].metricStat.metric.dimensions.InstanceId`, single-metric and
 * metric-math alarms alike) and the older single-metric shape with the metric at the top level
 * (`detail.configuration.dimensions.InstanceId`, also as a `[{ name, value }]` list).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
 */
export function alarmInstanceIds(detail: unknown): string[] {
  const configuration = isObject(detail) && isObject(detail.configuration) ? detail.configuration : {};
  const found: unknown[] = [];
  for (const metric of Array.isArray(configuration.metrics) ? configuration.metrics : []) {
    const stat = isObject(metric) && isObject(metric.metricStat) ? metric.metricStat : undefined;
    const dimensions = stat && isObject(stat.metric) ? stat.metric.dimensions : undefined;
    found.push(...instanceIdsOf(dimensions));
  }
  found.push(...instanceIdsOf(configuration.dimensions));
  return [...new Set(found.filter((id): id is string => typeof id === 'string' && INSTANCE_ID.test(id)))];
}

function instanceIdsOf(dimensions: unknown): unknown[] {
  if (isObject(dimensions)) return [dimensions.InstanceId];
  if (Array.isArray(dimensions)) return dimensions.filter((d) => isObject(d) && (d.name ?? d.Name) === 'InstanceId').map((d) => (d as Record<string, unknown>).value ?? (d as Record<string, unknown>).Value);
  return [];
}

function parseAlarm(eventId: string, message: Record<string, unknown>): TriggerMessage {
  const detail = isObject(message.detail) ? message.detail : {};
  const state = isObject(detail.state) ? detail.state.value : undefined;
  if (state !== 'ALARM') return { kind: 'ignored', reason: `alarm state is ${String(state)}, not ALARM` };
  const instanceIds = alarmInstanceIds(detail);
  if (instanceIds.length === 0) return { kind: 'ignored', reason: 'the alarm names no InstanceId dimension' };
  const resources = Array.isArray(message.resources) ? message.resources.filter((r): r is string => typeof r === 'string') : [];
  return { kind: 'alarm', eventId, alarmName: String(detail.alarmName ?? 'unknown'), ...(resources[0] ? { alarmArn: resources[0] } : {}), instanceIds };
}

function parseDeferred(message: Record<string, unknown>, config: ServiceConfig): DeferredStart {
  const { kind, request, eventId, requestedBy, admitAt } = message;
  if ((kind !== 'alarm' && kind !== 'request') || typeof eventId !== 'string' || typeof requestedBy !== 'string' || typeof admitAt !== 'string' || Number.isNaN(Date.parse(admitAt))) {
    throw new RefusedError('INVALID_MESSAGE', 'deferred start is malformed', 400);
  }
  return { kind, request: parseResetRequest(request, config), eventId, requestedBy, admitAt };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
