/**
 * The service's own events on its EventBridge bus. `serverless.yml`'s rules and the local bus
 * match on these constants: change them here and there together.
 */
import * as z from 'zod/mini';
import { PHASES } from '../../domain/pipeline/phases';
import type { PhaseMessage } from '../../domain/ports';
import { parseJsonInput, type Parsed } from '../../domain/schema';

/** `source` of every event the service puts on its bus. */
export const EVENT_SOURCE = 'reset-access';

/** `detail-type` of a phase event; `detail` is the phase message `{ jobId, phase, attempt }`. */
export const PHASE_REQUESTED_DETAIL_TYPE = 'Reset Access Phase Requested';

/**
 * `detail-type` of the custom event that asks for a reset (the alarm handler's second trigger).
 * Put it on the service's bus (`EVENT_BUS_NAME`, `<service>-<stage>`) with `source`
 * {@link RESET_REQUESTED_SOURCE} and the API's `POST /resets` body as `detail`.
 */
export const RESET_REQUESTED_DETAIL_TYPE = 'Reset Access Requested';

/**
 * `source` of `Reset Access Requested` events. Not the service's own {@link EVENT_SOURCE}: that one
 * is what the service publishes (phase and job events), and the functions' roles may put events
 * only with it, so no function of the service can ask for a reset by event.
 */
export const RESET_REQUESTED_SOURCE = 'reset-access.requests';

/** `detail-type` of the events the service publishes when a job ends; `detail` is the job view. */
export const JOB_SUCCEEDED_DETAIL_TYPE = 'Reset Access Job Succeeded';
export const JOB_FAILED_DETAIL_TYPE = 'Reset Access Job Failed';

/** CloudWatch's alarm events (default bus): `source` and `detail-type`. */
export const ALARM_SOURCE = 'aws.cloudwatch';
export const ALARM_STATE_CHANGE_DETAIL_TYPE = 'CloudWatch Alarm State Change';

/**
 * The JSON of a phase message: the event `detail` and the SQS message body are the same text, so
 * a rule that targets a phase queue with `InputPath: $.detail` delivers what the scheduler sends.
 */
export function phaseMessageJson(message: PhaseMessage): string {
  return JSON.stringify({ jobId: message.jobId, phase: message.phase, attempt: message.attempt });
}

/** A phase message: the SQS body of a phase's queue, and the `detail` of its event. */
export const phaseMessageSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  phase: z.enum(PHASES),
  attempt: z.int().check(z.gte(0)),
});

/** Reads a phase message back (an SQS body or an event `detail`), or says what is wrong with it. */
export function readPhaseMessage(value: unknown): Parsed<PhaseMessage> {
  return parseJsonInput(phaseMessageSchema, value, 'message');
}

/** Reads a phase message back; `undefined` if it is not one. */
export function parsePhaseMessage(value: unknown): PhaseMessage | undefined {
  const read = readPhaseMessage(value);
  return read.ok ? read.value : undefined;
}
