/**
 * The whole service in one process on simulated time: the real phase runner and adapters, the real
 * SDK clients sending through the simulated region (in-process, no sockets), the job store and the
 * queues in memory. Time jumps to the next due message or change in the region, so an hour of AWS
 * waiting runs in milliseconds and every run repeats exactly. The region's events (instance states,
 * Run Command status) reach the aws-events use case after EventBridge's delivery delay, as the
 * default bus's rules deliver them. Integration tests, `npm run chaos` and `npm run bench` drive
 * it; `npm start` runs the same handlers on real servers instead.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import { isActive, type Job } from '../../domain/job/job';
import { runPhase } from '../../domain/pipeline/phase-runner';
import { sweep, type SweepSummary } from '../../domain/sweeper/sweeper';
import type { DeferredStart, JobObserver, Log, PhaseMessage } from '../../domain/ports';
import { wakeJobsFor } from '../../domain/pipeline/wake-jobs';
import { routeApi } from '../../handlers/api-routes';
import type { HttpResponse } from '../../handlers/http';
import { handleTriggerMessage, type TriggerResult } from '../../handlers/trigger-routes';
import { jobEndedDetail } from '../aws/eventbridge-job-events';
import { JOB_FAILED_DETAIL_TYPE, JOB_SUCCEEDED_DETAIL_TYPE } from '../messages/events';
import { createAwsClients } from '../aws/clients';
import { silentLog } from '../observability/logger';
import { MemoryAdmissionStore, MemoryCooldownStore, MemoryIdempotencyStore } from '../memory/memory-guard-stores';
import { MemoryStopBatchStore } from '../memory/memory-stop-batch-store';
import { MemoryHelperPool } from '../memory/memory-helper-pool';
import { MemoryJobStore } from '../memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../memory/memory-rescue-network-leases';
import { VirtualQueue, type QueueFault, type QueueSend } from '../memory/memory-queues';
import { ManualClock } from '../sim/clock';
import { createSimRequestHandler } from '../sim/http';
import { SimulatedRegion, type SimulatedRegionOptions } from '../sim/region';
import type { SimEvent } from '../sim/events';
import { seedSampleRegion } from '../sim/samples';
import { parseResourceEvent } from '../messages/resource-events';
import { phaseRunPorts } from '../wiring/phase-run-ports';
import { deferredStartJson } from '../messages/trigger-messages';
import { combineObservers } from '../observability/observers';
import { pickPhasePorts, principalTags, wirePorts, type ServicePorts } from '../wiring/composition';

export interface VirtualStackOptions {
  config?: Partial<ServiceConfig>;
  region?: Omit<SimulatedRegionOptions, 'clock'>;
  /** Seed the sample instances (default true). */
  samples?: boolean;
  /**
   * Run in the simulated region (and on the clock) of another stack: a second deployment (another
   * stage, `config.deployment`) in the same account and region. Its samples are not seeded again.
   */
  shareRegionWith?: VirtualStack;
  /** Fault hook on every publish and delayed send (drop, duplicate, delay). */
  queueFault?: (send: QueueSend) => QueueFault;
  /** How long SQS keeps a message whose handler failed before it delivers it again (simulated). */
  redeliverySeconds?: number;
  /** Seed for job ids, so that runs repeat. */
  idSeed?: string;
  /**
   * Deliver the messages due at one moment concurrently, as Lambda would (their AWS calls and
   * store writes interleave), instead of one after the other.
   */
  concurrentDeliveries?: boolean;
  /** Where the service logs (silent by default); phase runs add jobId, instanceId, phase to each line. */
  log?: Log;
  /** Told besides the stack's own recording of job-ended events (`jobEvents`). */
  observer?: JobObserver;
  /** Deliver the region's AWS events to the service (default true); false: the jobs only poll. */
  awsEvents?: boolean;
}

/** A job-ended event as the service would put it on its bus. */
export interface RecordedJobEvent {
  detailType: string;
  detail: Record<string, unknown>;
}

export class VirtualStack {
  readonly clock: ManualClock;
  readonly region: SimulatedRegion;
  readonly store = new MemoryJobStore();
  /** The shared rescue network's record (leases, creation lock, reclaim). */
  readonly networkLeases = new MemoryRescueNetworkLeases();
  /** The warm pool of stopped Windows helpers (domain/sweeper/helper-pool.ts). */
  readonly helperPool = new MemoryHelperPool();
  /** Every sweeper run (`sweep()`), oldest first. */
  readonly sweeps: Array<{ at: number; summary: SweepSummary }> = [];
  readonly queue: VirtualQueue;
  readonly ports: ServicePorts;
  /** The `Reset Access Job Succeeded/Failed` events, as they would be published. */
  readonly jobEvents: RecordedJobEvent[] = [];
  /** Every message the alarm function handled, and what became of it. */
  readonly triggers: Array<{ at: number; results: TriggerResult[] }> = [];
  /** Every delivery, for tests and the benchmark. */
  readonly deliveries: Array<{ message: PhaseMessage; at: number; outcome: string }> = [];
  /** Every AWS event delivered to the service, and how many phases it woke (or why it failed). */
  readonly awsEventDeliveries: Array<{ at: number; detailType: string; woke: number; error?: string }> = [];
  /** Called before each delivery: a harness may arm a crash here. */
  beforeDelivery?: (message: PhaseMessage) => void;
  private readonly redeliverySeconds: number;
  /** The region's events on their way through EventBridge. */
  private awsEvents: Array<{ event: SimEvent; dueAt: number; receives?: number }> = [];
  private readonly deliversAwsEvents: boolean;
  private readonly concurrentDeliveries: boolean;
  /** The alarm function's queue: deferred starts waiting for their admission slot. */
  private deferred: Array<{ start: DeferredStart; dueAt: number; seq: number }> = [];
  private deferredSeq = 0;
  private apiCalls = 0;
  private jobCounter = 0;

  constructor(options: VirtualStackOptions = {}) {
    const shared = options.shareRegionWith;
    this.clock = shared?.clock ?? new ManualClock(Date.UTC(2026, 0, 5, 9, 0, 0));
    this.region = shared?.region ?? new SimulatedRegion({ ...options.region, clock: this.clock });
    if (!shared && options.samples !== false) seedSampleRegion(this.region);
    this.deliversAwsEvents = options.awsEvents !== false;
    if (this.deliversAwsEvents) {
      this.region.onEvent((event) => void this.awsEvents.push({ event, dueAt: this.clock.now() + this.region.timings.awsEventDeliveryMs }));
    }
    this.queue = new VirtualQueue(this.clock, { fault: options.queueFault });
    this.redeliverySeconds = options.redeliverySeconds ?? 360;
    this.concurrentDeliveries = options.concurrentDeliveries ?? false;
    const clients = createAwsClients({
      region: 'us-east-1',
      requestHandler: createSimRequestHandler(this.region),
      credentials: { accessKeyId: 'sim', secretAccessKey: 'sim' },
      maxAttempts: 1,
      env: {},
    });
    const config: ServiceConfig = { ...defaultConfig, ...options.config };
    const seed = options.idSeed ?? 'v';
    const recorder: JobObserver = {
      jobStarted: async () => undefined,
      phaseFinished: async () => undefined,
      jobFinished: async (job) => {
        this.jobEvents.push({ detailType: job.status === 'SUCCEEDED' ? JOB_SUCCEEDED_DETAIL_TYPE : JOB_FAILED_DETAIL_TYPE, detail: jobEndedDetail(job) });
      },
    };
    this.ports = wirePorts({
      clients,
      config,
      store: this.store,
      bus: this.queue,
      scheduler: this.queue,
      log: options.log ?? silentLog,
      clock: { now: () => new Date(this.clock.now()) },
      guards: {
        idempotency: new MemoryIdempotencyStore(),
        cooldowns: new MemoryCooldownStore(),
        admission: new MemoryAdmissionStore(),
        stopBatches: new MemoryStopBatchStore(),
        helperPool: this.helperPool,
      },
      deferral: {
        later: async (start, delaySeconds) => {
          this.deferred.push({ start: structuredClone(start), dueAt: this.clock.now() + Math.max(0, delaySeconds) * 1000, seq: this.deferredSeq++ });
        },
      },
      observer: options.observer ? combineObservers(recorder, options.observer) : recorder,
      ids: { jobId: () => `r-${seed}${(++this.jobCounter).toString(36).padStart(8, '0')}` },
      networkLeases: this.networkLeases,
      principals: principalTags(clients.iam, config, () => this.clock.now()),
      // The sweeper's waits pass simulated time (messages falling due meanwhile wait for the next `run`).
      sleeper: { sleep: async (seconds) => this.clock.advance(seconds * 1000) },
    });
  }

  /** Calls the HTTP API as API Gateway would; `caller` is the IAM identity its authoriser would pass. */
  // `json` is whatever the route answered (a job, a list, an error): tests read it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, options: { caller?: string } = {}): Promise<HttpResponse & { json: any }> {
    const url = new URL(path, 'http://localhost');
    const event = {
      rawPath: url.pathname,
      queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      requestContext: {
        http: { method },
        requestId: `req-${++this.apiCalls}`,
        ...(options.caller ? { authorizer: { iam: { userArn: options.caller } } } : {}),
      },
    } as unknown as APIGatewayProxyEventV2;
    const response = await routeApi(event, this.ports);
    return { ...response, json: JSON.parse(response.body) };
  }

  /**
   * Puts an EventBridge event (the envelope, as a rule delivers it) into the alarm function, as
   * its queue would. Answers what became of it (deferred starts come back in `run`).
   */
  async trigger(event: Record<string, unknown>): Promise<TriggerResult[]> {
    const results = await handleTriggerMessage(JSON.stringify(event), this.ports);
    this.triggers.push({ at: this.clock.now(), results });
    return results;
  }

  /** Deferred starts waiting in the alarm function's queue. */
  get deferredStarts(): number {
    return this.deferred.length;
  }

  /**
   * One run of the sweeper now, as its schedule would start it (`dryRun` overrides the setting).
   * Its waits move the clock on.
   */
  async sweep(options: { dryRun?: boolean } = {}): Promise<SweepSummary> {
    const summary = await sweep(this.ports, options);
    this.sweeps.push({ at: this.clock.now(), summary });
    return summary;
  }

  async job(jobId: string): Promise<Job> {
    return (await this.store.get(jobId))!;
  }

  /**
   * Delivers due messages and AWS events and jumps the clock to the next one (or to the next change
   * in the region, whose events then set off) until nothing is due any more or `maxSimSeconds` have
   * passed. Answers why it stopped: `idle` (no message or event left) or `time`.
   */
  async run(maxSimSeconds = 6 * 3600): Promise<'idle' | 'time'> {
    const until = this.clock.now() + maxSimSeconds * 1000;
    for (;;) {
      const due = this.queue.takeDue();
      if (due.length > 0) {
        if (this.concurrentDeliveries) await Promise.all(due.map(({ message }) => this.deliver(message)));
        else for (const { message } of due) await this.deliver(message);
        continue;
      }
      const now = this.clock.now();
      const dueStarts = this.deferred.filter((d) => d.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
      if (dueStarts.length > 0) {
        this.deferred = this.deferred.filter((d) => d.dueAt > now);
        for (const { start } of dueStarts) {
          const results = await handleTriggerMessage(deferredStartJson(start), this.ports);
          this.triggers.push({ at: this.clock.now(), results });
        }
        continue;
      }
      const events = this.awsEvents.filter((e) => e.dueAt <= now);
      if (events.length > 0) {
        this.awsEvents = this.awsEvents.filter((e) => e.dueAt > now);
        for (const { event, receives } of events) await this.deliverAwsEvent(event, receives);
        continue;
      }
      const work = minimum(this.queue.nextDueAt(), ...this.deferred.map((d) => d.dueAt), ...this.awsEvents.map((e) => e.dueAt));
      if (work === undefined) return 'idle';
      // A change in the region before the next delivery: go there, so that its events leave on time.
      const change = this.deliversAwsEvents ? this.region.nextTransitionAt() : undefined;
      const next = change !== undefined && change < work ? Math.max(change, now) : work;
      if (next > until) return 'time';
      this.clock.set(next);
      if (next !== work) this.region.tick();
    }
  }

  /**
   * One AWS event as the aws-events function handles it (the default bus's rules, its queue): one
   * that fails comes back after the visibility timeout, and after its fifth receive goes to the DLQ.
   */
  async deliverAwsEvent(event: SimEvent, receives = 1): Promise<void> {
    const parsed = parseResourceEvent(event);
    try {
      const woken = parsed ? await wakeJobsFor(parsed, this.ports) : [];
      this.awsEventDeliveries.push({ at: this.clock.now(), detailType: event['detail-type'], woke: woken.length });
    } catch (error) {
      this.awsEventDeliveries.push({ at: this.clock.now(), detailType: event['detail-type'], woke: 0, error: (error as Error).message });
      if (receives < 5) this.awsEvents.push({ event, dueAt: this.clock.now() + this.redeliverySeconds * 1000, receives: receives + 1 });
    }
  }

  /** One delivery as Lambda would make it: a handler that throws leaves the message for redelivery. */
  async deliver(message: PhaseMessage): Promise<void> {
    this.beforeDelivery?.(message);
    let outcome: string;
    try {
      outcome = await runPhase(message, phaseRunPorts(pickPhasePorts(message.phase, this.ports), message));
    } catch (error) {
      outcome = `threw ${(error as Error).name}`;
      // The message was never acknowledged: SQS makes it visible again after the visibility timeout.
      this.queue.redeliver(message, this.redeliverySeconds);
    }
    this.deliveries.push({ message, at: this.clock.now(), outcome });
  }

  async activeJobs(): Promise<Job[]> {
    return (await this.store.listActive()).filter(isActive);
  }
}

function minimum(...values: Array<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}
