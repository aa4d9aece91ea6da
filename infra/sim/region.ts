import { randomUUID } from 'node:crypto';

import {
  ec2Handlers,
  isEc2Action,
  isSsmAction,
  ssmHandlers,
  type Ec2Action,
  type Ec2Actions,
  type SimService,
  type SsmAction,
  type SsmActions,
} from './actions';
import { amazonLinux2023Files, ubuntu2204Files, windowsServer2022Files } from './base-images';
import { ScaledClock, type Clock } from './clock';
import type { CallFaults, RegionConfig, RegionContext } from './context';
import { registerImage, type ImageSpec } from './ec2-images';
import { seedInstance, type SeedInstanceSpec } from './ec2-instances';
import { createDefaultVpc } from './ec2-network';
import type { SimEvent, SimEventListener } from './events';
import { FaultInjector, type FaultError } from './faults';
import { IdFactory } from './ids';
import { findKmsKey } from './kms';
import { linuxOnlineRunner } from './linux-online-runner';
import { linuxRescueRunner } from './linux-rescue-runner';
import { ntfsReleaseRunner } from './ntfs-release-runner';
import { ntfsRescueRunner } from './ntfs-rescue-runner';
import { ScriptRunnerRegistry, type ScriptRunner } from './script-runners';
import { windowsOnlineRunner } from './windows-online-runner';
import { windowsRescueRunner } from './windows-rescue-runner';
import { SimServiceError } from './sim-error';
import { putPublicParameter } from './ssm-service';
import {
  emptyRegionState,
  type CommandRecord,
  type IamPrincipalRecord,
  type ImageRecord,
  type InstanceRecord,
  type KmsKeyRecord,
  type KmsKeyState,
  type ParameterRecord,
  type RegionState,
  type VolumeRecord,
} from './state';
import { EC2_BUCKETS, Ec2Throttle, type BucketSpec, type Ec2BucketName, type ThrottlingScope } from './throttling';
import { resolveTimings, type SimTimings } from './timings';
import { applyTransition } from './transitions';

export interface SimulatedRegionOptions {
  /** Simulated time; default `new ScaledClock(1)` (real time). */
  clock?: Clock;
  /** Default `us-east-1`. */
  regionName?: string;
  /** Default `123456789012`. */
  accountId?: string;
  /** Zone names; default `<region>a` … `<region>f` for us-east-1, `a` … `c` elsewhere. */
  availabilityZones?: string[];
  /** Overrides of `DEFAULT_TIMINGS`. */
  timings?: Partial<SimTimings>;
  /** EC2 request-rate limiting (`RequestLimitExceeded`); off by default. `true` uses AWS's buckets. */
  throttling?: boolean | Partial<Record<Ec2BucketName, BucketSpec>>;
  /** One bucket per category of `throttling` shared by its actions (default), or one per action. */
  throttlingScope?: ThrottlingScope;
  /** Account quotas; AWS defaults 5 VPCs (the default VPC counts) and 5 internet gateways. */
  quotas?: Partial<RegionConfig['quotas']>;
  /** Seed for ids and randomness, so that runs repeat. Default `sim`. */
  seed?: string;
  /** A state saved by `exportState()` to resume from (the catalogue is not re-created). */
  state?: RegionState;
  /** Script runners besides the built-in Linux and Windows rescue models. */
  scriptRunners?: ScriptRunner[];
  /** How many calls `calls` keeps (oldest dropped first); default 10,000. */
  callLogLimit?: number;
}

/** One call the region served, for tests that count side effects. */
export interface SimCall {
  service: SimService;
  action: string;
  /** The input in the SDK's shape (`InstanceIds`, `Filters`…). */
  input: unknown;
  /** Simulated time of the call. */
  at: number;
  requestId: string;
  /** The error answered, if any (`injected`: it came from a fault rule). */
  error?: { code: string; message: string; injected: boolean };
}

/** Ids of the public images every simulated region has (and its SSM public parameters name). */
export const PUBLIC_IMAGE_IDS = {
  amazonLinux2023: 'ami-0a2023a12023a1200',
  ubuntu2204: 'ami-0ab22042204220400',
  ubuntu2404: 'ami-0ab24042404240400',
  windowsServer2022: 'ami-0b2022b22022b2200',
} as const;

/** SSM public parameters and the public image each resolves to. */
export const PUBLIC_PARAMETERS: Record<string, string> = {
  '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64': PUBLIC_IMAGE_IDS.amazonLinux2023,
  '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64': PUBLIC_IMAGE_IDS.amazonLinux2023,
  '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id': PUBLIC_IMAGE_IDS.ubuntu2204,
  // The Windows fast path's Linux helper (domain/config.ts windowsFastPath): the region's model of the
  // NTFS rescue assumes its tools are there (docs/ntfs-rescue.md#the-helper-image).
  '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id': PUBLIC_IMAGE_IDS.ubuntu2404,
  '/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base': PUBLIC_IMAGE_IDS.windowsServer2022,
};

const AMAZON_OWNER = '137112412989';
const WINDOWS_OWNER = '801119661308';
const CANONICAL_OWNER = '099720109477';

function faultToError(service: SimService, error: FaultError): SimServiceError {
  if (error === 'throttle') {
    return service === 'ec2'
      ? new SimServiceError('RequestLimitExceeded', 'Request limit exceeded.', 503)
      : new SimServiceError('ThrottlingException', 'Rate exceeded', 400);
  }
  return new SimServiceError(error.code, error.message ?? `Injected fault: ${error.code}`, error.status ?? 400);
}

/**
 * A stand-in for one AWS region's EC2 and SSM, beneath the real SDK clients (see `http.ts`).
 *
 * State changes that take time in AWS are scheduled and applied lazily: every call, `tick()` and
 * getter first applies whatever the clock has reached, in time order, so a `ManualClock` may jump.
 * Events (`onEvent`) are delivered when a call or `tick()` ends. A driver that wants events
 * without calls either calls `tick()` on an interval (`startTicking()`), or, in virtual time,
 * moves its `ManualClock` to `nextTransitionAt()` and calls `tick()`.
 */
export class SimulatedRegion {
  readonly clock: Clock;
  readonly timings: SimTimings;
  readonly config: RegionConfig;
  readonly faults = new FaultInjector();
  /** The calls served, oldest first (the last `callLogLimit` of them). */
  readonly calls: SimCall[] = [];
  readonly scriptRunners = new ScriptRunnerRegistry();

  private readonly state: RegionState;
  private readonly ids: IdFactory;
  private readonly throttle?: Ec2Throttle;
  private readonly listeners = new Set<SimEventListener>();
  private pendingEvents: SimEvent[] = [];
  private currentTime?: number;
  private readonly ctx: RegionContext;
  private readonly callLogLimit: number;
  private changes = 0;

  constructor(options: SimulatedRegionOptions = {}) {
    this.callLogLimit = options.callLogLimit ?? 10_000;
    this.clock = options.clock ?? new ScaledClock(1);
    this.timings = resolveTimings(options.timings);
    const regionName = options.regionName ?? 'us-east-1';
    const letters = regionName === 'us-east-1' ? 'abcdef' : 'abc';
    this.config = {
      regionName,
      accountId: options.accountId ?? '123456789012',
      availabilityZones: options.availabilityZones ?? [...letters].map((l) => `${regionName}${l}`),
      quotas: { vpcs: 5, internetGateways: 5, ...options.quotas },
    };
    if (options.throttling) {
      const custom = options.throttling === true ? {} : options.throttling;
      this.throttle = new Ec2Throttle(this.clock, { ...EC2_BUCKETS, ...custom }, options.throttlingScope);
    }
    this.scriptRunners.register(linuxRescueRunner);
    this.scriptRunners.register(linuxOnlineRunner);
    this.scriptRunners.register(windowsRescueRunner);
    this.scriptRunners.register(windowsOnlineRunner);
    // After the Linux rescue runner: its commands export RA_VOLUME_ID too.
    this.scriptRunners.register(ntfsRescueRunner);
    this.scriptRunners.register(ntfsReleaseRunner);
    for (const runner of options.scriptRunners ?? []) this.scriptRunners.register(runner);
    this.state = options.state ? structuredClone(options.state) : emptyRegionState(options.seed ?? 'sim');
    this.ids = new IdFactory(this.state.ids);
    this.ctx = {
      state: this.state,
      config: this.config,
      timings: this.timings,
      ids: this.ids,
      scriptRunners: this.scriptRunners,
      now: () => this.now(),
      schedule: (delayMs, transition) => {
        this.state.scheduleSeq += 1;
        this.state.scheduled.push({ at: this.now() + delayMs, seq: this.state.scheduleSeq, transition });
      },
      emit: (build) => {
        const origin = { id: this.ids.uuid(), account: this.config.accountId, region: this.config.regionName, time: this.now() };
        this.pendingEvents.push(build(origin));
      },
    };
    if (!options.state) this.createCatalogue();
  }

  /** The time of the call being served or the transition being applied, else the clock's. */
  private now(): number {
    return this.currentTime ?? this.clock.now();
  }

  /** The default VPC, the AWS managed EBS key, public images and their SSM parameters. */
  private createCatalogue(): void {
    const ctx = this.ctx;
    createDefaultVpc(ctx);
    const keyId = 'a0e1b2c3-0000-4000-8000-000000000eb5';
    this.state.kmsKeys[keyId] = {
      keyId,
      arn: `arn:aws:kms:${this.config.regionName}:${this.config.accountId}:key/${keyId}`,
      state: 'Enabled',
      managed: true,
    };
    const catalogue: ImageSpec[] = [
      {
        imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
        name: 'al2023-ami-2023.6.20250115.0-kernel-6.1-x86_64',
        description: 'Amazon Linux 2023 AMI 2023.6.20250115.0 x86_64 HVM kernel-6.1',
        ownerId: AMAZON_OWNER,
        ownerAlias: 'amazon',
        public: true,
        platform: 'linux',
        rootDeviceName: '/dev/xvda',
        rootVolumeSize: 8,
        filesystem: 'xfs',
        files: amazonLinux2023Files(),
      },
      {
        imageId: PUBLIC_IMAGE_IDS.ubuntu2204,
        name: 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250112',
        description: 'Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2025-01-12',
        ownerId: CANONICAL_OWNER,
        public: true,
        platform: 'linux',
        rootDeviceName: '/dev/sda1',
        rootVolumeSize: 8,
        filesystem: 'ext4',
        files: ubuntu2204Files(),
      },
      {
        imageId: PUBLIC_IMAGE_IDS.ubuntu2404,
        name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115',
        description: 'Canonical, Ubuntu, 24.04, amd64 noble image',
        ownerId: CANONICAL_OWNER,
        public: true,
        platform: 'linux',
        rootDeviceName: '/dev/sda1',
        rootVolumeSize: 8,
        filesystem: 'ext4',
        files: ubuntu2204Files(),
      },
      {
        imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
        name: 'Windows_Server-2022-English-Full-Base-2025.01.15',
        description: 'Microsoft Windows Server 2022 Full Locale English AMI provided by Amazon',
        ownerId: WINDOWS_OWNER,
        ownerAlias: 'amazon',
        public: true,
        platform: 'windows',
        rootDeviceName: '/dev/sda1',
        rootVolumeSize: 30,
        filesystem: 'ntfs',
        files: windowsServer2022Files(),
      },
    ];
    for (const spec of catalogue) registerImage(ctx, { ...spec, creationDate: Date.UTC(2025, 0, 15) });
    for (const [name, imageId] of Object.entries(PUBLIC_PARAMETERS)) putPublicParameter(ctx, name, imageId);
  }

  // ---- serving calls ----

  /**
   * Serves one call: input and output in the SDK's shapes; a refusal throws `SimServiceError`.
   * The protocol layers (`ec2-query.ts`, `ssm-json.ts`) call this; tests may too.
   */
  invoke(service: SimService, action: string, input: unknown, requestId: string = randomUUID()): unknown {
    const at = this.clock.now();
    this.settle(at);
    const args = (input ?? {}) as Record<string, unknown>;
    const call: SimCall = { service, action, input: structuredClone(args), at, requestId };
    this.calls.push(call);
    if (this.calls.length > this.callLogLimit) this.calls.splice(0, this.calls.length - this.callLogLimit);
    this.currentTime = at;
    // Reads change nothing but what they settle (counted there); anything else may.
    if (!/^(Describe|Get|List)/.test(action)) this.changes += 1;
    let injected = false;
    try {
      const handler = this.handlerFor(service, action);
      const before = this.faults.take(service, action, args, 'before');
      if (before?.error) {
        injected = true;
        throw faultToError(service, before.error);
      }
      if (service === 'ec2' && this.throttle && !this.throttle.tryTake(action, args)) {
        throw new SimServiceError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      }
      if (service === 'ec2' && args.DryRun === true) {
        throw new SimServiceError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      }
      const asyncRule = this.faults.take(service, action, args, 'async');
      const faults: CallFaults = asyncRule?.asyncFailure ? { asyncFailure: asyncRule.asyncFailure === true ? {} : asyncRule.asyncFailure } : {};
      let result: unknown;
      try {
        result = handler(this.ctx, args as never, faults);
      } catch (error) {
        // Refused (e.g. a duplicate image name): nothing was started that could fail later.
        if (asyncRule) this.faults.giveBack(asyncRule);
        throw error;
      }
      const after = this.faults.take(service, action, args, 'after');
      if (after?.error) {
        injected = true;
        throw faultToError(service, after.error);
      }
      return result;
    } catch (error) {
      if (error instanceof SimServiceError) call.error = { code: error.code, message: error.message, injected };
      throw error;
    } finally {
      this.currentTime = undefined;
      this.flushEvents();
    }
  }

  /** Typed `invoke` for EC2. */
  ec2<K extends Ec2Action>(action: K, input: Ec2Actions[K][0]): Ec2Actions[K][1] {
    return this.invoke('ec2', action, input) as Ec2Actions[K][1];
  }

  /** Typed `invoke` for SSM. */
  ssm<K extends SsmAction>(action: K, input: SsmActions[K][0]): SsmActions[K][1] {
    return this.invoke('ssm', action, input) as SsmActions[K][1];
  }

  private handlerFor(service: SimService, action: string): (ctx: RegionContext, input: never, faults: CallFaults) => unknown {
    if (service === 'ec2') {
      if (isEc2Action(action)) return ec2Handlers[action] as (ctx: RegionContext, input: never, faults: CallFaults) => unknown;
      throw new SimServiceError('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
    if (isSsmAction(action)) return ssmHandlers[action] as (ctx: RegionContext, input: never, faults: CallFaults) => unknown;
    throw new SimServiceError('UnknownOperationException', `Unknown operation ${action}`);
  }

  // ---- time and events ----

  /** Applies every transition due by `until`, oldest first, each at its own time. */
  private settle(until: number): void {
    for (;;) {
      let next = -1;
      this.state.scheduled.forEach((s, i) => {
        const best = this.state.scheduled[next];
        if (s.at <= until && (next < 0 || s.at < best.at || (s.at === best.at && s.seq < best.seq))) next = i;
      });
      if (next < 0) break;
      const [due] = this.state.scheduled.splice(next, 1);
      this.changes += 1;
      this.currentTime = due.at;
      try {
        applyTransition(this.ctx, due.transition);
      } finally {
        this.currentTime = undefined;
      }
    }
  }

  private flushEvents(): void {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    for (const event of events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (error) {
          // A listener's failure must not undo or block the region's own work.
          console.error('simulated region: event listener failed', error);
        }
      }
    }
  }

  /** Applies what is due by the clock's now and delivers the resulting events. */
  tick(): void {
    this.settle(this.clock.now());
    this.flushEvents();
  }

  /** When the next scheduled transition falls due (simulated ms), or undefined if none. */
  nextTransitionAt(): number | undefined {
    return this.state.scheduled.reduce<number | undefined>((min, s) => (min === undefined || s.at < min ? s.at : min), undefined);
  }

  /** Calls `tick()` every `intervalMs` real milliseconds; returns a function that stops it. */
  startTicking(intervalMs = 50): () => void {
    const timer = setInterval(() => this.tick(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Subscribes to the EventBridge events the region emits; returns an unsubscribe function. */
  onEvent(listener: SimEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- inspection (snapshots, after applying what is due) ----

  getInstance(instanceId: string): InstanceRecord | undefined {
    this.tick();
    return structuredClone(this.state.instances[instanceId]);
  }

  getVolume(volumeId: string): VolumeRecord | undefined {
    this.tick();
    return structuredClone(this.state.volumes[volumeId]);
  }

  getImage(imageId: string): ImageRecord | undefined {
    this.tick();
    return structuredClone(this.state.images[imageId]);
  }

  /** A parameter with its plaintext value (SecureStrings included). */
  getParameter(name: string): ParameterRecord | undefined {
    this.tick();
    return structuredClone(this.state.parameters[name]);
  }

  getCommand(commandId: string): CommandRecord | undefined {
    this.tick();
    return structuredClone(this.state.commands[commandId]);
  }

  /**
   * A number that moves whenever the state may have changed (a call that is not a read, a
   * transition applied, a fixture): a runtime that keeps the state on disk saves it when this moved.
   */
  get revision(): number {
    return this.changes;
  }

  /** Everything the region knows, as JSON-able data (pass as `state` to resume). */
  exportState(): RegionState {
    this.tick();
    return structuredClone(this.state);
  }

  // ---- fixtures ----

  /** Puts an instance straight into `running` or `stopped` (sample data, test fixtures). */
  seedInstance(spec: SeedInstanceSpec): InstanceRecord {
    this.tick();
    this.changes += 1;
    this.currentTime = this.clock.now();
    try {
      return structuredClone(seedInstance(this.ctx, spec));
    } finally {
      this.currentTime = undefined;
    }
  }

  /** Registers an `available` image with one root snapshot holding `spec.files`. */
  registerImage(spec: ImageSpec): ImageRecord {
    this.tick();
    this.changes += 1;
    return structuredClone(registerImage(this.ctx, spec));
  }

  /** Adds a customer managed KMS key (default state `Enabled`). */
  putKmsKey(spec: { keyId?: string; state?: KmsKeyState } = {}): KmsKeyRecord {
    this.changes += 1;
    const keyId = spec.keyId ?? this.ids.uuid();
    const key: KmsKeyRecord = {
      keyId,
      arn: `arn:aws:kms:${this.config.regionName}:${this.config.accountId}:key/${keyId}`,
      state: spec.state ?? 'Enabled',
      managed: false,
    };
    this.state.kmsKeys[keyId] = key;
    return { ...key };
  }

  /** Adds (or replaces) an IAM role or user with its tags; IAM is global, the region just holds it. */
  putIamPrincipal(principal: IamPrincipalRecord): void {
    (this.state.iamPrincipals ??= {})[`${principal.kind}/${principal.name}`] = structuredClone(principal);
  }

  getIamPrincipal(kind: IamPrincipalRecord['kind'], name: string): IamPrincipalRecord | undefined {
    const principal = this.state.iamPrincipals?.[`${kind}/${name}`];
    return principal && structuredClone(principal);
  }

  getKmsKey(keyIdOrArn: string): KmsKeyRecord | undefined {
    const key = findKmsKey(this.ctx, keyIdOrArn);
    return key && { ...key };
  }

  /**
   * The SSM agent of a running instance that has one (instance profile, agent in its image) loses
   * its connection (`ConnectionLost`: the agent stopped, the network or the role broke) or gets it
   * back. A command sent meanwhile stays `Pending` until it times out.
   */
  setAgentConnected(instanceId: string, connected: boolean): void {
    this.tick();
    this.changes += 1;
    const instance = this.state.instances[instanceId];
    if (!instance) throw new Error(`No instance ${instanceId} in the simulated region`);
    if (!instance.iamInstanceProfile || !instance.ssmAgent || instance.state !== 'running') {
      throw new Error(`${instanceId} has no SSM agent that could connect (instance profile, agent in the image, running)`);
    }
    const now = this.clock.now();
    if (connected) instance.agent = { status: 'online', registeredAt: instance.agent.registeredAt ?? now, lastPingAt: now };
    else if (instance.agent.status === 'online') instance.agent = { ...instance.agent, status: 'offline' };
  }

  /** Disables, re-enables or schedules the deletion of a key (by id or ARN). */
  setKmsKeyState(keyIdOrArn: string, state: KmsKeyState): void {
    this.changes += 1;
    const key = findKmsKey(this.ctx, keyIdOrArn);
    if (!key) throw new Error(`No KMS key ${keyIdOrArn} in the simulated region`);
    key.state = state;
  }
}
