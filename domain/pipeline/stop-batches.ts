/**
 * Shared stops. In a fleet, EC2's mutating bucket (50, then 5 per second: docs/aws-facts.md#ec2-request-throttling,
 * "Throttling") is what every job waits on, and each job needs seven of its requests: the stop,
 * the backup image, two detaches, two attaches and the DeleteOnTermination restore. StopInstances
 * is the only one of them that takes many instances (EC2 API reference, StopInstances:
 * `InstanceIds`), so while the bucket has a queue the stops share requests:
 *
 * - a stop whose request slot would be now is sent at once, alone, as before;
 * - otherwise it joins the open batch, or (none open) reserves its slot and opens a batch there;
 * - the first member delivered at the batch's slot closes it (its list is final) and sends one
 *   StopInstances for the members whose jobs still wait for it (read back from the job table, so
 *   that a job that rolled back, or a duplicate delivery that joined a batch its job never
 *   recorded, is never stopped by it), then records what it sent;
 * - a member whose instance was sent goes on as if it had sent the stop itself; any other outcome
 *   (refused, left out, the closer gone) sends the member back to stopping its instance alone,
 *   after looking at it: no job ends up waiting on a stop nobody sent.
 *
 * A rollback never leaves a stop behind it. The sender counts a member only if its job, read after
 * the batch was closed, still waits on it; a job that rolls back later began its rollback after that
 * read, and every rollback first waits `inFlightSettleSeconds` (the phase functions' timeout) for
 * such a sender to be over. As a second guard the rollback takes its instance out of an open batch,
 * or waits for a closed one to be sent or its closer to be over, before it looks at the instance
 * (`pendingStopBatch`). Both rest on the phase functions' timeout being `inFlightSettleSeconds`.
 *
 * Slots go out in order (request-pacing.ts), so a stop that joins a batch whose slot is still to
 * come never waits longer than with a slot of its own; a batch whose slot has passed is not joined.
 */
import { errorCode, ThrottledError } from '../errors';
import type { Job } from '../job/job';
import { wait, type PhasePorts, type PhaseResult } from './phase';
import type { StopBatch } from '../ports';
import { isDue } from '../admission/request-pacing';

type StopBatchPorts = PhasePorts<'stopBatches'>;

/** A member that learns of its batch this long after it was sent looks at its instance first (its stop event may have passed). */
const LATE_LEARNING_SECONDS = 20;
/** How often a member looks again at a batch another member is sending. */
const SENDING_POLL_SECONDS = 2;
/** Batch items outlive any job that could read them. */
const BATCH_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * What following a batch came to: a phase result; or the member stops its instance alone (after
 * looking at it); or (EC2 throttled the batch's request, so nothing was done) it starts over.
 */
export type BatchOutcome = { result: PhaseResult } | { alone: string } | { again: string };

/** How a batch whose request EC2 throttled is recorded (`StopBatch.error`): nothing was stopped. */
const THROTTLED_PREFIX = 'THROTTLED ';

/**
 * The first stop of a running target, when batching is on: joins the open batch, or opens one at
 * the stop's slot when that slot is not now. `undefined`: stop alone (the slot is now, or another
 * batch was opened at the same moment; the reserved slot is then this delivery's ticket).
 */
export async function enterStopBatch(job: Job, ports: StopBatchPorts): Promise<PhaseResult | undefined> {
  const { stopBatches: batches, pacer, clock, config } = ports;
  if (!pacer || !config.stopBatching.enabled) return undefined;
  const current = await batches.current();
  const joinable = current?.state === 'open' && Date.parse(current.at) > clock.now().getTime();
  if (joinable && (await batches.join(current.batchId, job.instanceId, config.stopBatching.maxInstances))) {
    return awaitSlot(job, current, ports, `its stop, batched with others (batch ${current.batchId})`);
  }
  const slot = await pacer.reserve('stopInstance');
  const now = clock.now();
  if (isDue(slot, now)) return undefined;
  const batch = { batchId: `${job.jobId}-${Date.parse(slot.at)}`, at: slot.at, instanceIds: [job.instanceId] };
  if (!(await batches.open(batch, current?.batchId, new Date(now.getTime() + BATCH_RETENTION_MS)))) return undefined;
  return awaitSlot(job, batch, ports, `its stop, in the batch it opened (batch ${batch.batchId})`);
}

/** A member waits for its batch's slot: like a paced call, the time counts against neither retries nor the deadline. */
function awaitSlot(job: Job, batch: Pick<StopBatch, 'batchId' | 'at'>, ports: StopBatchPorts, waitingFor: string): PhaseResult {
  const delay = Math.max(1, Math.ceil((Date.parse(batch.at) - ports.clock.now().getTime()) / 1000));
  return wait(
    waitingFor,
    (draft) => {
      draft.resources.stopBatch = { batchId: batch.batchId, at: batch.at };
      const record = draft.phases['stop-target'];
      if (record) record.throttledSeconds = (record.throttledSeconds ?? 0) + delay;
    },
    delay,
  );
}

/** A delivery of a member of a batch: wait for its slot, send it (first member there), or learn what became of it. */
export async function followStopBatch(job: Job, ports: StopBatchPorts): Promise<BatchOutcome> {
  const recorded = job.resources.stopBatch!;
  const { clock } = ports;
  const batches = ports.stopBatches;
  const now = clock.now();
  // An early delivery (an event woke the job): the slot has not come.
  if (now.getTime() < Date.parse(recorded.at)) {
    return {
      result: wait(
        `its stop, batched (batch ${recorded.batchId}, slot at ${recorded.at})`,
        undefined,
        Math.ceil((Date.parse(recorded.at) - now.getTime()) / 1000),
      ),
    };
  }
  let batch = await batches.get(recorded.batchId);
  if (batch?.state === 'open') batch = (await closeAndSend(job, batch, ports)) ?? (await batches.get(recorded.batchId));
  if (!batch) return { alone: `batch ${recorded.batchId} is gone` };
  switch (batch.state) {
    case 'sent': {
      if (!batch.sentInstanceIds?.includes(job.instanceId)) return { alone: `batch ${batch.batchId} was sent without it` };
      const sentAt = batch.sentAt!;
      if ((now.getTime() - Date.parse(sentAt)) / 1000 > LATE_LEARNING_SECONDS)
        return { alone: `batch ${batch.batchId} was sent at ${sentAt}; looking at the target` };
      return {
        result: {
          kind: 'wait',
          waitingFor: `target to stop (stopped with batch ${batch.batchId})`,
          onEvent: true,
          record: (draft) => {
            delete draft.resources.stopBatch;
            draft.resources.stopRequestedAt = sentAt;
            draft.resources.stopEscalation = 0;
          },
        },
      };
    }
    case 'failed':
      if (batch.error?.startsWith(THROTTLED_PREFIX)) return { again: `batch ${batch.batchId} was throttled (${batch.error})` };
      return { alone: `batch ${batch.batchId} was refused (${batch.error ?? 'no reason given'})` };
    case 'closed':
      if (closerIsOver(batch, now, ports)) return { alone: `batch ${batch.batchId} was closed at ${batch.closedAt} and never sent` };
      return { result: wait(`its stop, being sent with batch ${batch.batchId} by job ${batch.closedBy}`, undefined, SENDING_POLL_SECONDS) };
    case 'open':
      // Closed and reopened cannot happen; a batch still open here lost every close race: look again.
      return { result: wait(`its stop, batched (batch ${batch.batchId})`, undefined, SENDING_POLL_SECONDS) };
  }
}

/**
 * Closes the batch (answers undefined when another member closed it first) and sends one
 * StopInstances for the members whose jobs still wait on it, then records what it sent.
 */
async function closeAndSend(job: Job, batch: StopBatch, ports: StopBatchPorts): Promise<StopBatch | undefined> {
  const batches = ports.stopBatches;
  const closed = await batches.close(batch.batchId, job.jobId, ports.clock.now());
  if (!closed) return undefined;
  const members = await waitingMembers(closed, job, ports);
  try {
    if (members.length > 0) await ports.compute.stopInstances(members);
  } catch (error) {
    // Refused: every member stops alone after looking. Throttled (nothing done): they start over.
    const throttled = error instanceof ThrottledError;
    await batches.settle(closed.batchId, { error: `${throttled ? THROTTLED_PREFIX : ''}${errorCode(error)}: ${(error as Error).message}` });
    ports.log.warn(throttled ? 'stop batch throttled; its members batch again' : 'stop batch refused; its members stop alone', {
      batchId: closed.batchId,
      instances: members.length,
      code: errorCode(error),
    });
    return batches.get(closed.batchId);
  }
  // A failure to record it (after EC2 took it) leaves the batch closed: members then look at their instances once the closer is over.
  await batches.settle(closed.batchId, { sentAt: ports.clock.now().toISOString(), instanceIds: members });
  ports.log.info('stop batch sent', { batchId: closed.batchId, instances: members.length, left: closed.instanceIds.length - members.length });
  return batches.get(closed.batchId);
}

/** The instances of a closed batch whose job (holding the instance's lock) is running, in stop-target, and recorded this batch. */
async function waitingMembers(batch: StopBatch, closer: Job, ports: StopBatchPorts): Promise<string[]> {
  const checks = await Promise.all(
    batch.instanceIds.map(async (instanceId) => {
      // A member whose job cannot be read now is left out: it learns it was not sent, and stops alone.
      const job = instanceId === closer.instanceId ? closer : await jobHolding(instanceId, ports).catch(() => undefined);
      const waiting = job?.status === 'RUNNING' && job.current.includes('stop-target') && job.resources.stopBatch?.batchId === batch.batchId;
      return waiting ? instanceId : undefined;
    }),
  );
  return checks.filter((id): id is string => id !== undefined);
}

async function jobHolding(instanceId: string, ports: StopBatchPorts): Promise<Job | undefined> {
  const lock = await ports.store.getLock(instanceId);
  return lock ? ports.store.get(lock.jobId) : undefined;
}

/** The member that closed the batch has finished its invocation by now: what it sent has landed. */
function closerIsOver(batch: StopBatch, now: Date, ports: StopBatchPorts): boolean {
  return now.getTime() >= Date.parse(batch.closedAt!) + ports.config.inFlightSettleSeconds * 1000;
}

/**
 * For a rollback: what it must wait for before it looks at the target's run state, if anything.
 * An open batch gives the instance back; a closed one is waited for until it is sent or refused, or
 * until its closer's invocation is over. Convergent: it can run on every delivery.
 */
export async function pendingStopBatch(job: Job, ports: StopBatchPorts): Promise<{ waitingFor: string } | undefined> {
  const recorded = job.resources.stopBatch;
  const batches = ports.stopBatches;
  if (!recorded) return undefined;
  let batch = await batches.get(recorded.batchId);
  if (batch?.state === 'open' && batch.instanceIds.includes(job.instanceId)) {
    // Many rollbacks leaving one batch at once can contend: that is a wait, not a failed undo step.
    const left = await batches.leave(batch.batchId, job.instanceId).catch((error: unknown) => {
      if (errorCode(error) === 'STOP_BATCH_CONTENDED') return false;
      throw error;
    });
    if (left) return undefined;
    // Closed (or still contended) meanwhile: what it is now decides.
    batch = await batches.get(recorded.batchId);
  }
  if (!batch || batch.state === 'sent' || batch.state === 'failed' || !batch.instanceIds.includes(job.instanceId)) return undefined;
  if (batch.state === 'closed' && closerIsOver(batch, ports.clock.now(), ports)) return undefined;
  return { waitingFor: `the stop batch ${recorded.batchId} the target is in to be sent or refused` };
}
