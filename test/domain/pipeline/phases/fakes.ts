/**
 * Typed fakes of the ports a phase step uses, for the steps' own unit tests: a small EC2 (instances,
 * volumes, images) that records every call, and the core ports around it. A fake's state is set by
 * the test, each call changes it as EC2 would answer at once (no timings: the simulated region is
 * for those), and `calls` says what the step sent.
 */
import { defaultConfig, type ServiceConfig } from '../../../../domain/config';
import type { CorePorts, OptionalPorts, PhasePorts, PortName } from '../../../../domain/pipeline/phase';
import type {
  AgentStatus,
  Compute,
  HelperLaunch,
  ImageFacts,
  InstanceFacts,
  RescueNetworks,
  RescueRunner,
  SsmRoute,
  SubnetFacts,
  VolumeFacts,
} from '../../../../domain/ports';
import { silentLog } from '../../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../../infra/memory/memory-guard-stores';
import { MemoryJobStore } from '../../../../infra/memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../../../../infra/memory/memory-rescue-network-leases';
import { MemoryStopBatchStore } from '../../../../infra/memory/memory-stop-batch-store';
import type { Job, PhaseName } from '../../../../domain/job/job';
import { instanceFacts, job } from '../../fixtures';

export type Call = { method: keyof Compute | string; args: unknown[] };

export class FakeCompute implements Compute {
  readonly calls: Call[] = [];
  readonly instances = new Map<string, InstanceFacts>();
  readonly volumes = new Map<string, VolumeFacts>();
  readonly images = new Map<string, ImageFacts>();
  readonly subnets = new Map<string, SubnetFacts>();
  /** Instances launched, by client token. */
  readonly launched = new Map<string, string>();
  private nextId = 1;

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  /** The names of the calls that change something (what a step sent). */
  get sent(): string[] {
    return this.calls.map((c) => c.method).filter((m) => !/^(describe|find|resolve|count|ssmRoute)/.test(m));
  }

  async describeInstance(instanceId: string): Promise<InstanceFacts | undefined> {
    this.record('describeInstance', instanceId);
    const found = this.instances.get(instanceId);
    return found && structuredClone(found);
  }
  async describeVolume(volumeId: string): Promise<VolumeFacts | undefined> {
    this.record('describeVolume', volumeId);
    const found = this.volumes.get(volumeId);
    return found && structuredClone(found);
  }
  async describeImage(imageId: string): Promise<ImageFacts | undefined> {
    this.record('describeImage', imageId);
    return this.images.get(imageId);
  }
  async describeImages(imageIds: readonly string[]): Promise<ImageFacts[]> {
    this.record('describeImages', imageIds);
    return imageIds.flatMap((id) => this.images.get(id) ?? []);
  }
  async findImageByName(name: string): Promise<ImageFacts | undefined> {
    this.record('findImageByName', name);
    return [...this.images.values()].find((image) => image.name === name);
  }
  async describeSubnet(subnetId: string): Promise<SubnetFacts | undefined> {
    this.record('describeSubnet', subnetId);
    return this.subnets.get(subnetId);
  }
  async launchInstance(spec: HelperLaunch): Promise<string> {
    this.record('launchInstance', spec);
    const known = this.launched.get(spec.clientToken);
    if (known) return known;
    const id = `i-helper${String(this.nextId++).padStart(9, '0')}`;
    this.launched.set(spec.clientToken, id);
    this.instances.set(id, instanceFacts({ instanceId: id, state: 'pending', tags: spec.tags, blockDevices: [] }));
    return id;
  }
  async findInstanceByClientToken(clientToken: string): Promise<InstanceFacts | undefined> {
    this.record('findInstanceByClientToken', clientToken);
    const id = this.launched.get(clientToken);
    return id ? this.instances.get(id) : undefined;
  }
  async stopInstance(instanceId: string, options: { force: boolean }): Promise<void> {
    this.record('stopInstance', instanceId, options);
    this.setState(instanceId, 'stopping');
  }
  async stopInstances(instanceIds: string[]): Promise<void> {
    this.record('stopInstances', instanceIds);
    for (const id of instanceIds) this.setState(id, 'stopping');
  }
  async startInstance(instanceId: string): Promise<void> {
    this.record('startInstance', instanceId);
    this.setState(instanceId, 'pending');
  }
  async terminateInstance(instanceId: string): Promise<void> {
    this.record('terminateInstance', instanceId);
    if (this.instances.has(instanceId)) this.setState(instanceId, 'shutting-down');
  }
  async attachVolume(volumeId: string, instanceId: string, device: string): Promise<void> {
    this.record('attachVolume', volumeId, instanceId, device);
    const volume = this.volumes.get(volumeId)!;
    volume.state = 'in-use';
    volume.attachments = [{ instanceId, device, state: 'attaching', deleteOnTermination: false }];
  }
  async detachVolume(volumeId: string, instanceId: string): Promise<void> {
    this.record('detachVolume', volumeId, instanceId);
    const volume = this.volumes.get(volumeId)!;
    volume.attachments = volume.attachments.map((a) => (a.instanceId === instanceId ? { ...a, state: 'detaching' } : a));
  }
  async setDeleteOnTermination(instanceId: string, device: string, deleteOnTermination: boolean): Promise<void> {
    this.record('setDeleteOnTermination', instanceId, device, deleteOnTermination);
  }
  async createImage(input: { instanceId: string; name: string; description: string; tags: Record<string, string> }): Promise<string> {
    this.record('createImage', input);
    const existing = [...this.images.values()].find((image) => image.name === input.name);
    if (existing) return existing.imageId;
    const imageId = `ami-${String(this.nextId++).padStart(8, '0')}`;
    this.images.set(imageId, { imageId, name: input.name, state: 'pending' });
    return imageId;
  }
  async resolveImageParameter(parameterName: string): Promise<string> {
    this.record('resolveImageParameter', parameterName);
    return 'ami-helper0001';
  }
  async countVpcs(): Promise<number> {
    this.record('countVpcs');
    return 1;
  }
  async ssmRoute(subnet: SubnetFacts): Promise<SsmRoute> {
    this.record('ssmRoute', subnet);
    return 'internet-gateway';
  }

  /** Sets an instance's state as the test's story goes on. */
  setState(instanceId: string, state: InstanceFacts['state']): void {
    const instance = this.instances.get(instanceId);
    if (instance) instance.state = state;
  }

  /** Settles what a call started: attaching → attached, detaching → detached (available). */
  settleVolume(volumeId: string): void {
    const volume = this.volumes.get(volumeId)!;
    volume.attachments = volume.attachments.filter((a) => a.state !== 'detaching').map((a) => (a.state === 'attaching' ? { ...a, state: 'attached' } : a));
    volume.state = volume.attachments.length > 0 ? 'in-use' : 'available';
  }
}

/** The helper's SSM agent and the rescue command, as a phase sees them. */
export class FakeRescue implements RescueRunner {
  agent: AgentStatus = 'Online';
  readonly sent: string[] = [];
  async agentStatus(): Promise<AgentStatus> {
    return this.agent;
  }
  async start(): Promise<string> {
    this.sent.push('start');
    return 'cmd-1';
  }
  async find(): Promise<string | undefined> {
    return undefined;
  }
  async result(): Promise<undefined> {
    return undefined;
  }
}

export interface FakePorts<K extends PortName> {
  ports: PhasePorts<K>;
  compute: FakeCompute;
  /** Moves the ports' clock on. */
  advance(seconds: number): void;
}

/** The core ports around a FakeCompute, and the optional ports given; `now` is the clock's start. */
export function fakePorts<K extends PortName = never>(
  optional: Pick<OptionalPorts, K> = {} as Pick<OptionalPorts, K>,
  options: { now?: string; config?: Partial<ServiceConfig> } = {},
): FakePorts<K> {
  let now = Date.parse(options.now ?? '2026-01-01T00:10:00.000Z');
  const compute = new FakeCompute();
  const core: CorePorts = {
    store: new MemoryJobStore(),
    bus: { publish: async () => undefined },
    scheduler: { later: async () => undefined },
    compute,
    networkLeases: new MemoryRescueNetworkLeases(),
    admission: new MemoryAdmissionStore(),
    observer: { jobStarted: async () => undefined, phaseFinished: async () => undefined, jobFinished: async () => undefined },
    clock: { now: () => new Date(now) },
    log: silentLog,
    config: { ...defaultConfig, ...options.config },
  };
  return { ports: { ...core, ...optional } as PhasePorts<K>, compute, advance: (seconds) => void (now += seconds * 1000) };
}

export const stopBatches = () => ({ stopBatches: new MemoryStopBatchStore() });

/** A rescue network that answers what it was built with. */
export function fakeNetworks(answer: Awaited<ReturnType<RescueNetworks['ensure']>>): RescueNetworks {
  return { vpcExists: async () => true, ensure: async () => answer };
}

export const TARGET = 'i-0123456789abcdef0';
export const ROOT = 'vol-0123456789abcdef0';
export const HELPER = 'i-0helper0000000001';

/** A job of the swap, in `phase` (its first delivery unless `attempt`), with its target recorded. */
export function swapJob(phase: PhaseName, overrides: Partial<Job> = {}, attempt = 0): Job {
  const now = '2026-01-01T00:00:00.000Z';
  return job({
    current: [phase],
    phases: { validate: { status: 'done', startedAt: now, attempt: 0 }, [phase]: { status: 'running', startedAt: now, attempt } },
    target: {
      state: 'running',
      platform: 'linux',
      availabilityZone: 'us-east-1a',
      subnetId: 'subnet-0123456789abcdef0',
      vpcId: 'vpc-0123456789abcdef0',
      rootDeviceName: '/dev/xvda',
      rootVolumeId: ROOT,
      rootDeleteOnTermination: true,
      rootEncrypted: false,
      rootProductCodes: [],
      publicIpWillChange: true,
    },
    resources: { helperInstanceId: HELPER },
    ...overrides,
  });
}

/** The target, its root attached at /dev/xvda, and the helper running. */
export function seedSwap(
  compute: FakeCompute,
  options: { target?: Partial<InstanceFacts>; rootOn?: string; rootState?: VolumeFacts['attachments'][number]['state'] } = {},
): void {
  compute.instances.set(TARGET, instanceFacts({ instanceId: TARGET, state: 'stopped', ...options.target }));
  compute.instances.set(HELPER, instanceFacts({ instanceId: HELPER, state: 'running', blockDevices: [] }));
  const on = options.rootOn === undefined ? TARGET : options.rootOn;
  compute.volumes.set(ROOT, {
    volumeId: ROOT,
    state: on ? 'in-use' : 'available',
    availabilityZone: 'us-east-1a',
    encrypted: false,
    productCodes: [],
    attachments: on
      ? [{ instanceId: on, device: on === TARGET ? '/dev/xvda' : '/dev/sdf', state: options.rootState ?? 'attached', deleteOnTermination: on === TARGET }]
      : [],
  });
}
