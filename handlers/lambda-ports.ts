/**
 * The ports of each deployed Lambda, built on its first event, once per cold start, from the
 * environment that serverless.yml sets (TABLE_NAME, EVENT_BUS_NAME, HELPER_INSTANCE_PROFILE,
 * PHASE_QUEUE_URL for the phases, ALARM_QUEUE_URL for the alarm function).
 *
 * Each function gets what its use case's ports ask for and nothing else, so that its bundle holds
 * only the SDK clients and adapters it calls: loading them is most of a cold start (`npm run
 * bench`). Only the phases that read an optional port are given it (`PhaseExtras`); the local
 * runtimes wire every port at once (infra/wiring.ts `wirePorts`). test/handlers/lambda-ports.test.ts
 * checks the optional ports against what the use cases read, test/bench/cold-start.test.ts the
 * clients each bundle holds. The aws-events function wires its two ports itself: through
 * infra/wiring.ts this module brings the rescue scripts (≈ 80 kB, which run at import).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AutomaticStartPorts } from '../domain/automatic-start';
import type { ServiceConfig } from '../domain/config';
import type { OnlinePorts } from '../domain/online-ports';
import type { PhasePorts } from '../domain/phase-runner';
import type { EncryptionKeys } from '../domain/ports';
import type { SweeperPorts } from '../domain/sweeper';
import { awsClientConfig, type AwsClients } from '../infra/aws/clients';
import { DynamoAdmissionStore } from '../infra/aws/dynamodb-admission-store';
import { DynamoStopBatchStore } from '../infra/aws/dynamodb-stop-batch-store';
import { DynamoJobStore, jobStoreDocumentClient } from '../infra/aws/dynamodb-job-store';
import { Ec2Compute } from '../infra/aws/ec2-compute';
import { Ec2InstanceDirectory } from '../infra/aws/ec2-instance-directory';
import { Ec2Reclaimer } from '../infra/aws/ec2-reclaimer';
import { EventBridgePhaseBus } from '../infra/aws/eventbridge-phase-bus';
import { KmsEncryptionKeys } from '../infra/aws/kms-encryption-keys';
import { SqsPhaseScheduler } from '../infra/aws/sqs-phase-scheduler';
import { SqsStartDeferral } from '../infra/aws/sqs-start-deferral';
import { loadConfig, requireEnv } from '../infra/config';
import { randomJobIds } from '../infra/ids';
import { createLog } from '../infra/logger';
import { dynamoGuardStores, dynamoNetworkLeases, onlinePorts, realSleeper, rescueNetworks, rescueRunner, serviceObserver, systemClock } from '../infra/wiring';
import type { ApiPorts } from './api-routes';

const env = process.env;

/** The optional ports a phase reads: the KMS key check (validate) and the online reset (validate, online-reset). */
export interface PhaseExtras {
  keys?: () => EncryptionKeys;
  online?: (clients: Pick<AwsClients, 'ec2' | 'ssm'>, config: ServiceConfig) => OnlinePorts;
}

/** A phase function's ports (createPhaseHandler's `getPorts`). */
export function lambdaPhasePorts(extras: PhaseExtras = {}): () => PhasePorts {
  let ports: PhasePorts | undefined;
  return () => {
    if (ports) return ports;
    const shared = basePorts();
    const { ports: base, jobTable } = shared;
    const clients = { ec2: new EC2Client(awsClientConfig('ec2')), ssm: new SSMClient(awsClientConfig('ssm')) };
    ports = {
      ...base,
      observer: observerOf(shared),
      // A phase re-sends only its own message, to its own queue.
      scheduler: new SqsPhaseScheduler(new SQSClient(awsClientConfig('sqs')), { queueUrlFor: () => requireEnv(env, 'PHASE_QUEUE_URL') }),
      compute: new Ec2Compute(clients.ec2, clients.ssm),
      networks: rescueNetworks(clients.ec2, base.config),
      networkLeases: dynamoNetworkLeases(jobTable.documents, jobTable.tableName),
      // The shared buckets that pace mutating and RunInstances/StartInstances calls (request-pacing.ts).
      admission: new DynamoAdmissionStore(jobTable.documents, { tableName: jobTable.tableName }),
      // Stops shared while the mutating bucket has a queue (stop-batches.ts): stop-target and rollback read it.
      stopBatches: new DynamoStopBatchStore(jobTable.documents, { tableName: jobTable.tableName }),
      rescue: rescueRunner(clients.ssm, base.config),
      ...(extras.online ? { online: extras.online(clients, base.config) } : {}),
      ...(extras.keys ? { keys: extras.keys() } : {}),
    };
    return ports;
  };
}

/** KMS DescribeKey, for the preflight's check of an encrypted root's key (`PhaseExtras.keys`). */
export function kmsEncryptionKeys(): EncryptionKeys {
  return new KmsEncryptionKeys(new KMSClient(awsClientConfig('kms')));
}

export { onlinePorts };

let apiPorts: ApiPorts | undefined;

/** The HTTP API's: starts (preflight, idempotency, admission), job views, cancels, the instance list. */
export function lambdaApiPorts(): ApiPorts {
  if (apiPorts) return apiPorts;
  const clients = { ec2: new EC2Client(awsClientConfig('ec2')), ssm: new SSMClient(awsClientConfig('ssm')) };
  apiPorts = { ...startPorts(basePorts(), clients), directory: new Ec2InstanceDirectory(clients.ec2) };
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
  sweeperPorts = {
    ...base,
    compute: new Ec2Compute(ec2, new SSMClient(awsClientConfig('ssm'))),
    reclaimer: new Ec2Reclaimer(ec2),
    networkLeases: dynamoNetworkLeases(jobTable.documents, jobTable.tableName),
    sleeper: realSleeper,
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
    ports: { config, store: new DynamoJobStore(documents, { tableName }), bus: new EventBridgePhaseBus(eventBridge, { eventBusName }), log: createLog(), clock: systemClock },
    jobTable: { documents, tableName },
    serviceBus: { eventBridge, eventBusName },
  };
}

type Base = ReturnType<typeof basePorts>;

/** The job events and metrics. The metrics' `service` dimension names the deployment, `<service>-<stage>`, as the bus is named. */
function observerOf({ serviceBus }: Base) {
  return serviceObserver(serviceBus.eventBridge, { eventBusName: serviceBus.eventBusName, metricsServiceName: env.POWERTOOLS_SERVICE_NAME ?? serviceBus.eventBusName });
}

/** A start's (API and alarm): the preflight with its KMS key check, the online-or-offline choice, a new job id. */
function startPorts(base: Base, clients: Pick<AwsClients, 'ec2' | 'ssm'>) {
  return {
    ...base.ports,
    observer: observerOf(base),
    compute: new Ec2Compute(clients.ec2, clients.ssm),
    networks: rescueNetworks(clients.ec2, base.ports.config),
    keys: kmsEncryptionKeys(),
    online: onlinePorts(clients, base.ports.config),
    ids: randomJobIds,
    ...dynamoGuardStores(base.jobTable.documents, base.jobTable.tableName),
  };
}
