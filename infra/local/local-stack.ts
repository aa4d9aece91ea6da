/**
 * The embedded default: the whole service on this machine with no AWS account. The same handlers
 * and adapters as in Lambda, the real SDK clients, pointed at local stand-ins: dynalite (DynamoDB,
 * state on disk), fauxqs (SQS), a local EventBridge bus applying serverless.yml's rules, and the
 * simulated region (EC2 + SSM, state on disk, clock sped up). With `sim: false` the EC2 and SSM
 * clients go wherever the environment points the SDK (`AWS_ENDPOINT_URL_EC2`, a real account).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { CreateTableCommand, DescribeTableCommand, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import { PHASES, type PhaseName } from '../../domain/job';
import type { PhasePorts } from '../../domain/phase-runner';
import type { Log } from '../../domain/ports';
import { routeApi, type ApiPorts } from '../../handlers/api-routes';
import { createPhaseHandler } from '../../handlers/phase-handler';
import { createAwsClients, type AwsClients } from '../aws/clients';
import { DynamoJobStore, jobStoreDocumentClient, jobTableDefinition } from '../aws/dynamodb-job-store';
import { EventBridgePhaseBus } from '../aws/eventbridge-phase-bus';
import { SqsPhaseScheduler } from '../aws/sqs-phase-scheduler';
import { ScaledClock } from '../sim/clock';
import { startSimServer, type SimServer } from '../sim/http';
import { SimulatedRegion } from '../sim/region';
import { seedSampleRegion } from '../sim/samples';
import type { RegionState } from '../sim/state';
import { wirePorts } from '../wiring';
import { startApiServer } from './api-server';
import { createQueues, LocalEventBus, loadEventBusesFromServerless, loadQueuesFromServerless, loadRulesFromServerless, startEventBusServer, type EventBusServer } from './event-bus';
import { startSqsWorker, type SqsWorker } from './sqs-worker';

export interface LocalStackOptions {
  /** API port (0: any free one). */
  port: number;
  /** Where state is kept between runs. */
  dataDir: string;
  /** Simulated time runs this many times as fast as real time. */
  simSpeed: number;
  /** false: drive whatever EC2/SSM the environment points at, instead of the simulated region. */
  sim: boolean;
  /** Start from nothing (forget jobs and the simulated region). */
  fresh: boolean;
  stage: string;
  log: Log;
  config?: Partial<ServiceConfig>;
  serverlessPath?: string;
}

export interface LocalStack {
  apiUrl: string;
  ports: PhasePorts & ApiPorts;
  clients: AwsClients;
  region?: SimulatedRegion;
  stop(): Promise<void>;
}

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { dataDir, stage } = options;
  const regionFile = join(dataDir, 'sim-region.json');
  if (options.fresh) {
    // Only what this runtime itself keeps there: the data directory may be one the user named.
    rmSync(join(dataDir, 'dynamodb'), { recursive: true, force: true });
    rmSync(regionFile, { force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  const stoppers: Array<() => Promise<void>> = [];

  // DynamoDB: dynalite with its LevelDB files under dataDir, so jobs survive a restart.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (o: object) => Server;
  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  const dynamoPort = await listen(dynamo);
  stoppers.push(() => new Promise((r) => dynamo.close(() => r())));

  // SQS: fauxqs (ESM-only, in memory; running jobs are re-driven below after a restart).
  const { startFauxqs } = (await import('fauxqs')) as { startFauxqs: (o: object) => Promise<{ address: string; stop(): Promise<void> }> };
  const fauxqs = await startFauxqs({ port: 0, logger: false });
  stoppers.push(() => fauxqs.stop());

  // EC2 + SSM: the simulated region, resumed from its saved state.
  let region: SimulatedRegion | undefined;
  let simServer: SimServer | undefined;
  if (options.sim) {
    const saved = !options.fresh && existsSync(regionFile) ? (JSON.parse(readFileSync(regionFile, 'utf8')) as { clockNow: number; state: RegionState }) : undefined;
    const clock = new ScaledClock(options.simSpeed, saved?.clockNow);
    region = new SimulatedRegion({ clock, state: saved?.state });
    if (!saved) seedSampleRegion(region);
    simServer = await startSimServer(region, { port: 0 });
    const save = () => {
      const tmp = `${regionFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ clockNow: clock.now(), state: region!.exportState() }));
      renameSync(tmp, regionFile);
    };
    const timer = setInterval(save, 2000);
    stoppers.push(async () => {
      clearInterval(timer);
      save();
      await simServer!.close();
    });
  }

  const simClock = region ? { now: () => new Date(region!.clock.now()) } : undefined;
  const busServerRef: { server?: EventBusServer } = {};
  const endpoints = {
    dynamodb: `http://127.0.0.1:${dynamoPort}`,
    sqs: fauxqs.address,
    ...(simServer ? { ec2: simServer.url, ssm: simServer.url } : {}),
  };
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const localClients = createAwsClients({ region: REGION, endpoints, credentials });

  const context = { stage, region: REGION, accountId: ACCOUNT };
  const serverlessPath = options.serverlessPath ?? 'serverless.yml';
  const service = 'ec2-reset-access';
  const tableName = `${service}-${stage}-jobs`;
  await ensureTable(localClients, tableName);
  const queueDefinitions = loadQueuesFromServerless(serverlessPath, context);
  const queueUrls = await createQueues(localClients.sqs, queueDefinitions);
  const rules = loadRulesFromServerless(serverlessPath, context);
  const phaseQueues = phaseQueueNames(rules);
  const localBus = new LocalEventBus({
    rules,
    sqs: localClients.sqs,
    region: REGION,
    accountId: ACCOUNT,
    buses: loadEventBusesFromServerless(serverlessPath, context),
    queueUrl: (name) => queueUrls.get(name) ?? Promise.reject(new Error(`no local queue ${name}`)),
  });
  busServerRef.server = await startEventBusServer(localBus, { port: 0 });
  stoppers.push(() => busServerRef.server!.close());
  const busName = rules.find((r) => phaseOf(r.pattern))?.eventBusName ?? `${service}-${stage}`;

  const clients = options.sim
    ? createAwsClients({ region: REGION, endpoints: { ...endpoints, eventbridge: busServerRef.server.url }, credentials })
    : { ...createAwsClients({ endpoints: { dynamodb: endpoints.dynamodb, sqs: endpoints.sqs, eventbridge: busServerRef.server.url } }) };
  const config: ServiceConfig = { ...defaultConfig, ...options.config, region: options.sim ? REGION : (process.env.AWS_REGION ?? defaultConfig.region) };
  const ports = wirePorts({
    clients,
    config,
    store: new DynamoJobStore(jobStoreDocumentClient(clients.dynamodb), { tableName }),
    bus: new EventBridgePhaseBus(clients.eventBridge, { eventBusName: busName }),
    scheduler: new SqsPhaseScheduler(clients.sqs, {
      queueUrlFor: (phase) => queueUrls.get(phaseQueues.get(phase)!)!,
      timeScale: options.sim ? options.simSpeed : 1,
    }),
    log: options.log,
    clock: simClock,
  });

  // Workers: the local event source mappings, one per phase queue.
  const workers: SqsWorker[] = [];
  for (const phase of PHASES) {
    const queueName = phaseQueues.get(phase);
    if (!queueName) throw new Error(`serverless.yml routes no queue for phase ${phase}`);
    const queueUrl = queueUrls.get(queueName)!;
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    workers.push(
      startSqsWorker({
        sqs: clients.sqs,
        queueUrl,
        queueArn: Attributes?.QueueArn ?? queueName,
        functionName: `${service}-${stage}-${phase}`,
        handler: createPhaseHandler(phase, () => ports),
        onError: (error) => options.log.error('worker error', { phase, error: (error as Error).message }),
      }),
    );
  }
  stoppers.push(async () => void (await Promise.all(workers.map((w) => w.stop()))));

  const api = await startApiServer((event) => routeApi(event, ports), { port: options.port });
  stoppers.push(() => new Promise((r) => api.close(() => r())));
  const address = api.address();
  const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : options.port}`;

  // fauxqs keeps no messages across restarts: publish the current phase of every running job.
  const active = await ports.store.listActive();
  for (const job of active) {
    await ports.bus.publish(job.current.map((phase) => ({ jobId: job.jobId, phase, attempt: job.phases[phase]?.attempt ?? 0 })));
  }
  if (active.length > 0) options.log.info('resumed running jobs', { count: active.length });

  return {
    apiUrl,
    ports,
    clients,
    region,
    async stop() {
      for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    },
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    }),
  );
}

async function ensureTable(clients: AwsClients, tableName: string): Promise<void> {
  try {
    await clients.dynamodb.send(new CreateTableCommand(jobTableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 50; i++) {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function phaseOf(pattern: unknown): PhaseName | undefined {
  const detail = (pattern as { detail?: { phase?: unknown[] } }).detail;
  const phase = detail?.phase?.[0];
  return typeof phase === 'string' && (PHASES as readonly string[]).includes(phase) ? (phase as PhaseName) : undefined;
}

/** The queue each phase's rule targets, read from the rules themselves. */
function phaseQueueNames(rules: ReturnType<typeof loadRulesFromServerless>): Map<PhaseName, string> {
  const map = new Map<PhaseName, string>();
  for (const rule of rules) {
    const phase = phaseOf(rule.pattern);
    const target = rule.targets.find((t) => t.kind === 'queue');
    if (phase && target?.kind === 'queue') map.set(phase, target.queueName);
  }
  return map;
}
