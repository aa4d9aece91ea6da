/**
 * The aws-events function: AWS's own events (instance state changes, Run Command invocation
 * status, EBS volume notifications) that rules on the default bus put in its queue. Each wakes the
 * job waiting on that resource, if any; most are about instances no job holds and end in one read.
 * A record that throws is delivered again (ReportBatchItemFailures); a record that is not such an
 * event is dropped.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { JobStore, Log, PhaseBus } from '../domain/ports';
import { wakeJobsFor } from '../domain/pipeline/wake-jobs';
import { awsClientConfig } from '../infra/aws/clients';
import { DynamoJobStore, jobStoreDocumentClient } from '../infra/aws/dynamodb-job-store';
import { EventBridgePhaseBus } from '../infra/aws/eventbridge-phase-bus';
import { requireEnv } from '../infra/wiring/config';
import { createLog } from '../infra/observability/logger';
import { parseResourceEvent } from '../infra/messages/resource-events';
import { lambdaEntry, lambdaLogger } from './lambda-entry';

type AwsEventsPorts = { store: JobStore; bus: PhaseBus; log: Log };

export function createAwsEventsHandler(getPorts: () => AwsEventsPorts) {
  const processor = new BatchProcessor(EventType.SQS);
  async function processRecord(record: SQSRecord): Promise<void> {
    const ports = getPorts();
    const event = parseResourceEvent(record.body);
    if (!event) {
      ports.log.warn('not an AWS event a job waits on; dropped', { messageId: record.messageId });
      return;
    }
    await wakeJobsFor(event, ports);
  }
  return lambdaEntry(async (event: SQSEvent, context: Context) => processPartialResponse(event, processRecord, processor, { context }));
}

let ports: AwsEventsPorts | undefined;

/**
 * Only the job store and the bus, with their two clients: this function runs for every state
 * change in the account, so its cold start matters, and EC2's and SSM's clients are most of what
 * the other functions load (`npm run bench`, cold start).
 */
function awsEventsPorts(): AwsEventsPorts {
  if (ports) return ports;
  const env = process.env;
  ports = {
    store: new DynamoJobStore(jobStoreDocumentClient(new DynamoDBClient(awsClientConfig('dynamodb'))), { tableName: requireEnv(env, 'TABLE_NAME') }),
    bus: new EventBridgePhaseBus(new EventBridgeClient(awsClientConfig('eventbridge')), { eventBusName: requireEnv(env, 'EVENT_BUS_NAME') }),
    log: createLog(lambdaLogger),
  };
  return ports;
}

export const handler = createAwsEventsHandler(awsEventsPorts);
