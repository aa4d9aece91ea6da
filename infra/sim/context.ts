import type { EventOrigin, SimEvent } from './events';
import type { IdFactory } from './ids';
import type { ScriptRunnerRegistry } from './script-runners';
import type { RegionState, Transition } from './state';
import type { SimTimings } from './timings';

/** Fixed facts about the simulated region. */
export interface RegionConfig {
  regionName: string;
  accountId: string;
  availabilityZones: string[];
  quotas: { vpcs: number; internetGateways: number };
}

/** How the current call should misbehave, decided by the fault injector. */
export interface CallFaults {
  /** The call succeeds, but the asynchronous work it starts fails later. */
  asyncFailure?: { message?: string };
}

/**
 * What the service modules (`ec2-*.ts`, `ssm-service.ts`, `ssm-run-command.ts`) need from the
 * region: its state, simulated time, scheduling and event emission. Implemented by `SimulatedRegion`.
 */
export interface RegionContext {
  readonly state: RegionState;
  readonly config: RegionConfig;
  readonly timings: SimTimings;
  readonly ids: IdFactory;
  readonly scriptRunners: ScriptRunnerRegistry;
  /** The time of the call being served, or of the transition being applied. */
  now(): number;
  /** Applies `transition` once the clock reaches `now() + delayMs`. */
  schedule(delayMs: number, transition: Transition): void;
  /** Queues an event; listeners get it when the current call or tick ends. */
  emit(build: (origin: EventOrigin) => SimEvent): void;
}
