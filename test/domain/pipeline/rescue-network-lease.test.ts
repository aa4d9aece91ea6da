import type { Job } from '../../../domain/job/job';
import { done, type PhaseStep } from '../../../domain/pipeline/phase';
import { runPhase, type RunnerPorts } from '../../../domain/pipeline/phase-runner';
import { prepareNetwork } from '../../../domain/pipeline/phases/prepare-network';
import type { PhaseMessage, RescueNetworks, RescueVpcGuard } from '../../../domain/ports';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../../../infra/memory/memory-rescue-network-leases';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';
import { config, job as jobFixture, resetRequest } from '../fixtures';

const NOW = new Date('2026-01-05T09:00:00.000Z');

const target: NonNullable<Job['target']> = {
  state: 'running',
  platform: 'linux',
  availabilityZone: 'us-east-1a',
  subnetId: 'subnet-own',
  vpcId: 'vpc-own',
  rootDeviceName: '/dev/xvda',
  rootVolumeId: 'vol-1',
  rootDeleteOnTermination: true,
  rootEncrypted: false,
  rootProductCodes: [],
  publicIpWillChange: false,
};

function world(options: { vpcExists?: boolean } = {}) {
  const networkLeases = new MemoryRescueNetworkLeases();
  const store = new MemoryJobStore();
  const guards: RescueVpcGuard[] = [];
  let created = 0;
  let exists = options.vpcExists ?? false;
  const networks: RescueNetworks = {
    vpcExists: async () => exists,
    ensure: async (_az, guard) => {
      if (!exists) {
        guards.push(guard!);
        if (!(await guard!.mayCreate('vpc'))) return 'not-yet';
        created += 1;
        exists = true;
        return 'not-yet';
      }
      return { kind: 'rescue-vpc', vpcId: 'vpc-rescue', subnetId: 'subnet-rescue', securityGroupIds: ['sg-rescue'] };
    },
  };
  const published: PhaseMessage[] = [];
  const ports = {
    store,
    networks,
    networkLeases,
    bus: { publish: async (messages: PhaseMessage[]) => void published.push(...messages) },
    scheduler: { later: async () => undefined },
    clock: { now: () => NOW },
    log: silentLog,
    admission: new MemoryAdmissionStore(),
    compute: {},
    config,
  } as unknown as Required<RunnerPorts>;
  return { ports, networkLeases, store, published, created: () => created };
}

const preparing = (overrides: Partial<Job> = {}) =>
  jobFixture({
    target,
    current: ['prepare-network'],
    phases: { 'prepare-network': { status: 'running', startedAt: NOW.toISOString(), attempt: 0 } },
    ...overrides,
  });

describe('prepare-network and the shared rescue network', () => {
  it('takes a lease before it builds the network', async () => {
    // Prepare
    const w = world({ vpcExists: true });
    // Act
    const result = await prepareNetwork(preparing(), w.ports);
    // Assess
    expect(result.kind).toBe('done');
    expect((await w.networkLeases.read())?.leases).toEqual({ 'r-test000001': NOW.toISOString() });
  });

  it('lets only the job holding the creation lock create the VPC', async () => {
    // Prepare: two first jobs in a region, neither sees a VPC
    const w = world();
    const a = preparing({ jobId: 'r-first0001' });
    const b = preparing({ jobId: 'r-second001' });
    // Act: both look before either has created (the fake creates on the first allowed call)
    const [ra, rb] = await Promise.all([prepareNetwork(a, w.ports), prepareNetwork(b, w.ports)]);
    // Assess
    expect([ra.kind, rb.kind]).toEqual(['wait', 'wait']);
    expect(w.created()).toBe(1);
    expect((await w.networkLeases.read())?.creator?.owner).toBe('r-first0001');
  });

  it('waits, without building anything, while the idle network is being reclaimed', async () => {
    // Prepare
    const w = world({ vpcExists: true });
    await w.networkLeases.acquire('r-old', new Date(NOW.getTime() - 7200_000));
    await w.networkLeases.release('r-old', new Date(NOW.getTime() - 7200_000));
    await w.networkLeases.beginReclaim(NOW, NOW);
    // Act
    const result = await prepareNetwork(preparing(), w.ports);
    // Assess
    expect(result).toMatchObject({ kind: 'wait', waitingFor: expect.stringMatching(/reclaimed/) });
  });

  it('takes no lease for a job that uses its own subnet', async () => {
    // Prepare
    const w = world();
    // Act
    await prepareNetwork(preparing({ request: resetRequest({ subnet: 'SelectedInstanceSubnet' }) }), w.ports);
    // Assess
    expect(await w.networkLeases.read()).toBeUndefined();
  });
});

describe('the phase runner gives the lease back when the job ends', () => {
  const steps = new Proxy({} as Record<string, PhaseStep>, { get: () => async () => done() }) as unknown as Parameters<typeof runPhase>[2];

  it('at success', async () => {
    // Prepare: a job in its last phase that took a lease in prepare-network
    const w = world();
    await w.networkLeases.acquire('r-test000001', NOW);
    await w.store.put(
      jobFixture({
        target,
        current: ['cleanup'],
        phases: {
          'prepare-network': { status: 'done', startedAt: NOW.toISOString(), attempt: 0 },
          cleanup: { status: 'running', startedAt: NOW.toISOString(), attempt: 0 },
        },
      }),
      undefined,
    );
    // Act
    const outcome = await runPhase({ jobId: 'r-test000001', phase: 'cleanup', attempt: 0 }, w.ports, steps);
    // Assess
    expect(outcome).toBe('finished');
    expect(await w.networkLeases.read()).toMatchObject({ leases: {}, lastReleasedAt: NOW.toISOString() });
  });

  it('at the end of a rollback', async () => {
    // Prepare
    const w = world();
    await w.networkLeases.acquire('r-test000001', NOW);
    await w.store.put(
      jobFixture({
        target,
        status: 'ROLLING_BACK',
        current: ['rollback'],
        phases: {
          'prepare-network': { status: 'failed', startedAt: NOW.toISOString(), attempt: 0 },
          rollback: { status: 'running', startedAt: NOW.toISOString(), attempt: 0 },
        },
      }),
      undefined,
    );
    // Act
    await runPhase({ jobId: 'r-test000001', phase: 'rollback', attempt: 0 }, w.ports, steps);
    // Assess
    expect((await w.networkLeases.read())?.leases).toEqual({});
  });

  it('records when a waiting phase last moved, for the sweeper', async () => {
    // Prepare
    const w = world();
    await w.store.put(jobFixture({ phases: { validate: { status: 'running', startedAt: NOW.toISOString(), attempt: 0 } } }), undefined);
    const waiting = new Proxy({} as Record<string, PhaseStep>, { get: () => async () => ({ kind: 'wait', waitingFor: 'AWS' }) }) as unknown as Parameters<
      typeof runPhase
    >[2];
    // Act
    await runPhase({ jobId: 'r-test000001', phase: 'validate', attempt: 0 }, w.ports, waiting);
    // Assess
    expect((await w.store.get('r-test000001'))!.phases.validate).toMatchObject({ attempt: 1, movedAt: NOW.toISOString() });
  });
});
