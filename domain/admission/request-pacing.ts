/**
 * Pacing of the service's own calls into EC2's scarcest request buckets (docs/aws-facts.md#ec2-request-throttling:
 * mutating actions 50 / 5 per s, RunInstances + StartInstances 5 / 2 per s, per account and region).
 * A fleet of jobs that sends its calls as they come and backs off when throttled wastes the bucket
 * it shares: a throttled phase runs again from its start and repeats the reads it made before the
 * refused call, and full-jitter backoff leaves unlucky jobs behind for minutes while others pass.
 *
 * Instead each such call first takes a slot of a token bucket that mirrors EC2's, shared by all
 * the service's functions (the GCRA of `admission.ts`, one item in the job table). A call whose
 * slot has come is sent; otherwise the slot stays reserved and the phase waits for it without
 * calling AWS (the phase runner sends its message back, due at the slot). Slots go out in the
 * order asked for: no job starves, and the bucket is kept busy at its refill rate. EC2 remains the
 * judge: a call it throttles anyway (other callers share the account's buckets) backs off as before.
 *
 * The slot a phase waits for is its ticket (`PhaseRecord.pacedSlot`): the delivery that comes back
 * for it sends its first call of that bucket without taking another slot.
 */
import { reserveAdmission } from './admission';
import type { PacingPolicy, PacingScope } from '../config';
export type { PacingPolicy, PacingScope } from '../config';
import { errorCode, RetryableError, ThrottledError } from '../errors';
import type { PacedSlot } from '../job/job';
import type { AdmissionStore, Clock, Compute } from '../ports';
export type { PacedSlot } from '../job/job';

/** EC2's request buckets the service paces its calls into (rows of the table in docs/aws-facts.md#ec2-request-throttling). */
export type PacedCategory = 'mutating' | 'runStart';

/** The Compute calls that draw from a paced bucket, with the EC2 action each sends and its row. */
export const PACED_CALLS = {
  stopInstance: { action: 'StopInstances', category: 'mutating' },
  createImage: { action: 'CreateImage', category: 'mutating' },
  attachVolume: { action: 'AttachVolume', category: 'mutating' },
  detachVolume: { action: 'DetachVolume', category: 'mutating' },
  setDeleteOnTermination: { action: 'ModifyInstanceAttribute', category: 'mutating' },
  launchInstance: { action: 'RunInstances', category: 'runStart' },
  startInstance: { action: 'StartInstances', category: 'runStart' },
} as const satisfies Partial<Record<keyof Compute, { action: string; category: PacedCategory }>>;

export type PacedCall = keyof typeof PACED_CALLS;

/** Reservations lost in a row before a delivery backs off (each lost one is a slot another took). */
const MAX_RACES = 100;

/** The job-table item of the bucket a call draws from. */
export function pacedBucket(call: PacedCall, scope: PacingScope): string {
  const { action, category } = PACED_CALLS[call];
  return scope === 'action' ? `ec2-${category}-${action}` : `ec2-${category}`;
}

/**
 * A paced call whose slot has not come: nothing was sent. Not a failure of the phase: it waits for
 * `slot` (reserved for it) and never counts against `maxRetries`.
 */
export class RequestPacedError extends RetryableError {
  constructor(readonly slot: PacedSlot) {
    super('REQUEST_PACED', `EC2 request slot of ${slot.bucket} reserved for ${slot.at}`);
  }
}

/** What one phase delivery needs to pace its calls. */
export interface RequestPacerPorts {
  admission: AdmissionStore;
  clock: Clock;
  policy: PacingPolicy;
}

/** The pacing of one phase delivery: the ticket it came back with, and the slots it takes. */
export class RequestPacer {
  private ticket?: PacedSlot;
  private ticketUsed = false;

  constructor(
    private readonly ports: RequestPacerPorts,
    ticket?: PacedSlot,
  ) {
    this.ticket = ticket;
  }

  /** The ticket while it is not used (kept when the delivery ends before its call). */
  get unusedTicket(): PacedSlot | undefined {
    return this.ticketUsed ? undefined : this.ticket;
  }

  /**
   * Takes a slot for `call`, about to be sent: the ticket if it is of the call's bucket, else a new
   * one. Throws `RequestPacedError` when that slot is later than now (it stays reserved).
   */
  async take(call: PacedCall): Promise<void> {
    const bucket = pacedBucket(call, this.ports.policy.scope);
    if (this.ticket && !this.ticketUsed && this.ticket.bucket === bucket) {
      if (!isDue(this.ticket, this.ports.clock.now())) throw new RequestPacedError(this.ticket);
      this.ticketUsed = true;
      return;
    }
    const slot = await this.reserve(call);
    if (!isDue(slot, this.ports.clock.now())) throw new RequestPacedError(slot);
    this.ticketUsed = true;
  }

  /** Reserves the next slot of `call`'s bucket and holds it as this delivery's (unused) ticket. */
  async reserve(call: PacedCall): Promise<PacedSlot> {
    const { policy, admission, clock } = this.ports;
    const at = await reserveAdmission(admission, pacedBucket(call, policy.scope), clock.now(), policy[PACED_CALLS[call].category], MAX_RACES).catch(
      (error: unknown) => {
        // Many deliveries reserving at the same moment: it costs time only, like a throttle.
        if (errorCode(error) === 'ADMISSION_CONTENDED') throw new ThrottledError('PACING_CONTENDED', (error as Error).message, { cause: error });
        throw error;
      },
    );
    this.ticket = { bucket: pacedBucket(call, policy.scope), at: at.toISOString() };
    this.ticketUsed = false;
    return this.ticket;
  }
}

/** A slot is due from its time on (a delivery delayed for it comes back at the whole second after). */
export function isDue(slot: PacedSlot, now: Date): boolean {
  return Date.parse(slot.at) <= now.getTime();
}

/** `compute` with each call of `PACED_CALLS` taking its slot from `pacer` before it is sent. */
export function pacedCompute(compute: Compute, pacer: RequestPacer): Compute {
  return new Proxy(compute, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (!Object.hasOwn(PACED_CALLS, property)) return value.bind(target);
      const call = property as PacedCall;
      return async (...args: unknown[]) => {
        await pacer.take(call);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
