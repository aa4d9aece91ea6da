/**
 * The ports of a deployed Lambda, built once per cold start from the environment that
 * serverless.yml sets (TABLE_NAME, EVENT_BUS_NAME, PHASE_QUEUE_URL, HELPER_INSTANCE_PROFILE).
 */
import { createAwsClients } from '../infra/aws/clients';
import { DynamoJobStore, jobStoreDocumentClient } from '../infra/aws/dynamodb-job-store';
import { EventBridgePhaseBus } from '../infra/aws/eventbridge-phase-bus';
import { SqsPhaseScheduler } from '../infra/aws/sqs-phase-scheduler';
import { loadConfig, requireEnv } from '../infra/config';
import { createLog } from '../infra/logger';
import { wirePorts } from '../infra/wiring';

let ports: ReturnType<typeof wirePorts> | undefined;

export function lambdaPorts(): ReturnType<typeof wirePorts> {
  if (ports) return ports;
  const env = process.env;
  const clients = createAwsClients();
  const config = loadConfig(env);
  ports = wirePorts({
    clients,
    config,
    store: new DynamoJobStore(jobStoreDocumentClient(clients.dynamodb), { tableName: requireEnv(env, 'TABLE_NAME') }),
    bus: new EventBridgePhaseBus(clients.eventBridge, { eventBusName: requireEnv(env, 'EVENT_BUS_NAME') }),
    // A phase re-sends only its own message, to its own queue.
    scheduler: new SqsPhaseScheduler(clients.sqs, { queueUrlFor: () => requireEnv(env, 'PHASE_QUEUE_URL') }),
    log: createLog(),
  });
  return ports;
}
