/**
 * Builds the ports the domain needs from AWS clients and settings. The Lambda handlers, the local
 * runtime and the in-process harness all wire through here; they differ only in what they pass.
 */
import type { ServiceConfig } from '../domain/config';
import type { PhasePorts } from '../domain/phase-runner';
import type { Clock, IdGenerator, JobStore, Log, PhaseBus, PhaseScheduler } from '../domain/ports';
import type { ApiPorts } from '../handlers/api-routes';
import type { AwsClients } from './aws/clients';
import { Ec2Compute } from './aws/ec2-compute';
import { Ec2RescueNetworks } from './aws/rescue-networks';
import { SsmRescueRunner } from './aws/ssm-rescue-runner';
import { randomJobIds } from './ids';

export interface WiringInput {
  clients: Pick<AwsClients, 'ec2' | 'ssm'>;
  config: ServiceConfig;
  store: JobStore;
  bus: PhaseBus;
  scheduler: PhaseScheduler;
  log: Log;
  clock?: Clock;
  ids?: IdGenerator;
}

export const systemClock: Clock = { now: () => new Date() };

export function wirePorts(input: WiringInput): PhasePorts & ApiPorts {
  const { clients, config } = input;
  return {
    store: input.store,
    bus: input.bus,
    scheduler: input.scheduler,
    compute: new Ec2Compute(clients.ec2, clients.ssm),
    networks: new Ec2RescueNetworks(clients.ec2),
    rescue: new SsmRescueRunner(clients.ssm, { region: config.region, rescueTimeoutSeconds: config.rescueTimeoutSeconds }),
    clock: input.clock ?? systemClock,
    ids: input.ids ?? randomJobIds,
    log: input.log,
    config,
  };
}
