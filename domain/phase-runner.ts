/**
 * The phase contract of DESIGN.md, once for all phases: load the job, drop duplicate and late
 * messages, do the phase's AWS work, then either wait (write progress, send the same message back
 * with a delay) or finish (write the transition, then publish the next phases' events). A permanent
 * error, or a phase past its deadline, turns the job into a rollback. Calls into EC2's scarce
 * request buckets are paced (request-pacing.ts): a phase whose slot has not come waits for it.
 */
import type { ServiceConfig } from './config';
import { PermanentError, ResetAccessError, RetryableError, ThrottledError, errorCode } from './errors';
import { isActive, type Job, type PhaseName, type PhaseRecord, type UndoStep } from './job';
import type { OnlinePorts } from './online-ports';
import { nextPhases } from './plan';
import type {
  AdmissionStore,
  Clock,
  Compute,
  EncryptionKeys,
  JobObserver,
  JobStore,
  Log,
  PhaseBus,
  PhaseMessage,
  PhaseScheduler,
  RescueNetworkLeases,
  RescueNetworks,
  RescueRunner,
  ResourceLink,
  StopBatchStore,
} from './ports';
import { releaseRescueNetwork } from './rescue-network-lease';
import { isDue, PACED_ON_START, pacedCompute, RequestPacedError, RequestPacer, type PacedSlot } from './request-pacing';
import { updateJob } from './update-job';
import { afterEventDelaySeconds, pollDelaySeconds, throttleDelaySeconds } from './wait-policy';
import { unlinkedResources } from './wake-jobs';

export interface PhasePorts {
  store: JobStore;
  bus: PhaseBus;
  scheduler: PhaseScheduler;
  compute: Compute;
  networks: RescueNetworks;
  networkLeases: RescueNetworkLeases;
  rescue: RescueRunner;
  /** The online reset (Run Command on the target, keys made here); without it every job is offline. */
  online?: OnlinePorts;
  /** KMS for the validate phase's key check (see `PreflightPorts.keys`). */
  keys?: EncryptionKeys;
  clock: Clock;
  log: Log;
  config: ServiceConfig;
  observer?: JobObserver;
  /**
   * Where the service's EC2 request buckets are kept (domain/request-pacing.ts): with it, calls into
   * the scarce buckets are paced; without it they are sent as they come.
   */
  admission?: AdmissionStore;
  /** Where stops shared while the mutating bucket has a queue are kept (domain/stop-batches.ts). */
  stopBatches?: StopBatchStore;
  /** The pacing of this delivery's calls (set by the runner when `admission` is given). */
  pacer?: RequestPacer;
}

/** What one delivery of a phase found: the phase is done, or must look again later. */
export type PhaseResult =
  | { kind: 'done'; record?: (job: Job) => void }
  | { kind: 'wait'; waitingFor: string; record?: (job: Job) => void; delaySeconds?: number; onEvent?: boolean };

export type PhaseStep = (job: Job, ports: PhasePorts) => Promise<PhaseResult>;

export type PhaseRunOutcome = 'ignored' | 'waiting' | 'advanced' | 'rolling-back' | 'finished';

/** Undo steps pushed when a phase starts (before it changes anything, so a crash cannot skip it). */
const UNDO_ON_START: Partial<Record<PhaseName, UndoStep>> = {
  'launch-helper': { kind: 'terminate-helper' },
  'stop-target': { kind: 'restore-run-state' },
  'detach-root': { kind: 'return-root-volume' },
};

export const done = (record?: (job: Job) => void): PhaseResult => ({ kind: 'done', record });
export const wait = (waitingFor: string, record?: (job: Job) => void, delaySeconds?: number): PhaseResult => ({
  kind: 'wait',
  waitingFor,
  record,
  delaySeconds,
});
/** A wait that an AWS event ends (domain/wake-jobs.ts): the delayed re-check is only its fallback. */
export const waitForEvent = (waitingFor: string, record?: (job: Job) => void): PhaseResult => ({ kind: 'wait', waitingFor, record, onEvent: true });

export async function runPhase(message: PhaseMessage, steps: Record<PhaseName, PhaseStep>, ports: PhasePorts): Promise<PhaseRunOutcome> {
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
    return 'ignored';
  }

  const now = ports.clock.now();
  const deadline = phaseDeadlineSeconds(job, message.phase, ports.config);
  // The deadline is for AWS work that hangs; the time the phase spent waiting for its turn at
  // AWS's request buckets does not count (the sweeper's job deadline still bounds the whole job).
  const overdue = (now.getTime() - Date.parse(record.startedAt)) / 1000 - (record.throttledSeconds ?? 0) > deadline;

  const pacer = ports.admission ? new RequestPacer({ admission: ports.admission, clock: ports.clock, policy: ports.config.requestPacing }, record.pacedSlot) : undefined;
  let result: PhaseResult;
  try {
    if (overdue) {
      throw new PermanentError('PHASE_DEADLINE', `phase ${message.phase} did not finish within ${deadline} s (waiting for ${record.waitingFor ?? 'AWS'})`);
    }
    if (pacer) {
      const slot = await slotBeforeStart(job, message, record.pacedSlot, pacer, ports);
      if (slot) return waitForSlot(job, message, slot, ports, { beforeStep: true });
    }
    result = await steps[message.phase](job, pacer ? { ...ports, compute: pacedCompute(ports.compute, pacer), pacer } : ports);
  } catch (error) {
    return handleError(job, message, error, ports, pacer);
  }

  if (result.kind === 'wait') {
    let links: ResourceLink[] = [];
    const written = await updateJob(store, job.jobId, ports.clock.now(), (draft) => {
      const current = draft.phases[message.phase];
      if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
      current.attempt += 1;
      current.movedAt = ports.clock.now().toISOString();
      current.waitingFor = result.waitingFor;
      delete current.retries;
      delete current.throttles;
      delete current.pacedSlot;
      result.record?.(draft);
      links = noteLinks(draft);
      return draft;
    }, undefined, job);
    if (!written) return 'ignored';
    await linkResources(links, ports);
    const delay =
      result.delaySeconds ??
      (result.onEvent ? afterEventDelaySeconds(ports.config, message.attempt, job.jobId) : pollDelaySeconds(ports.config, message.phase, message.attempt, job.jobId));
    await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
    log.info('phase waiting', { ...context, waitingFor: result.waitingFor, delaySeconds: delay });
    return 'waiting';
  }

  return completePhase(job, message, result.record, ports);
}

async function completePhase(job: Job, message: PhaseMessage, apply: ((job: Job) => void) | undefined, ports: PhasePorts): Promise<PhaseRunOutcome> {
  const now = ports.clock.now().toISOString();
  let started: PhaseName[] = [];
  let links: ResourceLink[] = [];
  const written = await updateJob(ports.store, job.jobId, ports.clock.now(), (draft) => {
    const current = draft.phases[message.phase];
    if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
    apply?.(draft);
    current.status = 'done';
    current.endedAt = now;
    delete current.waitingFor;
    delete current.retries;
    delete current.throttles;
    delete current.pacedSlot;
    draft.current = draft.current.filter((p) => p !== message.phase);
    draft.lastTransitionFrom = [message.phase];
    if (message.phase === 'rollback') {
      draft.status = 'FAILED';
      draft.endedAt = now;
      started = [];
      return draft;
    }
    const next = nextPhases(draft, message.phase);
    if (next === 'SUCCEEDED') {
      draft.status = 'SUCCEEDED';
      draft.endedAt = now;
      started = [];
    } else {
      started = next;
      for (const phase of next) startPhaseRecord(draft, phase, now);
      links = noteLinks(draft);
    }
    return draft;
  }, undefined, job);
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

/** Marks a phase started and records, before it acts, what rollback must undo. */
export function startPhaseRecord(job: Job, phase: PhaseName, now: string): void {
  job.phases[phase] = { status: 'running', startedAt: now, attempt: 0 };
  if (!job.current.includes(phase)) job.current.push(phase);
  const undo = UNDO_ON_START[phase];
  if (undo && !job.undo.some((u) => u.kind === undo.kind)) job.undo.push(undo);
}

async function handleError(job: Job, message: PhaseMessage, error: unknown, ports: PhasePorts, pacer?: RequestPacer): Promise<PhaseRunOutcome> {
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
    const written = await updateJob(ports.store, job.jobId, ports.clock.now(), (draft) => {
      const current = draft.phases[message.phase];
      if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
      current.attempt += 1;
      current.movedAt = ports.clock.now().toISOString();
      current.retries = retries;
      delete current.throttles;
      keepUnusedSlot(current, pacer);
      current.waitingFor = `retry after ${errorCode(error)}: ${(error as Error).message}`;
      return draft;
    }, undefined, job);
    if (!written) return 'ignored';
    ports.log.warn('phase error, retrying', { ...context, retries });
    await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, pollDelaySeconds(ports.config, message.phase, retries, job.jobId));
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
async function retryThrottled(job: Job, message: PhaseMessage, error: ThrottledError, ports: PhasePorts, pacer?: RequestPacer): Promise<PhaseRunOutcome> {
  const throttles = (job.phases[message.phase]!.throttles ?? 0) + 1;
  const delay = throttleDelaySeconds(ports.config, throttles, job.jobId, message.phase, message.attempt);
  const written = await updateJob(ports.store, job.jobId, ports.clock.now(), (draft) => {
    const current = draft.phases[message.phase];
    if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
    current.attempt += 1;
    current.movedAt = ports.clock.now().toISOString();
    current.throttles = throttles;
    current.throttledSeconds = (current.throttledSeconds ?? 0) + delay;
    current.waitingFor = `AWS throttled ${error.code}; trying again`;
    keepUnusedSlot(current, pacer);
    return draft;
  }, undefined, job);
  if (!written) return 'ignored';
  ports.log.info('phase throttled, backing off', { jobId: job.jobId, phase: message.phase, code: error.code, throttles, delaySeconds: delay });
  await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
  return 'waiting';
}

/**
 * The slot this delivery must wait for before it does anything, if any: the ticket it holds when
 * that is not due yet (an early delivery: an AWS event woke the phase, the sweeper re-drove it, or
 * SQS's 15 min cut the delay short), or, on a phase's first delivery, the slot of the paced call
 * it starts with (`PACED_ON_START`), reserved before it reads anything. A slot that is due now
 * becomes the delivery's ticket.
 */
async function slotBeforeStart(job: Job, message: PhaseMessage, ticket: PacedSlot | undefined, pacer: RequestPacer, ports: PhasePorts): Promise<PacedSlot | undefined> {
  const now = ports.clock.now();
  if (ticket) return isDue(ticket, now) ? undefined : ticket;
  const call = PACED_ON_START[message.phase];
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
async function waitForSlot(job: Job, message: PhaseMessage, slot: PacedSlot, ports: PhasePorts, options: { beforeStep?: boolean } = {}): Promise<PhaseRunOutcome> {
  const delay = Math.max(1, Math.ceil((Date.parse(slot.at) - ports.clock.now().getTime()) / 1000));
  const written = await updateJob(ports.store, job.jobId, ports.clock.now(), (draft) => {
    const current = draft.phases[message.phase];
    if (!draft.current.includes(message.phase) || current?.attempt !== message.attempt) return undefined;
    current.attempt += 1;
    current.movedAt = ports.clock.now().toISOString();
    // An early delivery waits again for the slot it already waited for: counted once.
    if (current.pacedSlot?.at !== slot.at || current.pacedSlot.bucket !== slot.bucket) current.throttledSeconds = (current.throttledSeconds ?? 0) + delay;
    current.pacedSlot = slot;
    // Before its step ran, nothing was looked at or sent: the delivery at the slot is still the phase's first (isFirstDelivery).
    if (options.beforeStep && current.attempt - 1 === (current.slotWaits ?? 0)) current.slotWaits = (current.slotWaits ?? 0) + 1;
    current.waitingFor = `its turn at EC2's request bucket ${slot.bucket} (slot at ${slot.at})`;
    return draft;
  }, undefined, job);
  if (!written) return 'ignored';
  ports.log.info('phase paced, waiting for its request slot', { jobId: job.jobId, phase: message.phase, bucket: slot.bucket, delaySeconds: delay });
  await ports.scheduler.later({ ...message, attempt: message.attempt + 1 }, delay);
  return 'waiting';
}

/** A delivery that failed before it used its slot keeps it for the next one; a used one is gone. */
function keepUnusedSlot(record: PhaseRecord, pacer: RequestPacer | undefined): void {
  const unused = pacer?.unusedTicket;
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
async function linkResources(links: ResourceLink[], ports: PhasePorts): Promise<void> {
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
  ports: Pick<PhasePorts, 'store' | 'bus' | 'clock' | 'log'>,
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

async function finishRollbackUnrestored(job: Job, message: PhaseMessage, error: unknown, ports: PhasePorts): Promise<PhaseRunOutcome> {
  const now = ports.clock.now().toISOString();
  const written = await updateJob(ports.store, job.jobId, ports.clock.now(), (draft) => {
    const current = draft.phases.rollback;
    if (!draft.current.includes('rollback') || current?.attempt !== message.attempt) return undefined;
    current.status = 'failed';
    current.endedAt = now;
    draft.current = [];
    draft.status = 'FAILED';
    draft.endedAt = now;
    draft.instanceRestored = false;
    draft.rollbackError = { code: errorCode(error), message: (error as Error).message, phase: 'rollback' };
    return draft;
  }, undefined, job);
  if (!written) return 'ignored';
  ports.log.error('rollback gave up; instance not restored', { jobId: job.jobId, code: errorCode(error) });
  await ports.store.releaseLock(written.instanceId, written.jobId);
  await releaseRescueNetwork(written, ports);
  await observe(ports, (o) => o.jobFinished(written));
  return 'finished';
}

/** Observers never fail a job: what they could not do is logged. */
async function observe(ports: PhasePorts, call: (observer: JobObserver) => Promise<void>): Promise<void> {
  if (!ports.observer) return;
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
async function republishIfLost(job: Job, message: PhaseMessage, ports: PhasePorts): Promise<void> {
  if (!isActive(job) || !job.lastTransitionFrom?.includes(message.phase)) return;
  const pending = job.current.filter((phase) => job.phases[phase]?.attempt === 0);
  if (pending.length === 0) return;
  await ports.bus.publish(pending.map((phase) => ({ jobId: job.jobId, phase, attempt: 0 })));
}

export function phaseDeadlineSeconds(job: Job, phase: PhaseName, config: ServiceConfig): number {
  if (job.platform === 'windows' && (phase === 'launch-helper' || phase === 'restore-target' || phase === 'attach-to-helper')) {
    return Math.max(config.windowsLaunchDeadlineSeconds, config.phaseDeadlineSeconds[phase]);
  }
  return config.phaseDeadlineSeconds[phase];
}
