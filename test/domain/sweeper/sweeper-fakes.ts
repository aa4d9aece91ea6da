/** A small EC2 for the sweeper's unit tests: the Reclaimer and the part of Compute the sweeper uses. */
import type { Job } from '../../../domain/job/job';
import type {
  BlockDevice,
  Compute,
  DeleteOutcome,
  ImageFacts,
  InstanceFacts,
  ManagedHelper,
  NetworkPart,
  PhaseMessage,
  Reclaimer,
  RescueVpcInventory,
  Sleeper,
  VolumeFacts,
} from '../../../domain/ports';
import type { SweeperPorts } from '../../../domain/sweeper/sweeper';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../../../infra/memory/memory-rescue-network-leases';
import { silentLog } from '../../../infra/observability/logger';
import { config, instanceFacts, volumeFacts } from '../fixtures';

export const T0 = Date.parse('2026-01-05T09:00:00.000Z');

export class FakeEc2 implements Reclaimer {
  helpers: ManagedHelper[] = [];
  vpcs: RescueVpcInventory[] = [];
  detachedGateways: string[] = [];
  instances = new Map<string, InstanceFacts>();
  volumes = new Map<string, VolumeFacts>();
  images = new Map<string, ImageFacts>();
  /** Part ids whose deletion answers `deferred` (e.g. DependencyViolation). */
  deferred = new Map<string, string>();
  /** Endpoint ids that stay `deleting` for this many more looks. */
  endpointLooks = new Map<string, number>();
  /** Every change, in order: `terminate i-…`, `delete subnet subnet-…`, `detach vol-… i-…`… */
  readonly changes: string[] = [];
  /** Transitions that complete when time passes (a detach, an attach). */
  private pending: Array<() => void> = [];

  settle(): void {
    const due = this.pending;
    this.pending = [];
    for (const complete of due) complete();
  }

  async listHelpers(): Promise<ManagedHelper[]> {
    return structuredClone(this.helpers.filter((h) => h.state !== 'terminated'));
  }

  async listRescueVpcs(): Promise<RescueVpcInventory[]> {
    return structuredClone(this.vpcs);
  }

  async listDetachedGateways(): Promise<string[]> {
    return [...this.detachedGateways];
  }

  async listEndpoints(vpcId: string): Promise<Array<{ id: string; state: string }>> {
    const vpc = this.vpcs.find((v) => v.vpcId === vpcId);
    if (!vpc) return [];
    for (const endpoint of vpc.endpoints) {
      const looks = this.endpointLooks.get(endpoint.id) ?? 0;
      this.endpointLooks.set(endpoint.id, looks - 1);
    }
    vpc.endpoints = vpc.endpoints.filter((e) => e.state !== 'deleting' || (this.endpointLooks.get(e.id) ?? 0) >= 0);
    return vpc.endpoints.map((e) => ({ ...e }));
  }

  async terminateHelper(instanceId: string): Promise<boolean> {
    const helper = this.helpers.find((h) => h.instanceId === instanceId);
    if (!helper) return false;
    this.changes.push(`terminate ${instanceId}`);
    helper.state = 'shutting-down';
    return true;
  }

  async deletePart(part: NetworkPart): Promise<DeleteOutcome> {
    const reason = this.deferred.get(part.id);
    if (reason) return { outcome: 'deferred', reason };
    this.changes.push(`delete ${part.kind} ${part.id}`);
    for (const vpc of this.vpcs) {
      if (part.kind === 'vpc-endpoint') vpc.endpoints = vpc.endpoints.map((e) => (e.id === part.id ? { ...e, state: 'deleting' } : e));
      if (part.kind === 'route-table') vpc.routeTables = vpc.routeTables.filter((t) => t.id !== part.id);
      if (part.kind === 'security-group') vpc.securityGroupIds = vpc.securityGroupIds.filter((id) => id !== part.id);
      if (part.kind === 'subnet') vpc.subnetIds = vpc.subnetIds.filter((id) => id !== part.id);
      if (part.kind === 'internet-gateway') vpc.internetGatewayIds = vpc.internetGatewayIds.filter((id) => id !== part.id);
    }
    if (part.kind === 'vpc') this.vpcs = this.vpcs.filter((v) => v.vpcId !== part.id);
    if (part.kind === 'internet-gateway') this.detachedGateways = this.detachedGateways.filter((id) => id !== part.id);
    return { outcome: 'deleted' };
  }

  /** The part of Compute the sweeper uses; anything else fails the test. */
  compute(): Compute {
    const used: Pick<
      Compute,
      'describeInstance' | 'describeVolume' | 'describeImages' | 'detachVolume' | 'attachVolume' | 'setDeleteOnTermination' | 'startInstance'
    > = {
      describeInstance: async (id) => structuredClone(this.instances.get(id)),
      describeImages: async (ids) => ids.flatMap((id) => structuredClone(this.images.get(id)) ?? []),
      describeVolume: async (id) => structuredClone(this.volumes.get(id)),
      detachVolume: async (volumeId, instanceId) => {
        this.changes.push(`detach ${volumeId} ${instanceId}`);
        const volume = this.volumes.get(volumeId)!;
        volume.attachments = volume.attachments.map((a) => ({ ...a, state: 'detaching' }));
        this.pending.push(() => {
          volume.attachments = [];
          volume.state = 'available';
          this.setBlockDevices(instanceId, (devices) => devices.filter((d) => d.volumeId !== volumeId));
          const helper = this.helpers.find((h) => h.instanceId === instanceId);
          if (helper) helper.volumes = helper.volumes.filter((v) => v.volumeId !== volumeId);
        });
      },
      attachVolume: async (volumeId, instanceId, device) => {
        this.changes.push(`attach ${volumeId} ${instanceId} ${device}`);
        const volume = this.volumes.get(volumeId)!;
        volume.state = 'in-use';
        volume.attachments = [{ instanceId, device, state: 'attaching', deleteOnTermination: false }];
        this.pending.push(() => {
          volume.attachments = [{ instanceId, device, state: 'attached', deleteOnTermination: false }];
          this.setBlockDevices(instanceId, (devices) => [...devices, { deviceName: device, volumeId, deleteOnTermination: false }]);
        });
      },
      setDeleteOnTermination: async (instanceId, device, value) => {
        this.changes.push(`delete-on-termination ${instanceId} ${device} ${value}`);
        this.setBlockDevices(instanceId, (devices) => devices.map((d) => (d.deviceName === device ? { ...d, deleteOnTermination: value } : d)));
      },
      startInstance: async (instanceId) => {
        this.changes.push(`start ${instanceId}`);
        this.instances.get(instanceId)!.state = 'pending';
      },
    };
    return new Proxy(used, {
      get: (target, name) => {
        if (name in target) return target[name as keyof typeof target];
        return async () => {
          throw new Error(`Compute.${String(name)} is not used by the sweeper`);
        };
      },
    }) as unknown as Compute;
  }

  private setBlockDevices(instanceId: string, change: (devices: BlockDevice[]) => BlockDevice[]): void {
    const instance = this.instances.get(instanceId);
    if (instance) instance.blockDevices = change(instance.blockDevices);
  }
}

/** A target stopped by a reset whose root volume is on helper `i-helper` at /dev/sdf. */
export function strandedTarget(
  ec2: FakeEc2,
  options: { targetState?: InstanceFacts['state'] } = {},
): { targetId: string; volumeId: string; helper: ManagedHelper } {
  const targetId = 'i-0target00000000001';
  const volumeId = 'vol-0root000000000001';
  ec2.instances.set(targetId, instanceFacts({ instanceId: targetId, state: options.targetState ?? 'stopped', rootDeviceName: '/dev/xvda', blockDevices: [] }));
  ec2.volumes.set(
    volumeId,
    volumeFacts({ volumeId, attachments: [{ instanceId: 'i-helper', device: '/dev/sdf', state: 'attached', deleteOnTermination: false }] }),
  );
  const helper = managedHelper({
    volumes: [
      { volumeId: 'vol-helperroot', device: '/dev/xvda', state: 'attached', own: true },
      { volumeId, device: '/dev/sdf', state: 'attached', own: false },
    ],
    tags: {
      'reset-access:target-instance-id': targetId,
      'reset-access:target-root-volume-id': volumeId,
      'reset-access:target-state': 'running',
      'reset-access:target-root-delete-on-termination': 'true',
    },
  });
  ec2.helpers.push(helper);
  return { targetId, volumeId, helper };
}

export function managedHelper(overrides: Partial<ManagedHelper> = {}): ManagedHelper {
  return {
    instanceId: 'i-helper',
    state: 'running',
    launchTime: new Date(T0 - 3600_000).toISOString(),
    vpcId: 'vpc-rescue',
    rootDeviceName: '/dev/xvda',
    volumes: [{ volumeId: 'vol-helperroot', device: '/dev/xvda', state: 'attached', own: true }],
    // What only this deployment's launch gives a helper (config.helperInstanceProfile).
    instanceProfileArn: `arn:aws:iam::123456789012:instance-profile/${config.helperInstanceProfile}`,
    ...overrides,
    tags: {
      'reset-access:managed': 'true',
      'reset-access:deployment': config.deployment,
      'reset-access:role': 'helper',
      'reset-access:job-id': 'r-gone0001',
      ...overrides.tags,
    },
  };
}

export function rescueVpc(overrides: Partial<RescueVpcInventory> = {}): RescueVpcInventory {
  return {
    vpcId: 'vpc-rescue',
    instanceIds: [],
    endpoints: [],
    routeTables: [{ id: 'rtb-rescue', associationIds: ['rtbassoc-a'] }],
    securityGroupIds: ['sg-rescue'],
    subnetIds: ['subnet-a'],
    internetGatewayIds: ['igw-rescue'],
    foreign: [],
    ...overrides,
  };
}

export function sweeperWorld() {
  const ec2 = new FakeEc2();
  const store = new MemoryJobStore();
  const networkLeases = new MemoryRescueNetworkLeases();
  const published: PhaseMessage[] = [];
  let now = T0;
  const sleeper: Sleeper = {
    sleep: async (seconds) => {
      now += seconds * 1000;
      ec2.settle();
    },
  };
  const ports: SweeperPorts = {
    store,
    bus: { publish: async (messages) => void published.push(...messages) },
    compute: ec2.compute(),
    reclaimer: ec2,
    networkLeases,
    sleeper,
    clock: { now: () => new Date(now) },
    log: silentLog,
    config: { ...config, sweeper: { ...config.sweeper }, rescueNetwork: { ...config.rescueNetwork } },
  };
  return {
    ec2,
    store,
    networkLeases,
    published,
    ports,
    at: (ms: number) => new Date(ms),
    advance: (seconds: number) => void (now += seconds * 1000),
    now: () => now,
    seed: (job: Job) => store.put(job, undefined),
  };
}
