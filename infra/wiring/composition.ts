/**
 * The composition root: every port the domain needs, built from AWS clients and settings. The
 * Lambda functions (handlers/lambda-ports.ts), the local runtime and the in-process harness all
 * build through here and differ only in what they pass. A phase is built with the core ports and
 * exactly the optional ones its declaration asks for (`phasePorts`), in Lambda and locally alike.
 */
import type { ServiceConfig } from '../../domain/config';
import { PORT_NAMES, type CorePorts, type OptionalPorts, type PortName } from '../../domain/pipeline/phase';
import type { RunnerPorts } from '../../domain/pipeline/phase-runner';
import { phaseDefinition, type PhaseName } from '../../domain/pipeline/phases';
import type { AutomaticStartPorts } from '../../domain/api/automatic-start';
import type { SweeperPorts } from '../../domain/sweeper/sweeper';
import type {
  AdmissionStore,
  StopBatchStore,
  Clock,
  CooldownStore,
  EncryptionKeys,
  HelperPoolStore,
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
  PrincipalTags,
  Sleeper,
  StartDeferral,
} from '../../domain/ports';
import type { OnlinePorts } from '../../domain/online-ports';
import type { ApiPorts } from '../../handlers/api-routes';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../aws/clients';
import { DynamoAdmissionStore } from '../aws/dynamodb-admission-store';
import { DynamoStopBatchStore } from '../aws/dynamodb-stop-batch-store';
import { DynamoHelperPool } from '../aws/dynamodb-helper-pool';
import { DynamoCooldownStore } from '../aws/dynamodb-cooldown-store';
import { DynamoIdempotencyStore } from '../aws/dynamodb-idempotency-store';
import { EventBridgeJobEvents } from '../aws/eventbridge-job-events';
import { Ec2Compute } from '../aws/ec2-compute';
import { Ec2InstanceDirectory } from '../aws/ec2-instance-directory';
import { Ec2OnlineInstances } from '../aws/ec2-online-instances';
import { DynamoRescueNetworkLeases } from '../aws/dynamodb-rescue-network-leases';
import { Ec2Reclaimer } from '../aws/ec2-reclaimer';
import { IamPrincipalTags } from '../aws/iam-principal-tags';
import { Ec2RescueNetworks, type VpcRecord } from '../aws/rescue-networks';
import { SsmKeyVault } from '../aws/ssm-key-vault';
import { SsmRescueRunner } from '../aws/ssm-rescue-runner';
import { SsmTargetCommands } from '../aws/ssm-target-commands';
import { randomJobIds } from './ids';
import { createMetrics, PowertoolsJobMetrics } from '../observability/job-metrics';
import { combineObservers } from '../observability/observers';
import { KmsEncryptionKeys } from '../aws/kms-encryption-keys';

/** What a phase function's ports are built from. */
export interface PhaseWiringInput {
  clients: Pick<AwsClients, 'ec2' | 'ssm' | 'kms'>;
  config: ServiceConfig;
  store: JobStore;
  bus: PhaseBus;
  scheduler: PhaseScheduler;
  log: Log;
  clock?: Clock;
  ids?: IdGenerator;
  /** Idempotency keys, alarm cool-downs, admission buckets, stop batches (the job table's other items). */
  guards: GuardStores;
  /** Events and metrics of jobs starting, phases finishing, jobs ending (none: a silent observer). */
  observer?: JobObserver;
  /** KMS for the preflight's key check; default: KMS DescribeKey through `clients.kms`. */
  keys?: EncryptionKeys;
  /** The shared rescue network's record: leases, creation lock, reclaim (an item of the job table). */
  networkLeases: RescueNetworkLeases;
}

/** What every port is built from (the local runtimes). */
export interface WiringInput extends PhaseWiringInput {
  /** Where event-started resets wait for their admission slot (the alarm function's queue). */
  deferral?: StartDeferral;
  /** How the sweeper waits for a detach or an endpoint deletion (default: real time). */
  sleeper?: Sleeper;
  /** IAM for the API's access rule (`config.access.source: 'principal-tag'`); see `principalTags`. */
  principals?: PrincipalTags;
}

export interface GuardStores {
  idempotency: IdempotencyStore;
  cooldowns: CooldownStore;
  admission: AdmissionStore;
  /** Stops shared while EC2's mutating bucket has a queue (domain/pipeline/stop-batches.ts). */
  stopBatches: StopBatchStore;
  /** The warm pool of stopped Windows helpers (domain/sweeper/helper-pool.ts). */
  helperPool: HelperPoolStore;
}

/** Everything any handler needs: phase runs, the API, the alarm function, the sweeper. */
export type ServicePorts = CorePorts & OptionalPorts & ApiPorts & AutomaticStartPorts & SweeperPorts;

/** For functions that never defer a start (only the alarm function has the queue to wait in). */
const noDeferral: StartDeferral = {
  later: async () => {
    throw new Error('this function has no queue to defer starts to (ALARM_QUEUE_URL)');
  },
};

export const systemClock: Clock = { now: () => new Date() };

/** For a runtime nobody watches (tests that do not look at job events). */
const silentObserver: JobObserver = { jobStarted: async () => undefined, phaseFinished: async () => undefined, jobFinished: async () => undefined };

export const realSleeper: Sleeper = { sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)) };

/** Every port at once: the local runtimes' API, alarm function and sweeper, and the source their phases are picked from. */
export function wirePorts(input: WiringInput): ServicePorts {
  const { clients } = input;
  const optional = optionalPorts(PORT_NAMES, input) as OptionalPorts;
  return {
    ...corePorts(input),
    ...optional,
    reclaimer: new Ec2Reclaimer(clients.ec2, { deployment: input.config.deployment }),
    sleeper: input.sleeper ?? realSleeper,
    ids: input.ids ?? randomJobIds,
    ...input.guards,
    directory: new Ec2InstanceDirectory(clients.ec2),
    deferral: input.deferral ?? noDeferral,
    ...(input.principals ? { principals: input.principals } : {}),
  };
}

/** The ports every phase is run with. */
export function corePorts(input: PhaseWiringInput): CorePorts {
  return {
    store: input.store,
    bus: input.bus,
    scheduler: input.scheduler,
    compute: new Ec2Compute(input.clients.ec2, input.clients.ssm),
    networkLeases: input.networkLeases,
    admission: input.guards.admission,
    observer: input.observer ?? silentObserver,
    clock: input.clock ?? systemClock,
    log: input.log,
    config: input.config,
  };
}

/** How each optional port is built: a phase that asks for one (its declaration's `ports`) gets it this way. */
const OPTIONAL_PORTS: { [K in PortName]: (input: PhaseWiringInput) => OptionalPorts[K] } = {
  networks: ({ clients, config, networkLeases }) => rescueNetworks(clients.ec2, config, networkLeases),
  rescue: ({ clients, config }) => rescueRunner(clients.ssm, config),
  online: ({ clients, config }) => onlinePorts(clients, config),
  keys: ({ clients, keys }) => keys ?? new KmsEncryptionKeys(clients.kms),
  stopBatches: ({ guards }) => guards.stopBatches,
  helperPool: ({ guards }) => guards.helperPool,
};

/** A phase function's ports: the core ones and the optional ones its declaration asks for, no more. */
export function phasePorts(phase: PhaseName, input: PhaseWiringInput): RunnerPorts {
  return pickPhasePorts(phase, { ...corePorts(input), ...optionalPorts(phaseDefinition(phase).ports, input) });
}

function optionalPorts(names: readonly PortName[], input: PhaseWiringInput): Partial<OptionalPorts> {
  return Object.fromEntries(names.map((name) => [name, OPTIONAL_PORTS[name](input)]));
}

/** The ports of `phase` out of a set holding them all (the local runtimes run every phase from one set). */
export function pickPhasePorts(phase: PhaseName, all: CorePorts & Partial<OptionalPorts>): RunnerPorts {
  const { store, bus, scheduler, compute, networkLeases, admission, observer, clock, log, config } = all;
  const declared = Object.fromEntries(phaseDefinition(phase).ports.map((name) => [name, all[name]]));
  return { store, bus, scheduler, compute, networkLeases, admission, observer, clock, log, config, ...declared };
}

// The adapters that take settings, one builder each: `wirePorts` uses them all, a Lambda function
// only those its use case needs (handlers/lambda-ports.ts, `phasePorts`).

/** The service's shared rescue network (its VPC, subnets, security groups, SSM endpoints), whose VPC `record` names. */
export function rescueNetworks(ec2: EC2Client, config: ServiceConfig, record: VpcRecord): RescueNetworks {
  return new Ec2RescueNetworks(ec2, { access: config.rescueNetwork.access, region: config.region, deployment: config.deployment, record });
}

/** Run Command on the helper: the rescue script. */
export function rescueRunner(ssm: SSMClient, config: ServiceConfig): RescueRunner {
  return new SsmRescueRunner(ssm, { region: config.region, rescueTimeoutSeconds: config.rescueTimeoutSeconds });
}

/** The online reset: keys made here, Run Command on the target, the target itself. */
export function onlinePorts(clients: Pick<AwsClients, 'ec2' | 'ssm'>, config: ServiceConfig): OnlinePorts {
  return { keys: new SsmKeyVault(clients.ssm), commands: new SsmTargetCommands(clients.ssm, config), instances: new Ec2OnlineInstances(clients.ec2) };
}

/** The callers' IAM tags for the access rule, each remembered `principalTagsCacheSeconds`. */
export function principalTags(iam: IAMClient, config: ServiceConfig, now?: () => number): PrincipalTags {
  return new IamPrincipalTags(iam, { cacheSeconds: config.principalTagsCacheSeconds, now });
}

/** The guard stores on the job table (production and the local runtime). */
export function dynamoGuardStores(documents: DynamoDBDocumentClient, tableName: string): GuardStores {
  return {
    idempotency: new DynamoIdempotencyStore(documents, { tableName }),
    cooldowns: new DynamoCooldownStore(documents, { tableName }),
    admission: new DynamoAdmissionStore(documents, { tableName }),
    stopBatches: new DynamoStopBatchStore(documents, { tableName }),
    helperPool: new DynamoHelperPool(documents, { tableName }),
  };
}

/** The rescue network's record on the job table (production and the local runtime). */
export function dynamoNetworkLeases(documents: DynamoDBDocumentClient, tableName: string): RescueNetworkLeases {
  return new DynamoRescueNetworkLeases(documents, { tableName });
}

/** What operators watch: the job-ended events on the service's bus and the EMF metrics. */
export function serviceObserver(eventBridge: EventBridgeClient, options: { eventBusName: string; metricsServiceName: string }): JobObserver {
  return combineObservers(
    new EventBridgeJobEvents(eventBridge, { eventBusName: options.eventBusName }),
    new PowertoolsJobMetrics(createMetrics(options.metricsServiceName)),
  );
}
