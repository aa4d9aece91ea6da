/**
 * The local job table after a `kill -9` in the middle of a dynalite write: the shapes such a crash
 * leaves on disk (an item whose new `active` index entry was never put; an index entry put for an
 * item never written) are made here directly in LevelDB, and the rebuild before dynalite opens
 * the files makes the index agree with the table again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Level } from 'level';
import { DynamoJobStore, jobStoreDocumentClient, jobTableDefinition } from '../../../infra/aws/dynamodb-job-store';
import { rebuildDynaliteIndexes } from '../../../infra/local/dynalite-indexes';
import { sampleJob } from '../job-store.contract';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- dynalite ships no types
const dynalite = require('dynalite') as (options: { path: string; createTableMs: number }) => Server;

const TABLE = 'reset-access-jobs-local';
const ACTIVE = `index-global~${TABLE}~active~`;

/** dynalite on the files at `path`, for the time of `use`. */
async function withStore<T>(path: string, use: (store: DynamoJobStore, client: DynamoDBClient) => Promise<T>): Promise<T> {
  const server = dynalite({ path, createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return await use(new DynamoJobStore(jobStoreDocumentClient(client), { tableName: TABLE }), client);
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function withLevel<T>(path: string, use: (db: Level<string, unknown>) => Promise<T>): Promise<T> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/** The key under `prefix` whose stored item names `jobId` (dynalite's keys are hashes). */
async function keyOf(db: Level<string, unknown>, prefix: string, jobId: string): Promise<string> {
  const entries = await db.iterator({ gte: prefix, lt: `${prefix}\uffff` }).all();
  const found = entries.filter(([, value]) => JSON.stringify(value).includes(`"${jobId}"`));
  expect(found).toHaveLength(1);
  return found[0]![0];
}

describe('rebuildDynaliteIndexes', () => {
  let path: string;
  beforeEach(() => (path = mkdtempSync(join(tmpdir(), 'dynalite-indexes-'))));
  afterEach(() => rmSync(path, { recursive: true, force: true }));

  it('puts back the entry a crash took out of the index and drops one it left for an item never written', async () => {
    // Arrange: a running job updated once (its `active` entry moves), and one written after it.
    const running = sampleJob({ jobId: 'job-running' });
    const ghost = sampleJob({ jobId: 'job-ghost' });
    await withStore(path, async (store, client) => {
      await client.send(new CreateTableCommand(jobTableDefinition(TABLE)));
      await store.put(running, undefined);
      await store.put({ ...running, updatedAt: '2025-01-01T00:05:00.000Z', version: 2 }, 1);
      await store.put(ghost, undefined);
    });
    // The two shapes a kill -9 inside dynalite's PutItem leaves: the running job's index entry
    // deleted and its new one never put; the ghost's index entry put and its item never written.
    await withLevel(path, async (db) => {
      await db.batch([
        { type: 'del', key: await keyOf(db, ACTIVE, 'job-running') },
        { type: 'del', key: await keyOf(db, `item-${TABLE}~`, 'job-ghost') },
      ]);
    });
    const before = await withStore(path, async (store) => (await store.listActive()).map((job) => job.jobId));

    // Act
    const repaired = await rebuildDynaliteIndexes(path);
    const again = await rebuildDynaliteIndexes(path);

    // Assert: without the rebuild the running job is lost to the index and a ghost is listed. The
    // rebuild puts one entry back and deletes the ghost's three (active, byInstance, recent).
    expect(before).toEqual(['job-ghost']);
    expect({ repaired, again }).toEqual({ repaired: 4, again: 0 });
    await withStore(path, async (store) => {
      expect((await store.listActive()).map((job) => [job.jobId, job.version])).toEqual([['job-running', 2]]);
      expect(await store.get('job-ghost')).toBeUndefined();
      expect((await store.list({ instanceId: running.instanceId, limit: 10 })).jobs.map((job) => job.jobId)).toEqual(['job-running']);
      expect((await store.list({ limit: 10 })).jobs.map((job) => job.jobId)).toEqual(['job-running']);
    });
  });

  it('leaves a store with nothing to mend, or none at all, as it is', async () => {
    expect(await rebuildDynaliteIndexes(join(path, 'absent'))).toBe(0);
  });
});
