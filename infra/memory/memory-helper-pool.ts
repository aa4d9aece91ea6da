/**
 * The warm pool's record in memory, with the semantics of `DynamoHelperPool` (the shared contract
 * test holds both to them). Each method checks and writes without an `await` in between, as the
 * DynamoDB condition expressions do atomically.
 */
import type { HelperPoolStore, PooledHelper } from '../../domain/ports';

export class MemoryHelperPool implements HelperPoolStore {
  private readonly slots = new Map<string, PooledHelper>();

  async list(): Promise<PooledHelper[]> {
    return [...this.slots.values()].map((slot) => ({ ...slot }));
  }

  async add(slot: PooledHelper): Promise<void> {
    if (!this.slots.has(slot.slotId)) this.slots.set(slot.slotId, { ...slot });
  }

  async update(slotId: string, from: PooledHelper['state'], change: Partial<Pick<PooledHelper, 'state' | 'instanceId'>>): Promise<boolean> {
    const slot = this.slots.get(slotId);
    if (slot?.state !== from) return false;
    Object.assign(slot, change);
    return true;
  }

  async remove(slotId: string, from: PooledHelper['state']): Promise<void> {
    if (this.slots.get(slotId)?.state === from) this.slots.delete(slotId);
  }

  async claim(jobId: string, availabilityZone: string, now: Date): Promise<PooledHelper | undefined> {
    const slots = [...this.slots.values()];
    const mine = slots.find((slot) => slot.state === 'claimed' && slot.claimedBy === jobId);
    if (mine) return { ...mine };
    const ready = slots
      .filter((slot) => slot.state === 'ready' && slot.availabilityZone === availabilityZone)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
    if (!ready) return undefined;
    Object.assign(ready, { state: 'claimed', claimedBy: jobId, claimedAt: now.toISOString() });
    return { ...ready };
  }
}
