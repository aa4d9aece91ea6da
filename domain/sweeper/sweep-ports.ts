/** What the sweeper and its passes are given. */
import type { ServiceConfig } from '../config';
import type { Clock, Compute, HelperPoolStore, JobStore, Log, PhaseBus, Reclaimer, RescueNetworkLeases, RescueNetworks, RescueRunner, Sleeper } from '../ports';

export interface SweeperPorts {
  store: JobStore;
  bus: PhaseBus;
  compute: Compute;
  reclaimer: Reclaimer;
  networkLeases: RescueNetworkLeases;
  sleeper: Sleeper;
  clock: Clock;
  log: Log;
  config: ServiceConfig;
  /** The warm pool of Windows helpers (helper-pool.ts): its record, the rescue network it lives in, their SSM agents. */
  helperPool?: HelperPoolStore;
  networks?: RescueNetworks;
  rescue?: RescueRunner;
}
