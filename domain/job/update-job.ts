import { ConcurrentUpdateError, RetryableError } from '../errors';
import type { Job } from './job';
import type { JobStore } from '../ports';

/**
 * Read-modify-write of a job with optimistic concurrency. `mutate` gets a private copy of the
 * stored job; it changes it and returns it, or returns `undefined` to decline (the job is no longer
 * in a state where the change applies: a duplicate or late message). A lost race re-reads and
 * re-applies `mutate`, so it must judge the job it is given, not one read earlier. `read`, the job
 * as the caller has just read it, saves the first read: if it is stale, the write loses the race.
 */
export async function updateJob(
  store: JobStore,
  jobId: string,
  now: Date,
  mutate: (job: Job) => Job | undefined,
  maxRaces = 10,
  read?: Job,
): Promise<Job | undefined> {
  for (let race = 0; race < maxRaces; race++) {
    const stored = race === 0 && read ? read : await store.get(jobId);
    if (!stored) return undefined;
    const next = mutate(structuredClone(stored));
    if (!next) return undefined;
    next.version = stored.version + 1;
    next.updatedAt = now.toISOString();
    try {
      await store.put(next, stored.version);
      return next;
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) continue;
      // A retryable answer (a 5xx, a dropped connection) may have been lost after the write took
      // effect: look before failing, or the caller would take its own write for someone else's and
      // drop the work that followed it (a stalled phase until the sweeper re-drives it;
      // docs/aws-facts.md#dynamodb).
      if (error instanceof RetryableError && (await tookEffect(store, next))) return next;
      throw error;
    }
  }
  throw new ConcurrentUpdateError(jobId);
}

/** Whether the store holds exactly `written` (its version and content): the write happened. */
async function tookEffect(store: JobStore, written: Job): Promise<boolean> {
  const stored = await store.get(written.jobId).catch(() => undefined);
  return stored?.version === written.version && canonical(stored) === canonical(written);
}

/** JSON with keys sorted and undefined values left out, as a store that drops them gives it back. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, entry: unknown) =>
    entry && typeof entry === 'object' && !Array.isArray(entry)
      ? Object.fromEntries(Object.entries(entry as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : entry,
  );
}
