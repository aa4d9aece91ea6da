/**
 * The local EventBridge: the rules of `serverless.yml`, applied to PutEvents, delivering to the
 * local SQS (fauxqs) the way EventBridge delivers to a queue target. No npm matcher is faithful
 * enough (DESIGN.md), so the matching lives in `./event-pattern` and is tested on its own.
 *
 * - {@link loadRulesFromServerless} / {@link loadQueuesFromServerless} /
 *   {@link loadEventBusesFromServerless} read `serverless.yml` (CloudFormation short tags and the
 *   simple Serverless variables resolved) so the local stack runs exactly the deployed rules.
 * - {@link LocalEventBus} applies them: envelope, pattern, `InputPath`, `SendMessage`.
 * - {@link startEventBusServer} speaks the EventBridge JSON 1.1 protocol for `PutEvents`, so the
 *   real `EventBridgeClient` (and so the real adapters) can be pointed at it with `endpoint`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parse as parseYaml, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';
import { compilePattern, type EventPattern } from './event-pattern';

// =============================================================================================
// serverless.yml

/** What the `${…}` variables of serverless.yml resolve to locally. */
export interface ServerlessContext {
  /** Defaults to the file's `service`. */
  service?: string;
  stage: string;
  region: string;
  accountId: string;
}

export interface QueueTarget {
  kind: 'queue';
  /** The target's `Id` in the rule. */
  id: string;
  /** Logical id of the `AWS::SQS::Queue` (absent when the target names a queue ARN literally). */
  queueLogicalId?: string;
  queueName: string;
  inputPath?: string;
  /** Constant JSON text sent instead of the event (`Input`). */
  input?: string;
  /** The target's `DeadLetterConfig` queue: where an event that cannot be delivered goes. */
  deadLetterQueueName?: string;
}

/** A Lambda target (a function's `eventBridge` event); delivered through `invokeFunction`. */
export interface FunctionTarget {
  kind: 'function';
  id: string;
  functionName: string;
  handler: string;
  inputPath?: string;
  input?: string;
}

export type RuleTarget = QueueTarget | FunctionTarget;

export interface EventRule {
  /** Logical id of the `AWS::Events::Rule`, or `<function>EventBridge<n>` for a function's event. */
  logicalId: string;
  name: string;
  eventBusName: string;
  enabled: boolean;
  pattern: EventPattern;
  targets: RuleTarget[];
}

export interface QueueDefinition {
  logicalId: string;
  name: string;
  visibilityTimeoutSeconds?: number;
  messageRetentionSeconds?: number;
  deadLetter?: { queueName: string; maxReceiveCount: number };
}

/** Thrown when serverless.yml holds something the local loader cannot resolve. */
export class ServerlessConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerlessConfigError';
  }
}

/**
 * The event rules of serverless.yml: every `AWS::Events::Rule` in `resources` with an event
 * pattern, and every function `eventBridge` event. Rules with only a schedule are skipped.
 */
export function loadRulesFromServerless(path = 'serverless.yml', context: ServerlessContext): EventRule[] {
  const config = new ServerlessConfig(path, context);
  const rules: EventRule[] = [];
  for (const [logicalId, resource] of config.resourcesOfType('AWS::Events::Rule')) {
    const properties = config.resolve(resource.Properties ?? {}, `${logicalId}.Properties`) as Record<string, unknown>;
    if (properties.EventPattern === undefined) continue;
    const targets = asArray(properties.Targets).map((target, i) => config.queueTarget(target, `${logicalId}.Targets[${i}]`));
    rules.push({
      logicalId,
      name: typeof properties.Name === 'string' ? properties.Name : logicalId,
      eventBusName: config.eventBusName(properties.EventBusName, `${logicalId}.EventBusName`),
      enabled: properties.State === undefined || properties.State === 'ENABLED',
      pattern: properties.EventPattern as EventPattern,
      targets,
    });
  }
  rules.push(...config.functionRules());
  return rules;
}

/** Every `AWS::SQS::Queue` of serverless.yml, with its dead-letter queue, to create them locally. */
export function loadQueuesFromServerless(path = 'serverless.yml', context: ServerlessContext): QueueDefinition[] {
  const config = new ServerlessConfig(path, context);
  return [...config.resourcesOfType('AWS::SQS::Queue')].map(([logicalId, resource]) => {
    const properties = config.resolve(resource.Properties ?? {}, `${logicalId}.Properties`) as Record<string, unknown>;
    const queue: QueueDefinition = { logicalId, name: config.queueName(logicalId) };
    if (properties.VisibilityTimeout !== undefined) queue.visibilityTimeoutSeconds = toNumber(properties.VisibilityTimeout, `${logicalId}.VisibilityTimeout`);
    if (properties.MessageRetentionPeriod !== undefined) {
      queue.messageRetentionSeconds = toNumber(properties.MessageRetentionPeriod, `${logicalId}.MessageRetentionPeriod`);
    }
    const redrive = properties.RedrivePolicy as Record<string, unknown> | undefined;
    if (redrive) {
      queue.deadLetter = {
        queueName: config.queueNameFromArn(redrive.deadLetterTargetArn, `${logicalId}.RedrivePolicy.deadLetterTargetArn`),
        maxReceiveCount: toNumber(redrive.maxReceiveCount, `${logicalId}.RedrivePolicy.maxReceiveCount`),
      };
    }
    return queue;
  });
}

/**
 * Creates `queues` (from {@link loadQueuesFromServerless}) in the SQS `sqs` points at, dead-letter
 * queues first so that the redrive policies can name them; answers each queue's URL by name.
 * CreateQueue is idempotent for identical attributes, so a restart can call it again.
 */
export async function createQueues(sqs: SQSClient, queues: QueueDefinition[]): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const create = async (queue: QueueDefinition) => {
    const Attributes: Record<string, string> = {};
    if (queue.visibilityTimeoutSeconds !== undefined) Attributes.VisibilityTimeout = String(queue.visibilityTimeoutSeconds);
    if (queue.messageRetentionSeconds !== undefined) Attributes.MessageRetentionPeriod = String(queue.messageRetentionSeconds);
    if (queue.deadLetter) {
      const dlqUrl = urls.get(queue.deadLetter.queueName);
      if (!dlqUrl) throw new ServerlessConfigError(`queue ${queue.name}: its dead-letter queue ${queue.deadLetter.queueName} is not defined`);
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

/** The custom event buses serverless.yml defines (the `default` bus always exists). */
export function loadEventBusesFromServerless(path = 'serverless.yml', context: ServerlessContext): string[] {
  const config = new ServerlessConfig(path, context);
  return [...config.resourcesOfType('AWS::Events::EventBus')].map(([logicalId]) => config.eventBusName({ Ref: logicalId }, logicalId));
}

interface CfnResource {
  Type?: string;
  Properties?: Record<string, unknown>;
}

/**
 * An innermost `${…}`. The loader resolves `self:`, `sls:stage`, `opt:stage|region`,
 * `aws:region|accountId` and `env:`, with `, 'fallback'`s; any other source in a value it needs is
 * an error (`${ssm:…}`, `${file(…)}`…). CloudFormation's own `${AWS::Region}` / `${Res.Arn}` in
 * `Fn::Sub` strings are left alone.
 */
const VARIABLE = /\$\{([^${}]*)\}/;

class ServerlessConfig {
  private readonly raw: Record<string, unknown>;
  private readonly resources: Record<string, CfnResource>;

  constructor(
    private readonly path: string,
    private readonly context: ServerlessContext,
  ) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, 'utf8'), { customTags: CLOUDFORMATION_TAGS, merge: true });
    } catch (error) {
      throw new ServerlessConfigError(`${path}: cannot parse: ${(error as Error).message}`);
    }
    if (!isObject(parsed)) throw new ServerlessConfigError(`${path}: not a YAML mapping`);
    this.raw = parsed;
    const resources = (parsed.resources as { Resources?: unknown } | undefined)?.Resources;
    this.resources = isObject(resources) ? (resources as Record<string, CfnResource>) : {};
  }

  *resourcesOfType(type: string): Iterable<[string, CfnResource]> {
    for (const [logicalId, resource] of Object.entries(this.resources)) {
      if (isObject(resource) && resource.Type === type) yield [logicalId, resource];
    }
  }

  /** Resolves the Serverless variables of `value`, leaving CloudFormation intrinsics as they are. */
  resolve(value: unknown, where: string, seen: string[] = []): unknown {
    if (typeof value === 'string') return this.resolveString(value, where, seen);
    if (Array.isArray(value)) return value.map((item, i) => this.resolve(item, `${where}[${i}]`, seen));
    if (isObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.resolve(item, `${where}.${key}`, seen)]));
    }
    return value;
  }

  private resolveString(text: string, where: string, seen: string[]): unknown {
    let current: unknown = text;
    // Innermost first, so that `${self:custom.${sls:stage}}` and fallbacks work.
    for (let guard = 0; typeof current === 'string' && guard < 100; guard++) {
      const match = findVariable(current);
      if (!match) return current;
      const resolved = this.resolveExpression(match.expression, where, seen);
      if (match.start === 0 && match.end === current.length) {
        current = resolved;
      } else {
        if (isObject(resolved) || Array.isArray(resolved)) {
          throw new ServerlessConfigError(`${this.path} ${where}: \${${match.expression}} is not a string and cannot be part of one`);
        }
        current = current.slice(0, match.start) + String(resolved) + current.slice(match.end);
      }
    }
    return current;
  }

  private resolveExpression(expression: string, where: string, seen: string[]): unknown {
    const [reference, ...fallbacks] = splitTopLevel(expression);
    const value = this.lookup(reference!.trim(), where, seen);
    if (value !== undefined) return value;
    for (const fallback of fallbacks) {
      const literal = parseLiteral(fallback.trim());
      if (literal !== undefined) return literal;
    }
    throw new ServerlessConfigError(`${this.path} ${where}: \${${expression}} has no value locally`);
  }

  private lookup(reference: string, where: string, seen: string[]): unknown {
    const colon = reference.indexOf(':');
    const source = reference.slice(0, colon);
    const address = reference.slice(colon + 1).trim();
    switch (source) {
      case 'self': {
        if (seen.includes(address)) throw new ServerlessConfigError(`${this.path} ${where}: circular reference to self:${address}`);
        if (address === 'service' && this.context.service) return this.context.service;
        const value = address.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), this.raw);
        return value === undefined ? undefined : this.resolve(value, `self:${address}`, [...seen, address]);
      }
      case 'sls':
        if (address === 'stage') return this.context.stage;
        break;
      case 'opt':
        if (address === 'stage') return this.context.stage;
        if (address === 'region') return this.context.region;
        return undefined;
      case 'aws':
        if (address === 'region') return this.context.region;
        if (address === 'accountId') return this.context.accountId;
        break;
      case 'env':
        return process.env[address];
    }
    throw new ServerlessConfigError(`${this.path} ${where}: \${${reference}} is not a variable the local loader resolves`);
  }

  // -- targets, queues, buses ------------------------------------------------------------------

  queueTarget(raw: unknown, where: string): QueueTarget {
    if (!isObject(raw)) throw new ServerlessConfigError(`${this.path} ${where}: a target must be a mapping`);
    const logicalId = getAttLogicalId(raw.Arn);
    const target: QueueTarget = {
      kind: 'queue',
      id: String(raw.Id ?? logicalId ?? 'target'),
      queueName: this.queueNameFromArn(raw.Arn, `${where}.Arn`),
    };
    if (logicalId) target.queueLogicalId = logicalId;
    if (typeof raw.InputPath === 'string') target.inputPath = raw.InputPath;
    if (typeof raw.Input === 'string') target.input = raw.Input;
    if (raw.InputTransformer !== undefined) throw new ServerlessConfigError(`${this.path} ${where}: InputTransformer is not supported locally`);
    const dlq = (raw.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn;
    if (dlq !== undefined) target.deadLetterQueueName = this.queueNameFromArn(dlq, `${where}.DeadLetterConfig.Arn`);
    return target;
  }

  /** `!GetAtt Queue.Arn` (a queue of this file) or a literal `arn:aws:sqs:…:name`. */
  queueNameFromArn(arn: unknown, where: string): string {
    const logicalId = getAttLogicalId(arn);
    if (logicalId) {
      const resource = this.resources[logicalId];
      if (resource?.Type !== 'AWS::SQS::Queue') throw new ServerlessConfigError(`${this.path} ${where}: ${logicalId} is not an AWS::SQS::Queue`);
      return this.queueName(logicalId);
    }
    if (typeof arn === 'string' && arn.startsWith('arn:') && arn.split(':')[2] === 'sqs') return arn.split(':').slice(5).join(':');
    throw new ServerlessConfigError(`${this.path} ${where}: only SQS queue targets are supported locally, got ${JSON.stringify(arn)}`);
  }

  queueName(logicalId: string): string {
    const name = this.resolve(this.resources[logicalId]?.Properties?.QueueName, `${logicalId}.Properties.QueueName`);
    // CloudFormation would generate a name; locally the logical id stands in for it.
    return typeof name === 'string' ? name : logicalId;
  }

  /** An `EventBusName` (or a function's `eventBus`): a name, an ARN, `!Ref Bus`, `!GetAtt Bus.Name|Arn`. */
  eventBusName(value: unknown, where: string): string {
    if (value === undefined) return 'default';
    const logicalId = isObject(value) && typeof value.Ref === 'string' ? value.Ref : getAttLogicalId(value);
    if (logicalId) {
      const resource = this.resources[logicalId];
      if (resource?.Type !== 'AWS::Events::EventBus') throw new ServerlessConfigError(`${this.path} ${where}: ${logicalId} is not an AWS::Events::EventBus`);
      const name = this.resolve(resource.Properties?.Name, `${logicalId}.Properties.Name`);
      if (typeof name !== 'string') throw new ServerlessConfigError(`${this.path} ${where}: ${logicalId} has no Name`);
      return name;
    }
    if (typeof value === 'string') return value.startsWith('arn:') ? value.slice(value.indexOf(':event-bus/') + ':event-bus/'.length) : value;
    throw new ServerlessConfigError(`${this.path} ${where}: cannot resolve the event bus ${JSON.stringify(value)}`);
  }

  functionRules(): EventRule[] {
    const functions = this.raw.functions;
    if (!isObject(functions)) return [];
    const rules: EventRule[] = [];
    for (const [functionName, definition] of Object.entries(functions)) {
      if (!isObject(definition)) continue;
      asArray(definition.events).forEach((event, i) => {
        if (!isObject(event) || !isObject(event.eventBridge)) return;
        const where = `functions.${functionName}.events[${i}].eventBridge`;
        const spec = this.resolve(event.eventBridge, where) as Record<string, unknown>;
        if (spec.pattern === undefined) return; // a schedule
        const target: FunctionTarget = {
          kind: 'function',
          id: `${functionName}-function`,
          functionName,
          handler: String(this.resolve(definition.handler, `functions.${functionName}.handler`)),
        };
        if (typeof spec.inputPath === 'string') target.inputPath = spec.inputPath;
        if (spec.input !== undefined) target.input = JSON.stringify(spec.input);
        if (spec.inputTransformer !== undefined) throw new ServerlessConfigError(`${this.path} ${where}: inputTransformer is not supported locally`);
        rules.push({
          logicalId: `${functionName}EventBridge${i + 1}`,
          name: typeof spec.name === 'string' ? spec.name : `${functionName}-${i + 1}`,
          eventBusName: this.eventBusName(spec.eventBus, `${where}.eventBus`),
          enabled: spec.enabled !== false,
          pattern: spec.pattern as EventPattern,
          targets: [target],
        });
      });
    }
    return rules;
  }
}

/** `{ 'Fn::GetAtt': ['X', 'Arn'] }` → `X`. */
function getAttLogicalId(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/** The first `${source:…}` Serverless variable in `text` (CloudFormation's `${AWS::Region}`, `${Res.Arn}` are not). */
function findVariable(text: string): { expression: string; start: number; end: number } | undefined {
  let from = 0;
  for (;;) {
    const match = VARIABLE.exec(text.slice(from));
    if (!match) return undefined;
    const expression = match[1]!;
    const start = from + match.index;
    // A Serverless variable is `source:address` (`self:`, `opt:`…); `AWS::Region` has two colons.
    if (/^\s*[a-zA-Z][\w-]*(\([^)]*\))?:(?!:)/.test(expression)) return { expression, start, end: start + match[0].length };
    from = start + match[0].length;
  }
}

/** Splits `a, 'b, c', d` at top-level commas (outside quotes). */
function splitTopLevel(expression: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let current = '';
  for (const ch of expression) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

/** A fallback of `${…, fallback}`: a quoted string, a number, a boolean, or (already resolved) bare text. */
function parseLiteral(text: string): unknown {
  if (text === '') return undefined;
  const quoted = /^(['"])(.*)\1$/s.exec(text);
  if (quoted) return quoted[2];
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return undefined;
  return text;
}

function toNumber(value: unknown, where: string): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new ServerlessConfigError(`${where}: expected a number, got ${JSON.stringify(value)}`);
  return number;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * CloudFormation short-form tags, read as their long forms (`!Ref X` → `{ Ref: 'X' }`,
 * `!GetAtt X.Arn` → `{ 'Fn::GetAtt': ['X', 'Arn'] }`, `!Sub '…'` → `{ 'Fn::Sub': '…' }`…).
 */
const CLOUDFORMATION_TAGS: Array<ScalarTag | CollectionTag> = (() => {
  const tags: Array<ScalarTag | CollectionTag> = [];
  const longForm = (name: string, value: unknown): unknown => {
    if (name === 'Ref' || name === 'Condition') return { [name]: value };
    if (name === 'GetAtt' && typeof value === 'string') {
      const dot = value.indexOf('.');
      return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
    }
    return { [`Fn::${name}`]: value };
  };
  const names = ['Ref', 'Condition', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals', 'Not', 'And', 'Or', 'FindInMap', 'ImportValue', 'Base64', 'Cidr', 'GetAZs', 'Transform', 'Length', 'ToJsonString'];
  for (const name of names) {
    tags.push({ tag: `!${name}`, resolve: (value: string) => longForm(name, value) });
    tags.push({ tag: `!${name}`, collection: 'seq', resolve: (seq) => longForm(name, (seq as YAMLSeq.Parsed).toJSON()) });
    tags.push({ tag: `!${name}`, collection: 'map', resolve: (map) => longForm(name, (map as YAMLMap.Parsed).toJSON()) });
  }
  return tags;
})();

// =============================================================================================
// The bus

export interface DeliveryFailure {
  rule: EventRule;
  target: RuleTarget;
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
  /** Runs a function target (a handler the local runtime hosts). Without it such a delivery fails. */
  invokeFunction?: (target: FunctionTarget, input: unknown) => Promise<void>;
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
      throw new EventBusRequestError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES_PER_CALL}`);
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

  private async deliver(rule: EventRule, target: RuleTarget, event: EventEnvelope): Promise<void> {
    try {
      const input = target.input !== undefined ? JSON.parse(target.input) : target.inputPath !== undefined ? selectPath(event, target.inputPath) : event;
      if (target.kind === 'function') {
        if (!this.options.invokeFunction) throw new Error(`no invokeFunction to run ${target.functionName}`);
        await this.options.invokeFunction(target, input);
        return;
      }
      // EventBridge sends a selected string as it is, anything else as JSON.
      const body = typeof input === 'string' ? input : JSON.stringify(input);
      await this.options.sqs.send(new SendMessageCommand({ QueueUrl: await this.queueUrl(target.queueName), MessageBody: body }));
    } catch (error) {
      await this.deadLetter(rule, target, event, error);
      (this.options.onDeliveryFailure ?? logDeliveryFailure)({ rule, target, event, error });
    }
  }

  /** The message attributes EventBridge puts on a dead-lettered event. */
  private async deadLetter(rule: EventRule, target: RuleTarget, event: EventEnvelope, error: unknown): Promise<void> {
    if (target.kind !== 'queue' || !target.deadLetterQueueName) return;
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
  const name = target.kind === 'queue' ? target.queueName : target.functionName;
  console.error(`[local event bus] rule ${rule.name}: delivery to ${name} failed: ${(error as Error)?.message ?? String(error)}`);
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
  if (!/^\$((\.[A-Za-z0-9_-]+)|(\[\d+\]))*$/.test(path)) throw new ServerlessConfigError(`InputPath ${path} is not supported locally (use $ or $.a.b)`);
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
  const target = request.headers['x-amz-target'];
  if (request.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
    return reply(response, 400, errorBody('UnknownOperationException', `Operation ${String(target ?? request.method)} is not supported by the local event bus`));
  }
  let input: { Entries?: unknown };
  try {
    input = JSON.parse(body) as { Entries?: unknown };
  } catch {
    return reply(response, 400, errorBody('SerializationException', 'Request body is not valid JSON'));
  }
  // JSON 1.1 sends timestamps as epoch seconds.
  const entries = Array.isArray(input?.Entries)
    ? (input.Entries as Array<Record<string, unknown>>).map((entry) => ({ ...entry, Time: toDate(entry?.Time) }) as PutEventsRequestEntry)
    : (input?.Entries as never);
  try {
    return reply(response, 200, await bus.putEvents(entries));
  } catch (error) {
    if (error instanceof EventBusRequestError) return reply(response, 400, errorBody(error.code, error.message));
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

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': JSON_1_1,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  };
  if (status >= 400 && isObject(body) && typeof body.__type === 'string') headers['x-amzn-errortype'] = body.__type;
  response.writeHead(status, headers);
  response.end(text);
}
