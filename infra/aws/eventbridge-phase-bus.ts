/** Publishes phase events to the service's EventBridge bus; a rule per phase routes them to its queue. */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { PermanentError, RetryableError } from '../../domain/errors';
import type { PhaseBus, PhaseMessage } from '../../domain/ports';
import { EVENT_SOURCE, PHASE_REQUESTED_DETAIL_TYPE, phaseMessageJson } from '../messages/events';
import { translateAwsError } from './errors';

/**
 * Entries per PutEvents request: the API's `Entries` array holds 1 to 10 items
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
 */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/**
 * Per-entry error codes worth resending; the others (AccessDeniedException, InvalidArgument,
 * MalformedDetail, NotAuthorizedFor…) will fail again
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
 */
const RETRYABLE_ENTRY_ERRORS: ReadonlySet<string> = new Set(['InternalFailure', 'ThrottlingException']);

export interface EventBridgePhaseBusOptions {
  eventBusName: string;
  /** PutEvents calls per chunk, the first one included, before failed entries are given up. Default 4. */
  maxAttempts?: number;
  /** Backoff before the first resend, doubled for each next one (with jitter). Default 100 ms. */
  baseDelayMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

interface Pending {
  entry: PutEventsRequestEntry;
  failure?: PutEventsResultEntry;
}

export class EventBridgePhaseBus implements PhaseBus {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly events: EventBridgeClient,
    private readonly options: EventBridgePhaseBusOptions,
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async publish(messages: PhaseMessage[]): Promise<void> {
    const entries = messages.map((message) => this.entry(message));
    for (let start = 0; start < entries.length; start += PUT_EVENTS_MAX_ENTRIES) {
      await this.putChunk(entries.slice(start, start + PUT_EVENTS_MAX_ENTRIES));
    }
  }

  private entry(message: PhaseMessage): PutEventsRequestEntry {
    return { EventBusName: this.options.eventBusName, Source: EVENT_SOURCE, DetailType: PHASE_REQUESTED_DETAIL_TYPE, Detail: phaseMessageJson(message) };
  }

  /** Sends one chunk; resends only the entries that failed with a retryable code, with backoff. */
  private async putChunk(chunk: PutEventsRequestEntry[]): Promise<void> {
    let pending: Pending[] = chunk.map((entry) => ({ entry }));
    const rejected: Pending[] = [];
    for (let attempt = 1; pending.length > 0 && attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await this.sleep(backoff(this.baseDelayMs, attempt - 1));
      let output: PutEventsCommandOutput;
      try {
        output = await this.events.send(new PutEventsCommand({ Entries: pending.map((p) => p.entry) }));
      } catch (error) {
        throw translateAwsError(error, `EventBridge PutEvents to ${this.options.eventBusName}`);
      }
      if (!output.FailedEntryCount) {
        pending = [];
        break;
      }
      const result = output.Entries ?? [];
      // Result entries are in the order of the request entries; a failed one carries ErrorCode.
      const failed = pending.map((p, index) => ({ entry: p.entry, failure: result[index] })).filter((p) => p.failure?.ErrorCode || !p.failure?.EventId);
      pending = [];
      for (const p of failed) (RETRYABLE_ENTRY_ERRORS.has(p.failure?.ErrorCode ?? 'InternalFailure') ? pending : rejected).push(p);
    }
    this.settle(pending, rejected);
  }

  private settle(unsent: Pending[], rejected: Pending[]): void {
    const describe = (p: Pending) => `${p.failure?.ErrorCode ?? 'unknown'}: ${p.failure?.ErrorMessage ?? 'no message'}`;
    if (rejected.length > 0) {
      const code = rejected[0].failure?.ErrorCode ?? 'PutEventsEntryFailed';
      throw new PermanentError(code, `EventBridge refused ${rejected.length} phase event(s) on ${this.options.eventBusName}: ${describe(rejected[0])}`);
    }
    if (unsent.length > 0) {
      const code = unsent[0].failure?.ErrorCode ?? 'PutEventsEntryFailed';
      throw new RetryableError(code, `EventBridge did not take ${unsent.length} phase event(s) after ${this.maxAttempts} attempts: ${describe(unsent[0])}`);
    }
  }
}

/** Exponential backoff with full jitter over the upper half: base·2^(n-1) · [0.5, 1). */
function backoff(baseDelayMs: number, resend: number): number {
  const ceiling = baseDelayMs * 2 ** (resend - 1);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
