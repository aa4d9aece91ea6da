/**
 * One reset measured end to end on a `VirtualStack`, and the runbook baseline on the same simulated
 * region right after it: simulated seconds, AWS calls by action, DynamoDB requests, events.
 */
import type { Job, Platform } from '../domain/job/job';
import { createAwsClients } from '../infra/aws/clients';
import type { VirtualStack } from '../infra/local/virtual-stack';
import { createSimRequestHandler } from '../infra/sim/http';
import { runRunbookBaseline, type BaselineResult } from './baseline';
import { difference, type Counts, type Meter } from './instrument';

export interface ServiceJobResult {
  jobId?: string;
  status: Job['status'] | 'REFUSED';
  /** Request to the job's end (simulated seconds). */
  seconds: number;
  /** Request to the end of restore-target: the instance is usable again. */
  accessRestoredSeconds?: number;
  error?: string;
  calls: Record<string, number>;
  totalCalls: number;
  counts: Counts;
  /** AWS events delivered to the service during the job, and how many of them woke a phase. */
  awsEventsDelivered: number;
  awsEventsThatWoke: number;
  /** Each phase's start and end, seconds from the request. */
  phases: Array<{ phase: string; start: number; end?: number; polls: number }>;
}

/** Requests a reset through the API and runs the stack until nothing is left to do. */
export async function runServiceJob(stack: VirtualStack, meter: Meter, instanceId: string): Promise<ServiceJobResult> {
  const before = meter.snapshot();
  const deliveredBefore = stack.awsEventDeliveries.length;
  const start = stack.clock.now();
  const response = await stack.api('POST', '/resets', { instanceId });
  if (response.statusCode !== 202) {
    return {
      status: 'REFUSED',
      seconds: 0,
      error: `${response.statusCode} ${response.json.code}: ${response.json.message}`,
      calls: meter.callsSince(before.calls),
      totalCalls: stack.region.calls.length - before.calls,
      counts: difference(before, meter.snapshot()),
      awsEventsDelivered: 0,
      awsEventsThatWoke: 0,
      phases: [],
    };
  }
  const jobId = response.json.jobId as string;
  await stack.run();
  const job = await stack.job(jobId);
  const at = (iso: string | undefined) => (iso === undefined ? undefined : (Date.parse(iso) - start) / 1000);
  const calls = meter.callsSince(before.calls);
  return {
    jobId,
    status: job.status,
    seconds: at(job.endedAt ?? job.updatedAt)!,
    accessRestoredSeconds: at(job.phases['restore-target']?.endedAt),
    error: job.error ? `${job.error.code} in ${job.error.phase}: ${job.error.message}` : undefined,
    calls,
    totalCalls: Object.values(calls).reduce((a, b) => a + b, 0),
    counts: difference(before, meter.snapshot()),
    awsEventsDelivered: stack.awsEventDeliveries.length - deliveredBefore,
    awsEventsThatWoke: stack.awsEventDeliveries.slice(deliveredBefore).filter((d) => d.woke > 0).length,
    phases: Object.entries(job.phases).map(([phase, record]) => ({ phase, start: at(record!.startedAt)!, end: at(record!.endedAt), polls: record!.attempt })),
  };
}

/** The runbook's sequential steps on `instanceId`, through clients of the stack's own region. */
export async function runBaseline(stack: VirtualStack, instanceId: string, platform: Platform, pollSeconds?: number): Promise<BaselineResult> {
  const clients = createAwsClients({
    region: 'us-east-1',
    requestHandler: createSimRequestHandler(stack.region),
    credentials: { accessKeyId: 'sim', secretAccessKey: 'sim' },
    maxAttempts: 1,
    env: {},
  });
  return runRunbookBaseline({ ec2: clients.ec2, ssm: clients.ssm, clock: stack.clock, instanceId, platform, pollSeconds });
}
