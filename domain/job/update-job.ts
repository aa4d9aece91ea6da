import { ConcurrentUpdateError } from '../errors';
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
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }
  throw new ConcurrentUpdateError(jobId);
}
