/**
 * The whole service in one process on simulated time: the real phase runner and adapters, the real
 * SDK clients sending through the simulated region (in-process, no sockets), the job store and the
 * queues in memory. Time jumps to the next due message, so an hour of AWS waiting runs in
 * milliseconds and every run repeats exactly. Integration tests, `npm run chaos` and
 * `npm run bench` drive it; `npm start` runs the same handlers on real servers instead.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import { isActive, type Job } from '../../domain/job';
import { runPhase, type PhasePorts } from '../../domain/phase-runner';
import { phaseSteps } from '../../domain/phases';
import type { PhaseMessage } from '../../domain/ports';
import { routeApi, type ApiPorts } from '../../handlers/api-routes';
import type { HttpResponse } from '../../handlers/http';
import { createAwsClients } from '../aws/clients';
import { silentLog } from '../logger';
import { MemoryJobStore } from '../memory/memory-job-store';
import { VirtualQueue, type QueueFault, type QueueSend } from '../memory/memory-queues';
import { ManualClock } from '../sim/clock';
import { createSimRequestHandler } from '../sim/http';
import { SimulatedRegion, type SimulatedRegionOptions } from '../sim/region';
import { seedSampleRegion } from '../sim/samples';
import { wirePorts } from '../wiring';

export interface VirtualStackOptions {
  config?: Partial<ServiceConfig>;
  region?: Omit<SimulatedRegionOptions, 'clock'>;
  /** Seed the sample instances (default true). */
  samples?: boolean;
  /** Fault hook on every publish and delayed send (drop, duplicate, delay). */
  queueFault?: (send: QueueSend) => QueueFault;
  /** How long SQS keeps a message whose handler failed before it delivers it again (simulated). */
  redeliverySeconds?: number;
  /** Seed for job ids, so that runs repeat. */
  idSeed?: string;
}

export class VirtualStack {
  readonly clock = new ManualClock(Date.UTC(2026, 0, 5, 9, 0, 0));
  readonly region: SimulatedRegion;
  readonly store = new MemoryJobStore();
  readonly queue: VirtualQueue;
  readonly ports: PhasePorts & ApiPorts;
  /** Every delivery, for tests and the benchmark. */
  readonly deliveries: Array<{ message: PhaseMessage; at: number; outcome: string }> = [];
  /** Called before each delivery: a harness may arm a crash here. */
  beforeDelivery?: (message: PhaseMessage) => void;
  private readonly redeliverySeconds: number;
  private jobCounter = 0;

  constructor(options: VirtualStackOptions = {}) {
    this.region = new SimulatedRegion({ ...options.region, clock: this.clock });
    if (options.samples !== false) seedSampleRegion(this.region);
    this.queue = new VirtualQueue(this.clock, { fault: options.queueFault });
    this.redeliverySeconds = options.redeliverySeconds ?? 360;
    const clients = createAwsClients({
      region: 'us-east-1',
      requestHandler: createSimRequestHandler(this.region),
      credentials: { accessKeyId: 'sim', secretAccessKey: 'sim' },
      maxAttempts: 1,
      env: {},
    });
    const config: ServiceConfig = { ...defaultConfig, ...options.config };
    const seed = options.idSeed ?? 'v';
    this.ports = wirePorts({
      clients,
      config,
      store: this.store,
      bus: this.queue,
      scheduler: this.queue,
      log: silentLog,
      clock: { now: () => new Date(this.clock.now()) },
      ids: { jobId: () => `r-${seed}${(++this.jobCounter).toString(36).padStart(8, '0')}` },
    });
  }

  /** Calls the HTTP API as API Gateway would. */
  async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResponse & { json: any }> {
    const url = new URL(path, 'http://localhost');
    const event = {
      rawPath: url.pathname,
      queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      requestContext: { http: { method }, requestId: `req-${this.deliveries.length}` },
    } as unknown as APIGatewayProxyEventV2;
    const response = await routeApi(event, this.ports);
    return { ...response, json: JSON.parse(response.body) };
  }

  async job(jobId: string): Promise<Job> {
    return (await this.store.get(jobId))!;
  }

  /**
   * Delivers due messages and jumps the clock to the next one until nothing is due any more or
   * `maxSimSeconds` have passed. Answers why it stopped: `idle` (no message left) or `time`.
   */
  async run(maxSimSeconds = 6 * 3600): Promise<'idle' | 'time'> {
    const until = this.clock.now() + maxSimSeconds * 1000;
    for (;;) {
      const due = this.queue.takeDue();
      if (due.length > 0) {
        for (const { message } of due) await this.deliver(message);
        continue;
      }
      const next = this.queue.nextDueAt();
      if (next === undefined) return 'idle';
      if (next > until) return 'time';
      this.clock.set(next);
    }
  }

  /** One delivery as Lambda would make it: a handler that throws leaves the message for redelivery. */
  async deliver(message: PhaseMessage): Promise<void> {
    this.beforeDelivery?.(message);
    let outcome: string;
    try {
      outcome = await runPhase(message, phaseSteps, this.ports);
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
