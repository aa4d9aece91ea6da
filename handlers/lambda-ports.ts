/**
 * The ports of each deployed Lambda, built on its first event, once per cold start, from the
 * environment that the deployment sets (TABLE_NAME, EVENT_BUS_NAME, HELPER_INSTANCE_PROFILE,
 * PHASE and PHASE_QUEUE_URL for the phases, ALARM_QUEUE_URL for the alarm function), through the
 * one composition root (infra/wiring/composition.ts). A phase function gets the core ports and the
 * optional ones its declaration asks for (`phasePorts`), exactly as the local runtimes do. The
 * aws-events function wires its two ports itself: through infra/wiring/composition.ts this module brings
 * the rescue scripts (≈ 80 kB, which run at import).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AutomaticStartPorts } from '../domain/api/automatic-start';
import type { RunnerPorts } from '../domain/pipeline/phase-runner';
import type { PhaseName } from '../domain/pipeline/phases';
import type { SweeperPorts } from '../domain/sweeper/sweeper';
import { awsClientConfig, type AwsClients } from '../infra/aws/clients';
import { DynamoJobStore, jobStoreDocumentClient } from '../infra/aws/dynamodb-job-store';
import { Ec2Compute } from '../infra/aws/ec2-compute';
import { Ec2InstanceDirectory } from '../infra/aws/ec2-instance-directory';
import { Ec2Reclaimer } from '../infra/aws/ec2-reclaimer';
import { EventBridgePhaseBus } from '../infra/aws/eventbridge-phase-bus';
import { KmsEncryptionKeys } from '../infra/aws/kms-encryption-keys';
import { SqsPhaseScheduler } from '../infra/aws/sqs-phase-scheduler';
import { SqsStartDeferral } from '../infra/aws/sqs-start-deferral';
import { loadConfig, requireEnv } from '../infra/wiring/config';
import { randomJobIds } from '../infra/wiring/ids';
import { createLog } from '../infra/observability/logger';
import { lambdaLogger } from './lambda-entry';
import {
  dynamoGuardStores,
  dynamoNetworkLeases,
  onlinePorts,
  phasePorts,
  principalTags,
  realSleeper,
  rescueNetworks,
  rescueRunner,
  serviceObserver,
  systemClock,
} from '../infra/wiring/composition';
import type { ApiPorts } from './api-routes';

const env = process.env;

/** A phase function's ports (createPhaseHandler's `getPorts`): the core ones and those `phase` declares. */
export function lambdaPhasePorts(phase: PhaseName): () => RunnerPorts {
  let ports: RunnerPorts | undefined;
  return () => {
    if (ports) return ports;
    const shared = basePorts();
    const { ports: base, jobTable } = shared;
    ports = phasePorts(phase, {
      ...base,
      // KMS only where a phase asks for `keys` (the client is made on first use).
      clients: lazyClients({
        ec2: () => new EC2Client(awsClientConfig('ec2')),
        ssm: () => new SSMClient(awsClientConfig('ssm')),
        kms: () => new KMSClient(awsClientConfig('kms')),
      }),
      observer: observerOf(shared),
      // A phase re-sends only its own message, to its own queue.
      scheduler: new SqsPhaseScheduler(new SQSClient(awsClientConfig('sqs')), { queueUrlFor: () => requireEnv(env, 'PHASE_QUEUE_URL') }),
      guards: dynamoGuardStores(jobTable.documents, jobTable.tableName),
      networkLeases: dynamoNetworkLeases(jobTable.documents, jobTable.tableName),
    });
    return ports;
  };
}

/** Clients made on first use, once each. */
function lazyClients<T extends object>(makers: { [K in keyof T]: () => T[K] }): T {
  const made: Partial<T> = {};
  return new Proxy(made, {
    get: (_target, name) => (made[name as keyof T] ??= makers[name as keyof T]()),
  }) as T;
}

/** KMS DescribeKey, for the preflight's check of an encrypted root's key. */
export function kmsEncryptionKeys() {
  return new KmsEncryptionKeys(new KMSClient(awsClientConfig('kms')));
}

let apiPorts: ApiPorts | undefined;

/** The HTTP API's: starts (preflight, idempotency, admission), job views, cancels, the instance list. */
export function lambdaApiPorts(): ApiPorts {
  if (apiPorts) return apiPorts;
  const clients = { ec2: new EC2Client(awsClientConfig('ec2')), ssm: new SSMClient(awsClientConfig('ssm')) };
  const base = basePorts();
  // IAM only where the access rule reads the callers' role tags.
  const principals = base.ports.config.access?.source === 'principal-tag' ? principalTags(new IAMClient(awsClientConfig('iam')), base.ports.config) : undefined;
  apiPorts = { ...startPorts(base, clients), directory: new Ec2InstanceDirectory(clients.ec2), ...(principals ? { principals } : {}) };
  return apiPorts;
}

let triggerPorts: AutomaticStartPorts | undefined;

/** The alarm function's: automatic starts, and its own queue to defer those that wait for their admission slot. */
export function lambdaTriggerPorts(): AutomaticStartPorts {
  if (triggerPorts) return triggerPorts;
  const clients = { ec2: new EC2Client(awsClientConfig('ec2')), ssm: new SSMClient(awsClientConfig('ssm')) };
  triggerPorts = {
    ...startPorts(basePorts(), clients),
    deferral: new SqsStartDeferral(new SQSClient(awsClientConfig('sqs')), { queueUrl: requireEnv(env, 'ALARM_QUEUE_URL') }),
  };
  return triggerPorts;
}

let sweeperPorts: SweeperPorts | undefined;

/** The sweeper's: jobs, orphaned helpers, the rescue network's record. */
export function lambdaSweeperPorts(): SweeperPorts {
  if (sweeperPorts) return sweeperPorts;
  const { ports: base, jobTable } = basePorts();
  const ec2 = new EC2Client(awsClientConfig('ec2'));
  const ssm = new SSMClient(awsClientConfig('ssm'));
  const networkLeases = dynamoNetworkLeases(jobTable.documents, jobTable.tableName);
  sweeperPorts = {
    ...base,
    compute: new Ec2Compute(ec2, ssm),
    reclaimer: new Ec2Reclaimer(ec2, { deployment: base.config.deployment }),
    networkLeases,
    sleeper: realSleeper,
    // The warm pool of Windows helpers (domain/sweeper/helper-pool.ts): its record, its network, its helpers' agents.
    helperPool: dynamoGuardStores(jobTable.documents, jobTable.tableName).helperPool,
    networks: rescueNetworks(ec2, base.config, networkLeases),
    rescue: rescueRunner(ssm, base.config),
  };
  return sweeperPorts;
}

/** What every function has: the settings, the job table, the service's bus, the log, the clock. */
function basePorts() {
  const config = loadConfig(env);
  const tableName = requireEnv(env, 'TABLE_NAME');
  const eventBusName = requireEnv(env, 'EVENT_BUS_NAME');
  const documents = jobStoreDocumentClient(new DynamoDBClient(awsClientConfig('dynamodb')));
  const eventBridge = new EventBridgeClient(awsClientConfig('eventbridge'));
  return {
    ports: {
      config,
      store: new DynamoJobStore(documents, { tableName }),
      bus: new EventBridgePhaseBus(eventBridge, { eventBusName }),
      log: createLog(lambdaLogger),
      clock: systemClock,
    },
    jobTable: { documents, tableName },
    serviceBus: { eventBridge, eventBusName },
  };
}

type Base = ReturnType<typeof basePorts>;

/** The job events and metrics. The metrics' `service` dimension names the deployment, `<service>-<stage>`, as the bus is named. */
function observerOf({ serviceBus }: Base) {
  return serviceObserver(serviceBus.eventBridge, {
    eventBusName: serviceBus.eventBusName,
    metricsServiceName: env.POWERTOOLS_SERVICE_NAME ?? serviceBus.eventBusName,
  });
}

/** A start's (API and alarm): the preflight with its KMS key check, the online-or-offline choice, a new job id. */
function startPorts(base: Base, clients: Pick<AwsClients, 'ec2' | 'ssm'>) {
  return {
    ...base.ports,
    observer: observerOf(base),
    compute: new Ec2Compute(clients.ec2, clients.ssm),
    networks: rescueNetworks(clients.ec2, base.ports.config, dynamoNetworkLeases(base.jobTable.documents, base.jobTable.tableName)),
    keys: kmsEncryptionKeys(),
    online: onlinePorts(clients, base.ports.config),
    ids: randomJobIds,
    ...dynamoGuardStores(base.jobTable.documents, base.jobTable.tableName),
  };
}
