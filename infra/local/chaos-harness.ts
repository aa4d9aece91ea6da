/**
 * The chaos harness behind `npm run chaos`: runs a clean Linux reset once to learn every AWS call it
 * makes, then, for each call and each fault kind, a complete fresh job in a fresh VirtualStack with
 * exactly that one fault, and checks what must hold whatever fails (docs/architecture.md#rollback: "On failure at any
 * point…"; issue 3, "The proof"). Everything runs on the simulated clock.
 *
 * Faults are injected from outside the service: AWS errors through the simulated region's fault
 * rules, crashes, duplicates and lost events by wrapping the ports and the queue the harness hands
 * to the stack. No production code knows about them.
 */
import type { Job, PhaseName } from '../../domain/job/job';
import { isActive, sshKeyParameterName } from '../../domain/job/job';
import { TAG } from '../../domain/naming';
import type { JobStore, Log, PhaseBus, PhaseMessage, PhaseScheduler } from '../../domain/ports';
import type { QueueSend } from '../memory/memory-queues';
import { usersAcceptingKey } from '../sim/linux-rescue-model';
import { passwordGenerationEnabled } from '../sim/windows-rescue-model';
import type { SimService } from '../sim/actions';
import type { SimEvent } from '../sim/events';
import type { FaultRule } from '../sim/faults';
import { publicKeyOfPrivate } from './ssh-public-key';
import { VirtualStack, type VirtualStackOptions } from './virtual-stack';

export const FAULT_KINDS = ['permanent', 'throttle', 'crash', 'duplicate', 'lost-event'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Where a call was made: the API request that started the job, or a delivery of a phase. */
export type CallSite = 'api' | PhaseName;

export interface RecordedCall {
  index: number;
  service: SimService;
  action: string;
  site: CallSite;
  /** Which delivery made it (0 = the first), `-1` for the API request. */
  delivery: number;
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
  /** The start request's body besides the instance id. */
  request?: Record<string, unknown>;
  stack?: VirtualStackOptions;
  /** Longest simulated time a run may take before it counts as stranded. */
  maxSimSeconds?: number;
}

export interface Baseline {
  scenario: ChaosScenario;
  calls: RecordedCall[];
  status: string;
}

export interface RunReport {
  scenario: string;
  kind: FaultKind;
  call: RecordedCall;
  /** Whether the fault took effect (a crash needs a write after the call, a lost event a publish). */
  fired: boolean;
  /** The job's end, or why there is none (`no job: 503`). */
  outcome: string;
  violations: string[];
  /** A lost event that needed the sweeper, which the stack does not have yet. */
  stranded: boolean;
}

/** AWS's answer to a caller without permission, per service: never retried, the job must fail. */
const PERMANENT: Record<SimService, { code: string; status: number }> = {
  ec2: { code: 'UnauthorizedOperation', status: 403 },
  ssm: { code: 'AccessDeniedException', status: 400 },
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

/** An online reset of the SSM-managed Linux sample (no stop): every call of it is faulted. */
export const LINUX_ONLINE: ChaosScenario = { name: 'linux online', instanceId: 'i-0a1b2c3d4e5f60009' };

/** An online reset of the SSM-managed Windows sample (command, reboot, password): every call of it is faulted. */
export const WINDOWS_ONLINE: ChaosScenario = { name: 'windows online', instanceId: 'i-0a1b2c3d4e5f6000a' };

export const SCENARIOS: readonly ChaosScenario[] = [LINUX_RESET, LINUX_ROLLBACK, WINDOWS_RESET, WINDOWS_ROLLBACK, LINUX_ONLINE, WINDOWS_ONLINE];
const SWEEP_INTERVAL_SECONDS = 5 * 60;
const MAX_SWEEPS = 24;

type SweepingStack = VirtualStack & { sweep?: () => Promise<unknown> };

/** One instrumented stack: what the harness watches and the hooks its faults use. */
class Instrumented {
  readonly stack: SweepingStack;
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

  constructor(scenario: ChaosScenario, queueFault?: (send: QueueSend, self: Instrumented) => ReturnType<NonNullable<VirtualStackOptions['queueFault']>>) {
    this.stack = new VirtualStack({
      ...scenario.stack,
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
    const log = (level: string) => (message: string, context?: Record<string, unknown>) => void this.logged.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
    const capturingLog: Log = { info: log('info'), warn: log('warn'), error: log('error') };
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
      log: capturingLog,
    });
  }

  get calls() {
    return this.stack.region.calls;
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
   * Wraps the stack's deliveries to learn which delivery made which call; `twice` (the ordinal of
   * one delivery) makes that delivery happen twice at once, as two Lambda invocations of one SQS
   * message would.
   */
  onDeliveries(twice?: number): Map<number, { site: CallSite; delivery: number }> {
    const sites = new Map<number, { site: CallSite; delivery: number }>();
    const deliver = this.stack.deliver.bind(this.stack);
    let ordinal = 0;
    this.stack.deliver = async (message: PhaseMessage) => {
      const delivery = ordinal++;
      this.site = message.phase;
      this.siteStart = this.calls.length;
      if (delivery === twice) {
        this.doubled = true;
        await Promise.all([deliver(message), deliver({ ...message })]);
      } else await deliver(message);
      for (let i = this.siteStart; i < this.calls.length; i++) sites.set(i, { site: message.phase, delivery });
    };
    return sites;
  }

  /** Runs until nothing is due; a job still active then is given to the sweeper, if there is one. */
  async settle(jobId: string | undefined, maxSimSeconds: number): Promise<{ stranded: boolean }> {
    await this.stack.run(maxSimSeconds);
    if (!jobId) return { stranded: false };
    const active = async () => isActive((await this.stack.store.get(jobId))!);
    if (!(await active())) return { stranded: false };
    if (typeof this.stack.sweep !== 'function') return { stranded: true };
    for (let sweep = 0; sweep < MAX_SWEEPS && (await active()); sweep++) {
      this.stack.clock.set(this.stack.clock.now() + SWEEP_INTERVAL_SECONDS * 1000);
      await this.stack.sweep();
      await this.stack.run(maxSimSeconds);
    }
    return { stranded: false };
  }
}

/** The clean run: every call the job makes, in order, with the phase that made it. */
export async function recordBaseline(scenario: ChaosScenario = LINUX_RESET): Promise<Baseline> {
  const run = new Instrumented(scenario);
  const sites = run.onDeliveries();
  const started = await run.start(scenario);
  const apiCalls = run.calls.length;
  await run.settle(started.json.jobId, scenario.maxSimSeconds ?? 6 * 3600);
  const job = started.json.jobId ? await run.stack.store.get(started.json.jobId) : undefined;
  const calls = run.calls.map((call, index) => ({
    index,
    service: call.service,
    action: call.action,
    site: index < apiCalls ? ('api' as const) : (sites.get(index)?.site ?? 'api'),
    delivery: index < apiCalls ? -1 : (sites.get(index)?.delivery ?? -1),
  }));
  return { scenario, calls, status: job?.status ?? `no job: ${started.statusCode}` };
}

/** One complete job with exactly one fault of `kind` at call `call.index`; checks the invariants. */
export async function runWithFault(baseline: Baseline, kind: FaultKind, call: RecordedCall): Promise<RunReport> {
  const { scenario } = baseline;
  const n = call.index;
  let dropped = false;
  const run = new Instrumented(scenario, (send, self) => {
    if (kind === 'lost-event' && !dropped && send.via === 'publish' && self.calls.length > n) {
      dropped = true;
      return 'drop';
    }
    return undefined;
  });
  const callSucceeded = () => run.calls.length > n && !run.calls[n]!.error;
  let crashed = false;
  if (kind === 'crash') {
    run.crashing = () => {
      const now = run.siteStart <= n && callSucceeded();
      crashed ||= now;
      return now;
    };
  }
  // At-least-once delivery: the delivery that makes the call happens twice, concurrently.
  run.onDeliveries(kind === 'duplicate' && call.site !== 'api' ? call.delivery : undefined);
  let fault: { hits: number } | undefined;
  if (kind === 'permanent' || kind === 'throttle') {
    const rule = {
      service: call.service,
      action: '*',
      times: 1,
      when: 'before',
      error: kind === 'throttle' ? 'throttle' : PERMANENT[call.service],
      match: () => run.calls.length - 1 === n,
    } as FaultRule;
    fault = run.stack.region.faults.add(rule);
  }

  const before = snapshot(run.stack, scenario.instanceId);
  let started = await run.start(scenario);
  if (kind === 'duplicate' && call.site === 'api') {
    // A client that sends its POST twice at once: one job at most.
    const [again] = await Promise.all([run.start(scenario), Promise.resolve()]);
    if (again.statusCode === 202 && started.statusCode !== 202) started = again;
  }
  const jobId: string | undefined = started.statusCode === 202 ? started.json.jobId : undefined;
  const { stranded } = await run.settle(jobId, scenario.maxSimSeconds ?? 6 * 3600);

  const violations: string[] = [];
  const made = run.calls[n];
  // (Two deliveries at once interleave their calls: there the call at index n may be the twin's.)
  if (kind !== 'duplicate' && (!made || made.action !== call.action || made.service !== call.service)) {
    violations.push(`harness: call ${n} was ${made ? `${made.service}:${made.action}` : 'never made'}, not ${call.service}:${call.action} as in the clean run`);
  }
  const fired =
    kind === 'permanent' || kind === 'throttle' ? (fault?.hits ?? 0) > 0 : kind === 'crash' ? crashed : kind === 'duplicate' ? call.site === 'api' || run.doubled : dropped;
  const job = jobId ? await run.stack.store.get(jobId) : undefined;
  if (!stranded) violations.push(...(await checkInvariants(run, before, job)));
  const outcome = job ? `${job.status}${job.status === 'FAILED' ? ` restored=${job.instanceRestored} ${job.error?.code ?? ''}@${job.error?.phase ?? ''}` : ''}` : `no job: ${started.statusCode}`;
  return { scenario: scenario.name, kind, call, fired, outcome, violations, stranded };
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

function snapshot(stack: VirtualStack, instanceId: string): Before {
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

async function checkInvariants(run: Instrumented, before: Before, job: Job | undefined): Promise<string[]> {
  const { stack } = run;
  const out: string[] = [];
  const state = stack.region.exportState();

  if (job) {
    if (isActive(job)) out.push(`job still ${job.status} in ${job.current.join(', ')}`);
    else if (job.status === 'FAILED' && job.instanceRestored !== true) {
      out.push(`job FAILED with instanceRestored=${job.instanceRestored} (${job.error?.code} in ${job.error?.phase}; rollback: ${job.rollbackError?.code ?? '-'} ${job.rollbackError?.message ?? ''})`);
    }
  } else {
    const mutated = stack.region.calls.filter((c) => !c.error && !/^(Describe|Get|List)/.test(c.action)).map((c) => c.action);
    if (mutated.length > 0) out.push(`no job was started, yet AWS was changed: ${mutated.join(', ')}`);
  }

  const target = state.instances[before.instanceId];
  if (target?.state !== before.state) out.push(`target is ${target?.state ?? 'gone'}, was ${before.state}`);
  const root = state.volumes[before.rootVolumeId];
  const at = root?.attachment;
  if (!at || at.instanceId !== before.instanceId || at.device !== before.rootDeviceName || at.state !== 'attached') {
    out.push(`root volume ${before.rootVolumeId} is ${at ? `${at.state} to ${at.instanceId} at ${at.device}` : (root?.state ?? 'deleted')}, not attached to the target at ${before.rootDeviceName}`);
  } else if (at.deleteOnTermination !== before.deleteOnTermination) {
    out.push(`root volume DeleteOnTermination is ${at.deleteOnTermination}, was ${before.deleteOnTermination}`);
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
    if (instance && instance.state !== 'terminated' && instance.state !== 'shutting-down') out.push(`pooled helper ${instance.instanceId} claimed by the job left ${instance.state}`);
  }

  const places: Array<[string, string[]]> = [
    ['job records', run.written],
    ['queue messages', run.sent],
    ['logs', run.logged],
    ['events', run.events.map((e) => JSON.stringify(e))],
    ['API responses', run.responses],
  ];
  for (const [where, texts] of places) if (texts.some((t) => PRIVATE_KEY.test(t))) out.push(`a private key appears in ${where}`);

  if (job?.status === 'SUCCEEDED' && job.platform === 'windows' && job.mode?.chosen === 'online') {
    // Online: the job ends only once GetPasswordData has the password made after its reboot.
    const password = stack.region.ec2('GetPasswordData', { InstanceId: before.instanceId }) as { PasswordData?: string };
    if (!password.PasswordData) out.push('online job SUCCEEDED but GetPasswordData has no password');
    if (!job.outputs.passwordReadyAt) out.push('online job SUCCEEDED without passwordReadyAt');
    if (run.stopped(before.instanceId)) out.push('online job SUCCEEDED but the target was stopped');
  } else if (job?.status === 'SUCCEEDED' && job.platform === 'windows') {
    // Either the next boot makes a password, or the target has booted since and made one.
    const booted = stack.region.getInstance(before.instanceId)?.passwordData !== undefined;
    if (!booted && (!root || !passwordGenerationEnabled(root.files))) out.push('job SUCCEEDED but password generation is neither enabled on the root volume nor done');
    if (!job.outputs.backupImageId || !job.outputs.passwordEnabledImageId) out.push('job SUCCEEDED without both AMIs reported');
  } else if (job?.status === 'SUCCEEDED') {
    const parameter = stack.region.getParameter(sshKeyParameterName(before.instanceId));
    if (parameter?.type !== 'SecureString' || !PRIVATE_KEY.test(parameter.value)) out.push('job SUCCEEDED but no private key is in Parameter Store');
    else if (root && usersAcceptingKey(root.files, publicKeyOfPrivate(parameter.value)).length === 0) out.push('job SUCCEEDED but no user accepts the stored key');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running the matrix and reporting

export interface ChaosOptions {
  scenarios?: readonly ChaosScenario[];
  kinds?: readonly FaultKind[];
  /** Only every `every`-th call index (1: all). */
  every?: number;
  /** Only these call indices. */
  indices?: number[];
  onRun?: (report: RunReport) => void;
}

export interface ChaosResult {
  baselines: Baseline[];
  runs: RunReport[];
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const baselines: Baseline[] = [];
  const runs: RunReport[] = [];
  for (const scenario of options.scenarios ?? SCENARIOS) {
    const baseline = await recordBaseline(scenario);
    const expected = scenario.sites?.includes('rollback') ? 'FAILED' : 'SUCCEEDED';
    if (baseline.status !== expected) throw new Error(`chaos: the ${scenario.name} without faults ended ${baseline.status}, not ${expected}`);
    baselines.push(baseline);
    const every = Math.max(1, options.every ?? 1);
    const faultable = baseline.calls.filter((c) => !scenario.sites || scenario.sites.includes(c.site));
    const calls = faultable.filter((c, i) => (options.indices ? options.indices.includes(c.index) : i % every === 0));
    for (const kind of options.kinds ?? FAULT_KINDS) {
      for (const call of calls) {
        const report = await runWithFault(baseline, kind, call);
        runs.push(report);
        options.onRun?.(report);
      }
    }
  }
  return { baselines, runs };
}

/** `held`: every invariant held; `stranded` runs count as neither until the sweeper exists. */
export function tally(runs: RunReport[]) {
  const held = runs.filter((r) => !r.stranded && r.violations.length === 0).length;
  const violated = runs.filter((r) => r.violations.length > 0).length;
  const stranded = runs.filter((r) => r.stranded).length;
  return { runs: runs.length, held, violated, stranded };
}

/** The fault kind × phase table: `held/violated` per cell (`+s` stranded). */
export function formatTable(result: ChaosResult): string {
  const sites: CallSite[] = [];
  for (const run of result.runs) if (!sites.includes(run.call.site)) sites.push(run.call.site);
  const kinds = FAULT_KINDS.filter((k) => result.runs.some((r) => r.kind === k));
  const cell = (kind: FaultKind, site: CallSite) => {
    const runs = result.runs.filter((r) => r.kind === kind && r.call.site === site);
    if (runs.length === 0) return '-';
    const t = tally(runs);
    return `${t.held}/${t.violated}${t.stranded ? `+${t.stranded}s` : ''}`;
  };
  const header = ['fault \\ phase', ...sites];
  const rows = kinds.map((kind) => [kind, ...sites.map((site) => cell(kind, site))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line), '(cells: held/violated, +Ns: stranded waiting for a sweeper)'].join('\n');
}

export function summaryLine(runs: RunReport[]): string {
  const t = tally(runs);
  return `chaos: ${t.runs} runs, ${t.held} held, ${t.violated} violated`;
}
