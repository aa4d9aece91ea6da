/**
 * The local EventBridge: the deployment's rules, applied to PutEvents, delivering to the local SQS
 * (fauxqs) the way EventBridge delivers to a queue target. No npm matcher is faithful enough, so
 * the matching lives in `./event-pattern` and is tested on its own.
 *
 * - {@link rulesOf} / {@link queuesOf} take the rules and queues from the model the deployment
 *   renders (infra/deploy/topology.ts), so the local stack runs exactly the deployed rules.
 * - {@link LocalEventBus} applies them: envelope, pattern, `InputPath`, `SendMessage`.
 * - {@link startEventBusServer} speaks the EventBridge JSON 1.1 protocol for `PutEvents`, so the
 *   real `EventBridgeClient` (and so the real adapters) can be pointed at it with `endpoint`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { compilePattern, type EventPattern } from './event-pattern';
import { consumers, DEAD_LETTER_RETENTION_SECONDS, eventsDeadLetterQueueName, serviceBusName, type DeployContext } from '../deploy/topology';

// =============================================================================================
// The deployment's rules and queues (infra/deploy/topology.ts)

export interface QueueTarget {
  /** The target's `Id` in the rule. */
  id: string;
  queueName: string;
  inputPath?: string;
  /** The target's `DeadLetterConfig` queue: where an event that cannot be delivered goes. */
  deadLetterQueueName?: string;
}

export interface EventRule {
  logicalId: string;
  name: string;
  eventBusName: string;
  enabled: boolean;
  pattern: EventPattern;
  targets: QueueTarget[];
}

export interface QueueDefinition {
  logicalId: string;
  name: string;
  visibilityTimeoutSeconds?: number;
  messageRetentionSeconds?: number;
  deadLetter?: { queueName: string; maxReceiveCount: number };
}

/** The rules the deployment runs (its consumers' rules), on the service's bus or the default one. */
export function rulesOf(ctx: DeployContext): EventRule[] {
  return consumers(ctx).flatMap((consumer) =>
    consumer.rules.map((rule) => ({
      logicalId: rule.logicalId,
      name: rule.name,
      eventBusName: rule.bus === 'service' ? serviceBusName(ctx) : 'default',
      enabled: true,
      pattern: rule.pattern,
      targets: [
        {
          id: rule.targetId,
          queueName: consumer.queue.name,
          ...(rule.inputPath ? { inputPath: rule.inputPath } : {}),
          deadLetterQueueName: eventsDeadLetterQueueName(ctx),
        },
      ],
    })),
  );
}

/** The queues the deployment creates: each consumer's with its dead-letter queue, and the rules' dead-letter queue. */
export function queuesOf(ctx: DeployContext): QueueDefinition[] {
  return [
    ...consumers(ctx).flatMap(({ queue }) => [
      {
        logicalId: queue.logicalId,
        name: queue.name,
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        deadLetter: { queueName: queue.deadLetter.name, maxReceiveCount: queue.deadLetter.maxReceiveCount },
      },
      { logicalId: queue.deadLetter.logicalId, name: queue.deadLetter.name, messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS },
    ]),
    { logicalId: 'EventsDeadLetterQueue', name: eventsDeadLetterQueueName(ctx), messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS },
  ];
}

/**
 * Creates `queues` in the SQS `sqs` points at, dead-letter queues first so that the redrive
 * policies can name them; answers each queue's URL by name. CreateQueue is idempotent for identical
 * attributes, so a restart can call it again.
 */
export async function createQueues(sqs: SQSClient, queues: QueueDefinition[]): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const create = async (queue: QueueDefinition) => {
    const Attributes: Record<string, string> = {};
    if (queue.visibilityTimeoutSeconds !== undefined) Attributes.VisibilityTimeout = String(queue.visibilityTimeoutSeconds);
    if (queue.messageRetentionSeconds !== undefined) Attributes.MessageRetentionPeriod = String(queue.messageRetentionSeconds);
    if (queue.deadLetter) {
      const dlqUrl = urls.get(queue.deadLetter.queueName);
      if (!dlqUrl) throw new Error(`queue ${queue.name}: its dead-letter queue ${queue.deadLetter.queueName} is not defined`);
      const { Attributes: dlq } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
      Attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlq?.QueueArn, maxReceiveCount: queue.deadLetter.maxReceiveCount });
    }
    const out = await sqs.send(new CreateQueueCommand({ QueueName: queue.name, Attributes }));
    urls.set(queue.name, out.QueueUrl!);
  };
  await Promise.all(queues.filter((q) => !q.deadLetter).map(create));
  await Promise.all(queues.filter((q) => q.deadLetter).map(create));
  return urls;
}

// =============================================================================================
// The bus

export interface DeliveryFailure {
  rule: EventRule;
  target: QueueTarget;
  event: EventEnvelope;
  error: unknown;
}

export interface LocalEventBusOptions {
  rules: EventRule[];
  /** Pointed at the local SQS (pass its `endpoint` explicitly: fauxqs queue URLs do not resolve). */
  sqs: SQSClient;
  region: string;
  accountId: string;
  /** Buses that exist besides `default` and those the rules are on. */
  buses?: string[];
  /** Queue URL of a queue name; default: GetQueueUrl, remembered. */
  queueUrl?: (queueName: string) => string | Promise<string>;
  /** Told of every delivery that failed (after its DLQ, if any, got the event). Default: stderr. */
  onDeliveryFailure?: (failure: DeliveryFailure) => void;
  now?: () => Date;
  newEventId?: () => string;
}

/** The event as EventBridge hands it to rules and targets. */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface PutEventsResult {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
}

/** PutEvents accepts 1 to 10 entries per call. */
export const MAX_ENTRIES_PER_CALL = 10;

/** A request PutEvents rejects as a whole (not entry by entry). */
export class EventBusRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EventBusRequestError';
  }
}

export class LocalEventBus {
  private readonly rules: Array<{ rule: EventRule; matches: (event: unknown) => boolean }>;
  private readonly buses: Set<string>;
  private readonly queueUrls = new Map<string, Promise<string>>();

  /** Throws if a rule's pattern or a target's InputPath is outside what the local bus supports. */
  constructor(private readonly options: LocalEventBusOptions) {
    this.rules = options.rules.map((rule) => {
      for (const target of rule.targets) if (target.inputPath !== undefined) selectPath(undefined, target.inputPath);
      return { rule, matches: compilePattern(rule.pattern) };
    });
    this.buses = new Set(['default', ...(options.buses ?? []), ...options.rules.map((r) => r.eventBusName)]);
  }

  /**
   * PutEvents: each entry is answered on its own (an `EventId`, or an `ErrorCode` and
   * `ErrorMessage`); accepted events are delivered to every target of every matching rule before
   * this resolves. A delivery that fails goes to the target's DLQ (EventBridge would first retry
   * for up to 24 h; locally there is no point) and to `onDeliveryFailure`.
   */
  async putEvents(entries: PutEventsRequestEntry[]): Promise<PutEventsResult> {
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES_PER_CALL) {
      throw new EventBusRequestError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES_PER_CALL}`,
      );
    }
    const results = await Promise.all(entries.map((entry) => this.putEvent(entry)));
    return { FailedEntryCount: results.filter((r) => r.ErrorCode !== undefined).length, Entries: results };
  }

  private async putEvent(entry: PutEventsRequestEntry): Promise<PutEventsResultEntry> {
    const rejected = (ErrorCode: string, ErrorMessage: string): PutEventsResultEntry => ({ ErrorCode, ErrorMessage });
    const missing = (['Source', 'DetailType', 'Detail'] as const).filter((field) => typeof entry[field] !== 'string' || entry[field] === '');
    if (missing.length > 0) return rejected('InvalidArgument', `Parameter(s) ${missing.join(', ')} must be specified.`);
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail!);
    } catch {
      return rejected('MalformedDetail', 'Detail is malformed.');
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return rejected('MalformedDetail', 'Detail is malformed.');
    const busName = busNameOf(entry.EventBusName);
    if (!this.buses.has(busName)) return rejected('ResourceNotFoundException', `Event bus ${busName} does not exist.`);

    const event: EventEnvelope = {
      version: '0',
      id: this.options.newEventId?.() ?? randomUUID(),
      'detail-type': entry.DetailType!,
      source: entry.Source!,
      account: this.options.accountId,
      time: isoSeconds(entry.Time ?? this.options.now?.() ?? new Date()),
      region: this.options.region,
      resources: entry.Resources ?? [],
      detail,
    };
    const matching = this.rules.filter(({ rule, matches }) => rule.enabled && rule.eventBusName === busName && matches(event));
    await Promise.all(matching.flatMap(({ rule }) => rule.targets.map((target) => this.deliver(rule, target, event))));
    return { EventId: event.id };
  }

  private async deliver(rule: EventRule, target: QueueTarget, event: EventEnvelope): Promise<void> {
    try {
      const input = target.inputPath !== undefined ? selectPath(event, target.inputPath) : event;
      // EventBridge sends a selected string as it is, anything else as JSON.
      const body = typeof input === 'string' ? input : JSON.stringify(input);
      await this.options.sqs.send(new SendMessageCommand({ QueueUrl: await this.queueUrl(target.queueName), MessageBody: body }));
    } catch (error) {
      await this.deadLetter(rule, target, event, error);
      (this.options.onDeliveryFailure ?? logDeliveryFailure)({ rule, target, event, error });
    }
  }

  /** The message attributes EventBridge puts on a dead-lettered event. */
  private async deadLetter(rule: EventRule, target: QueueTarget, event: EventEnvelope, error: unknown): Promise<void> {
    if (!target.deadLetterQueueName) return;
    const arn = (service: string, resource: string) => `arn:aws:${service}:${this.options.region}:${this.options.accountId}:${resource}`;
    const text = (value: string) => ({ DataType: 'String', StringValue: value });
    try {
      await this.options.sqs.send(
        new SendMessageCommand({
          QueueUrl: await this.queueUrl(target.deadLetterQueueName),
          MessageBody: JSON.stringify(event),
          MessageAttributes: {
            RULE_ARN: text(arn('events', rule.eventBusName === 'default' ? `rule/${rule.name}` : `rule/${rule.eventBusName}/${rule.name}`)),
            TARGET_ARN: text(arn('sqs', target.queueName)),
            ERROR_CODE: text((error as { name?: string }).name ?? 'Error'),
            ERROR_MESSAGE: text(String((error as { message?: unknown }).message ?? error)),
          },
        }),
      );
    } catch {
      // The DLQ itself is unreachable: onDeliveryFailure still reports the original failure.
    }
  }

  private queueUrl(queueName: string): Promise<string> {
    let url = this.queueUrls.get(queueName);
    if (!url) {
      url = (async () => {
        if (this.options.queueUrl) return this.options.queueUrl(queueName);
        const out = await this.options.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
        if (!out.QueueUrl) throw new Error(`queue ${queueName} has no URL`);
        return out.QueueUrl;
      })();
      // A queue created later must still be found: do not remember a failure.
      url.catch(() => this.queueUrls.delete(queueName));
      this.queueUrls.set(queueName, url);
    }
    return url;
  }
}

function logDeliveryFailure({ rule, target, error }: DeliveryFailure): void {
  console.error(`[local event bus] rule ${rule.name}: delivery to ${target.queueName} failed: ${(error as Error)?.message ?? String(error)}`);
}

function busNameOf(value: string | undefined): string {
  if (!value) return 'default';
  const marker = ':event-bus/';
  return value.startsWith('arn:') && value.includes(marker) ? value.slice(value.indexOf(marker) + marker.length) : value;
}

/** EventBridge's `time`: ISO 8601 to the second, `2017-10-02T16:24:49Z`. */
function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A target's `InputPath`: `$` or a dotted JSONPath (`$.detail`, `$.detail.items[0]`). Throws for
 * anything else; called with `undefined` to validate a path without selecting.
 */
function selectPath(value: unknown, path: string): unknown {
  if (!/^\$((\.[A-Za-z0-9_-]+)|(\[\d+\]))*$/.test(path)) throw new Error(`InputPath ${path} is not supported locally (use $ or $.a.b)`);
  const steps = path.slice(1).match(/\.[A-Za-z0-9_-]+|\[\d+\]/g) ?? [];
  return steps.reduce<unknown>((node, step) => {
    if (node === undefined || node === null) return undefined;
    const key = step.startsWith('.') ? step.slice(1) : Number(step.slice(1, -1));
    return (node as Record<string | number, unknown>)[key];
  }, value);
}

// =============================================================================================
// The HTTP endpoint (EventBridge's JSON 1.1 protocol, PutEvents only)

export interface EventBusServer {
  /** `http://host:port`: the `endpoint` of an EventBridgeClient. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const JSON_1_1 = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Serves `AWSEvents.PutEvents` for `bus` on `host:port` (port 0: any free port). Requests are not
 * authenticated: bind it to loopback.
 */
export async function startEventBusServer(bus: LocalEventBus, options: { port?: number; host?: string } = {}): Promise<EventBusServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    handlePutEvents(bus, request, response).catch((error: unknown) => {
      reply(response, 500, errorBody('InternalException', (error as Error)?.message ?? String(error)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handlePutEvents(bus: LocalEventBus, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  if (body === undefined) return reply(response, 413, errorBody('ValidationException', `Request body exceeds ${MAX_BODY_BYTES} bytes`));
  if (request.method !== 'POST')
    return reply(response, 400, errorBody('UnknownOperationException', `Operation ${request.method} is not supported by the local event bus`));
  const answer = await answerPutEvents(bus, request.headers['x-amz-target'], body);
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/**
 * One PutEvents request (EventBridge's JSON 1.1 protocol: its `X-Amz-Target` and body) answered by
 * `bus`: the local server's, and VirtualStack's in-process EventBridge (infra/local/control-plane.ts).
 */
export async function answerPutEvents(
  bus: LocalEventBus,
  target: unknown,
  body: string,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  if (target !== 'AWSEvents.PutEvents') {
    return answerOf(400, errorBody('UnknownOperationException', `Operation ${String(target)} is not supported by the local event bus`));
  }
  let input: { Entries?: unknown };
  try {
    input = JSON.parse(body) as { Entries?: unknown };
  } catch {
    return answerOf(400, errorBody('SerializationException', 'Request body is not valid JSON'));
  }
  // JSON 1.1 sends timestamps as epoch seconds.
  const entries = Array.isArray(input?.Entries)
    ? (input.Entries as Array<Record<string, unknown>>).map((entry) => ({ ...entry, Time: toDate(entry?.Time) }) as PutEventsRequestEntry)
    : (input?.Entries as never);
  try {
    return answerOf(200, await bus.putEvents(entries));
  } catch (error) {
    if (error instanceof EventBusRequestError) return answerOf(400, errorBody(error.code, error.message));
    throw error;
  }
}

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function toDate(value: unknown): Date | undefined {
  if (typeof value === 'number') return new Date(value * 1000);
  if (typeof value === 'string') return new Date(value);
  return undefined;
}

function errorBody(type: string, message: string): { __type: string; message: string } {
  return { __type: type, message };
}

function reply(response: ServerResponse, status: number, body: { __type?: string } | object): void {
  const answer = answerOf(status, body);
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

function answerOf(status: number, body: { __type?: string } | object): { status: number; headers: Record<string, string>; body: string } {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': JSON_1_1,
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-requestid': randomUUID(),
  };
  if (status >= 400 && '__type' in body && typeof body.__type === 'string') headers['x-amzn-errortype'] = body.__type;
  return { status, headers, body: text };
}
