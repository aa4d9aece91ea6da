/**
 * The job store in memory, with the semantics of `DynamoJobStore` (the shared contract test holds
 * both to them): copies in and out, conditional writes on `version`, one lock per instance,
 * newest-first listing with an opaque cursor. For in-process harnesses and domain tests.
 */
import { ConcurrentUpdateError, RefusedError } from '../../domain/errors';
import { isActive, type Job } from '../../domain/job/job';
import type { InstanceLock, JobQuery, JobStore, ResourceLink } from '../../domain/ports';

/** Page size of `listByInstance` when the caller gives none, and the largest page it answers. */
export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly locks = new Map<string, InstanceLock>();
  private readonly links = new Map<string, ResourceLink>();

  async get(jobId: string): Promise<Job | undefined> {
    const job = this.jobs.get(jobId);
    return job ? copy(job) : undefined;
  }

  async put(job: Job, expectedVersion: number | undefined): Promise<void> {
    const stored = this.jobs.get(job.jobId);
    const expected = expectedVersion === undefined ? stored === undefined : stored?.version === expectedVersion;
    if (!expected) throw new ConcurrentUpdateError(job.jobId);
    this.jobs.set(job.jobId, copy(job));
  }

  async listByInstance(instanceId: string, options: { limit?: number; cursor?: string } = {}): Promise<{ jobs: Job[]; cursor?: string }> {
    const limit = pageSize(options.limit);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, instanceId);
    const newestFirst = [...this.jobs.values()]
      .filter((job) => job.instanceId === instanceId)
      .sort((a, b) => compareDescending(sortKey(a), sortKey(b)))
      .filter((job) => after === undefined || sortKey(job) < after);
    const page = newestFirst.slice(0, limit);
    const cursor = newestFirst.length > limit ? encodeCursor(instanceId, sortKey(page[page.length - 1])) : undefined;
    return { jobs: page.map(copy), cursor };
  }

  async list(query: JobQuery): Promise<{ jobs: Job[]; cursor?: string }> {
    const limit = pageSize(query.limit);
    const scope = `${query.instanceId ?? '*'}|${query.status ?? '*'}`;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, scope);
    const newestFirst = [...this.jobs.values()]
      .filter((job) => (query.instanceId === undefined || job.instanceId === query.instanceId) && (query.status === undefined || job.status === query.status))
      .sort((a, b) => compareDescending(sortKey(a), sortKey(b)))
      .filter((job) => after === undefined || sortKey(job) < after);
    const page = newestFirst.slice(0, limit);
    const cursor = newestFirst.length > limit ? encodeCursor(scope, sortKey(page[page.length - 1])) : undefined;
    return { jobs: page.map(copy), cursor };
  }

  async listActive(): Promise<Job[]> {
    // The DynamoDB `active` index is sorted by updatedAt: least recently moved first.
    return [...this.jobs.values()]
      .filter(isActive)
      .sort((a, b) => compareDescending(b.updatedAt, a.updatedAt))
      .map(copy);
  }

  async getLock(instanceId: string): Promise<InstanceLock | undefined> {
    const lock = this.locks.get(instanceId);
    return lock ? { ...lock } : undefined;
  }

  async acquireLock(lock: InstanceLock, replacing?: string): Promise<boolean> {
    const held = this.locks.get(lock.instanceId);
    if (held && held.jobId !== lock.jobId && (replacing === undefined || held.jobId !== replacing)) return false;
    this.locks.set(lock.instanceId, { instanceId: lock.instanceId, jobId: lock.jobId, acquiredAt: lock.acquiredAt });
    return true;
  }

  async releaseLock(instanceId: string, jobId: string): Promise<void> {
    if (this.locks.get(instanceId)?.jobId === jobId) this.locks.delete(instanceId);
  }

  async linkResources(links: ResourceLink[]): Promise<void> {
    for (const link of links) this.links.set(link.resourceId, { ...link });
  }

  async resourceLink(resourceId: string): Promise<ResourceLink | undefined> {
    const link = this.links.get(resourceId);
    return link ? { ...link } : undefined;
  }

  /** Not part of JobStore (the service never deletes a job): harnesses lose a record on purpose. */
  forget(jobId: string): void {
    this.jobs.delete(jobId);
  }
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIST_LIMIT;
  return Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(limit)));
}

/** The order of the DynamoDB `byInstance` index: `<createdAt>#<jobId>`. */
function sortKey(job: Job): string {
  return `${job.createdAt}#${job.jobId}`;
}

function compareDescending(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

function encodeCursor(instanceId: string, after: string): string {
  return Buffer.from(JSON.stringify({ instanceId, after }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, instanceId: string): string {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const { instanceId: owner, after } = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
  if (owner !== instanceId || typeof after !== 'string') {
    throw new RefusedError('INVALID_CURSOR', 'cursor is not one this listing answered', 400);
  }
  return after;
}

/** A private deep copy, without `undefined` values (as a DynamoDB round trip answers it). */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((entry) => entry !== undefined).map((entry) => copy(entry)) as T;
  if (typeof value === 'object' && value !== null) {
    const result: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(value)) if (entry !== undefined) result[name] = copy(entry);
    return result as T;
  }
  return value;
}
