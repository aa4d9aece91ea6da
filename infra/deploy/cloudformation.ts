/**
 * Renders the topology (topology.ts) and the grants (grants.ts) into what serverless.yml reads as
 * lists (`${file(./infra/deploy/serverless.js):functions}` and `…:resources`): for each consumer its
 * function, queue, dead-letter queue, rules, queue policy, dead-letter alarm and role; the roles of
 * the API and the sweeper; and the queue that catches what EventBridge could not deliver.
 */
import { grantStatements, PUBLISH_PHASE_EVENTS, WRITE_JOB_ITEMS, jobItems, ownLogs, ownQueue, type Json, type ServiceGrant, type Statement } from './grants';
import {
  consumers,
  DEAD_LETTER_RETENTION_SECONDS,
  deploymentId,
  eventsDeadLetterQueueName,
  TARGET_RETRY_POLICY,
  type ConsumerSpec,
  type DeployContext,
  type RoleSpec,
} from './topology';
import type { PhaseGrant } from '../../domain/pipeline/phase';
import { operationsAlarms } from './operations';
import { operationsDashboard } from './dashboard';

type Resource = { Type: string; Properties: Record<string, Json> };
type Resources = Record<string, Resource>;

const getAtt = (logicalId: string, attribute: string): Json => ({ 'Fn::GetAtt': [logicalId, attribute] });
const ref = (logicalId: string): Json => ({ Ref: logicalId });

const LAMBDA_TRUST_POLICY: Json = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/** The serverless.yml `functions` entries of the consumers. */
export function functionsOf(ctx: DeployContext): Record<string, Json> {
  return Object.fromEntries(
    consumers(ctx).map((consumer) => {
      const environment = Object.fromEntries(
        Object.entries(consumer.environment).map(([name, value]) => [name, typeof value === 'string' ? value : ref(consumer.queue.logicalId)]),
      );
      return [
        consumer.key,
        {
          handler: consumer.handler,
          role: consumer.role.logicalId,
          timeout: consumer.timeoutSeconds,
          ...(Object.keys(environment).length > 0 ? { environment } : {}),
          events: [{ sqs: { arn: getAtt(consumer.queue.logicalId, 'Arn'), batchSize: 10, functionResponseType: 'ReportBatchItemFailures' } }],
        },
      ];
    }),
  );
}

/** The CloudFormation resources derived from the topology. */
export function resourcesOf(ctx: DeployContext): Resources {
  const all = consumers(ctx);
  const resources: Resources = {};
  for (const consumer of all) Object.assign(resources, consumerResources(ctx, consumer));
  Object.assign(resources, eventsDeadLetterQueue(ctx, all), apiRole(ctx), sweeperRole(ctx), operationsAlarms(ctx), operationsDashboard(ctx));
  return resources;
}

function functionName(ctx: DeployContext, key: string): string {
  return `${ctx.service}-${ctx.stage}-${key}`;
}

function deadLetterAlarm(ctx: DeployContext, name: string, description: string, queueLogicalId: string): Resource {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${ctx.service}-${ctx.stage}-${name}-dlq-not-empty`,
      AlarmDescription: description,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queueLogicalId, 'QueueName') }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
  };
}

/** Only these rules may send to the queue. */
function queuePolicy(queueLogicalId: string, sid: string, ruleLogicalIds: string[]): Resource {
  const sources = ruleLogicalIds.map((id) => getAtt(id, 'Arn'));
  return {
    Type: 'AWS::SQS::QueuePolicy',
    Properties: {
      Queues: [ref(queueLogicalId)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: sid,
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: getAtt(queueLogicalId, 'Arn'),
            Condition: { ArnEquals: { 'aws:SourceArn': sources.length === 1 ? sources[0]! : sources } },
          },
        ],
      },
    },
  };
}

function consumerResources(ctx: DeployContext, consumer: ConsumerSpec): Resources {
  const { queue } = consumer;
  const resources: Resources = {
    [queue.logicalId]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: queue.name,
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: getAtt(queue.deadLetter.logicalId, 'Arn'), maxReceiveCount: queue.deadLetter.maxReceiveCount },
      },
    },
    [queue.deadLetter.logicalId]: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: queue.deadLetter.name, MessageRetentionPeriod: DEAD_LETTER_RETENTION_SECONDS, SqsManagedSseEnabled: true },
    },
  };
  for (const rule of consumer.rules) {
    resources[rule.logicalId] = {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: rule.name,
        Description: rule.description,
        ...(rule.bus === 'service' ? { EventBusName: ref('EventBus') } : {}),
        State: 'ENABLED',
        EventPattern: rule.pattern as Json,
        Targets: [
          {
            Id: rule.targetId,
            Arn: getAtt(queue.logicalId, 'Arn'),
            ...(rule.inputPath ? { InputPath: rule.inputPath } : {}),
            DeadLetterConfig: { Arn: getAtt('EventsDeadLetterQueue', 'Arn') },
            RetryPolicy: TARGET_RETRY_POLICY,
          },
        ],
      },
    };
  }
  resources[`${consumer.logicalPrefix}QueuePolicy`] = queuePolicy(
    queue.logicalId,
    consumer.queuePolicySid,
    consumer.rules.map((rule) => rule.logicalId),
  );
  resources[`${consumer.logicalPrefix}DeadLetterAlarm`] = deadLetterAlarm(ctx, consumer.key, consumer.deadLetterAlarmDescription, queue.deadLetter.logicalId);
  resources[consumer.role.logicalId] = lambdaRole(ctx, consumer.key, consumer.role, queue.logicalId);
  return resources;
}

/** A function's role: its own logs and queue, the shared policies it needs, the statements of its grants. */
function lambdaRole(ctx: DeployContext, key: string, role: Omit<RoleSpec, 'logicalId'>, queueLogicalId?: string): Resource {
  const managed = [
    ...(role.phaseCommon ? [ref('PhaseCommonPolicy')] : []),
    ...(role.instanceRead ? [ref('InstanceReadPolicy')] : []),
    ...(role.grants.includes('use-encrypted-volumes') ? [ref('EbsEncryptionPolicy')] : []),
  ];
  const statements: Statement[] = [
    ownLogs(functionName(ctx, key)),
    ...(role.jobItems ? [jobItems(role.jobItems.actions, { query: role.jobItems.query })] : []),
    ...(role.publishPhaseEvents ? [PUBLISH_PHASE_EVENTS] : []),
    ...(queueLogicalId ? [ownQueue(queueLogicalId, { send: role.sendsToOwnQueue })] : []),
    ...role.grants.flatMap(
      (grant: PhaseGrant | ServiceGrant) => grantStatements({ deployment: deploymentId(ctx), requireAllowedTag: ctx.requireAllowedTag ?? true })[grant],
    ),
  ];
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY,
      ...(managed.length > 0 ? { ManagedPolicyArns: managed } : {}),
      Policies: [{ PolicyName: key, PolicyDocument: { Version: '2012-10-17', Statement: uniqueSids(statements) as unknown as Json } }],
    },
  };
}

/** Starting a reset runs the preflight (404 unknown instance, 422 refused) before any change; the access rule reads the caller's IAM tags. */
function apiRole(ctx: DeployContext): Resources {
  return {
    ApiRole: lambdaRole(ctx, 'api', {
      grants: ['read-caller-tags'],
      instanceRead: true,
      jobItems: { actions: WRITE_JOB_ITEMS, query: true },
      publishPhaseEvents: true,
      sendsToOwnQueue: false,
    }),
  };
}

/**
 * The sweeper re-drives stalled jobs and rolls back overdue ones (it publishes their events), gives a
 * customer volume an orphaned helper still holds back to its target and restores that target as a
 * rollback would, then terminates the helper and reclaims the idle rescue network; it also keeps the
 * warm pool of Windows helpers (launch, stop, retire).
 */
function sweeperRole(ctx: DeployContext): Resources {
  const role = lambdaRole(ctx, 'sweeper', {
    grants: [
      'reclaim-orphans',
      'move-root-volume',
      'restore-delete-on-termination',
      'start-target',
      'use-encrypted-volumes',
      // The warm pool of Windows helpers (domain/sweeper/helper-pool.ts): launched into the rescue network, stopped after their first boot.
      'build-rescue-network',
      'launch-helper',
      'stop-start-helper',
    ],
    jobItems: { actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], query: true },
    publishPhaseEvents: true,
    sendsToOwnQueue: false,
  });
  return { SweeperRole: role };
}

/** Events EventBridge could not deliver to a queue (every rule's target DLQ), and its alarm. */
function eventsDeadLetterQueue(ctx: DeployContext, all: ConsumerSpec[]): Resources {
  return {
    EventsDeadLetterQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: eventsDeadLetterQueueName(ctx), MessageRetentionPeriod: DEAD_LETTER_RETENTION_SECONDS, SqsManagedSseEnabled: true },
    },
    EventsDeadLetterQueuePolicy: queuePolicy(
      'EventsDeadLetterQueue',
      'OnlyThePhaseRules',
      all.flatMap((consumer) => consumer.rules.map((rule) => rule.logicalId)),
    ),
    EventsDeadLetterAlarm: {
      ...deadLetterAlarm(ctx, 'events', 'Phase events EventBridge could not deliver to their queue', 'EventsDeadLetterQueue'),
    },
  };
}

/** A policy's statement ids must be unique: a grant's `Describe` met again is numbered. */
function uniqueSids(statements: Statement[]): Statement[] {
  const seen = new Map<string, number>();
  return statements.map((statement) => {
    if (!statement.Sid) return statement;
    const count = (seen.get(statement.Sid) ?? 0) + 1;
    seen.set(statement.Sid, count);
    return count === 1 ? statement : { ...statement, Sid: `${statement.Sid}${count}` };
  });
}
