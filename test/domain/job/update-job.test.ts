import type { Job } from '../../../domain/job/job';
import type { JobStore } from '../../../domain/ports';
import { RetryableError } from '../../../domain/errors';
import { updateJob } from '../../../domain/job/update-job';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { job as jobFixture } from '../fixtures';

/** A store that counts its reads. */
function counting(store: MemoryJobStore): { store: JobStore; reads: () => number } {
  let reads = 0;
  const get = store.get.bind(store);
  store.get = async (jobId: string) => {
    reads += 1;
    return get(jobId);
  };
  return { store, reads: () => reads };
}

const now = new Date('2026-01-01T00:01:00.000Z');
const setHelper = (draft: Job) => ({ ...draft, resources: { ...draft.resources, helperInstanceId: 'i-0helper' } });

describe('updateJob with the job the caller has read', () => {
  it('writes without reading it again', async () => {
    // Prepare
    const { store, reads } = counting(new MemoryJobStore());
    await store.put(jobFixture(), undefined);
    const read = (await store.get('r-test000001'))!;

    // Act
    const written = await updateJob(store, read.jobId, now, setHelper, 10, read);

    // Assess
    expect(reads()).toBe(1);
    expect(written?.version).toBe(2);
    expect((await store.get(read.jobId))!.resources.helperInstanceId).toBe('i-0helper');
  });

  it('reads again and re-applies when what the caller read is stale', async () => {
    // Prepare: another writer moves the job on after the caller's read
    const { store, reads } = counting(new MemoryJobStore());
    await store.put(jobFixture(), undefined);
    const stale = (await store.get('r-test000001'))!;
    await updateJob(store, stale.jobId, now, (draft) => ({ ...draft, resources: { ...draft.resources, backupImageId: 'ami-0backup' } }));

    // Act
    const written = await updateJob(store, stale.jobId, now, setHelper, 10, stale);

    // Assess: both changes are there
    const stored = (await store.get(stale.jobId))!;
    expect(written?.version).toBe(3);
    expect(stored.resources).toMatchObject({ backupImageId: 'ami-0backup', helperInstanceId: 'i-0helper' });
    expect(reads()).toBeGreaterThanOrEqual(3);
  });
});

describe('updateJob when the answer to its write is lost', () => {
  /** A store whose next write takes effect, then answers as a dropped connection would. */
  function losingTheAnswer(store: MemoryJobStore, takesEffect: boolean): JobStore {
    const put = store.put.bind(store);
    let lost = false;
    store.put = async (job, expected) => {
      if (lost) return put(job, expected);
      lost = true;
      if (takesEffect) await put(job, expected);
      throw new RetryableError('ECONNRESET', 'socket hang up');
    };
    return store;
  }

  it('answers the job it wrote when the write took effect', async () => {
    // Prepare
    const store = new MemoryJobStore();
    await store.put(jobFixture(), undefined);
    losingTheAnswer(store, true);

    // Act
    const written = await updateJob(store, 'r-test000001', now, setHelper);

    // Assess
    expect(written?.version).toBe(2);
    expect((await store.get('r-test000001'))!.resources.helperInstanceId).toBe('i-0helper');
  });

  it('still fails when the write did not take effect', async () => {
    // Prepare
    const store = new MemoryJobStore();
    await store.put(jobFixture(), undefined);
    losingTheAnswer(store, false);

    // Act / Assess
    await expect(updateJob(store, 'r-test000001', now, setHelper)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await store.get('r-test000001'))!.version).toBe(1);
  });
});
