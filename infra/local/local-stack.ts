/**
 * The embedded default: the whole service on this machine with no AWS account. The same handlers
 * and adapters as in Lambda, the real SDK clients, pointed at local stand-ins: dynalite (DynamoDB,
 * state on disk), fauxqs (SQS), a local EventBridge bus applying serverless.yml's rules, and the
 * simulated region (EC2, SSM and KMS, state on disk, clock sped up); no client may reach a real
 * endpoint (`assertLocalEndpoints`). With `sim: false` the EC2, SSM and KMS clients go wherever
 * the environment points the SDK (`AWS_ENDPOINT_URL_EC2`…, a real account), and the runtime keeps a
 * deployment's settings: the sweeper on the deployed schedule, the configuration as passed.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import type { CorePorts, OptionalPorts } from '../../domain/pipeline/phase';
import { isPhaseName } from '../../domain/pipeline/phases';
import type { Log } from '../../domain/ports';
import { ScaledPhaseScheduler } from './scaled-phase-scheduler';
import { sweep, type SweepSummary } from '../../domain/sweeper/sweeper';
import { routeApi, type ApiPorts } from '../../handlers/api-routes';
import { createAwsEventsHandler } from '../../handlers/aws-events';
import { createPhaseHandler } from '../../handlers/phase-handler';
import { createTriggerHandler } from '../../handlers/trigger-routes';
import { createAwsClients, type AwsClients, type AwsService } from '../aws/clients';
import { DynamoJobStore, jobStoreDocumentClient, jobTableDefinition } from '../aws/dynamodb-job-store';
import { EventBridgePhaseBus } from '../aws/eventbridge-phase-bus';
import { SqsPhaseScheduler } from '../aws/sqs-phase-scheduler';
import { SqsStartDeferral } from '../aws/sqs-start-deferral';
import { ScaledClock } from '../sim/clock';
import { startSimServer, type SimServer } from '../sim/http';
import { SimulatedRegion } from '../sim/region';
import { seedSampleRegion } from '../sim/samples';
import type { RegionState } from '../sim/state';
import { dynamoGuardStores, dynamoNetworkLeases, pickPhasePorts, principalTags, serviceObserver, wirePorts } from '../wiring/composition';
import { rebuildDynaliteIndexes } from './dynalite-indexes';
import { startApiServer } from './api-server';
import { createQueues, LocalEventBus, queuesOf, rulesOf, startEventBusServer, type EventBusServer } from './event-bus';
import { consumers, eventsDeadLetterQueueName, serviceBusName } from '../deploy/topology';
import { SWEEP_FIGURES } from '../deploy/dashboard';
import { SWEEP_METRIC } from '../observability/sweep-metrics';
import { collectFleetFigures, type FleetSources, type QueueContents } from './fleet-figures';
import { renderOperationsPage } from './operations-page';
import { startSqsWorker, type SqsWorker } from './sqs-worker';
import { loadConfig } from '../wiring/config';
import { parse as parseYaml } from 'yaml';

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
  /** The service's settings; default: from the environment as a deployment reads them (`loadConfig`). */
  config?: Partial<ServiceConfig>;
  /**
   * Runs the sweeper every this many simulated seconds. Default 300 on the simulated region;
   * without it (real endpoints) the deployment's schedule (serverless.yml, every 10 minutes), as a
   * deployment would. 0 turns it off.
   */
  sweepEverySimSeconds?: number;
}

export interface LocalStack {
  apiUrl: string;
  /** The local EventBridge (PutEvents only): `--endpoint-url` for `aws events put-events`. */
  eventBusUrl: string;
  /** The service's own bus (the default bus exists too). */
  eventBusName: string;
  ports: CorePorts & OptionalPorts & ApiPorts;
  clients: AwsClients;
  region?: SimulatedRegion;
  /** One sweeper run now (besides the scheduled ones). */
  sweep(): Promise<SweepSummary>;
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
  // Only the owner may read the state (the simulated Parameter Store holds private keys).
  mkdirSync(join(dataDir, 'dynamodb'), { recursive: true, mode: 0o700 });
  chmodSync(join(dataDir, 'dynamodb'), 0o700);
  if (existsSync(regionFile)) chmodSync(regionFile, 0o600);
  const stoppers: Array<() => Promise<void>> = [];

  // DynamoDB: dynalite with its LevelDB files under dataDir, so jobs survive a restart.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (o: object) => Server;
  const repaired = await rebuildDynaliteIndexes(join(dataDir, 'dynamodb'));
  if (repaired > 0) options.log.warn('local job table: index entries a crash left behind were rebuilt', { entries: repaired });
  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  const dynamoPort = await listen(dynamo);
  stoppers.push(() => new Promise((r) => dynamo.close(() => r())));

  // SQS: fauxqs (ESM-only, in memory; running jobs are re-driven below after a restart).
  const { startFauxqs } = (await import('fauxqs')) as {
    startFauxqs: (o: object) => Promise<{ address: string; stop(): Promise<void>; inspectQueue(name: string): { messages: QueueContents } | undefined }>;
  };
  const fauxqs = await startFauxqs({ port: 0, logger: false });
  stoppers.push(() => fauxqs.stop());

  // EC2, SSM and KMS: the simulated region, resumed from its saved state.
  let region: SimulatedRegion | undefined;
  let simServer: SimServer | undefined;
  if (options.sim) {
    const saved =
      !options.fresh && existsSync(regionFile) ? (JSON.parse(readFileSync(regionFile, 'utf8')) as { clockNow: number; state: RegionState }) : undefined;
    const clock = new ScaledClock(options.simSpeed, saved?.clockNow);
    const simRegion = new SimulatedRegion({ clock, state: saved?.state });
    region = simRegion;
    if (!saved) seedSampleRegion(simRegion);
    // Saved at every change, before anyone hears of it: a crash cannot roll the region back behind
    // the job table (which dynalite writes at once). Mode 0600: Parameter Store holds private keys.
    let savedRevision = -1;
    let savedAt = 0;
    const save = (force = false) => {
      if (!force && simRegion.revision === savedRevision && Date.now() - savedAt < 1000) return;
      const tmp = `${regionFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ clockNow: clock.now(), state: simRegion.exportState() }), { mode: 0o600 });
      renameSync(tmp, regionFile);
      savedRevision = simRegion.revision;
      savedAt = Date.now();
    };
    save(true);
    simServer = await startSimServer(simRegion, { port: 0, afterEach: () => save() });
    // Changes happen on the simulated clock whether or not anyone calls: look every 50 ms (and
    // save what that changed; at least each second, so that a restart's clock does not go back far).
    const timer = setInterval(() => {
      simRegion.tick();
      save();
    }, 50);
    timer.unref();
    stoppers.push(async () => {
      clearInterval(timer);
      save(true);
      await simServer!.close();
    });
  }

  const simClock = region ? { now: () => new Date(region!.clock.now()) } : undefined;
  const busServerRef: { server?: EventBusServer } = {};
  const endpoints = {
    dynamodb: `http://127.0.0.1:${dynamoPort}`,
    sqs: fauxqs.address,
    ...(simServer ? { ec2: simServer.url, ssm: simServer.url, kms: simServer.url, iam: simServer.url } : {}),
  };
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  // For setting up the table, queues and the bus's deliveries: DynamoDB and SQS only.
  const localClients = createAwsClients({ region: REGION, endpoints, credentials });
  await assertLocalEndpoints(localClients, ['dynamodb', 'sqs']);

  const service = 'ec2-reset-access';
  const deployment = { service, stage };
  const tableName = `${service}-${stage}-jobs`;
  await ensureTable(localClients, tableName);
  // The deployment's queues and rules (infra/deploy/topology.ts), as serverless.yml deploys them.
  const consumerSpecs = consumers(deployment);
  const queueUrls = await createQueues(localClients.sqs, queuesOf(deployment));
  const queueUrlOf = (key: string) => queueUrls.get(consumerSpecs.find((c) => c.key === key)!.queue.name)!;
  const busName = serviceBusName(deployment);
  const localBus = new LocalEventBus({
    rules: rulesOf(deployment),
    sqs: localClients.sqs,
    region: REGION,
    accountId: ACCOUNT,
    buses: [busName],
    queueUrl: (name) => queueUrls.get(name) ?? Promise.reject(new Error(`no local queue ${name}`)),
  });
  busServerRef.server = await startEventBusServer(localBus, { port: 0 });
  stoppers.push(() => busServerRef.server!.close());

  const clients = options.sim
    ? createAwsClients({ region: REGION, endpoints: { ...endpoints, eventbridge: busServerRef.server.url }, credentials })
    : createAwsClients({ endpoints: { dynamodb: endpoints.dynamodb, sqs: endpoints.sqs, eventbridge: busServerRef.server.url } });
  // The service's own plumbing is always local; EC2, SSM and KMS too unless told to use real ones.
  await assertLocalEndpoints(clients, options.sim ? LOCAL_SERVICES : ['dynamodb', 'sqs', 'eventbridge']);
  // As a deployment reads it (infra/wiring/config.ts) unless given; the simulated region is us-east-1.
  const base: ServiceConfig = options.config ? { ...defaultConfig, ...options.config } : loadConfig(process.env);
  const config: ServiceConfig = options.sim ? { ...base, region: REGION } : base;
  const documents = jobStoreDocumentClient(clients.dynamodb);
  // SQS delays are whole real seconds: the fraction of a scaled delay is waited out on a timer.
  const sqsScheduler = new SqsPhaseScheduler(clients.sqs, { queueUrlFor: queueUrlOf });
  const scheduler = options.sim && options.simSpeed !== 1 ? new ScaledPhaseScheduler(sqsScheduler, options.simSpeed, options.log) : sqsScheduler;
  if (scheduler instanceof ScaledPhaseScheduler) stoppers.push(async () => scheduler.stop());
  const ports = wirePorts({
    clients,
    config,
    store: new DynamoJobStore(documents, { tableName }),
    guards: dynamoGuardStores(documents, tableName),
    networkLeases: dynamoNetworkLeases(documents, tableName),
    // The alarm function's queue (alarm and request events, deferred starts).
    deferral: new SqsStartDeferral(clients.sqs, { queueUrl: queueUrlOf('alarm'), timeScale: options.sim ? options.simSpeed : 1 }),
    observer: serviceObserver(clients.eventBridge, { eventBusName: busName, metricsServiceName: `${service}-${stage}` }),
    bus: new EventBridgePhaseBus(clients.eventBridge, { eventBusName: busName }),
    scheduler,
    log: options.log,
    clock: simClock,
    // The access rule's caller tags: the simulated IAM's roles (infra/sim/samples.ts).
    principals: principalTags(clients.iam, config),
    // The sweeper's waits (a detach, an endpoint deletion) pass in simulated time.
    sleeper: { sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / (options.sim ? options.simSpeed : 1))) },
  });

  // Workers: the local event source mappings, one per consumer's queue.
  const handlerOf = (key: string) => {
    if (isPhaseName(key)) return createPhaseHandler(key, () => pickPhasePorts(key, ports));
    if (key === 'alarm') return createTriggerHandler(() => ports);
    if (key === 'aws-events') return createAwsEventsHandler(() => ports);
    throw new Error(`no local handler for ${key}`);
  };
  const workers: SqsWorker[] = [];
  for (const consumer of consumerSpecs) {
    const queueUrl = queueUrls.get(consumer.queue.name)!;
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    workers.push(
      startSqsWorker({
        sqs: clients.sqs,
        queueUrl,
        queueArn: Attributes?.QueueArn ?? consumer.queue.name,
        functionName: `${service}-${stage}-${consumer.key}`,
        handler: handlerOf(consumer.key),
        onError: (error) => options.log.error('worker error', { function: consumer.key, error: (error as Error).message }),
      }),
    );
  }
  stoppers.push(async () => void (await Promise.all(workers.map((w) => w.stop()))));

  // AWS's own events: the simulated region's state changes go to the default bus as EC2 and SSM
  // put them there, after EventBridge's delivery delay; the rules route them to the aws-events queue.
  if (region) {
    const simRegion = region;
    const delayMs = simRegion.timings.awsEventDeliveryMs / options.simSpeed;
    const unsubscribe = simRegion.onEvent((event) => {
      const timer = setTimeout(() => {
        const entry = {
          Source: event.source,
          DetailType: event['detail-type'],
          Detail: JSON.stringify(event.detail),
          Resources: event.resources,
          Time: new Date(event.time),
        };
        localBus
          .putEvents([entry])
          .catch((error: unknown) => options.log.warn('AWS event not delivered', { detailType: event['detail-type'], error: (error as Error).message }));
      }, delayMs);
      timer.unref();
    });
    stoppers.push(async () => void unsubscribe());
  }

  // The sweeper runs since start, for the local page (each run's counts added up, as the dashboard's Sum).
  const sweepTotals = { runs: 0, totals: Object.fromEntries(SWEEP_FIGURES.map(({ metric }) => [metric, 0])) as Record<string, number> };
  const countSweep = (summary: SweepSummary) => {
    sweepTotals.runs++;
    for (const [field, metric] of Object.entries(SWEEP_METRIC))
      if (metric in sweepTotals.totals) sweepTotals.totals[metric]! += Number(summary[field as keyof typeof SWEEP_METRIC] ?? 0);
  };
  const fleet: FleetSources = {
    store: ports.store,
    clock: ports.clock,
    queues: consumerSpecs.map((c) => ({ key: c.key, name: c.queue.name, deadLetterName: c.queue.deadLetter.name })),
    eventsDeadLetterName: eventsDeadLetterQueueName(deployment),
    inspectQueue: (name) => fauxqs.inspectQueue(name)?.messages,
    listHelpers: () => ports.reclaimer.listHelpers(),
    sweeps: () => ({ runs: sweepTotals.runs, totals: { ...sweepTotals.totals } }),
  };
  const pages = {
    // `?refresh=0` stops the page reloading itself (a screenshot, a test).
    '/': async (query: URLSearchParams) =>
      renderOperationsPage(await collectFleetFigures(fleet, { jobsShown: 50 }), {
        title: `${service}-${stage}`,
        refreshSeconds: Number(query.get('refresh') ?? 5) || 0,
      }),
  };
  const api = await startApiServer((event) => routeApi(event, ports), { port: options.port, pages });
  stoppers.push(() => new Promise((r) => api.close(() => r())));
  const address = api.address();
  const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : options.port}`;

  // fauxqs keeps no messages across restarts: publish the current phase of every running job.
  const active = await ports.store.listActive();
  for (const job of active) {
    await ports.bus.publish(job.current.map((phase) => ({ jobId: job.jobId, phase, attempt: job.phases[phase]?.attempt ?? 0 })));
  }
  if (active.length > 0) options.log.info('resumed running jobs', { count: active.length });

  // The sweeper's schedule: one run at a time; a run that fails is logged and the next one tries again.
  let sweeping: Promise<SweepSummary> | undefined;
  const sweepNow = (): Promise<SweepSummary> => {
    sweeping ??= sweep(ports)
      .then((summary) => (countSweep(summary), summary))
      .finally(() => (sweeping = undefined));
    return sweeping;
  };
  const sweepEvery = options.sweepEverySimSeconds ?? (options.sim ? 300 : deployedSweepIntervalSeconds());
  if (sweepEvery > 0) {
    const timer = setInterval(
      () => void sweepNow().catch((error: unknown) => options.log.error('sweeper run failed', { error: (error as Error).message })),
      (sweepEvery * 1000) / (options.sim ? options.simSpeed : 1),
    );
    timer.unref();
    stoppers.push(async () => {
      clearInterval(timer);
      await sweeping?.catch(() => undefined);
    });
  }

  return {
    apiUrl,
    eventBusUrl: busServerRef.server.url,
    eventBusName: busName,
    ports,
    clients,
    region,
    sweep: sweepNow,
    async stop() {
      for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    },
  };
}

const LOCAL_SERVICES: readonly AwsService[] = ['ec2', 'ssm', 'kms', 'iam', 'dynamodb', 'sqs', 'eventbridge'];
const CLIENT_OF: Record<AwsService, keyof AwsClients> = {
  ec2: 'ec2',
  ssm: 'ssm',
  kms: 'kms',
  iam: 'iam',
  dynamodb: 'dynamodb',
  sqs: 'sqs',
  eventbridge: 'eventBridge',
};

/**
 * Refuses to go on unless each of `services`' clients sends to this machine: a client built
 * without its local endpoint would send to AWS's (the local stack's KMS client once answered
 * `getaddrinfo ENOTFOUND kms.us-east-1.amazonaws.com`).
 */
export async function assertLocalEndpoints(clients: AwsClients, services: readonly AwsService[]): Promise<void> {
  for (const service of services) {
    const config = clients[CLIENT_OF[service]].config as { endpoint?: () => Promise<{ hostname?: string }> };
    const hostname = config.endpoint ? (await config.endpoint()).hostname : undefined;
    if (hostname !== '127.0.0.1' && hostname !== 'localhost') {
      throw new Error(`the local stack's ${service} client has no local endpoint (${hostname ?? "the SDK's default, AWS's own"}): it would call AWS`);
    }
  }
}

/** How often the deployment runs the sweeper: serverless.yml's `rate(N minutes)` schedule, in seconds. */
export function deployedSweepIntervalSeconds(file = join(__dirname, '..', '..', 'serverless.yml')): number {
  const functions = (
    parseYaml(readFileSync(file, 'utf8'), { logLevel: 'silent' }) as { functions: Array<Record<string, { events?: Array<{ schedule?: string }> }>> }
  ).functions;
  const schedule = functions.find((f) => f.sweeper)?.sweeper?.events?.find((e) => e.schedule)?.schedule ?? '';
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!rate) throw new Error(`serverless.yml: the sweeper's schedule ${JSON.stringify(schedule)} is not a rate() the local runtime reads`);
  const unit = { minute: 60, minutes: 60, hour: 3600, hours: 3600, day: 86400, days: 86400 }[rate[2] as 'minute'];
  return Number(rate[1]) * unit;
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
  const definition = jobTableDefinition(tableName);
  let asked = false;
  for (let i = 0; i < 50; i++) {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    const missing = (definition.GlobalSecondaryIndexes ?? []).filter((index) => !indexes.some((existing) => existing.IndexName === index.IndexName));
    if (Table?.TableStatus === 'ACTIVE' && missing.length === 0) return;
    if (Table?.TableStatus === 'ACTIVE' && !asked) {
      // A table kept on disk from before an index was added (a job store upgrade): ask for it.
      asked = true;
      for (const index of missing) {
        await clients.dynamodb
          .send(
            new UpdateTableCommand({
              TableName: tableName,
              AttributeDefinitions: definition.AttributeDefinitions,
              // dynalite (the only table this runs against) wants a throughput even for on-demand tables.
              GlobalSecondaryIndexUpdates: [
                {
                  Create: {
                    IndexName: index.IndexName,
                    KeySchema: index.KeySchema,
                    Projection: index.Projection,
                    ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
                  },
                },
              ],
            }),
          )
          .catch(() => undefined);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // dynalite cannot add an index to a table it keeps on disk.
  throw new Error(`the local job table (${tableName}) predates the job store's indexes; start once with --fresh (it forgets local jobs)`);
}
