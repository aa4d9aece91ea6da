/**
 * What the benchmark counts around a `VirtualStack`: DynamoDB reads and writes (each call of a store
 * port is one request to the table), phase events published (EventBridge PutEvents entries), delayed
 * re-checks sent (SQS SendMessage with a delay), and the AWS calls the simulated region served.
 */
import type { VirtualStack } from '../infra/local/virtual-stack';

export interface Counts {
  dynamoReads: number;
  dynamoWrites: number;
  phaseEvents: number;
  delayedSends: number;
  /** AWS service events (state changes, command status) the simulated region emitted. */
  awsEvents: number;
}

/** The ports that are stores in DynamoDB when deployed (each method call is one request). */
const STORE_PORTS = ['store', 'networkLeases', 'idempotency', 'cooldowns', 'admission'] as const;
/** Methods that only read; every other method of a store writes (conditional writes included). */
const READ_METHOD = /^(get|list|read|find|resourceLink)/;

export class Meter {
  readonly counts: Counts = { dynamoReads: 0, dynamoWrites: 0, phaseEvents: 0, delayedSends: 0, awsEvents: 0 };

  constructor(private readonly stack: VirtualStack) {
    const ports = stack.ports as unknown as Record<string, unknown>;
    const seen = new Set<object>();
    for (const name of STORE_PORTS) {
      const port = ports[name];
      if (typeof port === 'object' && port !== null && !seen.has(port)) {
        seen.add(port);
        this.wrapStore(port as Record<string, unknown>);
      }
    }
    const queue = stack.queue as unknown as Record<string, (...args: never[]) => Promise<void>>;
    const publish = queue.publish!.bind(stack.queue);
    const later = queue.later!.bind(stack.queue);
    queue.publish = (async (messages: unknown[]) => {
      this.counts.phaseEvents += messages.length;
      return publish(messages as never);
    }) as never;
    queue.later = (async (message: unknown, delay: number) => {
      this.counts.delayedSends += 1;
      return later(message as never, delay as never);
    }) as never;
    stack.region.onEvent(() => void (this.counts.awsEvents += 1));
  }

  /** A copy of the counts now, to subtract from a later one. */
  snapshot(): Counts & { calls: number } {
    return { ...this.counts, calls: this.stack.region.calls.length };
  }

  /** AWS calls by action since `from` (an index into `region.calls`), throttled ones included. */
  callsSince(from: number): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const call of this.stack.region.calls.slice(from)) counts[call.action] = (counts[call.action] ?? 0) + 1;
    return counts;
  }

  private wrapStore(port: Record<string, unknown>): void {
    const prototype = Object.getPrototypeOf(port) as Record<string, unknown>;
    const names = new Set([...Object.getOwnPropertyNames(prototype), ...Object.keys(port)]);
    for (const name of names) {
      const method = port[name];
      if (name === 'constructor' || typeof method !== 'function') continue;
      const original = (method as (...args: unknown[]) => unknown).bind(port);
      const reads = READ_METHOD.test(name);
      port[name] = (...args: unknown[]) => {
        if (reads) this.counts.dynamoReads += 1;
        // linkResources writes one item per link.
        else this.counts.dynamoWrites += name === 'linkResources' && Array.isArray(args[0]) ? args[0].length : 1;
        return original(...args);
      };
    }
  }
}

/** `b - a` for every count. */
export function difference(a: Counts, b: Counts): Counts {
  return {
    dynamoReads: b.dynamoReads - a.dynamoReads,
    dynamoWrites: b.dynamoWrites - a.dynamoWrites,
    phaseEvents: b.phaseEvents - a.phaseEvents,
    delayedSends: b.delayedSends - a.delayedSends,
    awsEvents: b.awsEvents - a.awsEvents,
  };
}
