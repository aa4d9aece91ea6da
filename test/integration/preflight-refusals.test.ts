import { VirtualStack } from '../../infra/local/virtual-stack';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import type { SeedInstanceSpec } from '../../infra/sim/ec2-instances';
import { SAMPLE_KMS_KEY_ID } from '../../infra/sim/samples';
import { isMutating } from '../support/checks';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const SPOT = 'i-0a1b2c3d4e5f60005';
const STOP_PROTECTED = 'i-0a1b2c3d4e5f60006';
const ZONE_A = 'us-east-1a';

/** Every EC2/SSM call that would change something, answered or refused. */
function mutationsTried(stack: VirtualStack): string[] {
  return stack.region.calls.filter((c) => isMutating(c.action)).map((c) => c.action);
}

function seed(stack: VirtualStack, spec: Partial<SeedInstanceSpec>): string {
  return stack.region.seedInstance({
    imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
    state: 'running',
    availabilityZone: ZONE_A,
    ...spec,
    tags: { 'reset-access:allowed': 'true', ...spec.tags },
  }).instanceId;
}

/** A VPC with one subnet in zone a and only the local route: nothing reaches SSM from it. */
function isolatedSubnet(stack: VirtualStack): { vpcId: string; subnetId: string } {
  const vpcId = stack.region.ec2('CreateVpc', { CidrBlock: '10.50.0.0/16' }).Vpc!.VpcId!;
  const subnetId = stack.region.ec2('CreateSubnet', { VpcId: vpcId, CidrBlock: '10.50.1.0/24', AvailabilityZone: ZONE_A }).Subnet!.SubnetId!;
  return { vpcId, subnetId };
}

interface RefusalCase {
  code: string;
  status: number;
  /** Makes the situation; answers the start request. */
  arrange: (stack: VirtualStack) => Record<string, unknown>;
}

const cases: RefusalCase[] = [
  { code: 'INSTANCE_NOT_FOUND', status: 404, arrange: () => ({ instanceId: 'i-0ffffffffffffffff' }) },
  { code: 'SPOT_INSTANCE', status: 422, arrange: () => ({ instanceId: SPOT }) },
  { code: 'STOP_PROTECTED', status: 422, arrange: () => ({ instanceId: STOP_PROTECTED }) },
  { code: 'ROOT_NOT_EBS', status: 422, arrange: (s) => ({ instanceId: seed(s, { rootDeviceType: 'instance-store' }) }) },
  { code: 'INSTANCE_STORE_DATA', status: 422, arrange: (s) => ({ instanceId: seed(s, { instanceType: 'm5d.large' }) }) },
  { code: 'AUTO_SCALING_MEMBER', status: 422, arrange: (s) => ({ instanceId: seed(s, { tags: { 'aws:autoscaling:groupName': 'web' } }) }) },
  { code: 'HIBERNATION', status: 422, arrange: (s) => ({ instanceId: seed(s, { hibernationConfigured: true }) }) },
  { code: 'SHUTDOWN_TERMINATES', status: 422, arrange: (s) => ({ instanceId: seed(s, { shutdownBehavior: 'terminate' }) }) },
  {
    code: 'INSTANCE_STATE',
    status: 422,
    arrange: (s) => {
      const instanceId = seed(s, {});
      s.region.ec2('StopInstances', { InstanceIds: [instanceId] }); // now `stopping`
      s.region.calls.length = 0;
      return { instanceId };
    },
  },
  {
    code: 'KMS_KEY_DISABLED',
    status: 422,
    arrange: (s) => {
      s.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled');
      return { instanceId: ENCRYPTED };
    },
  },
  {
    code: 'KMS_KEY_PENDING_DELETION',
    status: 422,
    arrange: (s) => {
      s.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'PendingDeletion');
      return { instanceId: ENCRYPTED };
    },
  },
  {
    code: 'KMS_KEY_NOT_FOUND',
    status: 422,
    arrange: (s) => ({
      instanceId: seed(s, { root: { encrypted: true, kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/0000dead-0000-4000-8000-00000000dead' } }),
    }),
  },
  {
    code: 'SUBNET_OTHER_AZ',
    status: 422,
    arrange: (s) => {
      const other = s.region.ec2('DescribeSubnets', { Filters: [{ Name: 'availability-zone', Values: ['us-east-1b'] }] }).Subnets![0]!.SubnetId!;
      s.region.calls.length = 0;
      return { instanceId: AL2023, subnet: other };
    },
  },
  { code: 'SUBNET_NOT_FOUND', status: 422, arrange: () => ({ instanceId: AL2023, subnet: 'subnet-0fffffffffffffff0' }) },
  {
    code: 'SUBNET_NO_SSM_ROUTE',
    status: 422,
    arrange: (s) => {
      const { subnetId } = isolatedSubnet(s);
      s.region.calls.length = 0;
      return { instanceId: AL2023, subnet: subnetId };
    },
  },
  {
    code: 'SUBNET_NO_SSM_ROUTE',
    status: 422,
    arrange: (s) => {
      const { subnetId } = isolatedSubnet(s);
      const instanceId = seed(s, { subnetId });
      s.region.calls.length = 0;
      return { instanceId, subnet: 'SelectedInstanceSubnet' };
    },
  },
  {
    code: 'VPC_QUOTA',
    status: 422,
    arrange: (s) => {
      // The default VPC and four more: the quota of five is used up and no rescue VPC exists.
      for (let i = 1; i <= 4; i++) s.region.ec2('CreateVpc', { CidrBlock: `10.${60 + i}.0.0/16` });
      s.region.calls.length = 0;
      return { instanceId: AL2023 };
    },
  },
];

describe('preflight refusals through the API', () => {
  it.each(cases.map((c) => [c.code, c.status, c] as const))('answers %s with %i and changes nothing in AWS', async (code, status, refusal) => {
    // Prepare
    const stack = new VirtualStack();
    const body = refusal.arrange(stack);

    // Act
    const response = await stack.api('POST', '/resets', body);

    // Assess
    expect(response.statusCode).toBe(status);
    expect(response.json.code).toBe(code);
    expect(stack.region.calls.length).toBeGreaterThan(0);
    expect(mutationsTried(stack)).toEqual([]);
    expect(stack.queue.size).toBe(0);
  });

  it('answers 409 naming the active job for an instance that has one, and changes nothing', async () => {
    // Prepare
    const stack = new VirtualStack();
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 });
    stack.region.calls.length = 0;

    // Act
    const second = await stack.api('POST', '/resets', { instanceId: AL2023 });

    // Assess
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(409);
    expect(second.json.code).toBe('ACTIVE_JOB');
    expect(second.json.activeJobId).toBe(first.json.jobId);
    expect(mutationsTried(stack)).toEqual([]);
  });

  it('accepts a subnet without a default route when its VPC has the ssm, ssmmessages and ec2messages endpoints', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { vpcId, subnetId } = isolatedSubnet(stack);
    for (const service of ['ssm', 'ssmmessages', 'ec2messages']) {
      stack.region.ec2('CreateVpcEndpoint', {
        VpcId: vpcId,
        ServiceName: `com.amazonaws.us-east-1.${service}`,
        VpcEndpointType: 'Interface',
        SubnetIds: [subnetId],
      });
    }

    // Act
    const response = await stack.api('POST', '/resets', { instanceId: AL2023, subnet: subnetId });

    // Assess
    expect(response.statusCode).toBe(202);
  });

  it('refuses again in validate what changed after the API accepted it, and the job fails having touched nothing', async () => {
    // Prepare
    const stack = new VirtualStack();
    const started = await stack.api('POST', '/resets', { instanceId: ENCRYPTED });
    stack.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled');
    stack.region.calls.length = 0;

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(started.json.jobId);
    expect(started.statusCode).toBe(202);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'KMS_KEY_DISABLED', phase: 'validate' });
    expect(job.instanceRestored).toBe(true);
    expect(mutationsTried(stack)).toEqual([]);
    expect(stack.region.getInstance(ENCRYPTED)?.state).toBe('running');
  });
});
