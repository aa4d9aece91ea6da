/**
 * The whole service in one process on simulated time: the real phase runner and adapters, the real
 * SDK clients sending through the simulated region (in-process, no sockets), the job store and the
 * queues in memory, or (`controlPlane: 'wire'`) the production DynamoDB, SQS and EventBridge
 * adapters through their SDK clients to in-process stand-ins (infra/local/control-plane.ts). Every
 * request passes one wire layer (`wire`) that records it and can fault it. Time jumps to the next
 * due message or change in the region, so an hour of AWS waiting runs in milliseconds and every
 * run repeats exactly. The region's events (instance states, Run Command status) reach the
 * aws-events use case after EventBridge's delivery delay, as the default bus's rules deliver them.
 * SQS is modelled as deployed: a failed delivery comes back after the visibility timeout, and after
 * `maxReceiveCount` receives goes to the dead-letter queue. Integration tests, `npm run chaos` and
 * `npm run bench` drive it; `npm start` runs the same handlers on real servers instead.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import { isActive, type Job } from '../../domain/job/job';
import { runPhase } from '../../domain/pipeline/phase-runner';
import { sweep, type SweepSummary } from '../../domain/sweeper/sweeper';
import type { DeferredStart, HelperPoolStore, JobObserver, JobStore, Log, PhaseMessage, RescueNetworkLeases } from '../../domain/ports';
import { wakeJobsFor } from '../../domain/pipeline/wake-jobs';
import { routeApi } from '../../handlers/api-routes';
import type { HttpResponse } from '../../handlers/http';
import { handleTriggerMessage, type TriggerResult } from '../../handlers/trigger-routes';
import { jobEndedDetail } from '../aws/eventbridge-job-events';
import { JOB_FAILED_DETAIL_TYPE, JOB_SUCCEEDED_DETAIL_TYPE } from '../messages/events';
import { createAwsClients, type AwsClients } from '../aws/clients';
import { DynamoJobStore, jobStoreDocumentClient, jobTableDefinition } from '../aws/dynamodb-job-store';
import { DynamoHelperPool } from '../aws/dynamodb-helper-pool';
import { EventBridgeJobEvents } from '../aws/eventbridge-job-events';
import { EventBridgePhaseBus } from '../aws/eventbridge-phase-bus';
import { SqsPhaseScheduler } from '../aws/sqs-phase-scheduler';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { RetryStrategyV2 } from '@aws-sdk/types';
import type { HttpRequest } from '@smithy/types';
import { consumers, MAX_RECEIVE_COUNT, PHASE_TIMEOUT_SECONDS, serviceBusName } from '../deploy/topology';
import { controlPlaneUpstream, Wire, type CallScope } from './control-plane';
import { silentLog } from '../observability/logger';
import { MemoryAdmissionStore, MemoryCooldownStore, MemoryIdempotencyStore } from '../memory/memory-guard-stores';
import { MemoryStopBatchStore } from '../memory/memory-stop-batch-store';
import { MemoryHelperPool } from '../memory/memory-helper-pool';
import { MemoryJobStore } from '../memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../memory/memory-rescue-network-leases';
import { VirtualQueue, type QueueFault, type QueueSend } from '../memory/memory-queues';
import { ManualClock } from '../sim/clock';
import { SimulatedRegion, type SimulatedRegionOptions } from '../sim/region';
import type { SimEvent } from '../sim/events';
import { seedSampleRegion } from '../sim/samples';
import { parseResourceEvent } from '../messages/resource-events';
import { phaseRunPorts } from '../wiring/phase-run-ports';
import { deferredStartJson } from '../messages/trigger-messages';
import { combineObservers } from '../observability/observers';
import { dynamoGuardStores, dynamoNetworkLeases, pickPhasePorts, principalTags, wirePorts, type GuardStores, type ServicePorts } from '../wiring/composition';

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
  /**
   * The SDK clients' retries: `production` (the deployed configuration, infra/aws/clients.ts; its
   * backoff passes on the simulated clock) or `none` (one attempt per call, the default: every
   * throttle reaches the service's own handling).
   */
  sdkRetries?: 'production' | 'none';
  /**
   * Where the job table, the phase queues and the bus are: `memory` (in-memory stores, the
   * default) or `wire`: the production adapters (DynamoDB, SQS, EventBridge) through their SDK
   * clients to in-process stand-ins (infra/local/control-plane.ts), so that faults can be injected
   * beneath the SDK.
   */
  controlPlane?: 'memory' | 'wire';
}

/** A job-ended event as the service would put it on its bus. */
export interface RecordedJobEvent {
  detailType: string;
  detail: Record<string, unknown>;
}

/** The deployment the stack mirrors (its queue names, its bus, its rules). */
const DEPLOYMENT = { service: 'ec2-reset-access', stage: 'virtual' };
const TABLE_NAME = `${DEPLOYMENT.service}-${DEPLOYMENT.stage}-jobs`;
const CREDENTIALS = { accessKeyId: 'sim', secretAccessKey: 'sim' };

/** Thrown into a delivery that Lambda's timeout ended (its handler never returns). */
class InvocationTimedOut extends Error {
  override name = 'InvocationTimedOut';
}

export class VirtualStack {
  readonly clock: ManualClock;
  readonly region: SimulatedRegion;
  /** The job table (in memory, or DynamoDB's on the wire read without faults). */
  readonly store: JobStore & { forget(jobId: string): void };
  /** The shared rescue network's record (leases, creation lock, reclaim). */
  readonly networkLeases: RescueNetworkLeases;
  /** The warm pool of stopped Windows helpers (domain/sweeper/helper-pool.ts). */
  readonly helperPool: HelperPoolStore;
  /** Every sweeper run (`sweep()`), oldest first. */
  readonly sweeps: Array<{ at: number; summary: SweepSummary }> = [];
  readonly queue: VirtualQueue;
  /** Every AWS request the service's SDK clients sent, and the faults injected beneath them. */
  readonly wire: Wire;
  /** The ports every handler runs with; a cold start (`coldStart()`) builds them again. */
  ports: ServicePorts;
  /** How many times the ports were built (1 + cold starts after a killed invocation). */
  coldStarts = 0;
  /** The `Reset Access Job Succeeded/Failed` events, as they would be published. */
  readonly jobEvents: RecordedJobEvent[] = [];
  /** Every message the alarm function handled, and what became of it. */
  readonly triggers: Array<{ at: number; results: TriggerResult[] }> = [];
  /** Every delivery, for tests and the benchmark. */
  readonly deliveries: Array<{ message: PhaseMessage; at: number; outcome: string }> = [];
  /** Messages SQS moved to their queue's dead-letter queue after `maxReceiveCount` receives. */
  readonly deadLetters: Array<{ message: PhaseMessage; at: number; receives: number }> = [];
  /** Every AWS event delivered to the service, and how many phases it woke (or why it failed). */
  readonly awsEventDeliveries: Array<{ at: number; detailType: string; woke: number; error?: string }> = [];
  /** Called before each delivery: a harness may arm a crash here. */
  beforeDelivery?: (message: PhaseMessage) => void;
  /** Resolves once the stand-ins are up (the wire control plane's table) and `seed` is done; every entry point waits for it. */
  ready: Promise<void>;
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
  private deliveryCount = 0;
  private readonly options: VirtualStackOptions;
  private readonly config: ServiceConfig;
  private readonly memoryGuards?: GuardStores;

  constructor(options: VirtualStackOptions = {}) {
    this.options = options;
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
    this.config = { ...defaultConfig, ...options.config };
    const wired = options.controlPlane === 'wire';
    const upstream = controlPlaneUpstream({
      region: this.region,
      deployment: DEPLOYMENT,
      now: () => this.clock.now(),
      dynamodb: wired,
      sink: {
        send: (message, delaySeconds, via) => void (via === 'publish' ? this.queue.publish([message]) : this.queue.later(message, delaySeconds)),
        event: (detailType, detail) => {
          if (detailType === JOB_SUCCEEDED_DETAIL_TYPE || detailType === JOB_FAILED_DETAIL_TYPE)
            this.jobEvents.push({ detailType, detail: detail as Record<string, unknown> });
        },
      },
    });
    this.wire = new Wire(upstream, () => this.clock.now());
    if (wired) {
      // What the harness reads afterwards goes straight to the stand-in: no rule sees it.
      const inspect = createAwsClients({
        region: 'us-east-1',
        requestHandler: { ...this.wire.handler, handle: async (request: HttpRequest) => ({ response: await upstream('dynamodb', request) }) },
        credentials: CREDENTIALS,
        maxAttempts: 1,
        env: {},
      });
      const documents = jobStoreDocumentClient(inspect.dynamodb);
      this.store = Object.assign(new DynamoJobStore(documents, { tableName: TABLE_NAME }), {
        forget: () => {
          throw new Error('forget: only the in-memory job store can lose a job');
        },
      });
      this.networkLeases = dynamoNetworkLeases(documents, TABLE_NAME);
      this.helperPool = new DynamoHelperPool(documents, { tableName: TABLE_NAME });
      this.ready = createTable(inspect);
    } else {
      this.store = new MemoryJobStore();
      this.networkLeases = new MemoryRescueNetworkLeases();
      this.helperPool = new MemoryHelperPool();
      this.memoryGuards = {
        idempotency: new MemoryIdempotencyStore(),
        cooldowns: new MemoryCooldownStore(),
        admission: new MemoryAdmissionStore(),
        stopBatches: new MemoryStopBatchStore(),
        helperPool: this.helperPool,
      };
      this.ready = Promise.resolve();
    }
    this.ports = this.buildPorts();
  }

  /** Writes what a scenario finds in place (e.g. a warm-pool slot) once the table exists and before any entry point runs. */
  seed(write: () => Promise<unknown>): void {
    this.ready = this.ready.then(write).then(() => undefined);
  }

  /**
   * A cold start: new SDK clients and adapters, as a new Lambda execution environment would build
   * them (after a timeout killed the last one). What AWS holds (the table, queues, region) stays.
   */
  coldStart(): void {
    this.ports = this.buildPorts();
  }

  private buildPorts(): ServicePorts {
    this.coldStarts += 1;
    const options = this.options;
    const production = options.sdkRetries === 'production';
    const clients = createAwsClients({
      region: 'us-east-1',
      requestHandler: this.wire.handler,
      credentials: CREDENTIALS,
      ...(production ? {} : { maxAttempts: 1 }),
      env: {},
    });
    if (production) for (const client of Object.values(clients)) backoffOnSimulatedClock(client, this.clock);
    const seed = options.idSeed ?? 'v';
    const recorder: JobObserver = {
      jobStarted: async () => undefined,
      phaseFinished: async () => undefined,
      jobFinished: async (job) => {
        this.jobEvents.push({ detailType: job.status === 'SUCCEEDED' ? JOB_SUCCEEDED_DETAIL_TYPE : JOB_FAILED_DETAIL_TYPE, detail: jobEndedDetail(job) });
      },
    };
    const wired = options.controlPlane === 'wire';
    const documents = wired ? jobStoreDocumentClient(clients.dynamodb) : undefined;
    const queueUrls = new Map(consumers(DEPLOYMENT).map((c) => [c.key, `https://sqs.us-east-1.amazonaws.com/000000000000/${c.queue.name}`]));
    const simulatedSleep = async (ms: number) => this.clock.advance(ms);
    // On the wire the job-ended events go out through EventBridge (the stand-in records them).
    const events: JobObserver = wired ? new EventBridgeJobEvents(clients.eventBridge, { eventBusName: serviceBusName(DEPLOYMENT) }) : recorder;
    return wirePorts({
      clients,
      config: this.config,
      store: documents ? new DynamoJobStore(documents, { tableName: TABLE_NAME }) : this.store,
      bus: wired ? new EventBridgePhaseBus(clients.eventBridge, { eventBusName: serviceBusName(DEPLOYMENT), sleep: simulatedSleep }) : this.queue,
      scheduler: wired ? new SqsPhaseScheduler(clients.sqs, { queueUrlFor: (phase) => queueUrls.get(phase)! }) : this.queue,
      log: options.log ?? silentLog,
      clock: { now: () => new Date(this.clock.now()) },
      guards: documents ? dynamoGuardStores(documents, TABLE_NAME) : this.memoryGuards!,
      deferral: {
        later: async (start, delaySeconds) => {
          this.deferred.push({ start: structuredClone(start), dueAt: this.clock.now() + Math.max(0, delaySeconds) * 1000, seq: this.deferredSeq++ });
        },
      },
      observer: options.observer ? combineObservers(events, options.observer) : events,
      ids: { jobId: () => `r-${seed}${(++this.jobCounter).toString(36).padStart(8, '0')}` },
      networkLeases: documents ? dynamoNetworkLeases(documents, TABLE_NAME) : this.networkLeases,
      principals: principalTags(clients.iam, this.config, () => this.clock.now()),
      // The sweeper's waits pass simulated time (messages falling due meanwhile wait for the next `run`).
      sleeper: { sleep: async (seconds) => this.clock.advance(seconds * 1000) },
    });
  }

  /** Calls the HTTP API as API Gateway would; `caller` is the IAM identity its authoriser would pass. */
  // `json` is whatever the route answered (a job, a list, an error): tests read it freely.
  async api(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    options: { caller?: string } = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<HttpResponse & { json: any }> {
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
    await this.ready;
    const response = await this.wire.within({ site: 'api', delivery: -1 }, () => routeApi(event, this.ports));
    return { ...response, json: JSON.parse(response.body) };
  }

  /**
   * Puts an EventBridge event (the envelope, as a rule delivers it) into the alarm function, as
   * its queue would. Answers what became of it (deferred starts come back in `run`).
   */
  async trigger(event: Record<string, unknown>): Promise<TriggerResult[]> {
    await this.ready;
    const results = await this.wire.within({ site: 'alarm', delivery: -1 }, () => handleTriggerMessage(JSON.stringify(event), this.ports));
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
    await this.ready;
    const summary = await this.wire.within({ site: 'sweeper', delivery: -1 }, () => sweep(this.ports, options));
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
    await this.ready;
    const until = this.clock.now() + maxSimSeconds * 1000;
    for (;;) {
      const due = this.queue.takeDue();
      if (due.length > 0) {
        if (this.concurrentDeliveries) await Promise.all(due.map(({ message, id, receives }) => this.deliver(message, { id, receives })));
        else for (const { message, id, receives } of due) await this.deliver(message, { id, receives });
        continue;
      }
      const now = this.clock.now();
      const dueStarts = this.deferred.filter((d) => d.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
      if (dueStarts.length > 0) {
        this.deferred = this.deferred.filter((d) => d.dueAt > now);
        for (const { start } of dueStarts) {
          const results = await this.wire.within({ site: 'alarm', delivery: -1 }, () => handleTriggerMessage(deferredStartJson(start), this.ports));
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
      const woken = parsed ? await this.wire.within({ site: 'aws-events', delivery: -1 }, () => wakeJobsFor(parsed, this.ports)) : [];
      this.awsEventDeliveries.push({ at: this.clock.now(), detailType: event['detail-type'], woke: woken.length });
    } catch (error) {
      this.awsEventDeliveries.push({ at: this.clock.now(), detailType: event['detail-type'], woke: 0, error: (error as Error).message });
      if (receives < 5) this.awsEvents.push({ event, dueAt: this.clock.now() + this.redeliverySeconds * 1000, receives: receives + 1 });
    }
  }

  /**
   * One delivery as Lambda would make it: a handler that throws leaves the message for redelivery
   * after the visibility timeout, and after `maxReceiveCount` receives SQS moves it to the
   * dead-letter queue (`deadLetters`). A handler killed by its timeout (a harness's `kill` rule)
   * never returns: its message comes back the same way, and the next invocation is a cold start.
   * `entry` is the queue entry delivered (its id and earlier receives), when it came from the queue.
   */
  async deliver(message: PhaseMessage, entry?: { id: number; receives: number }): Promise<void> {
    await this.ready;
    this.beforeDelivery?.(message);
    let outcome: string;
    let timedOut!: () => void;
    const killed = new Promise<never>(
      (_, reject) => (timedOut = () => reject(new InvocationTimedOut(`${message.phase} timed out after ${PHASE_TIMEOUT_SECONDS} s`))),
    );
    killed.catch(() => undefined);
    const scope: CallScope = {
      site: message.phase,
      delivery: this.deliveryCount++,
      message,
      messageId: entry?.id,
      receives: (entry?.receives ?? 0) + 1,
      kill: () => timedOut(),
    };
    try {
      const ports = this.ports;
      outcome = await Promise.race([this.wire.within(scope, () => runPhase(message, phaseRunPorts(pickPhasePorts(message.phase, ports), message))), killed]);
    } catch (error) {
      outcome = `threw ${(error as Error).name}`;
      if (error instanceof InvocationTimedOut) {
        // Lambda ran out of time: the clock stands at its timeout, and the next invocation is a cold
        // start (docs/aws-facts.md#sqs-and-lambda).
        this.wire.leave(scope);
        this.clock.advance(PHASE_TIMEOUT_SECONDS * 1000);
        this.coldStart();
      }
      const receives = scope.receives!;
      // SQS keeps an unacknowledged message; after maxReceiveCount receives it goes to the DLQ
      // (docs/aws-facts.md#sqs-and-lambda).
      if (receives >= MAX_RECEIVE_COUNT) this.deadLetters.push({ message, at: this.clock.now(), receives });
      else this.queue.redeliver(message, this.redeliverySeconds, entry);
    }
    this.deliveries.push({ message, at: this.clock.now(), outcome });
  }

  async activeJobs(): Promise<Job[]> {
    return (await this.store.listActive()).filter(isActive);
  }
}

/** Creates the job table in the in-process DynamoDB, as the deployment defines it. */
async function createTable(clients: AwsClients): Promise<void> {
  await clients.dynamodb.send(new CreateTableCommand(jobTableDefinition(TABLE_NAME)));
  for (let look = 0; look < 100; look++) {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: TABLE_NAME }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('the in-process job table did not become ACTIVE');
}

/**
 * Keeps a client's retry strategy (the deployed one: attempts, which errors, the backoff it
 * computes) but passes its backoff on the simulated clock instead of sleeping.
 */
function backoffOnSimulatedClock(client: AwsClients[keyof AwsClients], clock: ManualClock): void {
  const config = client.config as unknown as { retryStrategy: () => Promise<RetryStrategyV2> };
  const deployed = config.retryStrategy;
  let simulated: Promise<RetryStrategyV2> | undefined;
  config.retryStrategy = () =>
    (simulated ??= deployed().then((strategy) => ({
      acquireInitialRetryToken: (scope: string) => strategy.acquireInitialRetryToken(scope),
      refreshRetryTokenForRetry: async (token, info) => {
        const next = await strategy.refreshRetryTokenForRetry(token, info);
        clock.advance(next.getRetryDelay());
        return { getRetryCount: () => next.getRetryCount(), getRetryDelay: () => 0 };
      },
      recordSuccess: (token) => strategy.recordSuccess(token),
    })));
}

function minimum(...values: Array<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}
