/**
 * A fleet: N Linux resets requested at once in one simulated region that enforces EC2's request
 * buckets (`throttling: true`, docs/aws-facts.md#ec2-request-throttling) and the 5-VPC quota. The requests
 * come from a client that, like AWS's own clients, repeats a request answered `503` after the
 * `retry-after` hint, backing off exponentially with jitter; the jobs then run on their own.
 */
import { defaultApiAdmission, defaultConfig, type ServiceConfig } from '../domain/config';
import { isActive, type Job } from '../domain/job/job';
import { clientBackoffSeconds, seededRandom, seedLinuxFleet } from '../infra/local/fleet';
import { VirtualStack } from '../infra/local/virtual-stack';
import { EC2_BUCKETS, ec2BucketFor, type Ec2BucketName, type ThrottlingScope } from '../infra/sim/throttling';
import { Meter, type Counts } from './instrument';

export interface FleetOptions {
  count: number;
  seed?: string;
  /** Give up after this much simulated time (seconds). */
  maxSimSeconds?: number;
  /** How the simulated region shares its buckets (infra/sim/throttling.ts); default `category`. */
  throttlingScope?: ThrottlingScope;
  /** Settings to try instead of the defaults (e.g. another admission rate). */
  config?: Partial<ServiceConfig>;
  /** Sets up the region before the first request (faults, for tests), given the fleet's targets. */
  arrange?: (stack: VirtualStack, targets: string[]) => void;
  /** Looks at the stack once the fleet has ended (diagnostics). */
  inspect?: (stack: VirtualStack, jobs: Job[]) => void;
}

export interface FleetResult {
  jobs: number;
  succeeded: number;
  failed: number;
  /** Failed jobs by error code, and requests the API never accepted by answer. */
  failures: Record<string, number>;
  /** Jobs that failed because of throttling or the VPC quota (must be 0). */
  failedFromLimits: number;
  /** Still running when the run gave up. */
  unfinished: number;
  /** First request to the last job's end (simulated seconds). */
  makespanSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
  /** `RequestLimitExceeded` answers by action: every one was retried unless a job failed of it. */
  throttled: Record<string, number>;
  throttledTotal: number;
  /** Requests the client had to repeat: the API answered 429 (over its start rate) or 503 (AWS throttled its reads). */
  apiRetries: number;
  /** The API's answers to the start requests, by HTTP status. */
  apiAnswers: Record<string, number>;
  callsPerJob: number;
  counts: Counts;
  /**
   * What RunInstances and StartInstances impose: one launch per job and one start per job whose
   * target was running, after the burst, at the refill rate; in one shared bucket (`category`) or
   * in one each (`action`).
   */
  launchStartBoundSeconds: number;
  throttlingScope: ThrottlingScope;
  /** Answered EC2 and SSM calls by action. */
  answered: Record<string, number>;
  /** The same for every bucket (a row of the table, or an action), from the calls it answered, largest first. */
  bucketBounds: Array<{ bucket: string; calls: number; boundSeconds: number }>;
  /**
   * How busy the bucket with the largest bound kept (answered calls over what it could answer from
   * the first request to the last job's end): near 1, the fleet went as fast as that bucket allows.
   */
  bottleneck: { bucket: string; utilization: number };
  /**
   * Per job, the time its phases waited for a request slot or backed off after a throttle
   * (`throttledSeconds`): the share of a job's time that EC2's buckets cost it.
   */
  slotWait: { p50Seconds: number; p95Seconds: number };
  /**
   * Per target, from the StopInstances the job sent until the target was restored: how long each
   * instance was down, and the most that were down at once.
   */
  targetDowntime: { p50Seconds: number; p95Seconds: number; maxAtOnce: number };
  /**
   * StopInstances requests EC2 answered and the instances they named: while the mutating bucket has
   * a queue, stops are shared (domain/pipeline/stop-batches.ts).
   */
  stops: { requests: number; instances: number; largest: number };
  vpcs: number;
  wallSeconds: number;
}

const THROTTLING = new Set(['RequestLimitExceeded', 'ThrottlingException']);
const LIMIT_CODES = new Set([...THROTTLING, 'VpcLimitExceeded', 'RESCUE_VPC_QUOTA', 'VPC_QUOTA']);

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const wallStart = Date.now();
  const stack = new VirtualStack({
    samples: false,
    idSeed: 'f',
    // The service is told how this account's buckets are shared, as its operator would configure it.
    config: {
      requestPacing: { ...defaultConfig.requestPacing, scope: options.throttlingScope ?? 'category' },
      apiAdmission: defaultApiAdmission(options.throttlingScope ?? 'category'),
      ...options.config,
    },
    region: { throttling: true, throttlingScope: options.throttlingScope, callLogLimit: 50_000_000, seed: options.seed ?? 'fleet' },
  });
  const meter = new Meter(stack);
  const targets = seedLinuxFleet(stack.region, { count: options.count });
  options.arrange?.(stack, targets);
  const random = seededRandom(hash(options.seed ?? 'fleet'));
  const t0 = stack.clock.now();
  const until = t0 + (options.maxSimSeconds ?? 4 * 3600) * 1000;

  const pending = targets.map((instanceId) => ({ instanceId, dueAt: t0, tries: 0 }));
  const jobIds: string[] = [];
  const refused: Record<string, number> = {};
  let apiRetries = 0;
  const apiAnswers: Record<string, number> = {};
  for (;;) {
    const now = stack.clock.now();
    const due = pending.filter((p) => p.dueAt <= now);
    for (const request of due) {
      pending.splice(pending.indexOf(request), 1);
      const response = await stack.api('POST', '/resets', { instanceId: request.instanceId });
      apiAnswers[response.statusCode] = (apiAnswers[response.statusCode] ?? 0) + 1;
      if (response.statusCode === 202) jobIds.push(response.json.jobId as string);
      else if (response.statusCode === 503 || response.statusCode === 429) {
        apiRetries += 1;
        const delay = clientBackoffSeconds(response.headers?.['retry-after'], request.tries, random);
        pending.push({ instanceId: request.instanceId, dueAt: stack.clock.now() + delay * 1000, tries: request.tries + 1 });
      } else {
        const code = `API ${response.statusCode} ${response.json.code}`;
        refused[code] = (refused[code] ?? 0) + 1;
      }
    }
    if (pending.length === 0) {
      await stack.run(Math.max(0, (until - stack.clock.now()) / 1000));
      break;
    }
    const nextRequest = Math.min(...pending.map((p) => p.dueAt));
    if (nextRequest > until) break;
    await stack.run(Math.max(0, (nextRequest - stack.clock.now()) / 1000));
    if (stack.clock.now() < nextRequest) stack.clock.set(nextRequest);
  }

  const jobs = await Promise.all(jobIds.map((id) => stack.job(id)));
  options.inspect?.(stack, jobs);
  const ended = jobs.filter((j) => !isActive(j));
  const durations = ended.map((j) => (Date.parse(j.endedAt!) - Date.parse(j.createdAt)) / 1000).sort((a, b) => a - b);
  const failures: Record<string, number> = { ...refused };
  let failedFromLimits = 0;
  for (const job of ended.filter((j) => j.status !== 'SUCCEEDED')) {
    const code = job.error?.code ?? 'UNKNOWN';
    failures[code] = (failures[code] ?? 0) + 1;
    if (LIMIT_CODES.has(code) || /throttl|limit exceeded|quota/i.test(job.error?.message ?? '')) failedFromLimits += 1;
  }
  const throttled: Record<string, number> = {};
  const scope = options.throttlingScope ?? 'category';
  const byBucket: Record<string, { calls: number; spec: Ec2BucketName }> = {};
  const answeredByAction: Record<string, number> = {};
  const stops = { requests: 0, instances: 0, largest: 0 };
  for (const call of stack.region.calls) {
    if (call.action === 'StopInstances' && !call.error) {
      const named = ((call.input as { InstanceIds?: string[] }).InstanceIds ?? []).length;
      stops.requests += 1;
      stops.instances += named;
      stops.largest = Math.max(stops.largest, named);
    }
    if (call.error && THROTTLING.has(call.error.code)) throttled[call.action] = (throttled[call.action] ?? 0) + 1;
    else if (!call.error) {
      answeredByAction[call.action] = (answeredByAction[call.action] ?? 0) + 1;
      if (call.service !== 'ec2') continue;
      const spec = ec2BucketFor(call.action, call.input as Record<string, unknown>);
      const bucket = scope === 'action' ? call.action : spec;
      byBucket[bucket] = { calls: (byBucket[bucket]?.calls ?? 0) + 1, spec };
    }
  }
  const runStart = EC2_BUCKETS.runStart;
  // Every fleet target was running: one launch and one start each, in one bucket or in two.
  const launchesAndStarts = scope === 'action' ? jobIds.length : jobIds.length * 2;
  const lastEnd = ended.reduce((max, j) => Math.max(max, Date.parse(j.endedAt!)), t0);
  const bucketBounds = Object.entries(byBucket)
    .map(([bucket, { calls, spec }]) => ({
      bucket,
      calls,
      boundSeconds: Math.max(0, calls - EC2_BUCKETS[spec].capacity) / EC2_BUCKETS[spec].refillPerSecond,
      spec,
    }))
    .sort((a, b) => b.boundSeconds - a.boundSeconds);
  const widest = bucketBounds[0];
  const widestCapacity = widest ? EC2_BUCKETS[widest.spec].capacity + (EC2_BUCKETS[widest.spec].refillPerSecond * (lastEnd - t0)) / 1000 : 0;
  const vpcs = Object.keys(stack.region.exportState().vpcs).length;
  return {
    jobs: jobIds.length,
    succeeded: ended.filter((j) => j.status === 'SUCCEEDED').length,
    failed: ended.filter((j) => j.status !== 'SUCCEEDED').length + Object.values(refused).reduce((a, b) => a + b, 0),
    failures,
    failedFromLimits,
    unfinished: jobs.length - ended.length,
    makespanSeconds: (lastEnd - t0) / 1000,
    p50Seconds: percentile(durations, 0.5),
    p95Seconds: percentile(durations, 0.95),
    maxSeconds: durations[durations.length - 1] ?? 0,
    throttled,
    throttledTotal: Object.values(throttled).reduce((a, b) => a + b, 0),
    apiRetries,
    apiAnswers,
    callsPerJob: jobIds.length ? stack.region.calls.length / jobIds.length : 0,
    counts: meter.snapshot(),
    launchStartBoundSeconds: Math.max(0, launchesAndStarts - runStart.capacity) / runStart.refillPerSecond,
    throttlingScope: scope,
    answered: answeredByAction,
    bucketBounds: bucketBounds.map(({ bucket, calls, boundSeconds }) => ({ bucket, calls, boundSeconds })),
    bottleneck: { bucket: widest?.bucket ?? 'none', utilization: widest && widestCapacity > 0 ? widest.calls / widestCapacity : 0 },
    slotWait: spread(ended.map((j) => Object.values(j.phases).reduce((sum, phase) => sum + (phase?.throttledSeconds ?? 0), 0))),
    targetDowntime: downtime(ended),
    stops,
    vpcs,
    wallSeconds: (Date.now() - wallStart) / 1000,
  };
}

function spread(values: number[]): { p50Seconds: number; p95Seconds: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50Seconds: percentile(sorted, 0.5), p95Seconds: percentile(sorted, 0.95) };
}

/** Each stopped target's time down (stop sent → restore done), and the most down at once. */
function downtime(jobs: Job[]): FleetResult['targetDowntime'] {
  const spans = jobs
    .filter((j) => j.resources.stopRequestedAt && j.phases['restore-target']?.endedAt)
    .map((j) => [Date.parse(j.resources.stopRequestedAt!), Date.parse(j.phases['restore-target']!.endedAt!)] as const);
  const edges = spans.flatMap(([from, to]) => [[from, 1] as const, [to, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let down = 0;
  let maxAtOnce = 0;
  for (const [, change] of edges) maxAtOnce = Math.max(maxAtOnce, (down += change));
  return { ...spread(spans.map(([from, to]) => (to - from) / 1000)), maxAtOnce };
}

/** The value at `q` (0..1) of sorted values, nearest rank. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
