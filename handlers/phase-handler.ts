/**
 * The one shape of every phase's Lambda: an SQS batch, each record a `{ jobId, phase, attempt }`
 * message, handed to the domain's phase runner. A record that throws is reported back as a batch
 * item failure so SQS redelivers only it (ReportBatchItemFailures); a malformed record is logged
 * and dropped, never retried forever. Every log line of a run carries `jobId`, `phase`, `attempt`
 * and the job's `instanceId`.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { PhaseName } from '../domain/job/job';
import { runPhase, type RunnerPorts } from '../domain/pipeline/phase-runner';
import { readPhaseMessage } from '../infra/messages/events';
import { phaseRunPorts } from '../infra/wiring/phase-run-ports';
import { lambdaEntry } from './lambda-entry';

export function createPhaseHandler(phase: PhaseName, getPorts: () => RunnerPorts) {
  const processor = new BatchProcessor(EventType.SQS);
  async function processRecord(record: SQSRecord): Promise<void> {
    const ports = getPorts();
    const read = readPhaseMessage(record.body);
    if (!read.ok || read.value.phase !== phase) {
      const reason = read.ok ? `a message for ${read.value.phase}` : read.message;
      ports.log.error('malformed or misrouted phase message dropped', { queuePhase: phase, messageId: record.messageId, reason });
      return;
    }
    await runPhase(read.value, phaseRunPorts(ports, read.value));
  }
  return lambdaEntry(async (event: SQSEvent, context: Context) => processPartialResponse(event, processRecord, processor, { context }));
}
