/**
 * The JobStore contract: every store (memory, DynamoDB) must pass these. Register them with
 * `describeJobStoreContract(name, factory)` from a `*.test.ts`; the factory answers an empty store.
 */
import { ConcurrentUpdateError, RefusedError } from '../../domain/errors';
import type { Job, JobStatus } from '../../domain/job/job';
import type { JobStore } from '../../domain/ports';
import { updateJob } from '../../domain/job/update-job';

let sequence = 0;

/** A job as `startReset` records it; `overrides` set what a test is about. */
export function sampleJob(overrides: Partial<Job> = {}): Job {
  sequence += 1;
  const jobId = overrides.jobId ?? `job-${String(sequence).padStart(4, '0')}`;
  const instanceId = overrides.instanceId ?? 'i-0123456789abcdef0';
  const createdAt = overrides.createdAt ?? '2025-01-01T00:00:00.000Z';
  return {
    jobId,
    instanceId,
    platform: 'linux',
    status: 'RUNNING',
    request: { instanceId, subnet: 'CreateNewVPC', helperInstanceType: 't3.small', allowInstanceStoreLoss: false, keyType: 'ed25519' },
    requestedBy: 'arn:aws:iam::123456789012:user/alice',
    createdAt,
    updatedAt: createdAt,
    version: 1,
    current: ['validate'],
    phases: { validate: { status: 'running', startedAt: createdAt, attempt: 0 } },
    resources: {},
    outputs: {},
    undo: [],
    ...overrides,
  };
}

function minutesAfter(base: string, minutes: number): string {
  return new Date(Date.parse(base) + minutes * 60_000).toISOString();
}

/** Finishes or moves a stored job to `status` with a plain read-modify-write (one writer). */
async function moveTo(store: JobStore, jobId: string, status: JobStatus, at: string): Promise<void> {
  const stored = await store.get(jobId);
  if (!stored) throw new Error(`no job ${jobId}`);
  await store.put({ ...stored, status, updatedAt: at, version: stored.version + 1 }, stored.version);
}

async function listAll(store: JobStore, instanceId: string, limit: number): Promise<{ pages: string[][]; cursors: Array<string | undefined> }> {
  const pages: string[][] = [];
  const cursors: Array<string | undefined> = [];
  let cursor: string | undefined;
  do {
    const page = await store.listByInstance(instanceId, { limit, cursor });
    pages.push(page.jobs.map((job) => job.jobId));
    cursors.push(page.cursor);
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 20);
  return { pages, cursors };
}

export function describeJobStoreContract(name: string, makeStore: () => Promise<JobStore>): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    describe('jobs', () => {
      it('creates a job and reads it back', async () => {
        // Prepare
        const job = sampleJob({ outputs: { sshKeyParameter: '/ec2rl/openssh/i-0123456789abcdef0/key' }, undo: [{ kind: 'terminate-helper' }] });

        // Act
        await store.put(job, undefined);
        const read = await store.get(job.jobId);

        // Assess
        expect(read).toEqual(job);
      });

      it('answers undefined for a job that does not exist', async () => {
        // Act
        const read = await store.get('job-that-never-was');

        // Assess
        expect(read).toBeUndefined();
      });

      it('keeps its own copy: changing what was written or read does not change the stored job', async () => {
        // Prepare
        const job = sampleJob();
        await store.put(job, undefined);
        const firstRead = await store.get(job.jobId);

        // Act
        job.current.push('stop-target');
        firstRead!.phases.validate!.attempt = 99;
        const secondRead = await store.get(job.jobId);

        // Assess
        expect(secondRead!.current).toEqual(['validate']);
        expect(secondRead!.phases.validate!.attempt).toBe(0);
      });

      it('drops undefined values, as a DynamoDB round trip does', async () => {
        // Prepare
        const job = sampleJob({ endedAt: undefined, error: undefined });

        // Act
        await store.put(job, undefined);
        const read = await store.get(job.jobId);

        // Assess
        expect(read).toBeDefined();
        expect(Object.keys(read!)).not.toContain('endedAt');
        expect(Object.keys(read!)).not.toContain('error');
      });

      it('refuses to create a job twice', async () => {
        // Prepare
        const job = sampleJob();
        await store.put(job, undefined);

        // Act
        const second = store.put({ ...job, requestedBy: 'someone-else' }, undefined);

        // Assess
        await expect(second).rejects.toBeInstanceOf(ConcurrentUpdateError);
        expect((await store.get(job.jobId))!.requestedBy).toBe(job.requestedBy);
      });

      it('refuses a write over a stale version and keeps the newer one', async () => {
        // Prepare
        const job = sampleJob();
        await store.put(job, undefined);
        await store.put({ ...job, version: 2, status: 'ROLLING_BACK' }, 1);

        // Act
        const stale = store.put({ ...job, version: 2, status: 'SUCCEEDED' }, 1);

        // Assess
        await expect(stale).rejects.toBeInstanceOf(ConcurrentUpdateError);
        const stored = await store.get(job.jobId);
        expect(stored).toMatchObject({ version: 2, status: 'ROLLING_BACK' });
      });

      it('refuses a conditional write to a job that does not exist', async () => {
        // Prepare
        const job = sampleJob({ version: 2 });

        // Act
        const write = store.put(job, 1);

        // Assess
        await expect(write).rejects.toBeInstanceOf(ConcurrentUpdateError);
        expect(await store.get(job.jobId)).toBeUndefined();
      });

      it('lands two concurrent updateJob() calls, one after the other', async () => {
        // Prepare
        const job = sampleJob();
        await store.put(job, undefined);
        const now = new Date('2025-01-01T00:05:00.000Z');

        // Act
        const [first, second] = await Promise.all([
          updateJob(store, job.jobId, now, (draft) => ({ ...draft, resources: { ...draft.resources, helperInstanceId: 'i-0helper' } })),
          updateJob(store, job.jobId, now, (draft) => ({ ...draft, resources: { ...draft.resources, backupImageId: 'ami-0backup' } })),
        ]);

        // Assess
        const stored = await store.get(job.jobId);
        expect(stored!.version).toBe(3);
        expect(stored!.resources).toEqual({ helperInstanceId: 'i-0helper', backupImageId: 'ami-0backup' });
        expect([first!.version, second!.version].sort()).toEqual([2, 3]);
      });
    });

    describe('listByInstance', () => {
      const instanceId = 'i-0aaaaaaaaaaaaaaa1';
      const base = '2025-02-01T10:00:00.000Z';

      async function seed(count: number): Promise<string[]> {
        const ids: string[] = [];
        for (let index = 0; index < count; index++) {
          const job = sampleJob({ jobId: `job-list-${index}`, instanceId, createdAt: minutesAfter(base, index) });
          await store.put(job, undefined);
          ids.push(job.jobId);
        }
        await store.put(sampleJob({ instanceId: 'i-0bbbbbbbbbbbbbbb2', createdAt: minutesAfter(base, 30) }), undefined);
        return ids.reverse();
      }

      it('lists the jobs of one instance, newest first', async () => {
        // Prepare
        const newestFirst = await seed(3);

        // Act
        const { jobs, cursor } = await store.listByInstance(instanceId);

        // Assess
        expect(jobs.map((job) => job.jobId)).toEqual(newestFirst);
        expect(cursor).toBeUndefined();
      });

      it('pages with an opaque cursor, and answers no cursor on the last page', async () => {
        // Prepare
        const newestFirst = await seed(5);

        // Act
        const { pages, cursors } = await listAll(store, instanceId, 2);

        // Assess
        expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
        expect(cursors[0]).toEqual(expect.any(String));
        expect(cursors[2]).toBeUndefined();
      });

      it('answers no cursor when the last page is exactly full', async () => {
        // Prepare
        const newestFirst = await seed(4);

        // Act
        const { pages, cursors } = await listAll(store, instanceId, 2);

        // Assess
        expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4)]);
        expect(cursors).toEqual([expect.any(String), undefined]);
      });

      it('answers an empty list for an instance without jobs', async () => {
        // Prepare
        await seed(1);

        // Act
        const { jobs, cursor } = await store.listByInstance('i-0ffffffffffffffff');

        // Assess
        expect(jobs).toEqual([]);
        expect(cursor).toBeUndefined();
      });

      it('refuses a malformed cursor, and one from another instance, with a 400', async () => {
        // Prepare
        await seed(3);
        await store.put(sampleJob({ instanceId: 'i-0bbbbbbbbbbbbbbb2', createdAt: minutesAfter(base, 31) }), undefined);
        const { cursor: foreign } = await store.listByInstance('i-0bbbbbbbbbbbbbbb2', { limit: 1 });

        // Act
        const garbage = store.listByInstance(instanceId, { cursor: 'not a cursor' });
        const wrongInstance = store.listByInstance(instanceId, { cursor: foreign });

        // Assess
        expect(foreign).toEqual(expect.any(String));
        await expect(garbage).rejects.toBeInstanceOf(RefusedError);
        await expect(garbage).rejects.toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
        await expect(wrongInstance).rejects.toBeInstanceOf(RefusedError);
        await expect(wrongInstance).rejects.toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
      });
    });

    describe('list', () => {
      const other = 'i-0bbbbbbbbbbbbbbbb';
      async function seed(): Promise<string[]> {
        // Oldest first: a1 (SUCCEEDED), b1 (RUNNING), a2 (FAILED), a3 (RUNNING), b2 (SUCCEEDED).
        const plan: Array<[string, string, JobStatus]> = [
          ['list-a1', instanceId(), 'SUCCEEDED'],
          ['list-b1', other, 'RUNNING'],
          ['list-a2', instanceId(), 'FAILED'],
          ['list-a3', instanceId(), 'RUNNING'],
          ['list-b2', other, 'SUCCEEDED'],
        ];
        for (const [i, [jobId, instance, status]] of plan.entries()) {
          await store.put(
            sampleJob({
              jobId,
              instanceId: instance,
              status,
              createdAt: minutesAfter('2025-02-01T00:00:00.000Z', i),
              updatedAt: minutesAfter('2025-02-01T00:00:00.000Z', i),
            }),
            undefined,
          );
        }
        return plan.map(([jobId]) => jobId);
      }
      const instanceId = () => 'i-0aaaaaaaaaaaaaaaa';
      const ids = (page: { jobs: Job[] }) => page.jobs.map((job) => job.jobId);

      it('lists every job newest first without an instance', async () => {
        // Prepare
        await seed();
        // Act
        const page = await store.list({});
        // Assess
        expect(ids(page)).toEqual(['list-b2', 'list-a3', 'list-a2', 'list-b1', 'list-a1']);
        expect(page.cursor).toBeUndefined();
      });

      it("lists one instance's jobs, and only those of one status", async () => {
        // Prepare
        await seed();
        // Act
        const ofA = await store.list({ instanceId: instanceId() });
        const runningOfA = await store.list({ instanceId: instanceId(), status: 'RUNNING' });
        const succeeded = await store.list({ status: 'SUCCEEDED' });
        // Assess
        expect(ids(ofA)).toEqual(['list-a3', 'list-a2', 'list-a1']);
        expect(ids(runningOfA)).toEqual(['list-a3']);
        expect(ids(succeeded)).toEqual(['list-b2', 'list-a1']);
      });

      it('pages a filtered listing with a cursor and ends without one', async () => {
        // Prepare
        await seed();
        const pages: string[][] = [];
        let cursor: string | undefined;
        // Act
        do {
          const page = await store.list({ status: 'SUCCEEDED', limit: 1, cursor });
          pages.push(ids(page));
          cursor = page.cursor;
        } while (cursor !== undefined && pages.length < 10);
        // Assess
        expect(pages.flat()).toEqual(['list-b2', 'list-a1']);
        expect(pages.filter((page) => page.length === 0).length).toBeLessThanOrEqual(1);
      });

      it('refuses a cursor of another query with a 400', async () => {
        // Prepare
        await seed();
        const page = await store.list({ limit: 1 });
        // Act
        const otherQuery = store.list({ limit: 1, status: 'RUNNING', cursor: page.cursor });
        const garbage = store.list({ cursor: 'garbage' });
        // Assess
        await expect(otherQuery).rejects.toEqual(expect.objectContaining({ code: 'INVALID_CURSOR', status: 400 }));
        await expect(garbage).rejects.toBeInstanceOf(RefusedError);
      });
    });

    describe('listActive', () => {
      it('lists RUNNING and ROLLING_BACK jobs only', async () => {
        // Prepare
        const running = sampleJob({ status: 'RUNNING' });
        const rollingBack = sampleJob({ status: 'ROLLING_BACK', updatedAt: '2025-01-01T00:01:00.000Z' });
        const succeeded = sampleJob({ status: 'SUCCEEDED' });
        const failed = sampleJob({ status: 'FAILED' });
        for (const job of [running, rollingBack, succeeded, failed]) await store.put(job, undefined);

        // Act
        const active = await store.listActive();

        // Assess
        expect(active.map((job) => job.jobId).sort()).toEqual([running.jobId, rollingBack.jobId].sort());
      });

      it('drops a job once it has finished', async () => {
        // Prepare
        const finishing = sampleJob();
        const staying = sampleJob();
        await store.put(finishing, undefined);
        await store.put(staying, undefined);
        await moveTo(store, finishing.jobId, 'ROLLING_BACK', '2025-01-01T00:02:00.000Z');

        // Act
        const whileRollingBack = await store.listActive();
        await moveTo(store, finishing.jobId, 'FAILED', '2025-01-01T00:03:00.000Z');
        const afterwards = await store.listActive();

        // Assess
        expect(whileRollingBack.map((job) => job.jobId).sort()).toEqual([finishing.jobId, staying.jobId].sort());
        expect(whileRollingBack.find((job) => job.jobId === finishing.jobId)!.status).toBe('ROLLING_BACK');
        expect(afterwards.map((job) => job.jobId)).toEqual([staying.jobId]);
      });
    });

    describe('instance locks', () => {
      const instanceId = 'i-0cccccccccccccccc';
      const lockFor = (jobId: string, acquiredAt = '2025-01-01T00:00:00.000Z') => ({ instanceId, jobId, acquiredAt });

      it('takes a free lock and reads it back', async () => {
        // Act
        const taken = await store.acquireLock(lockFor('job-a'));

        // Assess
        expect(taken).toBe(true);
        expect(await store.getLock(instanceId)).toEqual(lockFor('job-a'));
      });

      it('answers undefined for an instance nobody locked', async () => {
        // Act
        const lock = await store.getLock('i-0dddddddddddddddd');

        // Assess
        expect(lock).toBeUndefined();
      });

      it('refuses a second job while the first holds the lock', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-a'));

        // Act
        const taken = await store.acquireLock(lockFor('job-b', '2025-01-01T00:01:00.000Z'));

        // Assess
        expect(taken).toBe(false);
        expect(await store.getLock(instanceId)).toEqual(lockFor('job-a'));
      });

      it('lets only one of two simultaneous takers win', async () => {
        // Act
        const results = await Promise.all([store.acquireLock(lockFor('job-a')), store.acquireLock(lockFor('job-b'))]);

        // Assess
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 'job-a' : 'job-b';
        expect((await store.getLock(instanceId))!.jobId).toBe(winner);
      });

      it('answers true when the holder asks again (a retried request)', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-a'));

        // Act
        const taken = await store.acquireLock(lockFor('job-a'));

        // Assess
        expect(taken).toBe(true);
      });

      it('takes over a lock held by the job it is told to replace', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-finished'));

        // Act
        const taken = await store.acquireLock(lockFor('job-b', '2025-01-01T00:05:00.000Z'), 'job-finished');

        // Assess
        expect(taken).toBe(true);
        expect(await store.getLock(instanceId)).toEqual(lockFor('job-b', '2025-01-01T00:05:00.000Z'));
      });

      it('does not take over when the lock has meanwhile passed to another job', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-now-holding'));

        // Act
        const taken = await store.acquireLock(lockFor('job-b'), 'job-finished');

        // Assess
        expect(taken).toBe(false);
        expect((await store.getLock(instanceId))!.jobId).toBe('job-now-holding');
      });

      it('takes a free lock also when told to replace a holder that is gone', async () => {
        // Act
        const taken = await store.acquireLock(lockFor('job-b'), 'job-gone');

        // Assess
        expect(taken).toBe(true);
        expect((await store.getLock(instanceId))!.jobId).toBe('job-b');
      });

      it('ignores a release by a job that does not hold the lock', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-a'));

        // Act
        await store.releaseLock(instanceId, 'job-b');

        // Assess
        expect((await store.getLock(instanceId))!.jobId).toBe('job-a');
      });

      it('frees the lock when its holder releases it, for the next job to take', async () => {
        // Prepare
        await store.acquireLock(lockFor('job-a'));

        // Act
        await store.releaseLock(instanceId, 'job-a');
        const afterRelease = await store.getLock(instanceId);
        const next = await store.acquireLock(lockFor('job-b'));

        // Assess
        expect(afterRelease).toBeUndefined();
        expect(next).toBe(true);
      });

      it('ignores a release of a lock nobody holds', async () => {
        // Act
        const release = store.releaseLock('i-0eeeeeeeeeeeeeeee', 'job-a');

        // Assess
        await expect(release).resolves.toBeUndefined();
        expect(await store.getLock('i-0eeeeeeeeeeeeeeee')).toBeUndefined();
      });
    });

    describe('resource links', () => {
      it('answers the job and role of each linked resource', async () => {
        // Act
        await store.linkResources([
          { resourceId: 'i-0aaaaaaaaaaaaaaaa', jobId: 'job-a', role: 'target' },
          { resourceId: 'vol-0aaaaaaaaaaaaaaaa', jobId: 'job-a', role: 'root-volume' },
        ]);

        // Assess
        expect(await store.resourceLink('i-0aaaaaaaaaaaaaaaa')).toEqual({ resourceId: 'i-0aaaaaaaaaaaaaaaa', jobId: 'job-a', role: 'target' });
        expect(await store.resourceLink('vol-0aaaaaaaaaaaaaaaa')).toEqual({ resourceId: 'vol-0aaaaaaaaaaaaaaaa', jobId: 'job-a', role: 'root-volume' });
      });

      it('answers undefined for a resource no job learned', async () => {
        expect(await store.resourceLink('i-0bbbbbbbbbbbbbbbb')).toBeUndefined();
      });

      it('gives a resource to the newest job that links it', async () => {
        // Prepare
        await store.linkResources([{ resourceId: 'i-0cccccccccccccccc', jobId: 'job-old', role: 'target' }]);

        // Act
        await store.linkResources([{ resourceId: 'i-0cccccccccccccccc', jobId: 'job-new', role: 'target' }]);

        // Assess
        expect((await store.resourceLink('i-0cccccccccccccccc'))?.jobId).toBe('job-new');
      });

      it('accepts an empty list', async () => {
        await expect(store.linkResources([])).resolves.toBeUndefined();
      });
    });
  });
}
