/**
 * The alarm function's messages over the use cases: a CloudWatch alarm in ALARM (one start per
 * instance it names), a `Reset Access Requested` event, or a deferred start come back for its
 * slot. Kept apart from the Lambda entry point so that the local runtimes run the very same code.
 * A message that is none of these is logged and dropped (it would fail the same way forever);
 * an unexpected error is thrown, for the queue to deliver the message again.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { resumeDeferredStart, startFromAlarm, startFromRequestEvent, type AutomaticOutcome, type AutomaticStartPorts } from '../domain/api/automatic-start';
import { RefusedError } from '../domain/errors';
import { parseTriggerMessage } from '../infra/messages/trigger-messages';
import { lambdaEntry } from './lambda-entry';

export interface TriggerResult {
  instanceId?: string;
  eventId?: string;
  result: AutomaticOutcome | { outcome: 'ignored'; reason: string };
}

export async function handleTriggerMessage(body: string, ports: AutomaticStartPorts): Promise<TriggerResult[]> {
  let message;
  try {
    message = parseTriggerMessage(body, ports.config);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    ports.log.warn('trigger message dropped', { code: error.code, error: error.message });
    return [{ result: { outcome: 'ignored', reason: error.message } }];
  }
  const results: TriggerResult[] = [];
  switch (message.kind) {
    case 'ignored':
      ports.log.info('trigger event ignored', { reason: message.reason });
      return [{ result: { outcome: 'ignored', reason: message.reason } }];
    case 'alarm':
      for (const instanceId of message.instanceIds) {
        const requestedBy = `alarm:${message.alarmArn ?? message.alarmName}`;
        results.push({ instanceId, eventId: message.eventId, result: await startFromAlarm({ instanceId, eventId: message.eventId, requestedBy }, ports) });
      }
      break;
    case 'request': {
      const requestedBy = `event:${message.source}${message.account ? `@${message.account}` : ''}`;
      const result = await startFromRequestEvent({ request: message.request, eventId: message.eventId, requestedBy }, ports);
      results.push({ instanceId: message.request.instanceId, eventId: message.eventId, result });
      break;
    }
    case 'deferred':
      results.push({ instanceId: message.start.request.instanceId, eventId: message.start.eventId, result: await resumeDeferredStart(message.start, ports) });
      break;
  }
  for (const { instanceId, eventId, result } of results) {
    const { outcome, ...rest } = result;
    const context = { instanceId, eventId, trigger: message.kind, ...rest };
    if (outcome === 'refused') ports.log.warn(`automatic reset ${outcome}`, context);
    else ports.log.info(`automatic reset ${outcome}`, context);
  }
  return results;
}

/** The alarm function's Lambda shape: an SQS batch with partial batch failures (a record that throws is delivered again). */
export function createTriggerHandler(getPorts: () => AutomaticStartPorts) {
  const processor = new BatchProcessor(EventType.SQS);
  async function processRecord(record: SQSRecord): Promise<void> {
    await handleTriggerMessage(record.body, getPorts());
  }
  return lambdaEntry(async (event: SQSEvent, context: Context) => processPartialResponse(event, processRecord, processor, { context }));
}
