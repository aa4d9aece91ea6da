/**
 * The phase contract of docs/architecture.md#phase-contract, once for all phases: load the job, drop duplicate and late
 * messages, do the phase's AWS work, then either wait (write progress, send the same message back
 * with a delay) or finish (write the transition, then publish the next phases' events). A permanent
 * error, or a phase past its deadline, turns the job into a rollback. Calls into EC2's scarce
 * request buckets are paced (request-pacing.ts): a phase whose slot has not come waits for it.
 */
import { PermanentError, ResetAccessError, RetryableError, ThrottledError, errorCode } from '../errors';
import { isActive, type Job, type PhaseName, type PhaseRecord } from '../job/job';
import { firstPollSeconds, phaseDeadlineSeconds, type CorePorts, type OptionalPorts, type PhaseResult } from './phase';
import { phaseDefinition, phaseSteps, type PhaseSteps } from './phases';
import { nextPhases } from './plan';
import type { JobObserver, PhaseMessage, ResourceLink } from '../ports';
import { releaseRescueNetwork } from './rescue-network-lease';
import { isDue, pacedCompute, RequestPacedError, RequestPacer, type PacedSlot } from '../admission/request-pacing';
import { updateJob } from '../job/update-job';
import { afterEventDelaySeconds, pollDelaySeconds, throttleDelaySeconds } from './wait-policy';
import { unlinkedResources } from './wake-jobs';

/** What the runner is given: the core ports and those the phase's declaration asks for (infra/wiring/composition.ts builds them). */
export type RunnerPorts = CorePorts & Partial<OptionalPorts>;

export type PhaseRunOutcome = 'ignored' | 'waiting' | 'advanced' | 'rolling-back' | 'finished';

/**
 * One delivery of a phase message. `steps` replaces the registry's steps (tests); the phase's
 * declaration (deadline, pacing, undo) always comes from the registry.
 */
export async function runPhase(message: PhaseMessage, ports: RunnerPorts, steps: PhaseSteps = phaseSteps): Promise<PhaseRunOutcome> {
  const { store, log } = ports;
  const job = await store.get(message.jobId);
  const context = { jobId: message.jobId, phase: message.phase, attempt: message.attempt };
  if (!job) {
    log.warn('phase message for a job that does not exist', context);
    return 'ignored';
  }
  if (!job.current.includes(message.phase)) {
    await republishIfLost(job, message, ports);
    return 'ignored';
  }
  const record = job.phases[message.phase]!;
  if (message.attempt !== record.attempt) {
    log.info('stale phase message dropped', { ...context, recordedAttempt: record.attempt });
    await resendIfLost(job, message, record, ports);
    return 'ignored';
  }

  const definition = phaseDefinition(message.phase);
  const deadline = phaseDeadlineSeconds(job, definition, ports.config);
  // The deadline is for AWS work that hangs; the time the phase spent waiting for its turn at
  // AWS's request buckets does not count (the sweeper's job deadline still bounds the whole job).
  const overdue = (ports.clock.now().getTime() - Date.parse(record.startedAt)) / 1000 - (record.throttledSeconds ?? 0) > deadline;

  const pacer = new RequestPacer({ admission: ports.admission, clock: ports.clock, policy: ports.config.requestPacing }, record.pacedSlot);
  let result: PhaseResult;
  try {
    if (overdue) {
      throw new PermanentError('PHASE_DEADLINE', `phase ${message.phase} did not finish within ${deadline} s (waiting for ${record.waitingFor ?? 'AWS'})`);
    }
    const slot = await slotBeforeStart(job, message, record.pacedSlot, pacer, ports);
    if (slot) return waitForSlot(job, message, slot, ports, { beforeStep: true });
    result = await steps[message.phase](job, { ...(ports as Required<RunnerPorts>), compute: pacedCompute(ports.compute, pacer), pacer });
  } catch (error) {
    return handleError(job, message, error, ports, pacer);
  }

  if (result.kind === 'wait') {
    const delay =
      result.delaySeconds ??
      (result.onEvent
        ? afterEventDelaySeconds(ports.config, message.attempt, job.jobId)
        : pollDelaySeconds(ports.config, firstPollSeconds(definition, ports.config), message.attempt, job.jobId));
    let links: ResourceLink[] = [];
    const written = await updateDelivery(job, message, ports, (draft, current) => {
      nextAttempt(current, ports, delay);
      current.waitingFor = result.waitingFor;
      delete current.retries;
      delete current.throttles;
      delete current.pacedSlot;
      result.record?.(draft);
      links = noteLinks(draft);
    });
    if (!written) return 'ignored';
    await linkResources(links, ports);
    await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
    log.info('phase waiting', { ...context, waitingFor: result.waitingFor, delaySeconds: delay });
    return 'waiting';
  }

  return completePhase(job, message, result.record, ports);
}

/**
 * Writes a change of the phase delivery `message` to the job, only while that delivery is still
 * the phase's current one: a duplicate or late delivery declines (`undefined`), and a lost race
 * re-reads and judges again (update-job.ts).
 */
function updateDelivery(
  job: Job,
  message: PhaseMessage,
  ports: Pick<CorePorts, 'store' | 'clock'>,
  change: (draft: Job, record: PhaseRecord) => void,
): Promise<Job | undefined> {
  return updateJob(
    ports.store,
    job.jobId,
    ports.clock.now(),
    (draft) => {
      const current = draft.phases[message.phase];
      if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
      change(draft, current);
      return draft;
    },
    undefined,
    job,
  );
}

/** The delivery did not finish the phase: the next one is the next attempt, due in `delaySeconds`, and the phase has moved. */
function nextAttempt(record: PhaseRecord, ports: Pick<CorePorts, 'clock'>, delaySeconds: number): void {
  const now = ports.clock.now().getTime();
  record.attempt += 1;
  record.movedAt = new Date(now).toISOString();
  record.dueAt = new Date(now + delaySeconds * 1000).toISOString();
}

async function completePhase(job: Job, message: PhaseMessage, apply: ((job: Job) => void) | undefined, ports: RunnerPorts): Promise<PhaseRunOutcome> {
  const now = ports.clock.now().toISOString();
  let started: PhaseName[] = [];
  let links: ResourceLink[] = [];
  const written = await updateDelivery(job, message, ports, (draft, current) => {
    apply?.(draft);
    current.status = 'done';
    current.endedAt = now;
    delete current.waitingFor;
    delete current.retries;
    delete current.throttles;
    delete current.pacedSlot;
    draft.current = draft.current.filter((p) => p !== message.phase);
    draft.lastTransitionFrom = [message.phase];
    const next = message.phase === 'rollback' ? 'FAILED' : nextPhases(draft, message.phase);
    if (next === 'SUCCEEDED' || next === 'FAILED') {
      draft.status = next;
      draft.endedAt = now;
    } else {
      started = next;
      for (const phase of next) startPhaseRecord(draft, phase, now);
      links = noteLinks(draft);
    }
  });
  if (!written) return 'ignored';
  await linkResources(links, ports);
  ports.log.info('phase done', { jobId: job.jobId, phase: message.phase, next: started, status: written.status });
  const record = written.phases[message.phase]!;
  await observe(ports, (o) => o.phaseFinished(written, message.phase, (Date.parse(record.endedAt!) - Date.parse(record.startedAt)) / 1000));
  if (!isActive(written)) {
    await ports.store.releaseLock(written.instanceId, written.jobId);
    await releaseRescueNetwork(written, ports);
    await observe(ports, (o) => o.jobFinished(written));
    return 'finished';
  }
  if (started.length > 0) await ports.bus.publish(started.map((phase) => ({ jobId: job.jobId, phase, attempt: 0 })));
  return 'advanced';
}

/** Marks a phase started and records, before it acts, what rollback must undo (its declared `undoOnStart`). */
export function startPhaseRecord(job: Job, phase: PhaseName, now: string): void {
  job.phases[phase] = { status: 'running', startedAt: now, attempt: 0 };
  if (!job.current.includes(phase)) job.current.push(phase);
  const undo = phaseDefinition(phase).undoOnStart;
  if (undo && !job.undo.some((u) => u.kind === undo.kind)) job.undo.push(undo);
}

async function handleError(job: Job, message: PhaseMessage, error: unknown, ports: RunnerPorts, pacer: RequestPacer): Promise<PhaseRunOutcome> {
  if (error instanceof RequestPacedError) return waitForSlot(job, message, error.slot, ports);
  if (error instanceof ThrottledError) return retryThrottled(job, message, error, ports, pacer);
  const record = job.phases[message.phase]!;
  const retries = (record.retries ?? 0) + 1;
  const retryable = error instanceof RetryableError || !(error instanceof ResetAccessError);
  const context = { jobId: job.jobId, phase: message.phase, code: errorCode(error), error: (error as Error).message };
  if ((retryable && retries <= ports.config.maxRetries) || message.phase === 'rollback') {
    if (message.phase === 'rollback' && retries > ports.config.maxRetries) {
      return finishRollbackUnrestored(job, message, error, ports);
    }
    const first = firstPollSeconds(phaseDefinition(message.phase), ports.config);
    const delay = pollDelaySeconds(ports.config, first, retries, job.jobId);
    const written = await updateDelivery(job, message, ports, (_draft, current) => {
      nextAttempt(current, ports, delay);
      current.retries = retries;
      delete current.throttles;
      keepUnusedSlot(current, pacer);
      current.waitingFor = `retry after ${errorCode(error)}: ${(error as Error).message}`;
    });
    if (!written) return 'ignored';
    ports.log.warn('phase error, retrying', { ...context, retries });
    await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
    return 'waiting';
  }
  ports.log.error('phase failed, rolling back', context);
  return beginRollback(job.jobId, { code: errorCode(error), message: (error as Error).message, phase: message.phase }, ports, message);
}

/**
 * AWS throttled a call of the phase: nothing was done, so the phase runs again after a full-jitter
 * backoff that grows with each throttle in a row. It never counts against `maxRetries`, and the
 * backoff does not count against the phase's deadline: a fleet that throttles itself must not
 * fail its jobs. The sweeper's job deadline (`sweeper.jobDeadlineSeconds`) bounds it all.
 */
async function retryThrottled(job: Job, message: PhaseMessage, error: ThrottledError, ports: RunnerPorts, pacer: RequestPacer): Promise<PhaseRunOutcome> {
  const throttles = (job.phases[message.phase]!.throttles ?? 0) + 1;
  const delay = throttleDelaySeconds(ports.config, throttles, job.jobId, message.phase, message.attempt);
  const written = await updateDelivery(job, message, ports, (_draft, current) => {
    nextAttempt(current, ports, delay);
    current.throttles = throttles;
    current.throttledSeconds = (current.throttledSeconds ?? 0) + delay;
    current.waitingFor = `AWS throttled ${error.code}; trying again`;
    keepUnusedSlot(current, pacer);
  });
  if (!written) return 'ignored';
  ports.log.info('phase throttled, backing off', { jobId: job.jobId, phase: message.phase, code: error.code, throttles, delaySeconds: delay });
  await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
  return 'waiting';
}

/**
 * The slot this delivery must wait for before it does anything, if any: the ticket it holds when
 * that is not due yet (an early delivery: an AWS event woke the phase, the sweeper re-drove it, or
 * SQS's 15 min cut the delay short), or, on a phase's first delivery, the slot of the paced call
 * it starts with (its declared `pacedOnStart`), reserved before it reads anything. A slot that is due now
 * becomes the delivery's ticket.
 */
async function slotBeforeStart(
  job: Job,
  message: PhaseMessage,
  ticket: PacedSlot | undefined,
  pacer: RequestPacer,
  ports: RunnerPorts,
): Promise<PacedSlot | undefined> {
  const now = ports.clock.now();
  if (ticket) return isDue(ticket, now) ? undefined : ticket;
  const call = phaseDefinition(message.phase).pacedOnStart;
  if (!call || job.phases[message.phase]!.attempt !== 0) return undefined;
  // A first stop may join a batch rather than take a slot of its own (stop-batches.ts).
  if (message.phase === 'stop-target' && ports.stopBatches && ports.config.stopBatching.enabled) return undefined;
  const slot = await pacer.reserve(call);
  return isDue(slot, now) ? undefined : slot;
}

/**
 * The phase waits for its reserved slot of an EC2 request bucket: nothing was sent. Like a throttle
 * it costs time only (never `maxRetries`, never the phase's deadline), and it is not a wait for AWS
 * that an event could end.
 */
async function waitForSlot(
  job: Job,
  message: PhaseMessage,
  slot: PacedSlot,
  ports: RunnerPorts,
  options: { beforeStep?: boolean } = {},
): Promise<PhaseRunOutcome> {
  const delay = Math.max(1, Math.ceil((Date.parse(slot.at) - ports.clock.now().getTime()) / 1000));
  const written = await updateDelivery(job, message, ports, (_draft, current) => {
    nextAttempt(current, ports, delay);
    // An early delivery waits again for the slot it already waited for: counted once.
    if (current.pacedSlot?.at !== slot.at || current.pacedSlot.bucket !== slot.bucket) current.throttledSeconds = (current.throttledSeconds ?? 0) + delay;
    current.pacedSlot = slot;
    // Before its step ran, nothing was looked at or sent: the delivery at the slot is still the phase's first (isFirstDelivery).
    if (options.beforeStep && current.attempt - 1 === (current.slotWaits ?? 0)) current.slotWaits = (current.slotWaits ?? 0) + 1;
    current.waitingFor = `its turn at EC2's request bucket ${slot.bucket} (slot at ${slot.at})`;
  });
  if (!written) return 'ignored';
  ports.log.info('phase paced, waiting for its request slot', { jobId: job.jobId, phase: message.phase, bucket: slot.bucket, delaySeconds: delay });
  await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
  return 'waiting';
}

/** A delivery that failed before it used its slot keeps it for the next one; a used one is gone. */
function keepUnusedSlot(record: PhaseRecord, pacer: RequestPacer): void {
  const unused = pacer.unusedTicket;
  if (unused) record.pacedSlot = unused;
  else delete record.pacedSlot;
}

/** Marks, in a job about to be written, the resources it has learned and not yet linked. */
function noteLinks(draft: Job): ResourceLink[] {
  if (!isActive(draft)) return [];
  const links = unlinkedResources(draft);
  if (links.length > 0) draft.resources.linkedResources = [...(draft.resources.linkedResources ?? []), ...links.map((link) => link.resourceId)];
  return links;
}

/**
 * Links are what lets an AWS event wake the job sooner than its next look; without one the job
 * only waits longer. A failure to write them is logged, never the job's.
 */
async function linkResources(links: ResourceLink[], ports: RunnerPorts): Promise<void> {
  if (links.length === 0) return;
  try {
    await ports.store.linkResources(links);
  } catch (error) {
    ports.log.warn('could not link resources to the job; its waits fall back to polling', { jobId: links[0]!.jobId, error: (error as Error).message });
  }
}

/**
 * Turns a running job into a rollback (also used by cancel and by the sweeper for jobs past their
 * deadline). With `from`, only if that phase delivery is still the current one.
 */
export async function beginRollback(
  jobId: string,
  reason: { code: string; message: string; phase: PhaseName },
  ports: Pick<CorePorts, 'store' | 'bus' | 'clock' | 'log'>,
  from?: PhaseMessage,
): Promise<PhaseRunOutcome> {
  const now = ports.clock.now().toISOString();
  const written = await updateJob(ports.store, jobId, ports.clock.now(), (draft) => {
    if (draft.status !== 'RUNNING') return undefined;
    if (from && (!draft.current.includes(from.phase) || draft.phases[from.phase]?.attempt !== from.attempt)) return undefined;
    for (const phase of draft.current) {
      const record = draft.phases[phase]!;
      record.status = phase === reason.phase ? 'failed' : record.status;
      record.endedAt ??= now;
    }
    draft.lastTransitionFrom = draft.current;
    draft.current = [];
    draft.status = 'ROLLING_BACK';
    draft.error = reason;
    startPhaseRecord(draft, 'rollback', now);
    return draft;
  });
  if (!written) return 'ignored';
  await ports.bus.publish([{ jobId, phase: 'rollback', attempt: 0 }]);
  return 'rolling-back';
}

async function finishRollbackUnrestored(job: Job, message: PhaseMessage, error: unknown, ports: RunnerPorts): Promise<PhaseRunOutcome> {
  const now = ports.clock.now().toISOString();
  const written = await updateDelivery(job, message, ports, (draft, current) => {
    current.status = 'failed';
    current.endedAt = now;
    draft.current = [];
    draft.status = 'FAILED';
    draft.endedAt = now;
    draft.instanceRestored = false;
    draft.rollbackError = { code: errorCode(error), message: (error as Error).message, phase: 'rollback' };
  });
  if (!written) return 'ignored';
  ports.log.error('rollback gave up; instance not restored', { jobId: job.jobId, code: errorCode(error) });
  await ports.store.releaseLock(written.instanceId, written.jobId);
  await releaseRescueNetwork(written, ports);
  await observe(ports, (o) => o.jobFinished(written));
  return 'finished';
}

/** Observers never fail a job: what they could not do is logged. */
async function observe(ports: RunnerPorts, call: (observer: JobObserver) => Promise<void>): Promise<void> {
  try {
    await call(ports.observer);
  } catch (error) {
    ports.log.warn('observer failed', { error: (error as Error).message });
  }
}

/**
 * A crash between the transition write and the publish leaves a job whose next events were never
 * sent. The original message is then redelivered (it was never acknowledged) and lands here: if the
 * job's last transition came from this message's phase, publish the current phases again.
 * Duplicates are harmless: the attempt check drops all but one.
 */
async function republishIfLost(job: Job, message: PhaseMessage, ports: RunnerPorts): Promise<void> {
  if (!isActive(job) || !job.lastTransitionFrom?.includes(message.phase)) return;
  const pending = job.current.filter((phase) => job.phases[phase]?.attempt === 0);
  if (pending.length === 0) return;
  await ports.bus.publish(pending.map((phase) => ({ jobId: job.jobId, phase, attempt: 0 })));
}

/**
 * The same for a wait: a delivery that wrote the phase's next attempt and then could not send its
 * message (SendMessage failed, or the function was killed between the two) is redelivered by SQS
 * after its visibility timeout and lands here, one attempt behind. If the next delivery is overdue
 * by more than a delivery can be in flight, send it again now instead of leaving the phase stalled
 * until the sweeper. Any other stale delivery (a duplicate, a late one) sends nothing, so
 * duplicates do not multiply; one sent here beside a live one is dropped by the attempt check.
 */
async function resendIfLost(job: Job, message: PhaseMessage, record: PhaseRecord, ports: RunnerPorts): Promise<void> {
  if (!isActive(job) || record.status !== 'running' || message.attempt !== record.attempt - 1 || !record.dueAt) return;
  const overdueSeconds = (ports.clock.now().getTime() - Date.parse(record.dueAt)) / 1000;
  if (overdueSeconds <= ports.config.inFlightSettleSeconds) return;
  ports.log.warn('next phase delivery overdue: sent again', { jobId: job.jobId, phase: message.phase, attempt: record.attempt, overdueSeconds });
  await ports.scheduler.later({ ...message, attempt: record.attempt }, 0);
}
