/**
 * The rescue network's record in memory, with the semantics of `DynamoRescueNetworkLeases` (the
 * shared contract test holds both to them). Each method checks and writes without an `await` in
 * between, as the DynamoDB condition expressions do atomically.
 */
import type { RescueNetworkLeases, RescueNetworkRecord } from '../../domain/ports';

export class MemoryRescueNetworkLeases implements RescueNetworkLeases {
  private record: RescueNetworkRecord | undefined;

  async acquire(jobId: string, now: Date): Promise<'held' | 'reclaiming'> {
    if (!this.record) this.record = { state: 'in-use', leases: {} };
    if (this.record.state === 'reclaiming') return 'reclaiming';
    this.record.leases[jobId] ??= now.toISOString();
    return 'held';
  }

  async release(jobId: string, now: Date): Promise<void> {
    if (!this.record || !(jobId in this.record.leases)) return;
    delete this.record.leases[jobId];
    this.record.lastReleasedAt = now.toISOString();
  }

  async lockCreation(owner: string, now: Date, leaseSeconds: number): Promise<boolean> {
    const record = this.record;
    if (!record || record.state !== 'in-use') return false;
    const free = !record.creator || record.creator.owner === owner || record.creator.expiresAt < now.toISOString();
    if (!free) return false;
    record.creator = { owner, expiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString() };
    return true;
  }

  async read(): Promise<RescueNetworkRecord | undefined> {
    return this.record ? structuredClone(this.record) : undefined;
  }

  async recordVpc(vpcId: string): Promise<void> {
    if (this.record) this.record.vpcId = vpcId;
  }

  async beginReclaim(now: Date, idleSince: Date): Promise<boolean> {
    const record = this.record;
    const idle =
      record?.state === 'in-use' &&
      Object.keys(record.leases).length === 0 &&
      record.lastReleasedAt !== undefined &&
      record.lastReleasedAt <= idleSince.toISOString();
    if (!idle) return false;
    record.state = 'reclaiming';
    record.reclaimStartedAt = now.toISOString();
    return true;
  }

  async endReclaim(): Promise<void> {
    if (this.record?.state === 'reclaiming') this.record = undefined;
  }
}
