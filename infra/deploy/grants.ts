/**
 * The IAM statements behind each grant a phase (or another function) declares (domain/phase.ts
 * `PhaseGrant`). One place turns "the phase stops the target" into actions, resources and the
 * conditions that keep them there, so every role that has a grant has it in the same form.
 *
 * Conventions (docs/aws-facts.md#iam):
 * - everything the service creates is tagged at creation with `reset-access:managed=true`:
 *   creating requires that request tag (aws:RequestTag), and ec2:CreateTags is allowed only as part
 *   of a create call (ec2:CreateAction), so no role can tag an existing resource into its scope;
 * - destructive actions and changes to the service's own resources require that tag on the
 *   resource (aws:ResourceTag);
 * - customer KMS keys are used only through EC2 (kms:ViaService).
 */
import type { PhaseGrant } from '../../domain/phase';
import { EVENT_SOURCE } from '../events';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Statement {
  Sid?: string;
  Effect: 'Allow';
  Action: string | string[];
  Resource: Json;
  Condition?: Record<string, Record<string, Json>>;
}

/** `arn:…:ec2:<region>:<account>:<type>/*` (images and snapshots have no account). */
export function ec2Arn(type: string): Json {
  const account = type === 'image' || type === 'snapshot' ? '' : '${AWS::AccountId}';
  return { 'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:${account}:${type}/*` };
}

const MANAGED = { StringEquals: { 'aws:ResourceTag/reset-access:managed': 'true' } };
const REQUEST_TAGGED = { StringEquals: { 'aws:RequestTag/reset-access:managed': 'true' } };
const NETWORK_PARTS = ['vpc', 'subnet', 'internet-gateway', 'route-table', 'security-group'];

/** ec2:CreateTags only as part of these create calls. */
function tagOnlyAtCreation(...actions: string[]): Statement {
  return {
    Sid: 'TagOnlyAtCreation',
    Effect: 'Allow',
    Action: ['ec2:CreateTags'],
    Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:*/*' }],
    Condition: { StringEquals: { 'ec2:CreateAction': actions } },
  };
}

/** The statements of each grant. */
export const GRANT_STATEMENTS: Readonly<Record<PhaseGrant | ServiceGrant, readonly Statement[]>> = {
  'build-rescue-network': [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ec2:DescribeInternetGateways', 'ec2:DescribeRouteTables', 'ec2:DescribeSecurityGroups', 'ec2:DescribeVpcEndpoints'], Resource: '*' },
    {
      Sid: 'CreateOnlyTagged',
      Effect: 'Allow',
      Action: ['ec2:CreateVpc', 'ec2:CreateSubnet', 'ec2:CreateInternetGateway', 'ec2:CreateRouteTable', 'ec2:CreateSecurityGroup', 'ec2:CreateVpcEndpoint'],
      Resource: [...NETWORK_PARTS, 'vpc-endpoint'].map(ec2Arn),
      Condition: REQUEST_TAGGED,
    },
    {
      Sid: 'BuildOnlyOnManaged',
      Effect: 'Allow',
      Action: [
        'ec2:CreateSubnet',
        'ec2:CreateRouteTable',
        'ec2:CreateSecurityGroup',
        'ec2:CreateVpcEndpoint',
        'ec2:AttachInternetGateway',
        'ec2:CreateRoute',
        'ec2:ReplaceRoute',
        'ec2:AssociateRouteTable',
        'ec2:ModifyVpcAttribute',
        'ec2:ModifySubnetAttribute',
      ],
      Resource: NETWORK_PARTS.map(ec2Arn),
      Condition: MANAGED,
    },
    tagOnlyAtCreation('CreateVpc', 'CreateSubnet', 'CreateInternetGateway', 'CreateRouteTable', 'CreateSecurityGroup', 'CreateVpcEndpoint'),
  ],
  'launch-helper': [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation'], Resource: '*' },
    // The helper's image from AWS's public parameters (/aws/service/…), or the account's own under
    // /reset-access/ (a baked Linux helper for the Windows fast path, docs/ntfs-rescue.md#the-helper-image).
    {
      Sid: 'ResolveHelperImage',
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: [
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/*' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/reset-access/*' },
      ],
    },
    { Sid: 'LaunchOnlyTaggedHelpers', Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: ['instance', 'volume'].map(ec2Arn), Condition: REQUEST_TAGGED },
    { Sid: 'LaunchWithTheseParts', Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: ['image', 'subnet', 'security-group', 'network-interface'].map(ec2Arn) },
    tagOnlyAtCreation('RunInstances'),
    {
      Sid: 'PassOnlyTheHelperRole',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [{ 'Fn::GetAtt': ['HelperRole', 'Arn'] }],
      Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    },
  ],
  'stop-start-helper': [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation'], Resource: '*' },
    { Sid: 'StopStartOnlyHelpers', Effect: 'Allow', Action: ['ec2:StopInstances', 'ec2:StartInstances'], Resource: [ec2Arn('instance')], Condition: MANAGED },
  ],
  'terminate-helper': [{ Sid: 'TerminateOnlyHelpers', Effect: 'Allow', Action: ['ec2:TerminateInstances'], Resource: [ec2Arn('instance')], Condition: MANAGED }],
  'run-rescue-command': [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:ListCommands', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
    {
      Sid: 'RunRescueDocuments',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: [
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPowerShellScript' },
      ],
    },
    { Sid: 'RunOnlyOnHelpers', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: [ec2Arn('instance')], Condition: { StringEquals: { 'ssm:resourceTag/reset-access:managed': 'true' } } },
  ],
  'stop-target': [{ Sid: 'StopTarget', Effect: 'Allow', Action: ['ec2:StopInstances'], Resource: [ec2Arn('instance')] }],
  'start-target': [{ Sid: 'RestoreRunState', Effect: 'Allow', Action: ['ec2:StartInstances'], Resource: [ec2Arn('instance')] }],
  'image-target': [
    { Sid: 'CreateOnlyTaggedImages', Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: ['image', 'snapshot'].map(ec2Arn), Condition: REQUEST_TAGGED },
    { Sid: 'ImageOfTarget', Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: [ec2Arn('instance')] },
    tagOnlyAtCreation('CreateImage'),
  ],
  'detach-root-volume': [{ Sid: 'DetachRootVolume', Effect: 'Allow', Action: ['ec2:DetachVolume'], Resource: ['instance', 'volume'].map(ec2Arn) }],
  'move-root-volume': [{ Sid: 'MoveRootVolume', Effect: 'Allow', Action: ['ec2:AttachVolume', 'ec2:DetachVolume'], Resource: ['instance', 'volume'].map(ec2Arn) }],
  'restore-delete-on-termination': [{ Sid: 'RestoreDeleteOnTermination', Effect: 'Allow', Action: ['ec2:ModifyInstanceAttribute'], Resource: [ec2Arn('instance')] }],
  // Through the shared EbsEncryptionPolicy (serverless.yml): attached, not repeated.
  'use-encrypted-volumes': [],
  'reset-online': [
    { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:ListCommands', 'ssm:GetCommandInvocation'], Resource: '*' },
    {
      Sid: 'RunTheScriptDocuments',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: [
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPowerShellScript' },
        ec2Arn('instance'),
      ],
    },
    // Windows: reboot the target (no stop: its public IP stays) and look whether its launch agent
    // has made the new password; the data is encrypted with the instance's key pair.
    { Sid: 'RebootAndReadPasswordData', Effect: 'Allow', Action: ['ec2:RebootInstances', 'ec2:GetPasswordData'], Resource: ec2Arn('instance') },
    {
      Sid: 'KeyParameters',
      Effect: 'Allow',
      Action: ['ssm:PutParameter', 'ssm:GetParameter'],
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/ec2rl/openssh/*' },
    },
  ],
  'reclaim-orphans': [
    {
      Sid: 'Describe',
      Effect: 'Allow',
      Action: [
        'ec2:DescribeInstances',
        'ec2:DescribeVolumes',
        'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
        'ec2:DescribeInternetGateways',
        'ec2:DescribeRouteTables',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeVpcEndpoints',
        'ec2:DescribeNetworkInterfaces',
      ],
      Resource: '*',
    },
    // Deletes only what carries the service's tag: helpers and rescue-network parts.
    {
      Sid: 'ReclaimOnlyManaged',
      Effect: 'Allow',
      Action: [
        'ec2:TerminateInstances',
        'ec2:DeleteVpcEndpoints',
        'ec2:DisassociateRouteTable',
        'ec2:DeleteRouteTable',
        'ec2:DeleteSecurityGroup',
        'ec2:DeleteSubnet',
        'ec2:DetachInternetGateway',
        'ec2:DeleteInternetGateway',
        'ec2:DeleteVpc',
      ],
      Resource: ['instance', 'vpc-endpoint', 'route-table', 'security-group', 'subnet', 'internet-gateway', 'vpc'].map(ec2Arn),
      Condition: MANAGED,
    },
  ],
};

/** Grants of functions that are not phases. */
export type ServiceGrant = 'reclaim-orphans';

/** Items of the job table: `query` adds Query on the table and its indexes. */
export function jobItems(actions: readonly string[], options: { query?: boolean } = {}): Statement {
  return {
    Sid: 'JobItems',
    Effect: 'Allow',
    Action: options.query ? [...actions, 'dynamodb:Query'] : [...actions],
    Resource: options.query ? [{ 'Fn::GetAtt': ['JobTable', 'Arn'] }, { 'Fn::Sub': '${JobTable.Arn}/index/*' }] : { 'Fn::GetAtt': ['JobTable', 'Arn'] },
  };
}

export const WRITE_JOB_ITEMS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'];

/** Phase events (and job events) on the service's bus, with the service's own source only. */
export const PUBLISH_PHASE_EVENTS: Statement = {
  Sid: 'PublishPhaseEvents',
  Effect: 'Allow',
  Action: 'events:PutEvents',
  Resource: { 'Fn::GetAtt': ['EventBus', 'Arn'] },
  Condition: { StringEquals: { 'events:source': EVENT_SOURCE } },
};

/** The function's own log group. */
export function ownLogs(functionName: string): Statement {
  return {
    Sid: 'OwnLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*` },
  };
}

/** The queue the function consumes; `send`: it also sends its own waits back to it. */
export function ownQueue(queueLogicalId: string, options: { send: boolean }): Statement {
  return {
    Sid: 'OwnQueue',
    Effect: 'Allow',
    Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', ...(options.send ? ['sqs:SendMessage'] : [])],
    Resource: { 'Fn::GetAtt': [queueLogicalId, 'Arn'] },
  };
}
