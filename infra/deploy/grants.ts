/**
 * The IAM statements behind each grant a phase (or another function) declares (domain/pipeline/phase.ts
 * `PhaseGrant`). One place turns "the phase stops the target" into actions, resources and the
 * conditions that keep them there, so every role that has a grant has it in the same form.
 *
 * Conventions (docs/aws-facts.md#iam):
 * - everything the service creates is tagged at creation with `reset-access:managed=true` and its
 *   deployment (`reset-access:deployment`): creating requires those request tags (aws:RequestTag),
 *   and ec2:CreateTags is allowed only as part of a create call (ec2:CreateAction), so no role can
 *   tag an existing resource into its scope;
 * - destructive actions and changes to the service's own resources require this deployment's tags
 *   on the resource (aws:ResourceTag), and a helper also this deployment's helper instance profile
 *   (ec2:InstanceProfile: launching with it takes iam:PassRole, which a tag does not give);
 * - actions on a customer's instance require its opt-in tag (`reset-access:allowed=true`) unless
 *   the deployment turned the opt-in off (`requireAllowedTag=false`); what IAM cannot narrow that
 *   way is listed in `UNNARROWED_TARGET_ACTIONS` with the reason;
 * - customer KMS keys are used only through EC2 (kms:ViaService).
 */
import type { PhaseGrant } from '../../domain/pipeline/phase';
import { TAG } from '../../domain/naming';
import { EVENT_SOURCE } from '../messages/events';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: Json;
  Condition?: Record<string, Record<string, Json>>;
}

/** What the statements depend on in a deployment. */
export interface GrantContext {
  /** This deployment's id (`<service>-<stage>`), the value of its resources' `reset-access:deployment` tag. */
  deployment: string;
  /** Customer instances only if tagged `reset-access:allowed=true` (domain/config.ts `optIn.requireAllowedTag`). */
  requireAllowedTag: boolean;
}

/** `arn:…:ec2:<region>:<account>:<type>/*` (images and snapshots have no account). */
export function ec2Arn(type: string): Json {
  const account = type === 'image' || type === 'snapshot' ? '' : '${AWS::AccountId}';
  return { 'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:${account}:${type}/*` };
}

/** The helper's instance profile, as EC2 reports it on an instance (ec2:InstanceProfile is its ARN). */
const HELPER_PROFILE_ARN: Json = { 'Fn::GetAtt': ['HelperInstanceProfile', 'Arn'] };

const RUN_SCRIPT_DOCUMENTS: Json[] = [
  { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunShellScript' },
  { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPowerShellScript' },
];

/**
 * Target-side actions IAM cannot tie to the target's opt-in tag, each with why; every other action
 * on a customer's instance or volume carries the opt-in condition (test/serverless/package.test.ts
 * holds the template to this list).
 */
export const UNNARROWED_TARGET_ACTIONS: ReadonlyArray<{ action: string; resource: 'volume'; reason: string }> = [
  {
    action: 'ec2:DetachVolume',
    resource: 'volume',
    reason:
      "a volume does not carry its instance's tags, and the instance is an optional resource of DetachVolume (authorised only when the request names it): the instance side is conditioned, the volume side is any volume (docs/aws-facts.md#iam-volumes)",
  },
  {
    action: 'ec2:AttachVolume',
    resource: 'volume',
    reason:
      "a volume does not carry its instance's tags: the instance side (an opted-in target or this deployment's helper) is conditioned, the volume side is any available volume of the AZ (docs/aws-facts.md#iam-volumes)",
  },
];

/** The statements of each grant, in this deployment. */
export function grantStatements(ctx: GrantContext): Readonly<Record<PhaseGrant | ServiceGrant, readonly Statement[]>> {
  const ours = { StringEquals: { [`aws:ResourceTag/${TAG.managed}`]: 'true', [`aws:ResourceTag/${TAG.deployment}`]: ctx.deployment } };
  const requestTagged = { StringEquals: { [`aws:RequestTag/${TAG.managed}`]: 'true', [`aws:RequestTag/${TAG.deployment}`]: ctx.deployment } };
  /** This deployment's helper: its tags, and the instance profile only its launch can give. */
  const ourHelper = { ...ours, ArnEquals: { 'ec2:InstanceProfile': HELPER_PROFILE_ARN } };
  /** A customer's instance that opted in (any instance when the deployment turned the opt-in off). */
  const optedIn = ctx.requireAllowedTag ? { Condition: { StringEqualsIgnoreCase: { [`aws:ResourceTag/${TAG.allowed}`]: 'true' } } } : {};
  const ssmOptedIn = ctx.requireAllowedTag ? { Condition: { StringEqualsIgnoreCase: { [`ssm:resourceTag/${TAG.allowed}`]: 'true' } } } : {};
  const NETWORK_PARTS = ['vpc', 'subnet', 'internet-gateway', 'route-table', 'security-group'];

  /** The root volume's moves (target ↔ helper): each instance side conditioned, the volume side listed in UNNARROWED_TARGET_ACTIONS. */
  const volumeMoves = (sid: string, actions: string[]): Statement[] => [
    { Sid: `${sid}OnOptedInTargets`, Effect: 'Allow', Action: actions, Resource: [ec2Arn('instance')], ...optedIn },
    { Sid: `${sid}OnOurHelpers`, Effect: 'Allow', Action: actions, Resource: [ec2Arn('instance')], Condition: ourHelper },
    { Sid: `${sid}Volumes`, Effect: 'Allow', Action: actions, Resource: [ec2Arn('volume')] },
  ];

  return {
    'build-rescue-network': [
      {
        Sid: 'Describe',
        Effect: 'Allow',
        Action: ['ec2:DescribeInternetGateways', 'ec2:DescribeRouteTables', 'ec2:DescribeSecurityGroups', 'ec2:DescribeVpcEndpoints'],
        Resource: '*',
      },
      {
        Sid: 'CreateOnlyTagged',
        Effect: 'Allow',
        Action: ['ec2:CreateVpc', 'ec2:CreateSubnet', 'ec2:CreateInternetGateway', 'ec2:CreateRouteTable', 'ec2:CreateSecurityGroup', 'ec2:CreateVpcEndpoint'],
        Resource: [...NETWORK_PARTS, 'vpc-endpoint'].map(ec2Arn),
        Condition: requestTagged,
      },
      {
        Sid: 'BuildOnlyOnOurs',
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
        Condition: ours,
      },
      tagOnlyAtCreation('CreateVpc', 'CreateSubnet', 'CreateInternetGateway', 'CreateRouteTable', 'CreateSecurityGroup', 'CreateVpcEndpoint'),
    ],
    'launch-helper': [
      { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:DescribeInstanceInformation'], Resource: '*' },
      // The helper's image from AWS's public parameters (/aws/service/…).
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
      { Sid: 'LaunchOnlyTaggedHelpers', Effect: 'Allow', Action: ['ec2:RunInstances'], Resource: ['instance', 'volume'].map(ec2Arn), Condition: requestTagged },
      {
        Sid: 'LaunchWithTheseParts',
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: ['image', 'subnet', 'security-group', 'network-interface'].map(ec2Arn),
      },
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
      {
        Sid: 'StopStartOnlyOurHelpers',
        Effect: 'Allow',
        Action: ['ec2:StopInstances', 'ec2:StartInstances'],
        Resource: [ec2Arn('instance')],
        Condition: ourHelper,
      },
    ],
    'terminate-helper': [
      { Sid: 'TerminateOnlyOurHelpers', Effect: 'Allow', Action: ['ec2:TerminateInstances'], Resource: [ec2Arn('instance')], Condition: ourHelper },
    ],
    'run-rescue-command': [
      { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:ListCommands', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
      { Sid: 'RunRescueDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: RUN_SCRIPT_DOCUMENTS },
      {
        Sid: 'RunOnlyOnOurHelpers',
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: [ec2Arn('instance')],
        Condition: { StringEquals: { [`ssm:resourceTag/${TAG.managed}`]: 'true', [`ssm:resourceTag/${TAG.deployment}`]: ctx.deployment } },
      },
    ],
    'stop-target': [{ Sid: 'StopOptedInTargets', Effect: 'Allow', Action: ['ec2:StopInstances'], Resource: [ec2Arn('instance')], ...optedIn }],
    'start-target': [{ Sid: 'RestoreRunStateOfOptedInTargets', Effect: 'Allow', Action: ['ec2:StartInstances'], Resource: [ec2Arn('instance')], ...optedIn }],
    'image-target': [
      { Sid: 'CreateOnlyTaggedImages', Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: ['image', 'snapshot'].map(ec2Arn), Condition: requestTagged },
      { Sid: 'ImageOfOptedInTargets', Effect: 'Allow', Action: ['ec2:CreateImage'], Resource: [ec2Arn('instance')], ...optedIn },
      tagOnlyAtCreation('CreateImage'),
    ],
    'detach-root-volume': volumeMoves('DetachRootVolume', ['ec2:DetachVolume']),
    'move-root-volume': volumeMoves('MoveRootVolume', ['ec2:AttachVolume', 'ec2:DetachVolume']),
    // The Windows fallback moves the root from the Linux helper to the Windows one: never the target's.
    'move-volume-between-helpers': volumeMoves('MoveVolumeBetweenHelpers', ['ec2:AttachVolume', 'ec2:DetachVolume']).filter(
      (statement) => !statement.Sid!.endsWith('OnOptedInTargets'),
    ),
    'restore-delete-on-termination': [
      {
        Sid: 'RestoreDeleteOnTerminationOfOptedInTargets',
        Effect: 'Allow',
        Action: ['ec2:ModifyInstanceAttribute'],
        Resource: [ec2Arn('instance')],
        ...optedIn,
      },
    ],
    // Through the shared EbsEncryptionPolicy (serverless.yml): attached, not repeated.
    'use-encrypted-volumes': [],
    'reset-online': [
      { Sid: 'Describe', Effect: 'Allow', Action: ['ssm:ListCommands', 'ssm:GetCommandInvocation'], Resource: '*' },
      { Sid: 'RunTheScriptDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: RUN_SCRIPT_DOCUMENTS },
      { Sid: 'RunOnlyOnOptedInTargets', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: [ec2Arn('instance')], ...ssmOptedIn },
      // Windows: reboot the target (no stop: its public IP stays) and look whether its launch agent
      // has made the new password; the data is encrypted with the instance's key pair.
      {
        Sid: 'RebootAndReadPasswordDataOfOptedInTargets',
        Effect: 'Allow',
        Action: ['ec2:RebootInstances', 'ec2:GetPasswordData'],
        Resource: ec2Arn('instance'),
        ...optedIn,
      },
      {
        Sid: 'KeyParameters',
        Effect: 'Allow',
        Action: ['ssm:PutParameter', 'ssm:GetParameter'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/ec2rl/openssh/*' },
      },
      // A request's customer KMS key (kmsKeyId) for that SecureString, only through Parameter Store,
      // as the helper's role has it (docs/aws-facts.md#parameter-store-and-kms).
      {
        Sid: 'EncryptKeyParametersThroughSsmOnly',
        Effect: 'Allow',
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } } },
      },
      // It reads a key parameter's version, never its value: the default aws/ssm key lets every
      // principal of the account decrypt, so only an explicit deny keeps this role from reading
      // every stored key (docs/aws-facts.md#iam-helper-role).
      { Sid: 'NeverDecryptStoredKeys', Effect: 'Deny', Action: ['kms:Decrypt'], Resource: '*' },
    ],
    // The access rule's caller tags (domain/api/access.ts): read-only, any role or user of the account,
    // since any may call the API (docs/aws-facts.md#iam-caller-tags).
    'read-caller-tags': [
      {
        Sid: 'ReadCallerRoleTags',
        Effect: 'Allow',
        Action: ['iam:ListRoleTags'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*' },
      },
      {
        Sid: 'ReadCallerUserTags',
        Effect: 'Allow',
        Action: ['iam:ListUserTags'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*' },
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
      { Sid: 'TerminateOnlyOurHelpers', Effect: 'Allow', Action: ['ec2:TerminateInstances'], Resource: [ec2Arn('instance')], Condition: ourHelper },
      // Deletes only what carries this deployment's tags: rescue-network parts.
      {
        Sid: 'ReclaimOnlyOurNetwork',
        Effect: 'Allow',
        Action: [
          'ec2:DeleteVpcEndpoints',
          'ec2:DisassociateRouteTable',
          'ec2:DeleteRouteTable',
          'ec2:DeleteSecurityGroup',
          'ec2:DeleteSubnet',
          'ec2:DetachInternetGateway',
          'ec2:DeleteInternetGateway',
          'ec2:DeleteVpc',
        ],
        Resource: ['vpc-endpoint', 'route-table', 'security-group', 'subnet', 'internet-gateway', 'vpc'].map(ec2Arn),
        Condition: ours,
      },
    ],
  };
}

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

/** Grants of functions that are not phases. */
export type ServiceGrant = 'reclaim-orphans' | 'read-caller-tags';

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
