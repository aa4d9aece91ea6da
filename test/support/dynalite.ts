/**
 * A dynalite server for one test file (started before its tests, stopped after) and fresh tables
 * made from the production job-table definition, so that the DynamoDB stores are tested against
 * the keys, indexes and TTL attribute they are deployed with.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { jobTableDefinition } from '../../infra/aws/dynamodb-job-store';

// dynalite ships no types: the part we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs?: number }) => Server;

export interface Dynalite {
  /** The client of the running server (valid inside the file's tests and hooks). */
  client(): DynamoDBClient;
  /** A new, ACTIVE job table named `<prefix>-<n>`. */
  freshTable(): Promise<string>;
}

export function useDynalite(prefix: string): Dynalite {
  let server: Server;
  let client: DynamoDBClient | undefined;
  let tables = 0;

  beforeAll(async () => {
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  });

  afterAll(async () => {
    client?.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  const running = () => {
    if (!client) throw new Error('dynalite is not running: use it inside tests or hooks');
    return client;
  };

  return {
    client: running,
    async freshTable() {
      tables += 1;
      const tableName = `${prefix}-${tables}`;
      await running().send(new CreateTableCommand(jobTableDefinition(tableName)));
      // Wait on the data plane, not DescribeTable: dynalite can describe a table ACTIVE while
      // its item operations still answer ResourceNotFoundException (seen once in CI).
      for (let poll = 0; poll < 100; poll++) {
        try {
          await running().send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'probe' }, sk: { S: 'probe' } } }));
          return tableName;
        } catch (error) {
          if ((error as Error).name !== 'ResourceNotFoundException') throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`table ${tableName} did not become ACTIVE`);
    },
  };
}
