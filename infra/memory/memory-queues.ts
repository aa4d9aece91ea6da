/**
 * The bus and the phase queues in memory, on a supplied clock, for in-process harnesses: one
 * `VirtualQueue` is both the `PhaseBus` (a published event is due now) and the `PhaseScheduler`
 * (a delayed message is due later). The harness takes what is due and runs the phases.
 */
import type { PhaseBus, PhaseMessage, PhaseScheduler } from '../../domain/ports';

export interface VirtualClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** One call to the queue, as the fault hook sees it. */
export interface QueueSend {
  via: 'publish' | 'later';
  message: PhaseMessage;
  delaySeconds: number;
}

/**
 * What to do with one send: deliver it (the default), `drop` it (a lost event), `duplicate` it
 * (at-least-once delivery), or deliver it `{ delaySeconds }` later than asked. A hook may also
 * throw, to fail the call as the real client would.
 */
export type QueueFault = 'deliver' | 'drop' | 'duplicate' | { delaySeconds: number } | undefined | void;

export interface DueMessage {
  message: PhaseMessage;
  dueAt: number;
  via: 'publish' | 'later';
  /** The queue entry: the same on each receive of one message (SQS's MessageId). */
  id: number;
  /** How often it was received before (SQS's ApproximateReceiveCount, less one). */
  receives: number;
}

export class VirtualQueue implements PhaseBus, PhaseScheduler {
  private pending: Array<DueMessage & { seq: number }> = [];
  private ids = 0;
  private seq = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly options: { fault?: (send: QueueSend) => QueueFault } = {},
  ) {}

  async publish(messages: PhaseMessage[]): Promise<void> {
    for (const message of messages) this.send({ via: 'publish', message, delaySeconds: 0 });
  }

  async later(message: PhaseMessage, delaySeconds: number): Promise<void> {
    this.send({ via: 'later', message, delaySeconds: Math.max(0, delaySeconds) });
  }

  /**
   * A delivery whose handler failed: the message comes back after the visibility timeout. It
   * bypasses the fault hook (the hook models the senders, not SQS itself).
   */
  redeliver(message: PhaseMessage, afterSeconds: number, entry?: { id: number; receives: number }): void {
    this.pending.push({
      message: { ...message },
      dueAt: this.clock.now() + afterSeconds * 1000,
      via: 'later',
      seq: this.seq++,
      id: entry?.id ?? this.ids++,
      receives: entry ? entry.receives + 1 : 1,
    });
  }

  /** Removes and answers the messages due now, earliest first (in sending order on a tie). */
  takeDue(): DueMessage[] {
    const now = this.clock.now();
    const due = this.pending.filter((entry) => entry.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    this.pending = this.pending.filter((entry) => entry.dueAt > now);
    return due.map(({ message, dueAt, via, id, receives }) => ({ message, dueAt, via, id, receives }));
  }

  /** When the next message is due (ms), or `undefined` when the queue is empty. */
  nextDueAt(): number | undefined {
    return this.pending.length === 0 ? undefined : Math.min(...this.pending.map((entry) => entry.dueAt));
  }

  /** How many messages wait, due or not. */
  get size(): number {
    return this.pending.length;
  }

  private send(send: QueueSend): void {
    const fault = this.options.fault?.({ ...send, message: { ...send.message } });
    if (fault === 'drop') return;
    const extra = typeof fault === 'object' && fault !== null ? Math.max(0, fault.delaySeconds) : 0;
    const copies = fault === 'duplicate' ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      this.pending.push({
        message: { ...send.message },
        dueAt: this.clock.now() + (send.delaySeconds + extra) * 1000,
        via: send.via,
        seq: this.seq++,
        id: this.ids++,
        receives: 0,
      });
    }
  }
}
