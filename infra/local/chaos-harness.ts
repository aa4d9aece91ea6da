/**
 * The chaos harness behind `npm run chaos`: runs each scenario once without faults to learn every
 * AWS call it makes, then, for each call and each fault kind that applies to it, a complete fresh
 * job in a fresh VirtualStack with exactly that one fault, and checks what must hold whatever fails
 * (the root volume back and attached as it was, run state and DeleteOnTermination restored, no
 * helper left, nothing of the customer's deleted, at most one helper per job, the job ended with a
 * reason; docs/architecture.md#rollback). Everything runs on the simulated clock, with the SDK clients' production retry
 * configuration (infra/aws/clients.ts; its backoff passes on the simulated clock).
 *
 * Two planes:
 * - `memory`: the job table, queues and bus in memory; faults in EC2, SSM (Parameter Store
 *   included) and KMS, and crashes, duplicates and lost events by wrapping the stack's ports. Every
 *   call of the scenario is faulted.
 * - `wire`: the production adapters of DynamoDB, SQS and EventBridge through their SDK clients to
 *   in-process stand-ins (infra/local/control-plane.ts), faults injected beneath the SDK; also
 *   Lambda timeouts. The first call of each kind (site × service × action × item) is faulted.
 *
 * A run counts as held only when its fault fired; a transient fault must also have been absorbed by
 * the retry that is there for it (the SDK's, or the bus's resend of failed entries). No production
 * code knows about any of this.
 */
import type { Job, PhaseName } from '../../domain/job/job';
import { isActive, sshKeyParameterName } from '../../domain/job/job';
import { TAG } from '../../domain/naming';
import type { JobStore, Log, PhaseBus, PhaseMessage, PhaseScheduler } from '../../domain/ports';
import { DEFAULT_MAX_ATTEMPTS } from '../aws/clients';
import { MAX_RECEIVE_COUNT } from '../deploy/topology';
import type { QueueSend } from '../memory/memory-queues';
import { usersAcceptingKey } from '../sim/linux-rescue-model';
import { passwordGenerationEnabled } from '../sim/windows-rescue-model';
import type { SimEvent } from '../sim/events';
import type { FaultHandle, FaultRule } from '../sim/faults';
import type { WireCall, WireRule, WireRuleHandle, WireService } from './control-plane';
import { publicKeyOfPrivate } from './ssh-public-key';
import { VirtualStack, type VirtualStackOptions } from './virtual-stack';

/** Faults in EC2, SSM and KMS calls, and in the handlers around them (the `memory` plane). */
export const MEMORY_KINDS = ['permanent', 'throttle', 'throttle-persistent', 'crash', 'duplicate', 'lost-event'] as const;
/** Faults of the service's own plumbing and of Lambda (the `wire` plane). */
export const WIRE_KINDS = [
  'ddb-throttle',
  'ddb-throttle-persistent',
  'ddb-internal-error',
  'ddb-lost-answer',
  'ddb-lost-race',
  'sqs-throttle',
  'sqs-send-fails',
  'sqs-double-delivery',
  'sqs-visibility-timeout',
  'sqs-dead-letter',
  'eb-failed-entry',
  'eb-failed-entry-persistent',
  'eb-throttle',
  'eb-throttle-persistent',
  'lambda-timeout',
] as const;
export const FAULT_KINDS = [...MEMORY_KINDS, ...WIRE_KINDS] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type Plane = 'memory' | 'wire';

export function planeOf(kind: FaultKind): Plane {
  return (MEMORY_KINDS as readonly string[]).includes(kind) ? 'memory' : 'wire';
}

/** What each kind does, for the report. */
export const KIND_DESCRIPTIONS: Record<FaultKind, string> = {
  permanent: 'access denied (never retried)',
  throttle: 'throttled once (transient: the SDK retries)',
  'throttle-persistent': 'throttled on every SDK attempt (persistent)',
  crash: 'handler crashed after the call, before its write',
  duplicate: 'the delivery made twice at once',
  'lost-event': 'the next event published lost',
  'ddb-throttle': 'ProvisionedThroughputExceeded once (transient)',
  'ddb-throttle-persistent': 'ThrottlingException on every SDK attempt',
  'ddb-internal-error': 'InternalServerError (500)',
  'ddb-lost-answer': 'write took effect, answer lost',
  'ddb-lost-race': 'conditional write loses to a second delivery',
  'sqs-throttle': 'SendMessage throttled once (transient)',
  'sqs-send-fails': 'SendMessage fails (500) after the state write',
  'sqs-double-delivery': 'one message delivered twice at the same time',
  'sqs-visibility-timeout': 'message visible again while its handler runs',
  'sqs-dead-letter': `every receive fails: to the DLQ after ${MAX_RECEIVE_COUNT} receives`,
  'eb-failed-entry': 'PutEvents 200 with FailedEntryCount > 0, once',
  'eb-failed-entry-persistent': 'PutEvents 200 with FailedEntryCount > 0, for the whole delivery',
  'eb-throttle': 'PutEvents throttled once (transient)',
  'eb-throttle-persistent': 'PutEvents throttled on every SDK attempt',
  'lambda-timeout': 'handler killed by its timeout after the call took effect; cold start',
};

/** Kinds whose fault the retry in place must absorb (the job never sees it). */
const TRANSIENT: ReadonlySet<FaultKind> = new Set(['throttle', 'ddb-throttle', 'sqs-throttle', 'eb-throttle', 'eb-failed-entry']);

/** Where a call was made: the API request that started the job, or a delivery of a phase. */
export type CallSite = 'api' | PhaseName | 'sweeper' | 'aws-events' | 'alarm';

export interface RecordedCall {
  index: number;
  service: WireService;
  action: string;
  site: CallSite;
  /** Which delivery made it (0 = the first), `-1` outside deliveries. */
  delivery: number;
  /** The call's kind (site × service × action × item): the wire plane faults the first of each. */
  signature: string;
  /** The call changes something (not a read). */
  mutating: boolean;
  /** The first call of its delivery. */
  firstOfDelivery: boolean;
  /** A conditional write of the job record over the version it read. */
  versionedJobWrite: boolean;
  /** What it got in the clean run (`ok` or an error code such as ConditionalCheckFailedException). */
  answer: string;
}

export interface ChaosScenario {
  /** Names the scenario in reports. */
  name: string;
  /** The instance to reset (a sample of the simulated region). */
  instanceId: string;
  /** Makes the scenario (e.g. a fault that fails the job) before the job starts, in every run. */
  arrange?: (stack: VirtualStack) => void;
  /** Only calls made at these sites are faulted (default: all). */
  sites?: readonly CallSite[];
  /** Only calls to these services are faulted (default: all). */
  services?: readonly WireService[];
  /** The planes it runs on (default both). */
  planes?: readonly Plane[];
  /** The start request's body besides the instance id. */
  request?: Record<string, unknown>;
  stack?: VirtualStackOptions;
  /** Longest simulated time a run may take before it counts as stranded. */
  maxSimSeconds?: number;
}

export interface Baseline {
  scenario: ChaosScenario;
  plane: Plane;
  calls: RecordedCall[];
  status: string;
}

export interface RunReport {
  scenario: string;
  kind: FaultKind;
  call: RecordedCall;
  /** Whether the fault took effect (a crash needs a write after the call, a lost event a publish…). */
  fired: boolean;
  /** The job's end, or why there is none (`no job: 503`). */
  outcome: string;
  violations: string[];
  /** The job was still active after the sweeper's last run. */
  stranded: boolean;
  /** Real time the run took (ms). */
  wallMs: number;
}

/** AWS's answer to a caller without permission, per service: never retried. The throttling and 5xx codes below are each service's own (docs/aws-facts.md#throttling-errors-and-retries, #dynamodb, #sqs-and-lambda, #ebs-encryption-and-kms). */
const PERMANENT: Record<'ec2' | 'ssm' | 'kms', { code: string; status: number }> = {
  ec2: { code: 'UnauthorizedOperation', status: 403 },
  ssm: { code: 'AccessDeniedException', status: 400 },
  kms: { code: 'AccessDeniedException', status: 400 },
};

/** A clean Linux reset: every call of it is faulted. */
export const LINUX_RESET: ChaosScenario = { name: 'linux reset', instanceId: 'i-0a1b2c3d4e5f60001' };

/**
 * The same reset failing at its deepest point (the rescue command refused), so that it rolls back
 * from everything a job can hold: the rollback's own calls are faulted.
 */
export const LINUX_ROLLBACK: ChaosScenario = {
  name: 'linux rollback',
  instanceId: 'i-0a1b2c3d4e5f60001',
  arrange: (stack) => void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', times: 1, error: PERMANENT.ssm }),
  sites: ['rollback'],
};

/** A clean Windows reset (EC2Launch v2 sample): every call of it is faulted. */
export const WINDOWS_RESET: ChaosScenario = { name: 'windows reset', instanceId: 'i-0a1b2c3d4e5f60007' };

/** The Windows reset failing at its rescue command, so that its rollback's calls are faulted. */
export const WINDOWS_ROLLBACK: ChaosScenario = {
  name: 'windows rollback',
  instanceId: 'i-0a1b2c3d4e5f60007',
  arrange: (stack) => void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', times: 1, error: PERMANENT.ssm }),
  sites: ['rollback'],
};

/** An online reset of the SSM-managed Linux sample (no stop; its key goes to Parameter Store from the service). */
export const LINUX_ONLINE: ChaosScenario = { name: 'linux online', instanceId: 'i-0a1b2c3d4e5f60009' };

/** An online reset of the SSM-managed Windows sample (command, reboot, password): every call of it is faulted. */
export const WINDOWS_ONLINE: ChaosScenario = { name: 'windows online', instanceId: 'i-0a1b2c3d4e5f6000a' };

/** A Linux reset of the sample whose root is encrypted with a customer managed key: where the job asks KMS. */
export const LINUX_ENCRYPTED: ChaosScenario = { name: 'linux encrypted', instanceId: 'i-0a1b2c3d4e5f60003', services: ['kms'], planes: ['memory'] };

export const SCENARIOS: readonly ChaosScenario[] = [
  LINUX_RESET,
  LINUX_ROLLBACK,
  WINDOWS_RESET,
  WINDOWS_ROLLBACK,
  LINUX_ONLINE,
  WINDOWS_ONLINE,
  LINUX_ENCRYPTED,
];
const SWEEP_INTERVAL_SECONDS = 5 * 60;
const MAX_SWEEPS = 24;
/** Calls that change nothing. */
const READ_ONLY = /^(Describe|Get|List|Query|Scan|BatchGet)/;

/** One instrumented stack: what the harness watches and the hooks its faults use. */
class Instrumented {
  readonly stack: VirtualStack;
  readonly written: string[] = [];
  readonly sent: string[] = [];
  readonly logged: string[] = [];
  readonly events: SimEvent[] = [];
  readonly responses: string[] = [];
  readonly launched = new Set<string>();
  /** Index of the first call of the delivery (or API request) in progress. */
  siteStart = 0;
  site: CallSite = 'api';
  /** Whether the delivery that was to happen twice did. */
  doubled = false;
  /** Whether writes, publishes and sends of the delivery in progress fail (a crashed handler). */
  crashing: () => boolean = () => false;
  private readonly initialInstances: Set<string>;

  constructor(
    scenario: ChaosScenario,
    readonly plane: Plane,
    queueFault?: (send: QueueSend, self: Instrumented) => ReturnType<NonNullable<VirtualStackOptions['queueFault']>>,
  ) {
    const log = (level: string) => (message: string, context?: Record<string, unknown>) =>
      void this.logged.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
    const capturingLog: Log = { info: log('info'), warn: log('warn'), error: log('error') };
    this.stack = new VirtualStack({
      ...scenario.stack,
      sdkRetries: scenario.stack?.sdkRetries ?? 'production',
      controlPlane: plane,
      log: capturingLog,
      queueFault: (send) => {
        this.sent.push(JSON.stringify(send));
        return queueFault?.(send, this);
      },
    });
    scenario.arrange?.(this.stack);
    // After `arrange`: what it seeds (a target, a pooled helper) was there before the job.
    this.initialInstances = new Set(Object.keys(this.stack.region.exportState().instances));
    this.stack.region.onEvent((event) => {
      this.events.push(event);
      const detail = event.detail as { 'instance-id'?: string; state?: string };
      if (detail['instance-id'] && !this.initialInstances.has(detail['instance-id']) && detail.state === 'pending') {
        this.launched.add(detail['instance-id']);
      }
    });
    if (plane === 'memory') this.wrapMemoryPorts();
  }

  /** The memory plane's crash hooks: the handler dies before its store write, publish or send. */
  private wrapMemoryPorts(): void {
    const ports = this.stack.ports;
    const crash = (what: string) => {
      if (this.crashing()) throw new Error(`chaos: handler crashed before ${what}`);
    };
    const store = ports.store;
    const wrappedStore: JobStore = Object.assign(Object.create(store) as JobStore, {
      put: async (job: Job, expected: number | undefined) => {
        crash('the state write');
        this.written.push(JSON.stringify(job));
        return store.put(job, expected);
      },
      acquireLock: async (...args: Parameters<JobStore['acquireLock']>) => {
        crash('the lock write');
        return store.acquireLock(...args);
      },
      releaseLock: async (...args: Parameters<JobStore['releaseLock']>) => {
        crash('the lock release');
        return store.releaseLock(...args);
      },
    });
    const bus = ports.bus;
    const scheduler = ports.scheduler;
    Object.assign(ports, {
      store: wrappedStore,
      bus: {
        publish: async (messages: PhaseMessage[]) => {
          crash('the publish');
          return bus.publish(messages);
        },
      } satisfies PhaseBus,
      scheduler: {
        later: async (message: PhaseMessage, delaySeconds: number) => {
          crash('the delayed send');
          return scheduler.later(message, delaySeconds);
        },
      } satisfies PhaseScheduler,
    });
  }

  /** Every request the service's SDK clients sent (EC2, SSM, KMS; on the wire plane DynamoDB, SQS, EventBridge too). */
  get calls(): WireCall[] {
    return this.stack.wire.calls;
  }

  /** Whether the instance reported a stop (`stopping` or `stopped`) during the run. */
  stopped(instanceId: string): boolean {
    return this.events.some((e) => {
      const detail = e.detail as { 'instance-id'?: string; state?: string };
      return detail['instance-id'] === instanceId && (detail.state === 'stopping' || detail.state === 'stopped');
    });
  }

  async start(scenario: ChaosScenario) {
    this.site = 'api';
    this.siteStart = this.calls.length;
    const response = await this.stack.api('POST', '/resets', { instanceId: scenario.instanceId, ...scenario.request });
    this.responses.push(response.body);
    return response;
  }

  /**
   * Wraps the stack's deliveries to know where each delivery's calls start; `twice` (the ordinal
   * of one delivery) makes that delivery happen twice at once, as two Lambda invocations of one
   * SQS message would.
   */
  onDeliveries(twice?: number): void {
    const deliver = this.stack.deliver.bind(this.stack);
    let ordinal = 0;
    this.stack.deliver = async (message: PhaseMessage, entry?: { id: number; receives: number }) => {
      const delivery = ordinal++;
      this.site = message.phase;
      this.siteStart = this.calls.length;
      if (delivery === twice) {
        this.doubled = true;
        await Promise.all([deliver(message, entry), deliver({ ...message })]);
      } else await deliver(message, entry);
    };
  }

  /** Runs until nothing is due; a job still active then is given to the sweeper. */
  async settle(jobId: string | undefined, maxSimSeconds: number): Promise<{ stranded: boolean }> {
    await this.stack.run(maxSimSeconds);
    if (!jobId) return { stranded: false };
    const active = async () => isActive((await this.stack.store.get(jobId))!);
    for (let sweep = 0; sweep < MAX_SWEEPS && (await active()); sweep++) {
      this.stack.clock.set(this.stack.clock.now() + SWEEP_INTERVAL_SECONDS * 1000);
      await this.stack.sweep();
      await this.stack.run(maxSimSeconds);
    }
    return { stranded: await active() };
  }
}

function itemOf(call: WireCall): string {
  if (call.service === 'dynamodb') {
    const key = (call.input.Key ?? call.input.Item) as Record<string, { S?: string }> | undefined;
    const pk = key?.pk?.S ?? (call.input.IndexName as string | undefined) ?? '';
    return pk.split('#')[0] ?? '';
  }
  if (call.service === 'eventbridge') {
    const entries = (call.input.Entries as Array<{ DetailType?: string }> | undefined) ?? [];
    return entries[0]?.DetailType ?? '';
  }
  return '';
}

function recorded(calls: WireCall[]): RecordedCall[] {
  const firsts = new Set<number>();
  const seen = new Set<number>();
  for (const call of calls) {
    const delivery = call.scope?.delivery ?? -1;
    if (delivery >= 0 && !seen.has(delivery)) {
      seen.add(delivery);
      firsts.add(call.index);
    }
  }
  return calls.map((call) => {
    const site = (call.scope?.site ?? 'api') as CallSite;
    const condition = String(call.input.ConditionExpression ?? '');
    return {
      index: call.index,
      service: call.service,
      action: call.action,
      site,
      delivery: call.scope?.delivery ?? -1,
      signature: `${site}|${call.service}|${call.action}|${itemOf(call)}`,
      mutating: !READ_ONLY.test(call.action),
      firstOfDelivery: firsts.has(call.index),
      versionedJobWrite:
        call.service === 'dynamodb' &&
        call.action === 'PutItem' &&
        itemOf(call) === 'JOB' &&
        condition.includes('#version') &&
        call.scope?.message !== undefined,
      answer: call.answer ?? 'none',
    };
  });
}

/** The clean run: every call the job makes, in order, with the delivery that made it. */
export async function recordBaseline(scenario: ChaosScenario = LINUX_RESET, plane: Plane = 'memory'): Promise<Baseline> {
  const run = new Instrumented(scenario, plane);
  run.onDeliveries();
  const started = await run.start(scenario);
  await run.settle(started.json.jobId, scenario.maxSimSeconds ?? 6 * 3600);
  const job = started.json.jobId ? await run.stack.store.get(started.json.jobId) : undefined;
  return { scenario, plane, calls: recorded(run.calls), status: job?.status ?? `no job: ${started.statusCode}` };
}

/** Whether `kind` applies to `call` at all. */
export function applies(kind: FaultKind, call: RecordedCall): boolean {
  const atPhase = call.delivery >= 0 && call.site !== 'api';
  switch (kind) {
    case 'permanent':
    case 'throttle':
    case 'throttle-persistent':
    case 'crash':
    case 'duplicate':
    case 'lost-event':
      return call.service === 'ec2' || call.service === 'ssm' || call.service === 'kms';
    case 'ddb-throttle':
    case 'ddb-throttle-persistent':
    case 'ddb-internal-error':
      return call.service === 'dynamodb';
    case 'ddb-lost-answer':
      return call.service === 'dynamodb' && call.mutating;
    case 'ddb-lost-race':
      return call.versionedJobWrite;
    case 'sqs-throttle':
    case 'sqs-send-fails':
      return call.service === 'sqs' && call.action === 'SendMessage';
    case 'sqs-double-delivery':
    case 'sqs-dead-letter':
      return atPhase && call.firstOfDelivery;
    case 'sqs-visibility-timeout':
    case 'lambda-timeout':
      return atPhase && call.mutating;
    case 'eb-failed-entry':
    case 'eb-failed-entry-persistent':
    case 'eb-throttle':
    case 'eb-throttle-persistent':
      return call.service === 'eventbridge' && call.action === 'PutEvents';
  }
}

/** One complete job with exactly one fault of `kind` at call `call.index`; checks the invariants. */
export async function runWithFault(baseline: Baseline, kind: FaultKind, call: RecordedCall): Promise<RunReport> {
  const { scenario } = baseline;
  const n = call.index;
  const startedAt = Date.now();
  let dropped = false;
  const plane = planeOf(kind);
  if (plane !== baseline.plane) throw new Error(`chaos: ${kind} runs on the ${plane} plane, the baseline is of the ${baseline.plane} plane`);
  const run = new Instrumented(scenario, plane, (send, self) => {
    if (kind === 'lost-event' && !dropped && send.via === 'publish' && self.calls.length > n) {
      dropped = true;
      return 'drop';
    }
    return undefined;
  });
  const { stack } = run;
  const wire = stack.wire;
  const callSucceeded = () => run.calls.length > n && run.calls[n]!.answer === 'ok';
  let crashed = false;
  if (kind === 'crash') {
    run.crashing = () => {
      const now = run.siteStart <= n && callSucceeded();
      crashed ||= now;
      return now;
    };
  }
  // At-least-once delivery: the delivery that makes the call happens twice, concurrently.
  const doubles = (kind === 'duplicate' || kind === 'sqs-double-delivery') && call.site !== 'api';
  run.onDeliveries(doubles ? call.delivery : undefined);

  // The call itself, and every SDK attempt of it when the fault is to outlast the SDK's retries.
  let invocation: string | undefined;
  const isCall = (c: WireCall | undefined, everyAttempt: boolean) => {
    if (!c) return false;
    if (c.index === n) {
      invocation = c.invocationId;
      return true;
    }
    return everyAttempt && invocation !== undefined && c.invocationId === invocation;
  };
  const persistent = kind === 'throttle-persistent';
  let regionFault: FaultHandle | undefined;
  let wireFault: WireRuleHandle | undefined;
  const addWire = (rule: WireRule) => (wireFault = wire.add(rule));
  let twinRan = false;
  const twin = async (c: WireCall) => {
    twinRan = true;
    await stack.deliver({ ...c.scope!.message! });
  };
  let messageEntry: number | undefined;
  let persistentScope: unknown;
  switch (kind) {
    case 'permanent':
    case 'throttle':
    case 'throttle-persistent':
      if (call.service === 'kms') {
        addWire({
          match: (c) => isCall(c, persistent),
          times: persistent ? DEFAULT_MAX_ATTEMPTS : 1,
          effect: { error: kind === 'permanent' ? PERMANENT.kms : { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' } },
        });
      } else {
        regionFault = stack.region.faults.add({
          service: call.service,
          action: '*',
          times: persistent ? DEFAULT_MAX_ATTEMPTS : 1,
          when: 'before',
          error: kind === 'permanent' ? PERMANENT[call.service as 'ec2' | 'ssm'] : 'throttle',
          match: () => isCall(wire.currentCall(), persistent),
        } as FaultRule);
      }
      break;
    case 'ddb-throttle':
      addWire({ match: (c) => isCall(c, false), effect: { error: { code: 'ProvisionedThroughputExceededException', status: 400 } } });
      break;
    case 'ddb-throttle-persistent':
      addWire({ match: (c) => isCall(c, true), times: DEFAULT_MAX_ATTEMPTS, effect: { error: { code: 'ThrottlingException', status: 400 } } });
      break;
    case 'ddb-internal-error':
      addWire({ match: (c) => isCall(c, false), effect: { error: { code: 'InternalServerError', status: 500 } } });
      break;
    case 'ddb-lost-answer':
      addWire({ match: (c) => isCall(c, false), effect: { lostAnswer: true } });
      break;
    case 'ddb-lost-race':
      addWire({ match: (c) => isCall(c, false), effect: { before: twin } });
      break;
    case 'sqs-throttle':
      addWire({ match: (c) => isCall(c, false), effect: { error: { code: 'RequestThrottled', status: 400 } } });
      break;
    case 'sqs-send-fails':
      addWire({ match: (c) => isCall(c, false), effect: { error: { code: 'InternalError', status: 500 } } });
      break;
    case 'sqs-visibility-timeout':
      addWire({ match: (c) => isCall(c, false), effect: { after: twin } });
      break;
    case 'sqs-dead-letter':
      // Every receive of the message whose delivery makes the call fails at once.
      addWire({
        match: (c) => {
          if (c.index === n) messageEntry = c.scope?.messageId;
          return c.index === n || (messageEntry !== undefined && c.scope?.messageId === messageEntry);
        },
        times: Infinity,
        effect: { error: { code: 'InternalServerError', status: 500 } },
      });
      break;
    case 'eb-failed-entry':
      addWire({ match: (c) => isCall(c, false), effect: { failedEntries: 'InternalFailure' } });
      break;
    case 'eb-failed-entry-persistent':
      // Every PutEvents of that delivery fails: the bus's resends included.
      addWire({
        match: (c) => {
          if (c.index === n) persistentScope = c.scope;
          return c.index === n || (persistentScope !== undefined && c.scope === persistentScope && c.service === 'eventbridge');
        },
        times: Infinity,
        effect: { failedEntries: 'InternalFailure' },
      });
      break;
    case 'eb-throttle':
      addWire({ match: (c) => isCall(c, false), effect: { error: { code: 'ThrottlingException', status: 400 } } });
      break;
    case 'eb-throttle-persistent':
      addWire({ match: (c) => isCall(c, true), times: DEFAULT_MAX_ATTEMPTS, effect: { error: { code: 'ThrottlingException', status: 400 } } });
      break;
    case 'lambda-timeout':
      addWire({ match: (c) => isCall(c, false), effect: { kill: true } });
      break;
    case 'crash':
    case 'duplicate':
    case 'sqs-double-delivery':
    case 'lost-event':
      break;
  }

  const before = snapshot(stack, scenario.instanceId);
  let started = await run.start(scenario);
  if ((kind === 'duplicate' || kind === 'sqs-double-delivery') && call.site === 'api') {
    // A client that sends its POST twice at once: one job at most.
    const [again] = await Promise.all([run.start(scenario), Promise.resolve()]);
    if (again.statusCode === 202 && started.statusCode !== 202) started = again;
  }
  const jobId: string | undefined = started.statusCode === 202 ? started.json.jobId : undefined;
  const { stranded } = await run.settle(jobId, scenario.maxSimSeconds ?? 6 * 3600);

  const violations: string[] = [];
  const made = run.calls[n];
  // (Two deliveries at once interleave their calls: there the call at index n may be the twin's.)
  if (!doubles && (!made || made.action !== call.action || made.service !== call.service)) {
    violations.push(`harness: call ${n} was ${made ? `${made.service}:${made.action}` : 'never made'}, not ${call.service}:${call.action} as in the clean run`);
  }
  const hits = (regionFault?.hits ?? 0) + (wireFault?.hits ?? 0);
  const fired = ((): boolean => {
    switch (kind) {
      case 'crash':
        return crashed;
      case 'duplicate':
      case 'sqs-double-delivery':
        return call.site === 'api' || run.doubled;
      case 'lost-event':
        return dropped;
      case 'ddb-lost-race':
        return twinRan && made?.answer === 'ConditionalCheckFailedException';
      case 'sqs-visibility-timeout':
        return twinRan;
      case 'sqs-dead-letter':
        return stack.deadLetters.length > 0;
      case 'lambda-timeout':
        return stack.coldStarts > 1;
      case 'throttle-persistent':
      case 'ddb-throttle-persistent':
      case 'eb-throttle-persistent':
        return hits === DEFAULT_MAX_ATTEMPTS;
      default:
        return hits > 0;
    }
  })();
  if (fired && TRANSIENT.has(kind)) {
    const absorbed =
      kind === 'eb-failed-entry'
        ? run.calls.some((c) => c.index > n && c.scope === made?.scope && c.service === 'eventbridge' && c.answer === 'ok')
        : // The SDK's next attempt reached the service and got what the clean run got.
          run.calls.some((c) => c.index > n && c.invocationId === made?.invocationId && c.answer === call.answer);
    if (!absorbed) violations.push(`a transient fault (${KIND_DESCRIPTIONS[kind]}) was not absorbed by the retry meant for it`);
  }
  const job = jobId ? await stack.store.get(jobId) : undefined;
  violations.push(...(await checkInvariants(run, before, job)));
  if (stranded) violations.push('job still active after the sweeper gave up on it');
  const outcome = job
    ? `${job.status}${job.status === 'FAILED' ? ` restored=${job.instanceRestored} ${job.error?.code ?? ''}@${job.error?.phase ?? ''}` : ''}`
    : `no job: ${started.statusCode}`;
  return { scenario: scenario.name, kind, call, fired, outcome, violations, stranded, wallMs: Date.now() - startedAt };
}

// ---------------------------------------------------------------------------------------------
// Invariants

interface Before {
  instanceId: string;
  state: string;
  rootDeviceName: string;
  rootVolumeId: string;
  deleteOnTermination: boolean;
  volumeIds: string[];
  instanceIds: string[];
}

export function snapshot(stack: VirtualStack, instanceId: string): Before {
  const state = stack.region.exportState();
  const instance = state.instances[instanceId]!;
  const root = Object.values(state.volumes).find((v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName)!;
  return {
    instanceId,
    state: instance.state,
    rootDeviceName: instance.rootDeviceName,
    rootVolumeId: root.volumeId,
    deleteOnTermination: root.attachment!.deleteOnTermination,
    // The service's own helpers' volumes (a warm-pool helper's root) go with them when it ends them.
    volumeIds: Object.values(state.volumes)
      .filter((v) => state.instances[v.attachment?.instanceId ?? '']?.tags[TAG.managed] !== 'true')
      .map((v) => v.volumeId),
    instanceIds: Object.keys(state.instances),
  };
}

const PRIVATE_KEY = /PRIVATE KEY/;

/** What must hold for one target whatever failed: its root volume, run state and the job's end. */
export function targetViolations(stack: VirtualStack, before: Before, job: Job | undefined): string[] {
  const out: string[] = [];
  const state = stack.region.exportState();
  if (job) {
    if (isActive(job)) out.push(`job still ${job.status} in ${job.current.join(', ')}`);
    else if (job.status === 'FAILED' && job.instanceRestored !== true) {
      out.push(
        `job FAILED with instanceRestored=${job.instanceRestored} (${job.error?.code} in ${job.error?.phase}; rollback: ${job.rollbackError?.code ?? '-'} ${job.rollbackError?.message ?? ''})`,
      );
    } else if (job.status === 'FAILED' && !job.error?.code) out.push('job FAILED without a reason');
  }
  const target = state.instances[before.instanceId];
  if (target?.state !== before.state) out.push(`target is ${target?.state ?? 'gone'}, was ${before.state}`);
  const root = state.volumes[before.rootVolumeId];
  const at = root?.attachment;
  if (!at || at.instanceId !== before.instanceId || at.device !== before.rootDeviceName || at.state !== 'attached') {
    out.push(
      `root volume ${before.rootVolumeId} is ${at ? `${at.state} to ${at.instanceId} at ${at.device}` : (root?.state ?? 'deleted')}, not attached to the target at ${before.rootDeviceName}`,
    );
  } else if (at.deleteOnTermination !== before.deleteOnTermination) {
    out.push(`root volume DeleteOnTermination is ${at.deleteOnTermination}, was ${before.deleteOnTermination}`);
  }
  return out;
}

async function checkInvariants(run: Instrumented, before: Before, job: Job | undefined): Promise<string[]> {
  const { stack } = run;
  const out: string[] = targetViolations(stack, before, job);
  const state = stack.region.exportState();
  if (!job) {
    const mutated = stack.region.calls.filter((c) => !c.error && !READ_ONLY.test(c.action)).map((c) => c.action);
    if (mutated.length > 0) out.push(`no job was started, yet AWS was changed: ${mutated.join(', ')}`);
  }

  for (const volumeId of before.volumeIds) if (!state.volumes[volumeId]) out.push(`volume ${volumeId} was deleted`);
  for (const instance of Object.values(state.instances)) {
    if (before.instanceIds.includes(instance.instanceId)) continue;
    if (instance.state !== 'terminated' && instance.state !== 'shutting-down') out.push(`helper ${instance.instanceId} left ${instance.state}`);
  }
  // One helper of each kind at most: the Windows fast path's Linux helper, and its fallback's Windows one.
  for (const platform of ['linux', 'windows']) {
    const launched = [...run.launched].filter((id) => state.instances[id]?.platform === platform);
    if (launched.length > 1) out.push(`${launched.length} ${platform} helpers launched: ${launched.join(', ')}`);
  }
  // A warm-pool helper the job took is the job's to end.
  for (const slot of await stack.helperPool.list()) {
    const instance = job && slot.state === 'claimed' && slot.claimedBy === job.jobId && slot.instanceId ? state.instances[slot.instanceId] : undefined;
    if (instance && instance.state !== 'terminated' && instance.state !== 'shutting-down')
      out.push(`pooled helper ${instance.instanceId} claimed by the job left ${instance.state}`);
  }

  // What the service wrote to its table, queues and bus (on the wire plane: the requests themselves).
  const wired = (services: WireService[]) => run.calls.filter((c) => services.includes(c.service)).map((c) => JSON.stringify(c.input));
  const places: Array<[string, string[]]> = [
    ['job records', [...run.written, ...wired(['dynamodb'])]],
    ['queue messages', [...run.sent, ...wired(['sqs', 'eventbridge'])]],
    ['logs', run.logged],
    ['events', run.events.map((e) => JSON.stringify(e))],
    ['API responses', run.responses],
  ];
  for (const [where, texts] of places) if (texts.some((t) => PRIVATE_KEY.test(t))) out.push(`a private key appears in ${where}`);

  const root = state.volumes[before.rootVolumeId];
  if (job?.status === 'SUCCEEDED' && job.platform === 'windows' && job.mode?.chosen === 'online') {
    // Online: the job ends only once GetPasswordData has the password made after its reboot.
    const password = stack.region.ec2('GetPasswordData', { InstanceId: before.instanceId }) as { PasswordData?: string };
    if (!password.PasswordData) out.push('online job SUCCEEDED but GetPasswordData has no password');
    if (!job.outputs.passwordReadyAt) out.push('online job SUCCEEDED without passwordReadyAt');
    if (run.stopped(before.instanceId)) out.push('online job SUCCEEDED but the target was stopped');
  } else if (job?.status === 'SUCCEEDED' && job.platform === 'windows') {
    // Either the next boot makes a password, or the target has booted since and made one.
    const booted = stack.region.getInstance(before.instanceId)?.passwordData !== undefined;
    if (!booted && (!root || !passwordGenerationEnabled(root.files)))
      out.push('job SUCCEEDED but password generation is neither enabled on the root volume nor done');
    if (!job.outputs.backupImageId || !job.outputs.passwordEnabledImageId) out.push('job SUCCEEDED without both AMIs reported');
  } else if (job?.status === 'SUCCEEDED') {
    const parameter = stack.region.getParameter(sshKeyParameterName(before.instanceId));
    if (parameter?.type !== 'SecureString' || !PRIVATE_KEY.test(parameter.value)) out.push('job SUCCEEDED but no private key is in Parameter Store');
    else if (root && usersAcceptingKey(root.files, publicKeyOfPrivate(parameter.value)).length === 0)
      out.push('job SUCCEEDED but no user accepts the stored key');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running the matrix and reporting

export interface ChaosOptions {
  scenarios?: readonly ChaosScenario[];
  kinds?: readonly FaultKind[];
  /** Only every `every`-th faultable call (1: all). */
  every?: number;
  /** Only these call indices. */
  indices?: number[];
  /** Only the runs whose ordinal in the matrix is `index` modulo `count` (a worker's share). */
  shard?: { index: number; count: number };
  onRun?: (report: RunReport) => void;
}

export interface ChaosResult {
  baselines: Baseline[];
  runs: RunReport[];
}

/**
 * The calls of `baseline` that `kind` faults. Memory plane: every call. Wire plane: the first call
 * of each kind (`signature`: site × service × action × item) not faulted with `kind` in an earlier
 * scenario (`seen`, shared across scenarios); a transient fault only at the first of each service ×
 * action × item, since where it happens does not matter to the retry that absorbs it.
 */
export function faultedCalls(
  baseline: Baseline,
  kind: FaultKind,
  options: Pick<ChaosOptions, 'every' | 'indices'> = {},
  seen = new Set<string>(),
): RecordedCall[] {
  const { scenario } = baseline;
  const candidates = baseline.calls.filter(
    (c) => (!scenario.sites || scenario.sites.includes(c.site)) && (!scenario.services || scenario.services.includes(c.service)) && applies(kind, c),
  );
  const key = (c: RecordedCall) => `${kind}|${TRANSIENT.has(kind) ? c.signature.slice(c.signature.indexOf('|') + 1) : c.signature}`;
  const distinct = baseline.plane === 'wire' ? candidates.filter((c) => !seen.has(key(c)) && seen.add(key(c))) : candidates;
  const every = Math.max(1, options.every ?? 1);
  return distinct.filter((c, i) => (options.indices ? options.indices.includes(c.index) : i % every === 0));
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const baselines: Baseline[] = [];
  const runs: RunReport[] = [];
  const kinds = options.kinds ?? FAULT_KINDS;
  const seen = new Set<string>();
  let ordinal = 0;
  const mine = () => !options.shard || ordinal++ % options.shard.count === options.shard.index;
  for (const scenario of options.scenarios ?? SCENARIOS) {
    for (const plane of scenario.planes ?? (['memory', 'wire'] as const)) {
      const planeKinds = kinds.filter((k) => planeOf(k) === plane);
      if (planeKinds.length === 0) continue;
      const baseline = await recordBaseline(scenario, plane);
      const expected = scenario.sites?.includes('rollback') ? 'FAILED' : 'SUCCEEDED';
      if (baseline.status !== expected)
        throw new Error(`chaos: the ${scenario.name} without faults ended ${baseline.status} on the ${plane} plane, not ${expected}`);
      baselines.push(baseline);
      for (const kind of planeKinds) {
        for (const call of faultedCalls(baseline, kind, options, seen)) {
          if (!mine()) continue;
          const report = await runWithFault(baseline, kind, call);
          runs.push(report);
          options.onRun?.(report);
        }
      }
    }
  }
  return { baselines, runs };
}

/** `held`: the fault fired and every invariant held; `notFired`: the fault never fired (and nothing broke). */
export function tally(runs: RunReport[]) {
  const violated = runs.filter((r) => r.violations.length > 0).length;
  const held = runs.filter((r) => r.fired && r.violations.length === 0).length;
  const notFired = runs.filter((r) => !r.fired && r.violations.length === 0).length;
  const stranded = runs.filter((r) => r.stranded).length;
  return { runs: runs.length, held, violated, notFired, stranded };
}

/** The row a call's fault counts under: its service (Parameter Store apart from the rest of SSM). */
export function serviceOf(call: Pick<RecordedCall, 'service' | 'action'>, kind: FaultKind): string {
  if (kind === 'lambda-timeout') return 'lambda';
  if (kind.startsWith('sqs-')) return 'sqs';
  if (call.service === 'ssm' && /Parameter/.test(call.action)) return 'parameter store';
  return call.service;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Rows per service and fault: runs, held, violated, not fired. */
export function formatServiceTable(result: ChaosResult): string {
  const groups = new Map<string, RunReport[]>();
  for (const run of result.runs) {
    const key = `${serviceOf(run.call, run.kind)}\u0000${run.kind}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const rows = [...groups.entries()].map(([key, runs]) => {
    const [service, kind] = key.split('\u0000') as [string, FaultKind];
    const t = tally(runs);
    return [service, kind, KIND_DESCRIPTIONS[kind], String(t.runs), String(t.held), String(t.violated), String(t.notFired)];
  });
  return table(['service', 'fault', 'what', 'runs', 'held', 'violated', 'not fired'], rows).join('\n');
}

/** The fault kind × phase table: `held/violated` per cell (`+Nu`: not fired). */
export function formatTable(result: ChaosResult): string {
  const sites: CallSite[] = [];
  for (const run of result.runs) if (!sites.includes(run.call.site)) sites.push(run.call.site);
  const kinds = FAULT_KINDS.filter((k) => result.runs.some((r) => r.kind === k));
  const cell = (kind: FaultKind, site: CallSite) => {
    const runs = result.runs.filter((r) => r.kind === kind && r.call.site === site);
    if (runs.length === 0) return '-';
    const t = tally(runs);
    return `${t.held}/${t.violated}${t.notFired ? `+${t.notFired}u` : ''}`;
  };
  const rows = kinds.map((kind) => [kind, ...sites.map((site) => cell(kind, site))]);
  return [...table(['fault \\ phase', ...sites], rows), '(cells: held/violated, +Nu: not fired)'].join('\n');
}

export function summaryLine(runs: RunReport[]): string {
  const t = tally(runs);
  return `chaos: ${t.runs} runs, ${t.held} held, ${t.violated} violated, ${t.notFired} not fired`;
}
