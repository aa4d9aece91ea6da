/**
 * Resets that events start, nobody asking in person: a CloudWatch alarm that went to ALARM naming
 * an instance, or a `Reset Access Requested` event. Each must pass, in this order:
 * 1. the opt-in guard for events (`reset-access:auto=true` by default; see `opt-in.ts`);
 * 2. alarms only: the instance's cool-down (one alarm-started reset per instance per window),
 *    claimed with a conditional write by the event that wins it;
 *    request events only: their event id as idempotency key (a redelivered event is one reset);
 * 3. fleet admission (`admission.ts`): over the rate, the start is deferred to its slot, never
 *    dropped.
 * Every outcome is answered (and logged by the caller); only unexpected errors throw, so that the
 * event is delivered again.
 */
import { reserveAdmission, EVENT_ADMISSION_BUCKET } from '../admission/admission';
import { RefusedError } from '../errors';
import { requestFingerprint, startResetIdempotently, type IdempotentStartPorts } from './idempotent-start';
import type { ResetRequest } from '../job/job';
import { missingOptInTags, requiredOptInTags } from '../preflight/opt-in';
import type { AdmissionStore, CooldownStore, DeferredStart, StartDeferral } from '../ports';
import { parseResetRequest } from './request';
import { startReset } from './start-reset';

export interface AutomaticStartPorts extends IdempotentStartPorts {
  cooldowns: CooldownStore;
  admission: AdmissionStore;
  deferral: StartDeferral;
}

export type AutomaticOutcome =
  | { outcome: 'started'; jobId: string }
  | { outcome: 'deferred'; admitAt: string }
  | { outcome: 'duplicate'; jobId: string }
  | { outcome: 'cooling-down'; until: string }
  | { outcome: 'not-opted-in'; missingTags: string[] }
  | { outcome: 'refused'; code: string; message: string };

/** The namespace of request events' idempotency keys (API keys are scoped by the caller instead). */
export const REQUEST_EVENT_KEY_PREFIX = 'event#';

/** An alarm named `instanceId`: reset it with the default request, if it opted in and is not cooling down. */
export async function startFromAlarm(
  trigger: { instanceId: string; eventId: string; requestedBy: string },
  ports: AutomaticStartPorts,
): Promise<AutomaticOutcome> {
  const request = parseResetRequest({ instanceId: trigger.instanceId }, ports.config);
  const guard = await checkOptIn(request, ports);
  if (guard) return guard;

  const now = ports.clock.now();
  const held = await ports.cooldowns.get(trigger.instanceId);
  if (held && held.claimant === trigger.eventId && held.jobId && (await ports.store.get(held.jobId))) return { outcome: 'duplicate', jobId: held.jobId };
  if (held && held.claimant !== trigger.eventId && Date.parse(held.until) > now.getTime()) return { outcome: 'cooling-down', until: held.until };
  const until = new Date(now.getTime() + ports.config.alarmCooldownSeconds * 1000).toISOString();
  if (!(await ports.cooldowns.claim({ instanceId: trigger.instanceId, claimant: trigger.eventId, until }, now))) {
    const winner = await ports.cooldowns.get(trigger.instanceId);
    return { outcome: 'cooling-down', until: winner?.until ?? until };
  }
  return admit({ kind: 'alarm', request, eventId: trigger.eventId, requestedBy: trigger.requestedBy }, ports);
}

/** A `Reset Access Requested` event: the API's request body, started once per event id. */
export async function startFromRequestEvent(
  trigger: { request: ResetRequest; eventId: string; requestedBy: string },
  ports: AutomaticStartPorts,
): Promise<AutomaticOutcome> {
  const key = REQUEST_EVENT_KEY_PREFIX + trigger.eventId;
  const recorded = await ports.idempotency.get(key, ports.clock.now());
  if (recorded && recorded.request === requestFingerprint(trigger.request) && (await ports.store.get(recorded.jobId))) {
    return { outcome: 'duplicate', jobId: recorded.jobId };
  }
  const guard = await checkOptIn(trigger.request, ports);
  if (guard) return guard;
  return admit({ kind: 'request', request: trigger.request, eventId: trigger.eventId, requestedBy: trigger.requestedBy }, ports);
}

/** A deferred start back from its delay: starts it once its slot has come (the delay may be cut short by SQS's 15 min). */
export async function resumeDeferredStart(start: DeferredStart, ports: AutomaticStartPorts): Promise<AutomaticOutcome> {
  const wait = Date.parse(start.admitAt) - ports.clock.now().getTime();
  if (wait > 0) {
    await ports.deferral.later(start, Math.ceil(wait / 1000));
    return { outcome: 'deferred', admitAt: start.admitAt };
  }
  return startAdmitted(start, ports);
}

async function checkOptIn(request: ResetRequest, ports: AutomaticStartPorts): Promise<AutomaticOutcome | undefined> {
  const instance = await ports.compute.describeInstance(request.instanceId);
  if (!instance) return { outcome: 'refused', code: 'INSTANCE_NOT_FOUND', message: `instance ${request.instanceId} does not exist in ${ports.config.region}` };
  const missingTags = missingOptInTags(instance, requiredOptInTags('event', ports.config));
  return missingTags.length > 0 ? { outcome: 'not-opted-in', missingTags } : undefined;
}

async function admit(start: Omit<DeferredStart, 'admitAt'>, ports: AutomaticStartPorts): Promise<AutomaticOutcome> {
  const now = ports.clock.now();
  const admitAt = await reserveAdmission(ports.admission, EVENT_ADMISSION_BUCKET, now, ports.config.eventAdmission);
  if (admitAt.getTime() > now.getTime()) {
    await ports.deferral.later({ ...start, admitAt: admitAt.toISOString() }, Math.ceil((admitAt.getTime() - now.getTime()) / 1000));
    return { outcome: 'deferred', admitAt: admitAt.toISOString() };
  }
  return startAdmitted({ ...start, admitAt: admitAt.toISOString() }, ports);
}

async function startAdmitted(start: DeferredStart, ports: AutomaticStartPorts): Promise<AutomaticOutcome> {
  try {
    if (start.kind === 'request') {
      const { job, replayed } = await startResetIdempotently(start.request, ports, REQUEST_EVENT_KEY_PREFIX + start.eventId, {
        requestedBy: start.requestedBy,
        entry: 'event',
      });
      return replayed ? { outcome: 'duplicate', jobId: job.jobId } : { outcome: 'started', jobId: job.jobId };
    }
    return await startAlarmReset(start, ports);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    return { outcome: 'refused', code: error.code, message: error.message };
  }
}

/**
 * The cool-down names the job before the job is written, so that a redelivered event finds the
 * job it started. A refusal frees the cool-down (nothing was reset), except `ACTIVE_JOB`: the
 * instance is being reset already, which is what the cool-down is for.
 */
async function startAlarmReset(start: DeferredStart, ports: AutomaticStartPorts): Promise<AutomaticOutcome> {
  const now = ports.clock.now();
  const { instanceId } = start.request;
  const held = await ports.cooldowns.get(instanceId);
  if (held?.claimant === start.eventId && held.jobId && (await ports.store.get(held.jobId))) return { outcome: 'duplicate', jobId: held.jobId };
  const jobId = ports.ids.jobId();
  const until = new Date(now.getTime() + ports.config.alarmCooldownSeconds * 1000).toISOString();
  if (!(await ports.cooldowns.claim({ instanceId, claimant: start.eventId, until, jobId }, now))) {
    const winner = await ports.cooldowns.get(instanceId);
    return { outcome: 'cooling-down', until: winner?.until ?? until };
  }
  try {
    const job = await startReset(start.request, ports, start.requestedBy, { jobId, entry: 'event' });
    return { outcome: 'started', jobId: job.jobId };
  } catch (error) {
    if (error instanceof RefusedError && error.code !== 'ACTIVE_JOB') await ports.cooldowns.release(instanceId, start.eventId);
    throw error;
  }
}
