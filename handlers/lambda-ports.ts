/**
 * The ports of a deployed Lambda, built once per cold start from the environment that
 * serverless.yml sets (TABLE_NAME, EVENT_BUS_NAME, PHASE_QUEUE_URL, HELPER_INSTANCE_PROFILE, and
 * ALARM_QUEUE_URL for the alarm function).
 */
import { createAwsClients } from '../infra/aws/clients';
import { DynamoJobStore, jobStoreDocumentClient } from '../infra/aws/dynamodb-job-store';
import { EventBridgePhaseBus } from '../infra/aws/eventbridge-phase-bus';
import { SqsPhaseScheduler } from '../infra/aws/sqs-phase-scheduler';
import { SqsStartDeferral } from '../infra/aws/sqs-start-deferral';
import { loadConfig, requireEnv } from '../infra/config';
import { createLog } from '../infra/logger';
import { dynamoGuardStores, dynamoNetworkLeases, serviceObserver, wirePorts } from '../infra/wiring';

let ports: ReturnType<typeof wirePorts> | undefined;

export function lambdaPorts(): ReturnType<typeof wirePorts> {
  if (ports) return ports;
  const env = process.env;
  const clients = createAwsClients();
  const config = loadConfig(env);
  const tableName = requireEnv(env, 'TABLE_NAME');
  const eventBusName = requireEnv(env, 'EVENT_BUS_NAME');
  const documents = jobStoreDocumentClient(clients.dynamodb);
  ports = wirePorts({
    clients,
    config,
    store: new DynamoJobStore(documents, { tableName }),
    bus: new EventBridgePhaseBus(clients.eventBridge, { eventBusName }),
    // A phase re-sends only its own message, to its own queue (only phase functions have one).
    scheduler: new SqsPhaseScheduler(clients.sqs, { queueUrlFor: () => requireEnv(env, 'PHASE_QUEUE_URL') }),
    log: createLog(),
    guards: dynamoGuardStores(documents, tableName),
    networkLeases: dynamoNetworkLeases(documents, tableName),
    ...(env.ALARM_QUEUE_URL ? { deferral: new SqsStartDeferral(clients.sqs, { queueUrl: env.ALARM_QUEUE_URL }) } : {}),
    // The metrics' `service` dimension names the deployment: `<service>-<stage>`, as the bus is named.
    observer: serviceObserver(clients.eventBridge, { eventBusName, metricsServiceName: env.POWERTOOLS_SERVICE_NAME ?? eventBusName }),
  });
  return ports;
}
