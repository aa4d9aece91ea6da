import { createHash } from 'node:crypto';

/** What the id factory keeps between runs, part of the region's exported state. */
export interface IdFactoryState {
  seed: string;
  counter: number;
}

/**
 * Makes AWS-shaped identifiers (`i-` + 17 hex digits, UUIDs…) and pseudo-random numbers,
 * deterministically from a seed and a counter, so that a run can be replayed and a saved region
 * resumed without collisions.
 */
export class IdFactory {
  constructor(private readonly state: IdFactoryState) {}

  private nextHex(): string {
    this.state.counter += 1;
    return createHash('sha256').update(`${this.state.seed}/${this.state.counter}`).digest('hex');
  }

  /** `prefix-` followed by 17 hex digits, e.g. `i-0a1b…`, `vol-…`, `ami-…`. */
  resourceId(prefix: string): string {
    return `${prefix}-0${this.nextHex().slice(0, 16)}`;
  }

  /** `prefix-` and 8 hex digits, the shape of Spot request ids (`sir-…`). */
  shortId(prefix: string): string {
    return `${prefix}-${this.nextHex().slice(0, 8)}`;
  }

  uuid(): string {
    const h = this.nextHex();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** A number in [0, 1). */
  random(): number {
    return parseInt(this.nextHex().slice(0, 12), 16) / 2 ** 48;
  }

  /** An address from Amazon's public pool shape (3.x.y.z), for auto-assigned public IPs. */
  publicIp(): string {
    const h = this.nextHex();
    const octet = (i: number) => (parseInt(h.slice(i, i + 2), 16) % 254) + 1;
    return `3.${80 + (octet(0) % 16)}.${octet(2)}.${octet(4)}`;
  }
}
