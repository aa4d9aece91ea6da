/**
 * dynalite (the local DynamoDB) writes an item and its secondary-index entries as separate LevelDB
 * writes: the old index entries are deleted, the new ones put, then the item. A `kill -9` in
 * between leaves an index that disagrees with its table, and a running job missing from the
 * `active` index is never resumed nor swept (DynamoDB itself keeps its indexes). So before dynalite
 * opens the files of a restarted stack, every index is rebuilt from its table's items with
 * dynalite's own index-key function, in one LevelDB batch (atomic: a crash here changes nothing).
 * The key layout is dynalite 4.0.0's (pinned): `table~<name>`, `item-<name>~<key>`,
 * `index-global~<name>~<index>~<key>` (and `index-local~`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';

interface TableDefinition {
  TableName: string;
  GlobalSecondaryIndexes?: Array<{ IndexName: string }>;
  LocalSecondaryIndexes?: Array<{ IndexName: string }>;
}
type Item = Record<string, unknown>;
interface IndexActions {
  puts: Array<{ index: string; key: string; item: Item }>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- dynalite ships no types
const { getIndexActions } = require('dynalite/db') as {
  getIndexActions(indexes: unknown[], existing: Item | undefined, item: Item, table: TableDefinition): IndexActions;
};

/** Makes every secondary index of the dynalite store at `path` agree with its table; returns how many entries it put or deleted. */
export async function rebuildDynaliteIndexes(path: string): Promise<number> {
  if (!existsSync(join(path, 'CURRENT'))) return 0;
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  await db.open();
  try {
    const batch: Array<{ type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }> = [];
    for (const table of (await entries(db, 'table~')).values() as Iterable<TableDefinition>) {
      const items = [...(await entries(db, `item-${table.TableName}~`)).values()] as Item[];
      for (const kind of ['global', 'local'] as const) {
        const indexes = (kind === 'global' ? table.GlobalSecondaryIndexes : table.LocalSecondaryIndexes) ?? [];
        const expected = new Map<string, unknown>();
        for (const item of items) {
          for (const put of getIndexActions(indexes, undefined, item, table).puts) {
            expected.set(`index-${kind}~${table.TableName}~${put.index}~${put.key}`, put.item);
          }
        }
        for (const index of indexes) {
          for (const [key, value] of await entries(db, `index-${kind}~${table.TableName}~${index.IndexName}~`)) {
            if (!expected.has(key)) batch.push({ type: 'del', key });
            else if (JSON.stringify(expected.get(key)) === JSON.stringify(value)) expected.delete(key);
          }
        }
        for (const [key, value] of expected) batch.push({ type: 'put', key, value });
      }
    }
    if (batch.length > 0) await db.batch(batch);
    return batch.length;
  } finally {
    await db.close();
  }
}

async function entries(db: Level<string, unknown>, prefix: string): Promise<Map<string, unknown>> {
  return new Map(await db.iterator({ gte: prefix, lt: `${prefix}\uffff` }).all());
}
