/**
 * Builds the ports the domain needs from AWS clients and settings. The Lambda handlers, the local
 * runtime and the in-process harness all wire through here; they differ only in what they pass.
 */
import type { ServiceConfig } from '../domain/config';
import type { PhasePorts } from '../domain/phase-runner';
import type { AutomaticStartPorts } from '../domain/automatic-start';
import type { SweeperPorts } from '../domain/sweeper';
import type {
  AdmissionStore,
  StopBatchStore,
  Clock,
  CooldownStore,
  EncryptionKeys,
  IdempotencyStore,
  IdGenerator,
  JobObserver,
  JobStore,
  Log,
  PhaseBus,
  PhaseScheduler,
  RescueNetworkLeases,
  RescueNetworks,
  RescueRunner,
  Sleeper,
  StartDeferral,
} from '../domain/ports';
import type { OnlinePorts } from '../domain/online-ports';
import type { ApiPorts } from '../handlers/api-routes';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from './aws/clients';
import { DynamoAdmissionStore } from './aws/dynamodb-admission-store';
import { DynamoStopBatchStore } from './aws/dynamodb-stop-batch-store';
import { DynamoCooldownStore } from './aws/dynamodb-cooldown-store';
import { DynamoIdempotencyStore } from './aws/dynamodb-idempotency-store';
import { EventBridgeJobEvents } from './aws/eventbridge-job-events';
import { Ec2Compute } from './aws/ec2-compute';
import { Ec2InstanceDirectory } from './aws/ec2-instance-directory';
import { Ec2OnlineInstances } from './aws/ec2-online-instances';
import { DynamoRescueNetworkLeases } from './aws/dynamodb-rescue-network-leases';
import { Ec2Reclaimer } from './aws/ec2-reclaimer';
import { Ec2RescueNetworks } from './aws/rescue-networks';
import { SsmKeyVault } from './aws/ssm-key-vault';
import { SsmRescueRunner } from './aws/ssm-rescue-runner';
import { SsmTargetCommands } from './aws/ssm-target-commands';
import { randomJobIds } from './ids';
import { createMetrics, PowertoolsJobMetrics } from './job-metrics';
import { combineObservers } from './observers';
import { KmsEncryptionKeys } from './aws/kms-encryption-keys';

export interface WiringInput {
  clients: Pick<AwsClients, 'ec2' | 'ssm'> & Partial<Pick<AwsClients, 'kms'>>;
  config: ServiceConfig;
  store: JobStore;
  bus: PhaseBus;
  scheduler: PhaseScheduler;
  log: Log;
  clock?: Clock;
  ids?: IdGenerator;
  /** Idempotency keys, alarm cool-downs, admission buckets (the job table's other items). */
  guards: GuardStores;
  /** Where event-started resets wait for their admission slot (the alarm function's queue). */
  deferral?: StartDeferral;
  /** Events and metrics of jobs starting, phases finishing, jobs ending. */
  observer?: JobObserver;
  /** KMS for the preflight's key check; default: KMS DescribeKey through `clients.kms`. */
  keys?: EncryptionKeys;
  /** The shared rescue network's record: leases, creation lock, reclaim (an item of the job table). */
  networkLeases: RescueNetworkLeases;
  /** How the sweeper waits for a detach or an endpoint deletion (default: real time). */
  sleeper?: Sleeper;
}

export interface GuardStores {
  idempotency: IdempotencyStore;
  cooldowns: CooldownStore;
  admission: AdmissionStore;
  /** Stops shared while EC2's mutating bucket has a queue (domain/stop-batches.ts). */
  stopBatches: StopBatchStore;
}

/** Everything any handler needs: phase runs, the API, the alarm function, the sweeper. */
export type ServicePorts = PhasePorts & ApiPorts & AutomaticStartPorts & SweeperPorts;

/** For functions that never defer a start (only the alarm function has the queue to wait in). */
const noDeferral: StartDeferral = {
  later: async () => {
    throw new Error('this function has no queue to defer starts to (ALARM_QUEUE_URL)');
  },
};

export const systemClock: Clock = { now: () => new Date() };

export const realSleeper: Sleeper = { sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)) };

export function wirePorts(input: WiringInput): ServicePorts {
  const { clients, config } = input;
  return {
    store: input.store,
    bus: input.bus,
    scheduler: input.scheduler,
    compute: new Ec2Compute(clients.ec2, clients.ssm),
    networks: rescueNetworks(clients.ec2, config),
    networkLeases: input.networkLeases,
    reclaimer: new Ec2Reclaimer(clients.ec2),
    sleeper: input.sleeper ?? realSleeper,
    rescue: rescueRunner(clients.ssm, config),
    online: onlinePorts(clients, config),
    clock: input.clock ?? systemClock,
    ids: input.ids ?? randomJobIds,
    log: input.log,
    config,
    ...input.guards,
    directory: new Ec2InstanceDirectory(clients.ec2),
    deferral: input.deferral ?? noDeferral,
    ...(input.observer ? { observer: input.observer } : {}),
    ...(input.keys ? { keys: input.keys } : clients.kms ? { keys: new KmsEncryptionKeys(clients.kms) } : {}),
  };
}

// The adapters that take settings, one builder each: `wirePorts` uses them all, a Lambda function
// only those its use case needs (handlers/lambda-ports.ts).

/** The service's shared rescue network (its VPC, subnets, security groups, SSM endpoints). */
export function rescueNetworks(ec2: EC2Client, config: ServiceConfig): RescueNetworks {
  return new Ec2RescueNetworks(ec2, { access: config.rescueNetwork.access, region: config.region });
}

/** Run Command on the helper: the rescue script. */
export function rescueRunner(ssm: SSMClient, config: ServiceConfig): RescueRunner {
  return new SsmRescueRunner(ssm, { region: config.region, rescueTimeoutSeconds: config.rescueTimeoutSeconds });
}

/** The online reset: keys made here, Run Command on the target, the target itself. */
export function onlinePorts(clients: Pick<AwsClients, 'ec2' | 'ssm'>, config: ServiceConfig): OnlinePorts {
  return { keys: new SsmKeyVault(clients.ssm), commands: new SsmTargetCommands(clients.ssm, config), instances: new Ec2OnlineInstances(clients.ec2) };
}

/** The guard stores on the job table (production and the local runtime). */
export function dynamoGuardStores(documents: DynamoDBDocumentClient, tableName: string): GuardStores {
  return {
    idempotency: new DynamoIdempotencyStore(documents, { tableName }),
    cooldowns: new DynamoCooldownStore(documents, { tableName }),
    admission: new DynamoAdmissionStore(documents, { tableName }),
    stopBatches: new DynamoStopBatchStore(documents, { tableName }),
  };
}

/** The rescue network's record on the job table (production and the local runtime). */
export function dynamoNetworkLeases(documents: DynamoDBDocumentClient, tableName: string): RescueNetworkLeases {
  return new DynamoRescueNetworkLeases(documents, { tableName });
}

/** What operators watch: the job-ended events on the service's bus and the EMF metrics. */
export function serviceObserver(eventBridge: EventBridgeClient, options: { eventBusName: string; metricsServiceName: string }): JobObserver {
  return combineObservers(new EventBridgeJobEvents(eventBridge, { eventBusName: options.eventBusName }), new PowertoolsJobMetrics(createMetrics(options.metricsServiceName)));
}
