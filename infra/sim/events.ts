/**
 * EventBridge events the simulated region emits, shaped as AWS delivers them (source `aws.ec2` /
 * `aws.ssm`, `detail-type`, `detail`). Sources: EC2 User Guide "EventBridge for Amazon EC2"
 * (instance state-change), EBS User Guide "Amazon EventBridge events for Amazon EBS"
 * (attachVolume failures), Systems Manager User Guide "EventBridge event examples" (Run Command).
 */
export interface SimEvent<Detail = Record<string, unknown>> {
  version: '0';
  id: string;
  'detail-type': string;
  source: 'aws.ec2' | 'aws.ssm';
  account: string;
  /** ISO 8601, seconds precision, as EventBridge writes it. */
  time: string;
  region: string;
  resources: string[];
  detail: Detail;
}

export type SimEventListener = (event: SimEvent) => void;

/** Where an event happens: filled in by the region. */
export interface EventOrigin {
  id: string;
  account: string;
  region: string;
  time: number;
}

function envelope(origin: EventOrigin, source: SimEvent['source'], detailType: string, resources: string[], detail: Record<string, unknown>): SimEvent {
  return {
    version: '0',
    id: origin.id,
    'detail-type': detailType,
    source,
    account: origin.account,
    time: new Date(origin.time).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: origin.region,
    resources,
    detail,
  };
}

export function instanceStateChangeEvent(origin: EventOrigin, instanceId: string, state: string): SimEvent {
  return envelope(origin, 'aws.ec2', 'EC2 Instance State-change Notification', [`arn:aws:ec2:${origin.region}:${origin.account}:instance/${instanceId}`], {
    'instance-id': instanceId,
    state,
  });
}

/** EBS only reports attach/detach *failures* (e.g. an unusable KMS key), never success. */
export function volumeAttachFailedEvent(
  origin: EventOrigin,
  volumeId: string,
  event: 'attachVolume' | 'reattachVolume',
  cause: string,
  kmsKeyArn?: string,
): SimEvent {
  const resources = [`arn:aws:ec2:${origin.region}:${origin.account}:volume/${volumeId}`];
  if (kmsKeyArn) resources.push(kmsKeyArn);
  return envelope(origin, 'aws.ec2', 'EBS Volume Notification', resources, {
    event,
    result: 'failed',
    cause,
    'request-id': '',
  });
}

export function commandInvocationStatusEvent(
  origin: EventOrigin,
  detail: { commandId: string; documentName: string; instanceId: string; requestedAt: number; status: string },
): SimEvent {
  return envelope(
    origin,
    'aws.ssm',
    'EC2 Command Invocation Status-change Notification',
    [`arn:aws:ec2:${origin.region}:${origin.account}:instance/${detail.instanceId}`],
    {
      'command-id': detail.commandId,
      'document-name': detail.documentName,
      'instance-id': detail.instanceId,
      'requested-date-time': new Date(detail.requestedAt).toISOString(),
      status: detail.status,
    },
  );
}

export function commandStatusEvent(
  origin: EventOrigin,
  detail: {
    commandId: string;
    documentName: string;
    instanceIds: string[];
    requestedAt: number;
    expiresAt: number;
    parameters: Record<string, string[]>;
    status: string;
  },
): SimEvent {
  return envelope(
    origin,
    'aws.ssm',
    'EC2 Command Status-change Notification',
    detail.instanceIds.map((id) => `arn:aws:ec2:${origin.region}:${origin.account}:instance/${id}`),
    {
      'command-id': detail.commandId,
      'document-name': detail.documentName,
      'expire-after': new Date(detail.expiresAt).toISOString(),
      parameters: detail.parameters,
      'requested-date-time': new Date(detail.requestedAt).toISOString(),
      status: detail.status,
    },
  );
}
