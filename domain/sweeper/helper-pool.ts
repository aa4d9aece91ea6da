/**
 * The warm pool of stopped Windows helpers (`config.windowsHelperPool`, default size 0): the
 * Windows fast path's fallback starts one of them (a later boot, minutes) instead of launching a
 * new helper (a first boot, ≈ 15 min; docs/aws-facts.md#windows-helper-pool).
 *
 * - A job claims one atomically (`HelperPoolStore.claim`: a conditional write on the slot's state),
 *   so two jobs never take the same helper, and a repeated delivery gets the one it already took.
 * - The sweeper keeps the pool (`sweepHelperPool`, a pass of each run): it launches a helper per
 *   missing slot into the rescue network of the zone (RunInstances with the slot's ClientToken),
 *   stops it once its first boot is over (its SSM agent Online), marks it ready once stopped, forgets
 *   the slots of claimed helpers once their job has ended (the job terminated its helper; a helper
 *   the job left behind is terminated here), and retires helpers when the pool shrinks.
 * - Pool helpers carry the role `pool-helper` (never `helper`), so the helper pass of the sweeper,
 *   which reclaims helpers whose job has ended, does not take them for orphans; the pool holds a
 *   lease on the rescue network (`HELPER_POOL_LEASE`) so that it is not reclaimed under them.
 */
import { isActive, type Job } from '../job/job';
import { poolClientToken, serviceTags } from '../naming';
import type { PhasePorts } from '../pipeline/phase';
import type { PooledHelper } from '../ports';
import { usesRescueNetwork } from '../pipeline/rescue-network-lease';
import type { SweepReport } from './sweep-report';
import type { SweeperPorts } from './sweep-ports';

/** The pool's lease on the rescue network, beside the jobs' (sweep-networks.ts keeps it). */
export const HELPER_POOL_LEASE = 'windows-helper-pool';

/** States of a slot whose helper is (or will be) free for a job: what counts towards the pool's size. */
const SPARE: ReadonlySet<PooledHelper['state']> = new Set(['launching', 'warming', 'stopping', 'ready']);

/**
 * A stopped Windows helper of the pool for the job's fallback, if one is ready in the target's zone
 * and the job uses the rescue network the pool lives in. Answers its instance id.
 */
export async function claimPooledHelper(job: Job, ports: PhasePorts<'helperPool'>): Promise<string | undefined> {
  if (!usesRescueNetwork(job)) return undefined;
  const slot = await ports.helperPool.claim(job.jobId, job.target!.availabilityZone, ports.clock.now());
  return slot?.instanceId;
}

type PoolPorts = SweeperPorts & Required<Pick<SweeperPorts, 'helperPool' | 'networks' | 'rescue'>>;

/** One run of the pool's upkeep (a pass of the sweeper); with `report.dryRun` it only reports. */
export async function sweepHelperPool(report: SweepReport, ports: SweeperPorts): Promise<void> {
  if (!ports.helperPool || !ports.networks || !ports.rescue) return;
  const all = ports as PoolPorts;
  const config = ports.config.windowsHelperPool;
  const zones = config.size > 0 ? config.availabilityZones : [];
  const slots = await all.helperPool.list();
  if (slots.length === 0 && zones.length === 0) return;

  for (const slot of slots) {
    try {
      await advance(slot, report, all);
    } catch (error) {
      report.record('pool-helper', slot.instanceId ?? slot.slotId, 'deferred', `error: ${(error as Error).message}`);
      ports.log.warn('sweeper: pool helper not moved on', { slotId: slot.slotId, error: (error as Error).message });
    }
  }

  const now = ports.clock.now();
  const current = await all.helperPool.list();
  const inPool = new Set([...zones, ...current.map((s) => s.availabilityZone)]);
  for (const zone of inPool) {
    const want = zones.includes(zone) ? config.size : 0;
    const spare = current.filter((s) => s.availabilityZone === zone && SPARE.has(s.state));
    if (spare.length > want) await retire(spare, spare.length - want, report, all);
    if (spare.length < want) await grow(zone, want - spare.length, report, all);
  }

  // The lease keeps the rescue network from being reclaimed while the pool wants or has helpers.
  const left = await all.helperPool.list();
  if (left.length === 0 && zones.length === 0 && !report.dryRun) await ports.networkLeases.release(HELPER_POOL_LEASE, now);
}

/** Takes one slot one step on, looking at its helper first. */
async function advance(slot: PooledHelper, report: SweepReport, ports: PoolPorts): Promise<void> {
  const { helperPool: pool, compute } = ports;
  const would = (what: string) => report.record('pool-helper', slot.instanceId ?? slot.slotId, 'deferred', `would ${what}`, 0);
  if (slot.state === 'launching') {
    if (report.dryRun) return would('launch it');
    const instanceId = await launchPoolHelper(slot, ports);
    if (instanceId && (await pool.update(slot.slotId, 'launching', { state: 'warming', instanceId }))) {
      report.record('pool-helper', instanceId, 'pool-launched', `slot ${slot.slotId} in ${slot.availabilityZone}`);
    }
    return;
  }
  const instance = slot.instanceId ? await compute.describeInstance(slot.instanceId) : undefined;
  const gone = !instance || instance.state === 'terminated' || instance.state === 'shutting-down';
  switch (slot.state) {
    case 'claimed': {
      const job = slot.claimedBy ? await ports.store.get(slot.claimedBy) : undefined;
      if (job && isActive(job)) return;
      if (report.dryRun) return would(gone ? 'forget the slot of an ended job' : 'terminate the helper an ended job left');
      if (!gone) {
        // The job ended without terminating it (its rollback gave up, or it claimed and never recorded it).
        const foreign = instance.blockDevices.filter((d) => d.deviceName !== instance.rootDeviceName);
        if (foreign.length > 0) {
          report.record(
            'pool-helper',
            instance.instanceId,
            'held',
            `claimed by ended job ${slot.claimedBy} and holds ${foreign.map((d) => d.volumeId).join(', ')}: left`,
          );
          return;
        }
        await compute.terminateInstance(instance.instanceId);
        report.record('pool-helper', instance.instanceId, 'terminated', `claimed by job ${slot.claimedBy ?? '?'}, which has ended`);
      }
      await pool.remove(slot.slotId, 'claimed');
      return;
    }
    case 'warming':
    case 'stopping':
    case 'ready': {
      if (gone) {
        if (!report.dryRun) await pool.remove(slot.slotId, slot.state);
        report.record(
          'pool-helper',
          slot.instanceId ?? slot.slotId,
          'deferred',
          `${report.dryRun ? 'would forget' : 'forgot'} a ${slot.state} slot whose helper is ${instance?.state ?? 'gone'}`,
          0,
        );
        return;
      }
      if (slot.state === 'warming') {
        // Its first boot is over once its agent is Online: stopped now, later starts are short boots.
        if (instance.state !== 'running' || (await ports.rescue.agentStatus(instance.instanceId)) !== 'Online') return;
        if (report.dryRun) return would('stop it: its first boot is over');
        await compute.stopInstance(instance.instanceId, { force: false });
        if (await pool.update(slot.slotId, 'warming', { state: 'stopping' }))
          report.record('pool-helper', instance.instanceId, 'pool-stopped', 'first boot over');
        return;
      }
      if (instance.state === 'stopped') {
        if (slot.state === 'stopping' && !report.dryRun && (await pool.update(slot.slotId, 'stopping', { state: 'ready' }))) {
          report.record('pool-helper', instance.instanceId, 'pool-ready', `in ${slot.availabilityZone}`);
        }
        return;
      }
      // A ready helper someone started: stopped again before a job counts on it.
      if (slot.state === 'ready' && instance.state === 'running' && !report.dryRun && (await pool.update(slot.slotId, 'ready', { state: 'stopping' }))) {
        await compute.stopInstance(instance.instanceId, { force: false });
      }
      return;
    }
    case 'retiring': {
      if (report.dryRun) return would('terminate a retired helper');
      if (!gone) await compute.terminateInstance(instance.instanceId);
      await pool.remove(slot.slotId, 'retiring');
      return;
    }
  }
}

/** RunInstances of a slot's helper (its ClientToken makes a repeat find it); `undefined` while the network is not ready. */
async function launchPoolHelper(slot: PooledHelper, ports: PoolPorts): Promise<string | undefined> {
  const now = ports.clock.now();
  if ((await ports.networkLeases.acquire(HELPER_POOL_LEASE, now)) === 'reclaiming') return undefined;
  const network = await ports.networks.ensure(slot.availabilityZone, {
    mayCreate: () => ports.networkLeases.lockCreation(HELPER_POOL_LEASE, ports.clock.now(), ports.config.rescueNetwork.creationLockSeconds),
  });
  if (network === 'not-yet') return undefined;
  const reference = ports.config.helperImageParameter.windows;
  const imageId = /^ami-[0-9a-f]+$/.test(reference) ? reference : await ports.compute.resolveImageParameter(reference);
  return ports.compute.launchInstance({
    clientToken: poolClientToken(slot.slotId),
    imageId,
    instanceType: ports.config.windowsHelperPool.instanceType,
    subnetId: network.subnetId,
    securityGroupIds: network.securityGroupIds,
    instanceProfile: ports.config.helperInstanceProfile,
    tags: { Name: 'reset-access-pool-helper', ...serviceTags('pool-helper', ports.config.deployment) },
  });
}

/** New slots for the missing helpers of `zone`, launched at once where the network is ready. */
async function grow(zone: string, count: number, report: SweepReport, ports: PoolPorts): Promise<void> {
  const now = ports.clock.now();
  for (let i = 0; i < count; i++) {
    const slot: PooledHelper = {
      slotId: `${zone}-${now.getTime().toString(36)}-${i}`,
      availabilityZone: zone,
      state: 'launching',
      createdAt: now.toISOString(),
    };
    if (report.dryRun) {
      report.record('pool-helper', slot.slotId, 'pool-launched', `would launch a Windows helper in ${zone}`);
      continue;
    }
    await ports.helperPool.add(slot);
    await advance(slot, report, ports);
  }
}

/** Terminates `count` spare helpers of a zone, the least ready first; one a job claims meanwhile is kept. */
async function retire(spare: PooledHelper[], count: number, report: SweepReport, ports: PoolPorts): Promise<void> {
  const order: Array<PooledHelper['state']> = ['launching', 'warming', 'stopping', 'ready'];
  const chosen = [...spare].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state)).slice(0, count);
  for (const slot of chosen) {
    if (report.dryRun) {
      report.record('pool-helper', slot.instanceId ?? slot.slotId, 'terminated', 'would retire: the pool shrank');
      continue;
    }
    if (!(await ports.helperPool.update(slot.slotId, slot.state, { state: 'retiring' }))) continue;
    const instanceId = slot.instanceId ?? (await ports.compute.findInstanceByClientToken(poolClientToken(slot.slotId)))?.instanceId;
    if (instanceId) await ports.compute.terminateInstance(instanceId);
    await ports.helperPool.remove(slot.slotId, 'retiring');
    report.record('pool-helper', instanceId ?? slot.slotId, 'terminated', 'retired: the pool shrank');
  }
}
