/**
 * The sweeper's pass over the shared rescue network. Leases of jobs that ended without giving
 * theirs back (a deleted record, a crash) are dropped; once no job has held the network for the
 * idle time it is marked `reclaiming` (no job gets a lease from then on: they wait) and deleted in
 * the order of docs/aws-facts.md#reclaim-order: instances (none may be left) → VPC endpoints (asynchronous: waited for)
 * → route tables (disassociated, deleted) → security groups → subnets → internet gateway (detached,
 * deleted) → VPC. What is not deletable yet stops the chain until the next run; parts without the
 * service's tags are never deleted (and keep the VPC from going: reported).
 *
 * Tags are not evidence enough: whoever may tag a VPC could have it deleted. Only the VPC the record
 * names (prepare-network records it) is reclaimed; another VPC with this deployment's tags is
 * reported and left, and so is one found while no record exists.
 */
import { HELPER_POOL_LEASE } from './helper-pool';
import { isActive } from '../job/job';
import type { NetworkPart, RescueNetworkRecord, RescueVpcInventory } from '../ports';
import { WaitBudget, type SweepReport } from './sweep-report';
import type { SweeperPorts } from './sweep-ports';

export async function sweepNetworks(report: SweepReport, budget: WaitBudget, ports: SweeperPorts): Promise<void> {
  const now = ports.clock.now();
  let record = await ports.networkLeases.read();
  if (record) record = await dropEndedLeases(record, report, ports);
  const tagged = await ports.reclaimer.listRescueVpcs();
  const vpcs = tagged.filter((v) => record?.vpcId !== undefined && v.vpcId === record.vpcId);
  for (const vpc of tagged.filter((v) => !vpcs.includes(v))) {
    report.found();
    const why = record?.vpcId ? `this deployment's network is ${record.vpcId}` : 'no record of this deployment names it';
    report.record('rescue-network', vpc.vpcId, 'held', `carries this deployment's rescue-network tags, but ${why}: left alone`);
  }

  if (!record) return;
  if (record.state === 'in-use') {
    if (Object.keys(record.leases).length > 0) return;
    const idleSince = new Date(now.getTime() - ports.config.rescueNetwork.idleSeconds * 1000);
    if (!record.lastReleasedAt || record.lastReleasedAt > idleSince.toISOString()) return;
    const foreign = vpcs.flatMap((v) => v.foreign);
    if (foreign.length > 0) {
      report.found();
      report.record(
        'rescue-network',
        vpcs.map((v) => v.vpcId).join(','),
        'held',
        `idle, but holds resources without the service's tags: ${foreign.join(', ')}`,
      );
      return;
    }
    if (report.dryRun) {
      report.found();
      report.record('rescue-network', vpcs.map((v) => v.vpcId).join(',') || 'record', 'reclaim-started', `would reclaim: idle since ${record.lastReleasedAt}`);
      for (const vpc of vpcs) wouldDelete(vpc, report);
      return;
    }
    if (!(await ports.networkLeases.beginReclaim(now, idleSince))) return; // a job took a lease meanwhile
    report.record('rescue-network', vpcs.map((v) => v.vpcId).join(',') || 'record', 'reclaim-started', `idle since ${record.lastReleasedAt}`);
  } else if (report.dryRun) {
    for (const vpc of vpcs) wouldDelete(vpc, report);
    return;
  }

  // Reclaiming: no job holds a lease or can take one, so no job builds or uses the network now.
  let remaining = 0;
  for (const vpc of vpcs) {
    report.found();
    if (!(await reclaimVpc(vpc, report, budget, ports))) remaining += 1;
  }
  // Gateways a concurrent create left detached: no job can be attaching one while reclaiming.
  for (const gatewayId of await ports.reclaimer.listDetachedGateways()) {
    report.found();
    if (!(await deletePart({ kind: 'internet-gateway', id: gatewayId }, report, ports))) remaining += 1;
  }
  if (remaining === 0) await ports.networkLeases.endReclaim();
}

/** A lease whose job has ended or is gone will never be released by that job. */
async function dropEndedLeases(record: RescueNetworkRecord, report: SweepReport, ports: SweeperPorts): Promise<RescueNetworkRecord> {
  const leases = { ...record.leases };
  let lastReleasedAt = record.lastReleasedAt;
  for (const jobId of Object.keys(record.leases)) {
    // The warm pool's lease is no job's: the pool gives it back itself (helper-pool.ts).
    if (jobId === HELPER_POOL_LEASE) continue;
    const job = await ports.store.get(jobId);
    if (job && isActive(job)) continue;
    report.found();
    report.record('lease', jobId, 'lease-dropped', report.dryRun ? `would drop: job ${job ? job.status : 'gone'}` : `job ${job ? job.status : 'gone'}`);
    if (report.dryRun) continue;
    const now = ports.clock.now();
    await ports.networkLeases.release(jobId, now);
    delete leases[jobId];
    lastReleasedAt = now.toISOString();
  }
  return { ...record, leases, ...(lastReleasedAt ? { lastReleasedAt } : {}) };
}

/** Deletes one VPC and its parts in order; answers whether the VPC is gone. */
async function reclaimVpc(vpc: RescueVpcInventory, report: SweepReport, budget: WaitBudget, ports: SweeperPorts): Promise<boolean> {
  const { vpcId } = vpc;
  if (vpc.instanceIds.length > 0) {
    report.record('vpc', vpcId, 'deferred', `instances still in the VPC: ${vpc.instanceIds.join(', ')}`);
    return false;
  }
  for (const endpoint of vpc.endpoints.filter((e) => e.state !== 'deleting')) {
    if (!(await deletePart({ kind: 'vpc-endpoint', id: endpoint.id }, report, ports))) return false;
  }
  if (vpc.endpoints.length > 0) {
    // Endpoint deletion is asynchronous, and their interfaces keep the subnets until they are gone.
    let left = await ports.reclaimer.listEndpoints(vpcId);
    while (left.length > 0 && (await budget.wait())) left = await ports.reclaimer.listEndpoints(vpcId);
    if (left.length > 0) {
      report.record('vpc', vpcId, 'deferred', `VPC endpoints still deleting: ${left.map((e) => `${e.id} (${e.state})`).join(', ')}`);
      return false;
    }
  }
  for (const part of orderedParts(vpc)) {
    if (!(await deletePart(part, report, ports))) return false;
  }
  return true;
}

/** After the endpoints: route tables, security groups, subnets, gateway, the VPC itself. */
function orderedParts(vpc: RescueVpcInventory): NetworkPart[] {
  return [
    ...vpc.routeTables.flatMap((table): NetworkPart[] => [
      ...table.associationIds.map((id): NetworkPart => ({ kind: 'route-table-association', id, routeTableId: table.id })),
      { kind: 'route-table', id: table.id },
    ]),
    ...vpc.securityGroupIds.map((id): NetworkPart => ({ kind: 'security-group', id })),
    ...vpc.subnetIds.map((id): NetworkPart => ({ kind: 'subnet', id })),
    ...vpc.internetGatewayIds.flatMap((id): NetworkPart[] => [
      { kind: 'internet-gateway-attachment', id, vpcId: vpc.vpcId },
      { kind: 'internet-gateway', id },
    ]),
    { kind: 'vpc', id: vpc.vpcId },
  ];
}

function wouldDelete(vpc: RescueVpcInventory, report: SweepReport): void {
  const parts: NetworkPart[] = [...vpc.endpoints.map((e): NetworkPart => ({ kind: 'vpc-endpoint', id: e.id })), ...orderedParts(vpc)];
  for (const part of parts) report.record(part.kind, part.id, 'deleted', 'would delete');
}

/** Answers whether the part is gone; a part not deletable yet is reported and ends the chain. */
async function deletePart(part: NetworkPart, report: SweepReport, ports: SweeperPorts): Promise<boolean> {
  try {
    const result = await ports.reclaimer.deletePart(part);
    if (result.outcome === 'deleted') {
      report.record(part.kind, part.id, 'deleted');
      return true;
    }
    report.record(part.kind, part.id, 'deferred', result.reason);
  } catch (error) {
    report.record(part.kind, part.id, 'deferred', `error: ${(error as Error).message}`);
    ports.log.warn('sweeper: network part not deleted', { kind: part.kind, id: part.id, error: (error as Error).message });
  }
  return false;
}
