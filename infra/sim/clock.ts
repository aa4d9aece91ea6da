/**
 * Time as the simulated region sees it. Every timed transition (an instance leaving `pending`, a
 * volume finishing `attaching`…) is computed from this clock, lazily, so a clock may jump.
 */
export interface Clock {
  /** Milliseconds since the epoch, in simulated time. */
  now(): number;
}

/** A clock that moves only when told to: for tests and virtual-time drivers. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: number = Date.UTC(2025, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  set(time: number): void {
    if (time < this.current) throw new Error(`ManualClock cannot go back in time (${time} < ${this.current})`);
    this.current = time;
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }
}

/**
 * Simulated time that runs `speed` times as fast as real time, from `start` (default: now).
 * `new ScaledClock(1)` is the real clock; `new ScaledClock(20)` makes a 60 s stop take 3 s.
 */
export class ScaledClock implements Clock {
  private readonly realStart = Date.now();
  private readonly simStart: number;

  constructor(
    readonly speed: number,
    start?: number,
  ) {
    if (!(speed > 0)) throw new Error(`ScaledClock speed must be positive, got ${speed}`);
    this.simStart = start ?? this.realStart;
  }

  now(): number {
    return Math.floor(this.simStart + (Date.now() - this.realStart) * this.speed);
  }

  /** Real milliseconds that `simMs` of simulated time take on this clock. */
  realDelay(simMs: number): number {
    return simMs / this.speed;
  }
}
