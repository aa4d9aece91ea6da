/**
 * The functions' bundles as `serverless package` builds them (bench/cold-start.ts bundles with the
 * esbuild options of serverless.yml; the zips hold these very files): each under 1 MB, each with
 * only the SDK clients its function uses, and a bundle answering as deployed. No load times here:
 * those depend on the machine and live in `npm run bench`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { bundleFunctions, readServerless, type FunctionBundle } from '../../bench/cold-start';
import { jobTableDefinition } from '../../infra/aws/dynamodb-job-store';
import { SimulatedRegion } from '../../infra/sim/region';
import { startSimServer, type SimServer } from '../../infra/sim/http';
import { sampleInstances, seedSampleRegion } from '../../infra/sim/samples';

const ROOT = join(__dirname, '..', '..');
const ONE_MB = 1024 * 1024;

type Service = 'ec2' | 'ssm' | 'kms' | 'sqs' | 'dynamodb' | 'eventbridge';
/**
 * The phase functions share one entry (handlers/phase.ts, the phase named by `PHASE`): the bundle
 * holds every client a phase may ask for, KMS for validate's key check among them; a phase that
 * does not ask for `keys` never makes a KMS client (handlers/lambda-ports.ts).
 */
const PHASE_CLIENTS: Service[] = ['dynamodb', 'ec2', 'eventbridge', 'kms', 'sqs', 'ssm'];

/** The SDK clients each function uses: its ports' adapters' (handlers/lambda-ports.ts), no more. */
const CLIENTS: Record<string, Service[]> = {
  api: ['dynamodb', 'ec2', 'eventbridge', 'kms', 'ssm'],
  alarm: ['dynamodb', 'ec2', 'eventbridge', 'kms', 'sqs', 'ssm'],
  sweeper: ['dynamodb', 'ec2', 'eventbridge', 'ssm'],
  'aws-events': ['dynamodb', 'eventbridge'],
};

/** The clients a bundle holds, by the namespace of their schemas (`com.amazonaws.ec2`). */
function clientsIn(bundle: FunctionBundle): Service[] {
  const code = readFileSync(bundle.file, 'utf8');
  return (['dynamodb', 'ec2', 'eventbridge', 'kms', 'sqs', 'ssm'] as const).filter((service) => code.includes(`"com.amazonaws.${service}"`));
}

describe('the functions’ bundles', () => {
  let outDir: string;
  let bundles: FunctionBundle[];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'reset-access-bundles-'));
    bundles = await bundleFunctions({ root: ROOT, outDir });
  }, 300_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('are one per function of serverless.yml', () => {
    expect(bundles.map((b) => b.name)).toEqual(readServerless(ROOT).functions.map((f) => f.name));
  });

  it('stay under 1 MB each', () => {
    // Assess
    const over = bundles.filter((b) => b.bundleBytes >= ONE_MB).map((b) => `${b.name}: ${(b.bundleBytes / 1024).toFixed(0)} kB`);
    expect(over).toEqual([]);
  });

  it('hold only the SDK clients their function uses', () => {
    // Assess
    const held = Object.fromEntries(bundles.map((b) => [b.name, clientsIn(b)]));
    const expected = Object.fromEntries(bundles.map((b) => [b.name, CLIENTS[b.name] ?? PHASE_CLIENTS]));
    expect(held).toEqual(expected);
  });

  describe('as deployed, against the simulated region and a local DynamoDB', () => {
    let region: SimulatedRegion;
    let sim: SimServer;
    let dynamo: Server;
    let env: Record<string, string>;

    beforeAll(async () => {
      region = new SimulatedRegion();
      seedSampleRegion(region);
      sim = await startSimServer(region);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const dynalite = require('dynalite') as (options: object) => Server;
      dynamo = dynalite({ createTableMs: 0 });
      await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
      const dynamoUrl = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
      const credentials = { accessKeyId: 'smoke', secretAccessKey: 'smoke' };
      await new DynamoDBClient({ region: 'us-east-1', endpoint: dynamoUrl, credentials }).send(new CreateTableCommand(jobTableDefinition('smoke-jobs')));
      env = {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_EC2: sim.url,
        AWS_ENDPOINT_URL_SSM: sim.url,
        AWS_ENDPOINT_URL_DYNAMODB: dynamoUrl,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        TABLE_NAME: 'smoke-jobs',
        EVENT_BUS_NAME: 'smoke-bus',
        HELPER_INSTANCE_PROFILE: 'smoke-helper',
      };
    }, 60_000);

    afterAll(async () => {
      await sim?.close();
      await new Promise((resolve) => dynamo?.close(resolve));
    });

    /**
     * The function's handler, loaded from its bundle in a fresh Node process as Lambda does, called
     * with one event; its answer follows the last `RESULT ` (logs and EMF metrics share stdout).
     */
    function invoke(name: string, event: unknown): Promise<unknown> {
      const file = bundles.find((b) => b.name === name)!.file;
      const script = `require(process.argv[1]).handler(JSON.parse(process.argv[2]), { awsRequestId: 'smoke' }).then((r) => process.stdout.write('\\nRESULT ' + JSON.stringify(r)))`;
      return new Promise((resolve, reject) =>
        execFile(process.execPath, ['-e', script, file, JSON.stringify(event)], { env }, (error, stdout, stderr) =>
          error
            ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`))
            : resolve(JSON.parse(stdout.slice(stdout.lastIndexOf('RESULT ') + 'RESULT '.length))),
        ),
      );
    }

    it('lists the region’s instances through the API (EC2 query protocol, DynamoDB)', async () => {
      // Act
      const response = (await invoke('api', { rawPath: '/instances', headers: {}, requestContext: { http: { method: 'GET' }, requestId: 'smoke-1' } })) as {
        statusCode: number;
        body: string;
      };
      // Assess
      expect(response.statusCode).toBe(200);
      const listed = (JSON.parse(response.body) as { instances: Array<{ instanceId: string }> }).instances.map((i) => i.instanceId);
      expect(listed).toEqual(expect.arrayContaining(sampleInstances.map((s) => s.instanceId)));
    }, 60_000);

    it('runs the sweeper over an empty table and a region with no helpers', async () => {
      // Act
      const counts = await invoke('sweeper', {});
      // Assess
      expect(counts).toEqual(expect.objectContaining({ dryRun: false, found: 0, rolledBack: 0 }));
    }, 60_000);
  });
});
