import { refusals } from '../../../domain/preflight/validation';
import { parseResetRequest } from '../../../domain/api/request';
import { RefusedError } from '../../../domain/errors';
import { config, instanceFacts, resetRequest, volumeFacts } from '../fixtures';

const codes = (...args: Parameters<typeof refusals>) => refusals(...args).map((r) => r.code);

describe('preflight refusals', () => {
  it('allows a plain running EBS instance', () => {
    expect(codes(resetRequest(), { instance: instanceFacts(), rootVolume: volumeFacts(), rescueNetworkExists: true }, config)).toEqual([]);
  });

  it.each([
    ['INSTANCE_STATE', { state: 'pending' as const }],
    ['INSTANCE_STATE', { state: 'terminated' as const }],
    ['ROOT_NOT_EBS', { rootDeviceType: 'instance-store' as const }],
    ['INSTANCE_STORE_DATA', { instanceStoreVolumeCount: 2 }],
    ['SPOT_INSTANCE', { spot: true }],
    ['AUTO_SCALING_MEMBER', { autoScaling: { groupName: 'web', lifecycleState: 'InService' } }],
    ['HIBERNATION', { hibernationConfigured: true }],
    ['STOP_PROTECTED', { disableApiStop: true }],
    ['SHUTDOWN_TERMINATES', { shutdownBehavior: 'terminate' as const }],
  ])('refuses %s', (code, overrides) => {
    const found = codes(resetRequest(), { instance: instanceFacts(overrides), rootVolume: volumeFacts(), rescueNetworkExists: true }, config);
    expect(found).toContain(code);
  });

  it('accepts instance-store loss when the request says so, and Auto Scaling members in Standby', () => {
    const facts = {
      instance: instanceFacts({ instanceStoreVolumeCount: 1, autoScaling: { groupName: 'web', lifecycleState: 'Standby' } }),
      rootVolume: volumeFacts(),
      rescueNetworkExists: true,
    };
    expect(codes(resetRequest({ allowInstanceStoreLoss: true }), facts, config)).toEqual([]);
  });

  it('refuses a rescue VPC when the VPC quota is used up and none exists yet', () => {
    const full = { instance: instanceFacts(), rootVolume: volumeFacts(), rescueNetworkExists: false, vpcCount: 5 };
    expect(codes(resetRequest(), full, config)).toEqual(['VPC_QUOTA']);
    expect(codes(resetRequest(), { ...full, rescueNetworkExists: true }, config)).toEqual([]);
  });

  it('refuses a named subnet in another AZ or one that does not exist', () => {
    const request = resetRequest({ subnet: 'subnet-0aaaaaaaaaaaaaaaa' });
    const other = { subnetId: 'subnet-0aaaaaaaaaaaaaaaa', vpcId: 'vpc-1', availabilityZone: 'us-east-1b' };
    expect(codes(request, { instance: instanceFacts(), rootVolume: volumeFacts(), namedSubnet: other }, config)).toEqual(['SUBNET_OTHER_AZ']);
    expect(codes(request, { instance: instanceFacts(), rootVolume: volumeFacts() }, config)).toEqual(['SUBNET_NOT_FOUND']);
  });
});

describe('preflight refusals of keys and subnets', () => {
  const encrypted = volumeFacts({ encrypted: true, kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k1' });
  const base = { instance: instanceFacts(), rootVolume: encrypted, rescueNetworkExists: true };

  it.each([
    ['KMS_KEY_DISABLED', { keyId: 'k1', state: 'Disabled', manager: 'CUSTOMER' as const }],
    ['KMS_KEY_PENDING_DELETION', { keyId: 'k1', state: 'PendingDeletion', manager: 'CUSTOMER' as const }],
    ['KMS_KEY_NOT_USABLE', { keyId: 'k1', state: 'Unavailable', manager: 'CUSTOMER' as const }],
    ['KMS_KEY_NOT_USABLE', 'access-denied' as const],
    ['KMS_KEY_NOT_FOUND', 'not-found' as const],
  ])('refuses an encrypted root whose key KMS answers %s for', (code, rootKey) => {
    // Prepare
    const facts = { ...base, rootKey };
    // Act
    const found = codes(resetRequest(), facts, config);
    // Assess
    expect(found).toEqual([code]);
  });

  it('allows an encrypted root whose key is enabled, AWS managed or customer managed', () => {
    expect(codes(resetRequest(), { ...base, rootKey: { keyId: 'k1', state: 'Enabled', manager: 'CUSTOMER' } }, config)).toEqual([]);
    expect(codes(resetRequest(), { ...base, rootKey: { keyId: 'k2', state: 'Enabled', manager: 'AWS' } }, config)).toEqual([]);
  });

  it('refuses a named subnet or the instance subnet without a route to SSM, and accepts one with endpoints', () => {
    const named = resetRequest({ subnet: 'subnet-0aaaaaaaaaaaaaaaa' });
    const same = { subnetId: 'subnet-0aaaaaaaaaaaaaaaa', vpcId: 'vpc-1', availabilityZone: 'us-east-1a' };
    const plain = { instance: instanceFacts(), rootVolume: volumeFacts(), namedSubnet: same };
    expect(codes(named, { ...plain, subnetSsmRoute: 'none' }, config)).toEqual(['SUBNET_NO_SSM_ROUTE']);
    expect(codes(named, { ...plain, subnetSsmRoute: 'vpc-endpoints' }, config)).toEqual([]);
    expect(codes(resetRequest({ subnet: 'SelectedInstanceSubnet' }), { ...plain, subnetSsmRoute: 'none' }, config)).toEqual(['SUBNET_NO_SSM_ROUTE']);
    expect(codes(resetRequest({ subnet: 'SelectedInstanceSubnet' }), { ...plain, subnetSsmRoute: 'internet-gateway' }, config)).toEqual([]);
  });
});

describe('request parsing', () => {
  it('fills defaults', () => {
    expect(parseResetRequest({ instanceId: 'i-0123456789abcdef0' }, config)).toEqual(resetRequest());
  });

  it.each([
    [{}, 'instanceId'],
    [{ instanceId: 'i-xyz' }, 'instanceId'],
    [{ instanceId: 'i-0123456789abcdef0', subnet: 'vpc-1' }, 'subnet'],
    [{ instanceId: 'i-0123456789abcdef0', helperInstanceType: 'p5.48xlarge' }, 'helperInstanceType'],
    [{ instanceId: 'i-0123456789abcdef0', allowInstanceStoreLoss: 'yes' }, 'allowInstanceStoreLoss'],
    [{ instanceId: 'i-0123456789abcdef0', colour: 'blue' }, 'colour'],
    [[], 'body'],
  ])('rejects %j naming the field %s', (body, field) => {
    const attempt = () => parseResetRequest(body, config);
    expect(attempt).toThrow(RefusedError);
    expect(attempt).toThrow(new RegExp(`^${field}:`));
  });
});
