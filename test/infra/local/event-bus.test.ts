import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { PHASES, type PhaseName } from '../../../domain/pipeline/phases';
import type { PhaseMessage } from '../../../domain/ports';
import { EVENT_SOURCE, PHASE_REQUESTED_DETAIL_TYPE, phaseMessageJson } from '../../../infra/messages/events';
import {
  createQueues,
  EventBusRequestError,
  LocalEventBus,
  queuesOf,
  rulesOf,
  startEventBusServer,
  type DeliveryFailure,
  type EventRule,
  type QueueTarget,
} from '../../../infra/local/event-bus';
import { matchesPattern } from '../../../infra/local/event-pattern';

const ROOT = resolve(__dirname, '../../..');
const CONTEXT = { stage: 'test', region: 'eu-west-1', accountId: '123456789012' };
const DEPLOYMENT = { service: 'ec2-reset-access', stage: 'test' };
const BUS = 'ec2-reset-access-test';
const queueName = (phase: PhaseName) => `ec2-reset-access-test-${phase}`;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** What EventBridgePhaseBus puts: the service's source and detail type, the phase message as detail. */
function phaseEntry(message: PhaseMessage, eventBusName = BUS) {
  return { EventBusName: eventBusName, Source: EVENT_SOURCE, DetailType: PHASE_REQUESTED_DETAIL_TYPE, Detail: phaseMessageJson(message) };
}

function phaseEnvelope(message: PhaseMessage) {
  return {
    version: '0',
    id: 'e-1',
    'detail-type': PHASE_REQUESTED_DETAIL_TYPE,
    source: EVENT_SOURCE,
    account: CONTEXT.accountId,
    time: '2026-01-01T00:00:00Z',
    region: CONTEXT.region,
    resources: [],
    detail: { jobId: message.jobId, phase: message.phase, attempt: message.attempt },
  };
}

/** A fake SQS: every queue URL is `https://sqs.local/<name>`; `failFor` names queues whose sends fail. */
function fakeSqs(failFor: string[] = []) {
  const sqs = new SQSClient({ region: CONTEXT.region, credentials });
  const mock = mockClient(sqs);
  mock.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => ({ QueueUrl: `https://sqs.local/${input.QueueName}` }));
  mock.on(SendMessageCommand).callsFake((input: { QueueUrl: string }) => {
    if (failFor.some((name) => input.QueueUrl.endsWith(`/${name}`))) throw Object.assign(new Error('queue does not exist'), { name: 'QueueDoesNotExist' });
    return { MessageId: 'm-1' };
  });
  const sends = () => mock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
  return { sqs, mock, sends };
}

describe("the deployment's rules, run by the local bus", () => {
  const rules = rulesOf(DEPLOYMENT);

  it('has one rule per phase, all on the service bus', () => {
    // Prepare
    const onServiceBus = rules.filter((rule) => rule.eventBusName === BUS);
    // Act
    const phases = onServiceBus.map((rule) => (rule.pattern.detail as { phase?: string[] } | undefined)?.phase ?? []).flat();
    // Assess
    expect([...phases].sort()).toEqual([...PHASES].sort());
  });

  it.each(PHASES)('routes a %s event to exactly its own queue, as the bare detail', (phase) => {
    // Prepare
    const event = phaseEnvelope({ jobId: 'r-0001', phase, attempt: 0 });
    // Act
    const matching = rules.filter((rule) => rule.eventBusName === BUS && matchesPattern(rule.pattern, event));
    // Assess
    expect(matching).toHaveLength(1);
    expect(matching[0]!.targets).toEqual([expect.objectContaining({ queueName: queueName(phase), inputPath: '$.detail' })]);
  });

  it('routes nothing for another source, detail type or phase', () => {
    // Prepare
    const base = phaseEnvelope({ jobId: 'r-0001', phase: 'validate', attempt: 0 });
    const others = [
      { ...base, source: 'aws.ec2' },
      { ...base, 'detail-type': 'Reset Access Requested' },
      { ...base, detail: { ...base.detail, phase: 'not-a-phase' } },
      { ...base, detail: { jobId: 'r-0001' } },
    ];
    // Act
    const matched = others.map((event) => rules.filter((rule) => matchesPattern(rule.pattern, event)).length);
    // Assess
    expect(matched).toEqual([0, 0, 0, 0]);
  });

  it('defines every queue a rule targets, each phase queue with its DLQ and a visibility ≥ 6 × 60 s', () => {
    // Prepare
    const queues = queuesOf(DEPLOYMENT);
    const byName = new Map(queues.map((q) => [q.name, q]));
    const targeted = rules.flatMap((rule) => rule.targets as QueueTarget[]).flatMap((t) => [t.queueName, t.deadLetterQueueName ?? t.queueName]);
    // Act
    const missing = targeted.filter((name) => !byName.has(name));
    const phaseQueues = PHASES.map((phase) => byName.get(queueName(phase)));
    // Assess
    expect(missing).toEqual([]);
    for (const [i, queue] of phaseQueues.entries()) {
      expect(queue).toEqual(
        expect.objectContaining({
          name: queueName(PHASES[i]!),
          deadLetter: { queueName: `${queueName(PHASES[i]!)}-dlq`, maxReceiveCount: 5 },
        }),
      );
      expect(queue!.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * 60);
      expect(byName.has(`${queueName(PHASES[i]!)}-dlq`)).toBe(true);
    }
  });
});

describe('LocalEventBus', () => {
  const serviceRules = rulesOf(DEPLOYMENT);

  it('delivers each phase event to its own queue only, as the bare phase message', async () => {
    // Prepare
    const { sqs, sends } = fakeSqs();
    const bus = new LocalEventBus({ rules: serviceRules, sqs, region: CONTEXT.region, accountId: CONTEXT.accountId });
    const messages = PHASES.map((phase, attempt): PhaseMessage => ({ jobId: `r-${phase}`, phase, attempt }));
    // Act
    const first = await bus.putEvents(messages.slice(0, 10).map((m) => phaseEntry(m)));
    const second = await bus.putEvents(messages.slice(10).map((m) => phaseEntry(m)));
    // Assess
    expect(first.FailedEntryCount + second.FailedEntryCount).toBe(0);
    expect([...first.Entries, ...second.Entries].every((entry) => typeof entry.EventId === 'string')).toBe(true);
    const delivered = sends().map((input) => ({ queue: input.QueueUrl, body: input.MessageBody }));
    expect(delivered).toHaveLength(PHASES.length);
    expect(delivered).toEqual(expect.arrayContaining(messages.map((m) => ({ queue: `https://sqs.local/${queueName(m.phase)}`, body: phaseMessageJson(m) }))));
  });

  it('answers each entry on its own, like PutEvents', async () => {
    // Prepare
    const { sqs, sends } = fakeSqs();
    const bus = new LocalEventBus({ rules: serviceRules, sqs, region: CONTEXT.region, accountId: CONTEXT.accountId });
    const good = phaseEntry({ jobId: 'r-1', phase: 'cleanup', attempt: 0 });
    // Act
    const result = await bus.putEvents([
      good,
      { ...good, Detail: undefined },
      { ...good, Detail: '{not json' },
      { ...good, Detail: '[1, 2]' },
      { ...good, EventBusName: 'no-such-bus' },
      { ...good, EventBusName: `arn:aws:events:${CONTEXT.region}:${CONTEXT.accountId}:event-bus/${BUS}` },
    ]);
    // Assess
    expect(result.FailedEntryCount).toBe(4);
    expect(result.Entries.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ResourceNotFoundException',
      'ok',
    ]);
    expect(result.Entries[1]!.ErrorMessage).toMatch(/Detail/);
    expect(sends()).toHaveLength(2);
  });

  it('refuses more than 10 entries or none as a whole', async () => {
    // Prepare
    const { sqs } = fakeSqs();
    const bus = new LocalEventBus({ rules: serviceRules, sqs, region: CONTEXT.region, accountId: CONTEXT.accountId });
    const entry = phaseEntry({ jobId: 'r-1', phase: 'cleanup', attempt: 0 });
    // Act
    const tooMany = bus.putEvents(Array.from({ length: 11 }, () => entry));
    const none = bus.putEvents([]);
    // Assess
    await expect(tooMany).rejects.toThrow(EventBusRequestError);
    await expect(none).rejects.toThrow(EventBusRequestError);
  });

  it('sends the whole envelope when a target has no InputPath', async () => {
    // Prepare
    const { sqs, sends } = fakeSqs();
    const rule: EventRule = {
      logicalId: 'All',
      name: 'all',
      eventBusName: 'default',
      enabled: true,
      pattern: { source: [{ prefix: 'my.' }] },
      targets: [{ id: 'q', queueName: 'everything' }],
    };
    const bus = new LocalEventBus({ rules: [rule], sqs, region: 'eu-west-1', accountId: '123456789012', newEventId: () => 'event-1' });
    // Act
    await bus.putEvents([
      { Source: 'my.app', DetailType: 'Thing Happened', Detail: '{"a":1}', Resources: ['arn:x'], Time: new Date('2026-02-03T04:05:06.789Z') },
    ]);
    // Assess
    expect(JSON.parse(sends()[0]!.MessageBody!)).toEqual({
      version: '0',
      id: 'event-1',
      'detail-type': 'Thing Happened',
      source: 'my.app',
      account: '123456789012',
      time: '2026-02-03T04:05:06Z',
      region: 'eu-west-1',
      resources: ['arn:x'],
      detail: { a: 1 },
    });
  });

  it('puts an event it cannot deliver into the target DLQ and reports it', async () => {
    // Prepare
    const { sqs, sends } = fakeSqs([queueName('validate')]);
    const failures: DeliveryFailure[] = [];
    const bus = new LocalEventBus({
      rules: serviceRules,
      sqs,
      region: CONTEXT.region,
      accountId: CONTEXT.accountId,
      onDeliveryFailure: (f) => failures.push(f),
    });
    // Act
    const result = await bus.putEvents([phaseEntry({ jobId: 'r-1', phase: 'validate', attempt: 0 })]);
    // Assess
    expect(result.FailedEntryCount).toBe(0);
    expect(failures.map((f) => (f.target as QueueTarget).queueName)).toEqual([queueName('validate')]);
    const dead = sends().find((input) => input.QueueUrl!.endsWith('/ec2-reset-access-test-events-dlq'))!;
    expect(JSON.parse(dead.MessageBody!).detail).toEqual({ jobId: 'r-1', phase: 'validate', attempt: 0 });
    expect(dead.MessageAttributes!.ERROR_CODE!.StringValue).toBe('QueueDoesNotExist');
    expect(dead.MessageAttributes!.RULE_ARN!.StringValue).toBe(`arn:aws:events:${CONTEXT.region}:${CONTEXT.accountId}:rule/${BUS}/${queueName('validate')}`);
  });

  it('refuses at construction a rule it cannot evaluate', () => {
    // Prepare
    const { sqs } = fakeSqs();
    const rule: EventRule = {
      logicalId: 'R',
      name: 'r',
      eventBusName: 'default',
      enabled: true,
      pattern: { source: [{ wildcard: 'a**' }] } as never,
      targets: [],
    };
    // Act
    const act = () => new LocalEventBus({ rules: [rule], sqs, region: CONTEXT.region, accountId: CONTEXT.accountId });
    // Assess
    expect(act).toThrow(/wildcard/);
  });
});

/** fauxqs 1.9 is ESM-only and jest runs CommonJS here: it runs in a child Node process. */
async function startFauxqs(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const script = [
    "import { startFauxqs } from 'fauxqs';",
    "const server = await startFauxqs({ port: 0, logger: false, host: 'localhost' });",
    "process.stdout.write(JSON.stringify({ port: server.port }) + '\\n');",
    'process.stdin.on("end", () => server.stop().then(() => process.exit(0)));',
    'process.stdin.resume();',
  ].join('\n');
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`fauxqs exited (${code}): ${stderr}`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolveStop) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolveStop();
        });
        child.stdin.end();
      }),
  };
}

describe('startEventBusServer with the real EventBridgeClient and fauxqs', () => {
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  let server: Awaited<ReturnType<typeof startEventBusServer>>;
  let sqs: SQSClient;
  let events: EventBridgeClient;
  let queueUrls: Map<string, string>;

  beforeAll(async () => {
    fauxqs = await startFauxqs();
    // fauxqs queue URLs name a host that does not resolve: the endpoint must be explicit.
    sqs = new SQSClient({ region: CONTEXT.region, endpoint: fauxqs.endpoint, credentials });
    queueUrls = await createQueues(sqs, queuesOf(DEPLOYMENT));
    const bus = new LocalEventBus({
      rules: rulesOf(DEPLOYMENT),
      buses: [BUS],
      sqs,
      region: CONTEXT.region,
      accountId: CONTEXT.accountId,
    });
    server = await startEventBusServer(bus, { port: 0, host: '127.0.0.1' });
    events = new EventBridgeClient({ region: CONTEXT.region, endpoint: server.url, credentials });
  });

  afterAll(async () => {
    events?.destroy();
    sqs?.destroy();
    await server?.close();
    await fauxqs?.stop();
  });

  it('puts the bare phase message into the phase queue and nowhere else', async () => {
    // Prepare
    const message: PhaseMessage = { jobId: 'r-2026-abc', phase: 'run-rescue', attempt: 2 };
    // Act
    const out = await events.send(new PutEventsCommand({ Entries: [phaseEntry(message)] }));
    // Assess
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.[0]?.EventId).toEqual(expect.any(String));
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrls.get(queueName('run-rescue')), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages?.map((m) => m.Body)).toEqual([phaseMessageJson(message)]);
    const elsewhere = await Promise.all(
      [...queueUrls]
        .filter(([name]) => name !== queueName('run-rescue'))
        .map(async ([name, url]) => {
          const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
          return [name, Number(Attributes?.ApproximateNumberOfMessages)] as const;
        }),
    );
    expect(elsewhere.filter(([, count]) => count !== 0)).toEqual([]);
  });

  it('reports a failed entry in the response, through the SDK', async () => {
    // Prepare
    const entry = { ...phaseEntry({ jobId: 'r-1', phase: 'cleanup', attempt: 0 }), Detail: 'not json' };
    // Act
    const out = await events.send(new PutEventsCommand({ Entries: [entry] }));
    // Assess
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[0]).toEqual(expect.objectContaining({ ErrorCode: 'MalformedDetail' }));
  });

  it('answers an invalid request with an error the SDK understands', async () => {
    // Prepare
    const entries = Array.from({ length: 11 }, () => phaseEntry({ jobId: 'r-1', phase: 'cleanup', attempt: 0 }));
    // Act
    const sent = events.send(new PutEventsCommand({ Entries: entries }));
    // Assess
    await expect(sent).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  });

  it('answers an operation it does not serve with 400 UnknownOperationException', async () => {
    // Prepare
    const request = { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' }, body: '{}' };
    // Act
    const response = await fetch(server.url, request);
    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await response.json()).toEqual({ __type: 'UnknownOperationException', message: expect.stringContaining('AWSEvents.ListRules') });
  });
});
