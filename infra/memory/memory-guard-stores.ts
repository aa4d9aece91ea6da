/**
 * The idempotency, cool-down and admission stores in memory, with the semantics of their DynamoDB
 * adapters (the shared contract tests hold both to them). For in-process harnesses.
 */
import type { AdmissionState, AdmissionStore, CooldownRecord, CooldownStore, IdempotencyRecord, IdempotencyStore } from '../../domain/ports';

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<string, IdempotencyRecord>();

  async get(key: string, now: Date): Promise<IdempotencyRecord | undefined> {
    const record = this.records.get(key);
    return record && Date.parse(record.expiresAt) > now.getTime() ? { ...record } : undefined;
  }

  async claim(record: IdempotencyRecord, now: Date, replacing?: string): Promise<boolean> {
    const held = this.records.get(record.key);
    const free = !held || Date.parse(held.expiresAt) <= now.getTime() || (replacing !== undefined && held.jobId === replacing);
    if (free) this.records.set(record.key, { ...record });
    return free;
  }

  async release(key: string, jobId: string): Promise<void> {
    if (this.records.get(key)?.jobId === jobId) this.records.delete(key);
  }
}

export class MemoryCooldownStore implements CooldownStore {
  private readonly records = new Map<string, CooldownRecord>();

  async get(instanceId: string): Promise<CooldownRecord | undefined> {
    const record = this.records.get(instanceId);
    return record ? { ...record } : undefined;
  }

  async claim(record: CooldownRecord, now: Date): Promise<boolean> {
    const held = this.records.get(record.instanceId);
    const free = !held || Date.parse(held.until) <= now.getTime() || held.claimant === record.claimant;
    if (free) this.records.set(record.instanceId, { ...record });
    return free;
  }

  async release(instanceId: string, claimant: string): Promise<void> {
    if (this.records.get(instanceId)?.claimant === claimant) this.records.delete(instanceId);
  }
}

export class MemoryAdmissionStore implements AdmissionStore {
  private readonly buckets = new Map<string, AdmissionState>();

  async get(bucket: string): Promise<AdmissionState | undefined> {
    const state = this.buckets.get(bucket);
    return state ? { ...state } : undefined;
  }

  async put(bucket: string, tat: number, expectedVersion: number | undefined): Promise<boolean> {
    if (this.buckets.get(bucket)?.version !== expectedVersion) return false;
    this.buckets.set(bucket, { tat, version: (expectedVersion ?? 0) + 1 });
    return true;
  }
}
