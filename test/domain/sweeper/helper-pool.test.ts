/**
 * The warm pool's upkeep (a pass of each sweeper run, domain/sweeper/helper-pool.ts) against typed fakes:
 * a launch per missing slot into the rescue network, a stop once the first boot is over, ready
 * once stopped, the slot of a claimed helper forgotten once its job has ended, retirement when the
 * pool shrinks, and nothing changed in a dry run.
 */
import { defaultConfig, type ServiceConfig } from '../../../domain/config';
import { HELPER_POOL_LEASE, sweepHelperPool } from '../../../domain/sweeper/helper-pool';
import type { AgentStatus, HelperLaunch, RescueRunner } from '../../../domain/ports';
import { SweepReport } from '../../../domain/sweeper/sweep-report';
import type { SweeperPorts } from '../../../domain/sweeper/sweeper';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryHelperPool } from '../../../infra/memory/memory-helper-pool';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { MemoryRescueNetworkLeases } from '../../../infra/memory/memory-rescue-network-leases';
import { instanceFacts, job } from '../fixtures';
import { FakeCompute, fakeNetworks } from '../pipeline/phases/fakes';

const ZONE = 'us-east-1a';
const network = { kind: 'rescue-vpc' as const, subnetId: 'subnet-rescue', vpcId: 'vpc-rescue', securityGroupIds: ['sg-rescue'] };

class Agents implements Pick<RescueRunner, 'agentStatus'> {
  online = new Set<string>();
  async agentStatus(instanceId: string): Promise<AgentStatus> {
    return this.online.has(instanceId) ? 'Online' : 'absent';
  }
}

function poolPorts(size: number, options: { zones?: string[] } = {}) {
  const compute = new FakeCompute();
  const pool = new MemoryHelperPool();
  const agents = new Agents();
  const store = new MemoryJobStore();
  const leases = new MemoryRescueNetworkLeases();
  let now = Date.parse('2026-01-05T09:00:00.000Z');
  const config: ServiceConfig = { ...defaultConfig, windowsHelperPool: { size, availabilityZones: options.zones ?? [ZONE], instanceType: 't3.small' } };
  const ports = {
    store,
    bus: { publish: async () => undefined },
    compute,
    networkLeases: leases,
    clock: { now: () => new Date(now) },
    log: silentLog,
    config,
    helperPool: pool,
    networks: fakeNetworks(network),
    rescue: agents as unknown as RescueRunner,
  } as unknown as SweeperPorts;
  const run = async (dryRun = false) => {
    const report = new SweepReport(dryRun);
    await sweepHelperPool(report, ports);
    now += 10 * 60_000;
    return report.result();
  };
  return { ports, compute, pool, agents, store, leases, run };
}

describe('the warm pool of Windows helpers', () => {
  it("launches a helper per missing slot into the rescue network, tagged as the pool's, and holds a lease on that network", async () => {
    // Prepare
    const { compute, pool, leases, run } = poolPorts(2);
    // Act
    const summary = await run();
    // Assess
    const launches = compute.calls.filter((c) => c.method === 'launchInstance').map((c) => c.args[0] as HelperLaunch);
    expect(launches).toHaveLength(2);
    expect(new Set(launches.map((l) => l.clientToken)).size).toBe(2);
    expect(launches[0]).toMatchObject({
      subnetId: 'subnet-rescue',
      instanceType: 't3.small',
      tags: { Name: 'reset-access-pool-helper', 'reset-access:managed': 'true', 'reset-access:role': 'pool-helper' },
    });
    expect((await pool.list()).map((s) => s.state)).toEqual(['warming', 'warming']);
    expect(summary.actions.filter((a) => a.action === 'pool-launched')).toHaveLength(2);
    expect(Object.keys((await leases.read())!.leases)).toEqual([HELPER_POOL_LEASE]);
  });

  it('stops a helper once its first boot is over (agent Online), and has it ready once stopped', async () => {
    // Prepare
    const { compute, pool, agents, run } = poolPorts(1);
    await run();
    const [slot] = await pool.list();
    const id = slot!.instanceId!;
    compute.setState(id, 'running');
    // Act
    await run(); // booting: nothing to do
    const booting = compute.sent.filter((m) => m === 'stopInstance').length;
    agents.online.add(id);
    await run();
    compute.setState(id, 'stopped');
    await run();
    // Assess
    expect(booting).toBe(0);
    expect(compute.sent.filter((m) => m === 'stopInstance')).toHaveLength(1);
    expect(await pool.list()).toEqual([expect.objectContaining({ instanceId: id, state: 'ready' })]);
    expect(compute.sent.filter((m) => m === 'launchInstance')).toHaveLength(1);
  });

  it('forgets the slot of a claimed helper once its job has ended, and launches its replacement', async () => {
    // Prepare
    const { compute, pool, store, run } = poolPorts(1);
    await pool.add({
      slotId: 'old',
      availabilityZone: ZONE,
      state: 'claimed',
      instanceId: 'i-0claimed00000001',
      createdAt: '2026-01-05T08:00:00.000Z',
      claimedBy: 'r-done',
    });
    await store.put(job({ jobId: 'r-done', status: 'SUCCEEDED' }), undefined);
    compute.instances.set('i-0claimed00000001', instanceFacts({ instanceId: 'i-0claimed00000001', state: 'terminated', platform: 'windows' }));
    // Act
    await run();
    // Assess
    expect((await pool.list()).map((s) => s.state)).toEqual(['warming']);
    expect(compute.sent).toEqual(['launchInstance']);
  });

  it('keeps a claimed helper while its job runs', async () => {
    const { pool, store, run } = poolPorts(1);
    await pool.add({
      slotId: 'busy',
      availabilityZone: ZONE,
      state: 'claimed',
      instanceId: 'i-0claimed00000001',
      createdAt: '2026-01-05T08:00:00.000Z',
      claimedBy: 'r-live',
    });
    await store.put(job({ jobId: 'r-live', status: 'RUNNING' }), undefined);
    await run();
    expect((await pool.list()).find((s) => s.slotId === 'busy')?.state).toBe('claimed');
  });

  it('retires spare helpers when the pool shrinks, the least ready first, and gives the lease back when none is left', async () => {
    // Prepare: two ready and one warming helper, then the pool goes to 0
    const { compute, pool, leases, run } = poolPorts(0, { zones: [] });
    for (const [slotId, state] of [
      ['a', 'ready'],
      ['b', 'ready'],
      ['c', 'warming'],
    ] as const) {
      const id = await compute.launchInstance({ clientToken: slotId } as HelperLaunch);
      compute.setState(id, state === 'ready' ? 'stopped' : 'running');
      await pool.add({ slotId, availabilityZone: ZONE, state, instanceId: id, createdAt: '2026-01-05T08:00:00.000Z' });
    }
    await leases.acquire(HELPER_POOL_LEASE, new Date('2026-01-05T08:00:00.000Z'));
    compute.calls.length = 0;
    // Act
    const summary = await run();
    // Assess
    expect(compute.sent).toEqual(['terminateInstance', 'terminateInstance', 'terminateInstance']);
    expect(summary.actions.filter((a) => a.action === 'terminated')).toHaveLength(3);
    expect(await pool.list()).toEqual([]);
    expect((await leases.read())!.leases).toEqual({});
  });

  it('never retires a helper a job claimed meanwhile', async () => {
    // Prepare
    const { compute, pool, run } = poolPorts(0, { zones: [] });
    const id = await compute.launchInstance({ clientToken: 'a' } as HelperLaunch);
    compute.setState(id, 'stopped');
    await pool.add({ slotId: 'a', availabilityZone: ZONE, state: 'ready', instanceId: id, createdAt: '2026-01-05T08:00:00.000Z' });
    const list = pool.list.bind(pool);
    // The claim lands between the pass's look and its retirement.
    let looks = 0;
    pool.list = async () => {
      const slots = await list();
      if (++looks === 2) await pool.claim('r-racer', ZONE, new Date());
      return slots;
    };
    compute.calls.length = 0;
    // Act
    await run();
    // Assess
    expect(compute.sent).toEqual([]);
    expect((await list())[0]).toMatchObject({ state: 'claimed', claimedBy: 'r-racer' });
  });

  it('changes nothing in a dry run', async () => {
    const { compute, pool, run } = poolPorts(2);
    const summary = await run(true);
    expect(compute.sent).toEqual([]);
    expect(await pool.list()).toEqual([]);
    expect(summary.actions.map((a) => a.action)).toEqual(['pool-launched', 'pool-launched']);
  });

  it('does nothing (not even for its lease) when the pool is off and empty', async () => {
    const { compute, leases, run } = poolPorts(0);
    await run();
    expect(compute.calls).toEqual([]);
    expect(await leases.read()).toBeUndefined();
  });
});
