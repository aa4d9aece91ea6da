/**
 * The AWS services the service itself runs on, in process beneath the real SDK clients, for
 * VirtualStack (`controlPlane: 'wire'`): DynamoDB is dynalite (in memory, the local stack's own
 * stand-in, called without a socket), SQS takes `SendMessage` into the stack's queue, EventBridge
 * takes `PutEvents` through the deployment's own rules (infra/local/event-bus.ts); EC2, SSM and KMS
 * are the simulated region's. So the production adapters (DynamoJobStore, SqsPhaseScheduler,
 * EventBridgePhaseBus…) and the production retry configuration run as deployed.
 *
 * In front of all of them sits one wire layer (`Wire`) that records every request the SDK sends
 * (service, action, attempt, which delivery made it) and injects what a harness asks for: an error
 * answer, an answer lost after the call took effect, a PutEvents whose entries were not taken, a
 * handler killed by its timeout mid-call, or something done before or after the call (a second
 * delivery racing it). No production code knows about it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Server } from 'node:http';
import type { SendMessageCommandInput } from '@aws-sdk/client-sqs';
import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import type { PhaseMessage } from '../../domain/ports';
import { parsePhaseMessage } from '../messages/events';
import { answerPutEvents, LocalEventBus, rulesOf } from './event-bus';
import type { DeployContext } from '../deploy/topology';
import { serviceBusName } from '../deploy/topology';
import type { WireResponse } from '../sim/ec2-query';
import { route } from '../sim/http';
import type { SimulatedRegion } from '../sim/region';

export type WireService = 'ec2' | 'ssm' | 'kms' | 'dynamodb' | 'sqs' | 'eventbridge';

/** Who is calling: an API request or one delivery of a phase message (set by VirtualStack). */
export interface CallScope {
  /** `api`, a phase name, or `sweeper`. */
  site: string;
  /** Which delivery (0 = the stack's first), -1 outside deliveries. */
  delivery: number;
  message?: PhaseMessage;
  /** The queue entry delivered (kept across its receives), and how often it has been received. */
  messageId?: number;
  receives?: number;
  /** Set once the invocation was killed: its later calls never return. */
  killed?: boolean;
  /** Kills the invocation (Lambda's timeout): its handler never sees another answer. */
  kill?: () => void;
}

export interface WireCall {
  index: number;
  service: WireService;
  action: string;
  /** 1 for the SDK's first attempt, 2… for its retries (`amz-sdk-request`). */
  attempt: number;
  /** The SDK's id of the logical call, the same on each of its attempts (`amz-sdk-invocation-id`). */
  invocationId?: string;
  /** The request body read as JSON (JSON protocols), or the form parameters (EC2). */
  input: Record<string, unknown>;
  scope?: CallScope;
  /** Simulated time of the request. */
  at: number;
  /** What the caller got: `ok`, an error code, `lost` (answer lost), `killed`, `failed-entries`. */
  answer?: string;
  /** A rule changed this call's fate. */
  faulted?: boolean;
}

/** What a rule does to the calls it matches. */
export type WireEffect =
  /** The service answers this error and does nothing (JSON protocols: KMS, DynamoDB, SQS, EventBridge). */
  | { error: { code: string; status: number; message?: string } }
  /** The call takes effect, then the connection drops: the caller gets a network error. */
  | { lostAnswer: true }
  /** PutEvents answers 200 with every entry failed with this code, none delivered. */
  | { failedEntries: string }
  /** The call takes effect, then the invocation is killed by its timeout (a Lambda handler). */
  | { kill: true }
  /** Runs before the call goes out; the call then proceeds. */
  | { before: (call: WireCall) => Promise<void> }
  /** Runs after the call took effect, before the caller sees its answer. */
  | { after: (call: WireCall) => Promise<void> };

export interface WireRule {
  match: (call: WireCall) => boolean;
  /** How many calls it affects (default 1). */
  times?: number;
  effect: WireEffect;
}

export interface WireRuleHandle {
  readonly hits: number;
  remove(): void;
}

type SimHandler = RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions>;

/**
 * Where `handle` sends a request once the wire layer let it through; `serving` wraps the synchronous
 * part where the simulated region answers it (so that its fault rules can see which call it is).
 */
export type Upstream = (service: WireService, request: HttpRequest, serving?: <T>(serve: () => T) => T) => Promise<HttpResponse>;

/**
 * The wire layer: every SDK client of the stack sends through `handler`. It records each request
 * in `calls` and applies the first matching rule.
 *
 * Who made a call is the innermost scope entered (`within`) and not yet left: exact while one
 * delivery runs at a time (the harness, and a delivery a rule runs inside another's call), only
 * approximate while deliveries run concurrently. (AsyncLocalStorage would be exact, but it slows
 * every promise of the process by a fifth on Node 20.)
 */
export class Wire {
  readonly calls: WireCall[] = [];
  private readonly scopes: CallScope[] = [];
  /** The call being served, for rules of the simulated region that look at it. */
  private current?: WireCall;
  private rules: Array<{ rule: WireRule; hits: number; remaining: number }> = [];

  /** Runs `fn` as `scope` (a delivery, an API request, a sweep): its calls are attributed to it. */
  async within<T>(scope: CallScope, fn: () => Promise<T>): Promise<T> {
    this.scopes.push(scope);
    try {
      return await fn();
    } finally {
      this.leave(scope);
    }
  }

  /** Ends `scope` (also one whose `fn` never returns: a killed invocation). */
  leave(scope: CallScope): void {
    const at = this.scopes.lastIndexOf(scope);
    if (at >= 0) this.scopes.splice(at, 1);
  }

  constructor(
    private readonly upstream: Upstream,
    private readonly now: () => number,
  ) {}

  add(rule: WireRule): WireRuleHandle {
    const active = { rule, hits: 0, remaining: rule.times ?? 1 };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => void (this.rules = this.rules.filter((r) => r !== active)),
    };
  }

  /** The wire call being served now (inside the simulated region's handling of it). */
  currentCall(): WireCall | undefined {
    return this.current;
  }

  readonly handler: SimHandler & { updateHttpClientConfig(): void; httpHandlerConfigs(): Record<string, never> } = {
    metadata: { handlerProtocol: 'http/1.1' },
    handle: async (request: HttpRequest) => ({ response: await this.send(request) }),
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };

  private async send(request: HttpRequest): Promise<HttpResponse> {
    const body = bodyText(request.body);
    const { service, action } = identify(request, body);
    const scope = this.scopes[this.scopes.length - 1];
    const attemptHeader = header(request, 'amz-sdk-request');
    const call: WireCall = {
      index: this.calls.length,
      service,
      action,
      attempt: Number(/attempt=(\d+)/.exec(attemptHeader ?? '')?.[1] ?? 1),
      invocationId: header(request, 'amz-sdk-invocation-id'),
      input: parseInput(service, body),
      scope,
      at: this.now(),
    };
    this.calls.push(call);
    // A killed invocation is frozen: nothing it started after the kill gets an answer.
    if (scope?.killed) return never(call);
    const found = this.rules.find((r) => r.remaining > 0 && r.rule.match(call));
    if (found) {
      found.hits += 1;
      found.remaining -= 1;
      call.faulted = true;
    }
    const effect = found?.rule.effect;
    if (effect && 'before' in effect) await effect.before(call);
    if (effect && 'error' in effect)
      return answer(call, jsonError(effect.error.status, effect.error.code, effect.error.message ?? `Injected fault: ${effect.error.code}`));
    if (effect && 'failedEntries' in effect) {
      const entries = (call.input.Entries as unknown[] | undefined) ?? [];
      call.answer = 'failed-entries';
      return toHttp(
        jsonAnswer(200, {
          FailedEntryCount: entries.length,
          Entries: entries.map(() => ({ ErrorCode: effect.failedEntries, ErrorMessage: `Injected fault: ${effect.failedEntries}` })),
        }),
      );
    }
    const response = await this.upstream(service, { ...request, body } as HttpRequest, (serve) => {
      this.current = call;
      try {
        return serve();
      } finally {
        this.current = undefined;
      }
    });
    if (effect && 'after' in effect) await effect.after(call);
    if (effect && 'lostAnswer' in effect) {
      call.answer = 'lost';
      throw Object.assign(new Error('socket hang up (chaos: the answer was lost after the call took effect)'), { code: 'ECONNRESET' });
    }
    if (effect && 'kill' in effect && scope) {
      scope.killed = true;
      scope.kill?.();
      return never(call);
    }
    call.answer = response.statusCode < 300 ? 'ok' : errorCodeOf(response);
    return response;
  }
}

function never(call: WireCall): Promise<HttpResponse> {
  call.answer = 'killed';
  return new Promise<HttpResponse>(() => undefined);
}

function answer(call: WireCall, response: WireResponse): HttpResponse {
  call.answer = errorCodeOf(toHttp(response));
  return toHttp(response);
}

function errorCodeOf(response: HttpResponse): string {
  const type = (response.headers['x-amzn-errortype'] ?? '').split(':')[0];
  if (type) return type;
  const text = Buffer.isBuffer(response.body) ? response.body.toString('utf8') : String(response.body ?? '');
  return /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(text)?.[1] ?? /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${response.statusCode}`;
}

// ---------------------------------------------------------------------------------------------
// Telling services apart, reading requests, writing answers

const TARGET_PREFIXES: Array<[string, WireService]> = [
  ['DynamoDB_20120810.', 'dynamodb'],
  ['AmazonSQS.', 'sqs'],
  ['AWSEvents.', 'eventbridge'],
  ['TrentService.', 'kms'],
  ['AmazonSSM.', 'ssm'],
];

function header(request: HttpRequest, name: string): string | undefined {
  const key = Object.keys(request.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : request.headers[key];
}

function identify(request: HttpRequest, body: string): { service: WireService; action: string } {
  const target = header(request, 'x-amz-target');
  if (target) {
    for (const [prefix, service] of TARGET_PREFIXES) if (target.startsWith(prefix)) return { service, action: target.slice(prefix.length) };
  }
  return { service: 'ec2', action: new URLSearchParams(body).get('Action') ?? 'Unknown' };
}

function parseInput(service: WireService, body: string): Record<string, unknown> {
  if (service === 'ec2') return Object.fromEntries(new URLSearchParams(body));
  try {
    const value = JSON.parse(body || '{}') as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error('control plane: unsupported request body type');
}

function jsonAnswer(status: number, value: unknown, errorType?: string): WireResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...(errorType ? { 'x-amzn-errortype': errorType } : {}) },
    body: JSON.stringify(value),
  };
}

function jsonError(status: number, code: string, message: string): WireResponse {
  return jsonAnswer(status, { __type: code, message }, code);
}

function toHttp(answer: WireResponse): HttpResponse {
  const body = Buffer.from(answer.body);
  return { statusCode: answer.status, headers: { ...answer.headers, 'content-length': String(body.length) }, body } as HttpResponse;
}

// ---------------------------------------------------------------------------------------------
// The services

/** What the in-process SQS and EventBridge deliver into: the stack's phase queue. */
export interface PhaseSink {
  /** A phase message sent to a phase queue, due after `delaySeconds` (`via`: who sent it). */
  send(message: PhaseMessage, delaySeconds: number, via: 'publish' | 'later'): void;
  /** A job-ended event (or any other the bus takes without a rule for it). */
  event?(detailType: string, detail: unknown): void;
}

/**
 * DynamoDB in process: dynalite's own request handler (in memory) called with a request and a
 * response object instead of a socket.
 */
export function inProcessDynamoDb(): { handle(request: HttpRequest, body: string): Promise<HttpResponse> } {
  // dynalite ships no types: the part used here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (options: object) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const listener = server.listeners('request')[0] as (req: unknown, res: unknown) => void;
  return {
    handle: (request, body) =>
      new Promise<HttpResponse>((resolve) => {
        const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
        const req = Object.assign(Readable.from(body ? [Buffer.from(body)] : []), { headers, method: request.method, url: request.path || '/' });
        const outHeaders: Record<string, string> = {};
        const res = {
          statusCode: 200,
          setHeader: (name: string, value: unknown) => void (outHeaders[name.toLowerCase()] = String(value)),
          end: (text?: string | Buffer) => resolve({ statusCode: res.statusCode, headers: outHeaders, body: Buffer.from(text ?? '') } as HttpResponse),
        };
        listener(req, res);
      }),
  };
}

/** SQS in process: `SendMessage` to a phase queue (AWS JSON 1.0) goes into the sink. */
function answerSqs(action: string, body: string, sink: PhaseSink): WireResponse {
  if (action !== 'SendMessage') return jsonError(400, 'UnsupportedOperation', `The in-process SQS serves SendMessage only, not ${action}`);
  const input = JSON.parse(body || '{}') as SendMessageCommandInput;
  const message = parsePhaseMessage(input.MessageBody);
  if (!message) return jsonError(400, 'InvalidParameterValue', `${input.QueueUrl ?? 'the queue'}: the body is not a phase message`);
  sink.send(message, input.DelaySeconds ?? 0, 'later');
  // The SDK checks the body's MD5 against this.
  return jsonAnswer(200, {
    MessageId: randomUUID(),
    MD5OfMessageBody: createHash('md5')
      .update(input.MessageBody ?? '')
      .digest('hex'),
  });
}

/**
 * EventBridge in process: `PutEvents` through the deployment's rules (the local bus), whose phase
 * queue targets deliver into the sink; every entry is also told to the sink (job-ended events).
 */
function eventBridge(deployment: DeployContext, sink: PhaseSink, now: () => number): (action: string, body: string) => Promise<WireResponse> {
  const sqs = {
    send: async (command: { input: SendMessageCommandInput }) => {
      const message = parsePhaseMessage(command.input.MessageBody);
      if (message) sink.send(message, 0, 'publish');
      return {};
    },
  };
  const bus = new LocalEventBus({
    rules: rulesOf(deployment),
    sqs: sqs as never,
    region: 'us-east-1',
    accountId: '000000000000',
    buses: [serviceBusName(deployment)],
    queueUrl: (name) => name,
    now: () => new Date(now()),
  });
  return async (action, body) => {
    if (sink.event) {
      for (const entry of (JSON.parse(body || '{}') as { Entries?: Array<{ DetailType?: string; Detail?: string }> }).Entries ?? []) {
        if (entry.DetailType && entry.Detail) sink.event(entry.DetailType, JSON.parse(entry.Detail));
      }
    }
    return answerPutEvents(bus, `AWSEvents.${action}`, body);
  };
}

export interface ControlPlaneOptions {
  /** Answers EC2, SSM and KMS. */
  region: SimulatedRegion;
  sink: PhaseSink;
  deployment: DeployContext;
  now: () => number;
  /** With DynamoDB (default true); false: the stores are the caller's. */
  dynamodb?: boolean;
}

/** The upstream of a `Wire`: each service's in-process stand-in. */
export function controlPlaneUpstream(options: ControlPlaneOptions): Upstream {
  const dynamodb = options.dynamodb === false ? undefined : inProcessDynamoDb();
  let events: ReturnType<typeof eventBridge> | undefined;
  return async (service, request, serving = (serve) => serve()) => {
    const body = typeof request.body === 'string' ? request.body : bodyText(request.body);
    const action = (header(request, 'x-amz-target') ?? '').replace(/^[^.]*\./, '');
    if (service === 'dynamodb') {
      if (!dynamodb) throw new Error('this stack keeps its job table in memory: no DynamoDB client may be used');
      return dynamodb.handle(request, body);
    }
    if (service === 'sqs') return toHttp(answerSqs(action, body, options.sink));
    if (service === 'eventbridge') return toHttp(await (events ??= eventBridge(options.deployment, options.sink, options.now))(action, body));
    return toHttp(serving(() => route(options.region, { hostname: request.hostname, headers: request.headers, body })));
  };
}
