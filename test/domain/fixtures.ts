import { defaultConfig } from '../../domain/config';
import type { Job, ResetRequest } from '../../domain/job/job';
import type { InstanceFacts, VolumeFacts } from '../../domain/ports';

export const config = defaultConfig;

export function instanceFacts(overrides: Partial<InstanceFacts> = {}): InstanceFacts {
  return {
    instanceId: 'i-0123456789abcdef0',
    state: 'running',
    platform: 'linux',
    instanceType: 't3.micro',
    availabilityZone: 'us-east-1a',
    subnetId: 'subnet-0123456789abcdef0',
    vpcId: 'vpc-0123456789abcdef0',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDevices: [{ deviceName: '/dev/xvda', volumeId: 'vol-0123456789abcdef0', deleteOnTermination: true }],
    instanceStoreVolumeCount: 0,
    spot: false,
    hibernationConfigured: false,
    publicIpAddress: '3.3.3.3',
    publicIpIsAutoAssigned: true,
    tags: {},
    productCodes: [],
    disableApiStop: false,
    shutdownBehavior: 'stop',
    ...overrides,
  };
}

export function volumeFacts(overrides: Partial<VolumeFacts> = {}): VolumeFacts {
  return {
    volumeId: 'vol-0123456789abcdef0',
    state: 'in-use',
    availabilityZone: 'us-east-1a',
    encrypted: false,
    productCodes: [],
    attachments: [{ instanceId: 'i-0123456789abcdef0', device: '/dev/xvda', state: 'attached', deleteOnTermination: true }],
    ...overrides,
  };
}

export function resetRequest(overrides: Partial<ResetRequest> = {}): ResetRequest {
  return {
    instanceId: 'i-0123456789abcdef0',
    subnet: 'CreateNewVPC',
    helperInstanceType: 't3.small',
    allowInstanceStoreLoss: false,
    keyType: 'ed25519',
    ...overrides,
  };
}

export function job(overrides: Partial<Job> = {}): Job {
  const now = '2026-01-01T00:00:00.000Z';
  return {
    jobId: 'r-test000001',
    instanceId: 'i-0123456789abcdef0',
    platform: 'linux',
    status: 'RUNNING',
    request: resetRequest(),
    createdAt: now,
    updatedAt: now,
    version: 1,
    current: ['validate'],
    phases: { validate: { status: 'running', startedAt: now, attempt: 0 } },
    resources: {},
    outputs: {},
    undo: [],
    ...overrides,
  };
}
