/**
 * Stop batches in memory, with the semantics of the DynamoDB adapter (the shared contract tests
 * hold both to them). Nothing expires (`expiresAt` is only a permission to drop), so the current
 * batch is never gone. For in-process harnesses.
 */
import type { StopBatch, StopBatchStore } from '../../domain/ports';

function copyOf(batch: StopBatch): StopBatch {
  const copy = { ...batch, instanceIds: [...batch.instanceIds] };
  if (batch.sentInstanceIds) copy.sentInstanceIds = [...batch.sentInstanceIds];
  return copy;
}

export class MemoryStopBatchStore implements StopBatchStore {
  private readonly batches = new Map<string, StopBatch>();
  private currentId: string | undefined;

  async current(): Promise<StopBatch | undefined> {
    return this.currentId === undefined ? undefined : this.get(this.currentId);
  }

  async get(batchId: string): Promise<StopBatch | undefined> {
    const batch = this.batches.get(batchId);
    return batch ? copyOf(batch) : undefined;
  }

  async open(batch: { batchId: string; at: string; instanceIds: string[] }, replacing: string | undefined, _expiresAt: Date): Promise<boolean> {
    // A batch id is written once: a second open of it (a redelivery) must not reset its list.
    if (this.batches.has(batch.batchId) || this.currentId !== replacing) return false;
    this.batches.set(batch.batchId, { batchId: batch.batchId, at: batch.at, instanceIds: [...batch.instanceIds], state: 'open' });
    this.currentId = batch.batchId;
    return true;
  }

  async join(batchId: string, instanceId: string, maxSize: number): Promise<boolean> {
    const batch = this.batches.get(batchId);
    if (!batch || batch.state !== 'open') return false;
    if (batch.instanceIds.includes(instanceId)) return true;
    if (batch.instanceIds.length >= maxSize) return false;
    batch.instanceIds.push(instanceId);
    return true;
  }

  async leave(batchId: string, instanceId: string): Promise<boolean> {
    const batch = this.batches.get(batchId);
    if (!batch) return true;
    const index = batch.instanceIds.indexOf(instanceId);
    if (batch.state !== 'open') return index < 0;
    if (index >= 0) batch.instanceIds.splice(index, 1);
    return true;
  }

  async close(batchId: string, jobId: string, now: Date): Promise<StopBatch | undefined> {
    const batch = this.batches.get(batchId);
    if (!batch || batch.state !== 'open') return undefined;
    Object.assign(batch, { state: 'closed', closedBy: jobId, closedAt: now.toISOString() });
    return copyOf(batch);
  }

  async settle(batchId: string, outcome: { sentAt: string; instanceIds: string[] } | { error: string }): Promise<void> {
    const batch = this.batches.get(batchId);
    if (!batch || batch.state !== 'closed') return;
    if ('sentAt' in outcome) Object.assign(batch, { state: 'sent', sentAt: outcome.sentAt, sentInstanceIds: [...outcome.instanceIds] });
    else Object.assign(batch, { state: 'failed', error: outcome.error });
  }
}
