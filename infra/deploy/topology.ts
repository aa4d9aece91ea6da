/**
 * What the service runs besides the HTTP API and the sweeper: a function per phase (from the
 * registry, domain/pipeline/phases/index.ts), the alarm function and the aws-events function, each with its
 * queue, dead-letter queue and the EventBridge rules that fill the queue. The deployment renders
 * this into CloudFormation (cloudformation.ts) and the local runtime creates the same queues and
 * runs the same rules (infra/local/local-stack.ts): both read this one model.
 */
import type { PhaseGrant } from '../../domain/pipeline/phase';
import { PHASE_DEFINITIONS } from '../../domain/pipeline/phases';
import type { EventPattern } from '../local/event-pattern';
import {
  ALARM_SOURCE,
  ALARM_STATE_CHANGE_DETAIL_TYPE,
  EVENT_SOURCE,
  PHASE_REQUESTED_DETAIL_TYPE,
  RESET_REQUESTED_DETAIL_TYPE,
  RESET_REQUESTED_SOURCE,
} from '../messages/events';
import { WRITE_JOB_ITEMS, type ServiceGrant } from './grants';

export interface DeployContext {
  service: string;
  stage: string;
  /**
   * Target-side IAM actions only on instances tagged `reset-access:allowed=true` (default true;
   * serverless.yml's `requireAllowedTag` parameter, which also sets the functions' opt-in guard).
   */
  requireAllowedTag?: boolean;
}

/** The deployment's id, `<service>-<stage>`: its resources' `reset-access:deployment` tag (RESET_ACCESS_DEPLOYMENT). */
export function deploymentId(ctx: DeployContext): string {
  return `${ctx.service}-${ctx.stage}`;
}

/**
 * Longest a phase handler runs. domain/config.ts `inFlightSettleSeconds` (60) relies on it:
 * rollback waits that long so that a phase handler still mid-call has finished before it undoes
 * that phase's work. Change both together.
 */
export const PHASE_TIMEOUT_SECONDS = 60;
/** A queue's visibility timeout: at least 6 × its function's timeout (docs/aws-facts.md#sqs-and-lambda). */
const VISIBILITY_PER_TIMEOUT = 6;
/** Receives before a message goes to its queue's dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
/** Longest SQS keeps a message: 14 days, for an operator to look at a dead letter. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;

export interface QueueSpec {
  logicalId: string;
  name: string;
  visibilityTimeoutSeconds: number;
  deadLetter: { logicalId: string; name: string; maxReceiveCount: number };
}

export interface RuleSpec {
  logicalId: string;
  name: string;
  description: string;
  /** `service`: the service's own bus; `default`: the account's, where AWS services put their events. */
  bus: 'service' | 'default';
  pattern: EventPattern;
  /** The target's `Id`. */
  targetId: string;
  /** Only the event's `detail` is delivered (the phase message). */
  inputPath?: string;
}

/** A function that consumes one queue, which its rules fill. */
export interface ConsumerSpec {
  /** The function's key in serverless.yml's `functions` (its name is `<service>-<stage>-<key>`). */
  key: string;
  /** PascalCase prefix of its resources' logical ids. */
  logicalPrefix: string;
  handler: string;
  timeoutSeconds: number;
  /** Environment of its own besides the provider's: literal values, or the URL of its queue. */
  environment: Record<string, string | { queueUrl: true }>;
  queue: QueueSpec;
  rules: RuleSpec[];
  /** Sid of its queue policy's statement (only its rules may send). */
  queuePolicySid: string;
  deadLetterAlarmDescription: string;
  role: RoleSpec;
}

export interface RoleSpec {
  logicalId: string;
  grants: ReadonlyArray<PhaseGrant | ServiceGrant>;
  /** It writes jobs and publishes phase events (PhaseCommonPolicy), reads EC2 facts (InstanceReadPolicy). */
  phaseCommon?: boolean;
  instanceRead?: boolean;
  /** Items of the job table it reads and writes itself (`query`: and queries the table's indexes). */
  jobItems?: { actions: readonly string[]; query?: boolean };
  publishPhaseEvents?: boolean;
  /** It sends to its own queue (its waits, deferred starts). */
  sendsToOwnQueue: boolean;
}

/** EventBridge's retries to a target, written out (its defaults); what still fails lands in EventsDeadLetterQueue. */
export const TARGET_RETRY_POLICY = { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 };

export const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

function queueOf(ctx: DeployContext, key: string, prefix: string, timeoutSeconds: number): QueueSpec {
  const name = `${ctx.service}-${ctx.stage}-${key}`;
  return {
    logicalId: `${prefix}Queue`,
    name,
    visibilityTimeoutSeconds: VISIBILITY_PER_TIMEOUT * timeoutSeconds,
    deadLetter: { logicalId: `${prefix}DeadLetterQueue`, name: `${name}-dlq`, maxReceiveCount: MAX_RECEIVE_COUNT },
  };
}

/** A function per phase, on its own queue, which one rule on the service's bus fills with that phase's events. */
function phaseConsumers(ctx: DeployContext): ConsumerSpec[] {
  return PHASE_DEFINITIONS.map((definition): ConsumerSpec => {
    const phase = definition.name;
    const prefix = pascal(phase);
    return {
      key: phase,
      logicalPrefix: prefix,
      handler: 'handlers/phase.handler',
      timeoutSeconds: PHASE_TIMEOUT_SECONDS,
      environment: { PHASE: phase, PHASE_QUEUE_URL: { queueUrl: true } },
      queue: queueOf(ctx, phase, prefix, PHASE_TIMEOUT_SECONDS),
      rules: [
        {
          logicalId: `${prefix}Rule`,
          name: `${ctx.service}-${ctx.stage}-${phase}`,
          description: `Routes ${phase} phase events to the ${phase} queue`,
          bus: 'service',
          pattern: { source: [EVENT_SOURCE], 'detail-type': [PHASE_REQUESTED_DETAIL_TYPE], detail: { phase: [phase] } },
          targetId: `${phase}-queue`,
          inputPath: '$.detail',
        },
      ],
      queuePolicySid: 'OnlyTheRuleOfThisPhase',
      deadLetterAlarmDescription: `Messages of the ${phase} phase failed ${MAX_RECEIVE_COUNT} deliveries and wait in its DLQ`,
      role: { logicalId: `${prefix}Role`, grants: definition.grants, phaseCommon: true, instanceRead: true, sendsToOwnQueue: true },
    };
  });
}

const ALARM_TIMEOUT_SECONDS = 30;

/**
 * Resets that events start (handlers/alarm.ts): CloudWatch alarms going to ALARM that name an
 * instance (rules on the default bus) and `Reset Access Requested` events (the service's bus),
 * with the starts that wait for their admission slot (sent back with a delay). A queue rather than
 * a Lambda target: an alarm storm is buffered instead of fanning out to one invocation per alarm.
 */
function alarmConsumer(ctx: DeployContext): ConsumerSpec {
  const alarmed = (detail: EventPattern): EventPattern => ({
    source: [ALARM_SOURCE],
    'detail-type': [ALARM_STATE_CHANGE_DETAIL_TYPE],
    detail: { state: { value: ['ALARM'] }, ...detail },
  });
  const base = `${ctx.service}-${ctx.stage}`;
  return {
    key: 'alarm',
    logicalPrefix: 'Alarm',
    handler: 'handlers/alarm.handler',
    timeoutSeconds: ALARM_TIMEOUT_SECONDS,
    environment: { ALARM_QUEUE_URL: { queueUrl: true } },
    queue: queueOf(ctx, 'alarm', 'Alarm', ALARM_TIMEOUT_SECONDS),
    rules: [
      // EventBridge matches inside the `metrics` array of objects: single-metric and metric-math
      // alarms alike (docs/aws-facts.md#eventbridge-patterns).
      {
        logicalId: 'AlarmStateChangeRule',
        name: `${base}-alarm-state-change`,
        description: "CloudWatch alarms in ALARM naming an instance, to the alarm function's queue",
        bus: 'default',
        pattern: alarmed({ configuration: { metrics: { metricStat: { metric: { dimensions: { InstanceId: [{ exists: true }] } } } } } }),
        targetId: 'alarm-queue',
      },
      // The older single-metric shape: the metric's dimensions at the top of `configuration`. An
      // event never matches both rules.
      {
        logicalId: 'AlarmStateChangeLegacyRule',
        name: `${base}-alarm-state-change-legacy`,
        description: "CloudWatch alarms in ALARM naming an instance (single-metric shape), to the alarm function's queue",
        bus: 'default',
        pattern: alarmed({ configuration: { dimensions: { InstanceId: [{ exists: true }] } } }),
        targetId: 'alarm-queue',
      },
      // Whoever may put events on the service's bus may ask for resets: the bus's policy is the access control.
      {
        logicalId: 'ResetRequestedRule',
        name: `${base}-reset-requested`,
        description: "Reset Access Requested events, to the alarm function's queue",
        bus: 'service',
        pattern: { source: [RESET_REQUESTED_SOURCE], 'detail-type': [RESET_REQUESTED_DETAIL_TYPE] },
        targetId: 'alarm-queue',
      },
    ],
    queuePolicySid: 'OnlyTheAlarmRules',
    deadLetterAlarmDescription: `Alarm and reset-request events the alarm function failed ${MAX_RECEIVE_COUNT} times, waiting in its DLQ`,
    // Jobs, locks, idempotency keys, cool-downs and the admission bucket; the opt-in tags of the instance and the start's preflight.
    role: {
      logicalId: 'AlarmRole',
      grants: [],
      instanceRead: true,
      jobItems: { actions: WRITE_JOB_ITEMS, query: true },
      publishPhaseEvents: true,
      sendsToOwnQueue: true,
    },
  };
}

/**
 * AWS's own events that can end a job's wait (handlers/aws-events.ts → domain/pipeline/wake-jobs.ts), from
 * rules on the default bus through a queue, so that a fleet's burst of state changes is buffered.
 */
function awsEventsConsumer(ctx: DeployContext): ConsumerSpec {
  const base = `${ctx.service}-${ctx.stage}`;
  return {
    key: 'aws-events',
    logicalPrefix: 'AwsEvents',
    handler: 'handlers/aws-events.handler',
    timeoutSeconds: ALARM_TIMEOUT_SECONDS,
    environment: {},
    queue: queueOf(ctx, 'aws-events', 'AwsEvents', ALARM_TIMEOUT_SECONDS),
    rules: [
      // The states a job waits for (pending and stopping are on the way to one of these).
      {
        logicalId: 'AwsEventsInstanceStateRule',
        name: `${base}-aws-instance-state`,
        description: "EC2 instance state changes that can end a reset job's wait, to the aws-events queue",
        bus: 'default',
        pattern: {
          source: ['aws.ec2'],
          'detail-type': ['EC2 Instance State-change Notification'],
          detail: { state: ['running', 'stopped', 'shutting-down', 'terminated'] },
        },
        targetId: 'aws-events-queue',
      },
      // A Run Command invocation that has ended, whatever the end (infra/messages/resource-events.ts).
      {
        logicalId: 'AwsEventsCommandRule',
        name: `${base}-aws-command-status`,
        description: 'Run Command invocations that ended, to the aws-events queue',
        bus: 'default',
        pattern: {
          source: ['aws.ssm'],
          'detail-type': ['EC2 Command Invocation Status-change Notification'],
          detail: { status: [{ 'anything-but': ['Pending', 'InProgress', 'Delayed', 'Cancelling'] }] },
        },
        targetId: 'aws-events-queue',
      },
      // EBS reports a failed attach (a KMS key it cannot use) and lists detachVolume among its
      // volume events; an attach's success is polled (docs/aws-facts.md#aws-events).
      {
        logicalId: 'AwsEventsVolumeRule',
        name: `${base}-aws-volume`,
        description: 'EBS attach/detach volume notifications, to the aws-events queue',
        bus: 'default',
        pattern: { source: ['aws.ec2'], 'detail-type': ['EBS Volume Notification'], detail: { event: ['attachVolume', 'reattachVolume', 'detachVolume'] } },
        targetId: 'aws-events-queue',
      },
    ],
    queuePolicySid: 'OnlyTheAwsEventsRules',
    deadLetterAlarmDescription: `AWS events the aws-events function failed ${MAX_RECEIVE_COUNT} times (jobs then wake on their own re-checks)`,
    // A resource's link, then its job: reads only.
    role: { logicalId: 'AwsEventsRole', grants: [], jobItems: { actions: ['dynamodb:GetItem'] }, publishPhaseEvents: true, sendsToOwnQueue: false },
  };
}

/** Every queue-consuming function, phases first. */
export function consumers(ctx: DeployContext): ConsumerSpec[] {
  return [...phaseConsumers(ctx), alarmConsumer(ctx), awsEventsConsumer(ctx)];
}

/** The service's own bus (serverless.yml's EventBus). */
export function serviceBusName(ctx: DeployContext): string {
  return `${ctx.service}-${ctx.stage}`;
}

/** Where EventBridge puts what it could not deliver to a queue (every rule's target DLQ). */
export function eventsDeadLetterQueueName(ctx: DeployContext): string {
  return `${ctx.service}-${ctx.stage}-events-dlq`;
}
