import {
  AttachVolumeCommand,
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  DetachVolumeCommand,
  EC2Client,
  EC2ServiceException,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import type { HelperLaunch } from '../../../domain/ports';
import { Ec2Compute } from '../../../infra/aws/ec2-compute';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);

function ec2Error(name: string, status = 400): EC2ServiceException {
  return new EC2ServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function ssmError(name: string, status = 400): SSMServiceException {
  return new SSMServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

/** A DescribeInstances answer as EC2 gives it for a running Amazon Linux instance with an auto-assigned IP. */
function linuxInstance(overrides: Partial<Instance> = {}): Instance {
  return {
    InstanceId: 'i-0a1b2c3d4e5f60718',
    ImageId: 'ami-0abcdef1234567890',
    InstanceType: 't3.micro',
    State: { Code: 16, Name: 'running' },
    StateTransitionReason: '',
    Placement: { AvailabilityZone: 'eu-west-1b', Tenancy: 'default' },
    SubnetId: 'subnet-0123456789abcdef0',
    VpcId: 'vpc-0123456789abcdef0',
    PrivateIpAddress: '172.31.20.7',
    PublicIpAddress: '54.170.1.2',
    Architecture: 'x86_64',
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/xvda',
        Ebs: { VolumeId: 'vol-0root0000000000001', DeleteOnTermination: true, Status: 'attached', AttachTime: new Date('2024-05-01T10:00:00Z') },
      },
      {
        DeviceName: '/dev/sdb',
        Ebs: { VolumeId: 'vol-0data0000000000002', DeleteOnTermination: false, Status: 'attached', AttachTime: new Date('2024-05-01T10:00:00Z') },
      },
    ],
    NetworkInterfaces: [
      {
        NetworkInterfaceId: 'eni-0aaa',
        Attachment: { DeviceIndex: 0, Status: 'attached' },
        Association: { PublicIp: '54.170.1.2', IpOwnerId: 'amazon', PublicDnsName: 'ec2-54-170-1-2.eu-west-1.compute.amazonaws.com' },
        PrivateIpAddress: '172.31.20.7',
      },
    ],
    HibernationOptions: { Configured: false },
    PlatformDetails: 'Linux/UNIX',
    LaunchTime: new Date('2024-05-01T10:00:00Z'),
    Tags: [
      { Key: 'Name', Value: 'web-1' },
      { Key: 'team', Value: 'payments' },
    ],
    ...overrides,
  };
}

function answerInstances(...instances: Instance[]): void {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ ReservationId: 'r-1', Instances: instances }] });
}

function answerAttributes(disableApiStop = false, shutdown: 'stop' | 'terminate' = 'stop'): void {
  ec2Mock
    .on(DescribeInstanceAttributeCommand, { Attribute: 'disableApiStop' })
    .resolves({ DisableApiStop: { Value: disableApiStop } })
    .on(DescribeInstanceAttributeCommand, { Attribute: 'instanceInitiatedShutdownBehavior' })
    .resolves({ InstanceInitiatedShutdownBehavior: { Value: shutdown } });
}

function answerInstanceType(diskCount = 0): void {
  ec2Mock.on(DescribeInstanceTypesCommand).resolves({
    InstanceTypes: [
      diskCount > 0
        ? {
            InstanceType: 'm5d.large',
            InstanceStorageSupported: true,
            InstanceStorageInfo: { TotalSizeInGB: 75, Disks: [{ SizeInGB: 75, Count: diskCount, Type: 'ssd' }] },
          }
        : { InstanceType: 't3.micro', InstanceStorageSupported: false },
    ],
  });
}

const launch: HelperLaunch = {
  clientToken: 'ra-job-123-launch-helper',
  imageId: 'ami-0helper000000000',
  instanceType: 't3.small',
  subnetId: 'subnet-0rescue',
  securityGroupIds: ['sg-0rescue'],
  instanceProfile: 'reset-access-helper',
  tags: { Name: 'reset-access-helper-i-0a1b2c3d4e5f60718', 'reset-access:managed': 'true', 'reset-access:role': 'helper', 'reset-access:job-id': 'job-123' },
};

let compute: Ec2Compute;

beforeEach(() => {
  ec2Mock.reset();
  ssmMock.reset();
  compute = new Ec2Compute(new EC2Client({ region: 'eu-west-1' }), new SSMClient({ region: 'eu-west-1' }));
});

describe('describeInstance', () => {
  it('maps a running Linux instance with its preflight facts', async () => {
    // Prepare
    answerInstances(linuxInstance());
    answerAttributes();
    answerInstanceType(0);

    // Act
    const facts = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(facts).toEqual({
      instanceId: 'i-0a1b2c3d4e5f60718',
      state: 'running',
      platform: 'linux',
      instanceType: 't3.micro',
      availabilityZone: 'eu-west-1b',
      subnetId: 'subnet-0123456789abcdef0',
      vpcId: 'vpc-0123456789abcdef0',
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/xvda',
      blockDevices: [
        { deviceName: '/dev/xvda', volumeId: 'vol-0root0000000000001', deleteOnTermination: true },
        { deviceName: '/dev/sdb', volumeId: 'vol-0data0000000000002', deleteOnTermination: false },
      ],
      instanceStoreVolumeCount: 0,
      spot: false,
      hibernationConfigured: false,
      publicIpAddress: '54.170.1.2',
      publicIpIsAutoAssigned: true,
      tags: { Name: 'web-1', team: 'payments' },
      productCodes: [],
      autoScaling: undefined,
      disableApiStop: false,
      shutdownBehavior: 'stop',
      launchTime: '2024-05-01T10:00:00.000Z',
    });
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]!.args[0].input).toEqual({ InstanceIds: ['i-0a1b2c3d4e5f60718'] });
    expect(ec2Mock.commandCalls(DescribeInstanceAttributeCommand).map((c) => c.args[0].input)).toEqual(
      expect.arrayContaining([
        { InstanceId: 'i-0a1b2c3d4e5f60718', Attribute: 'disableApiStop' },
        { InstanceId: 'i-0a1b2c3d4e5f60718', Attribute: 'instanceInitiatedShutdownBehavior' },
      ]),
    );
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)[0]!.args[0].input).toEqual({ InstanceTypes: ['t3.micro'] });
  });

  it('reads Windows from Platform, and from PlatformDetails when Platform is absent', async () => {
    // Prepare
    answerAttributes();
    answerInstanceType();
    answerInstances(linuxInstance({ Platform: 'windows' as Instance['Platform'], PlatformDetails: 'Windows' }));

    // Act
    const fromPlatform = await compute.describeInstance('i-0a1b2c3d4e5f60718');
    answerInstances(linuxInstance({ PlatformDetails: 'Windows with SQL Server Standard' }));
    const fromDetails = await compute.describeInstance('i-0a1b2c3d4e5f60718');

    // Assess
    expect(fromPlatform?.platform).toBe('windows');
    expect(fromDetails?.platform).toBe('windows');
  });

  it('tells an Elastic IP (owned by the account) from an auto-assigned one', async () => {
    // Prepare
    answerAttributes();
    answerInstanceType();
    answerInstances(
      linuxInstance({
        PublicIpAddress: '3.248.0.10',
        NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0bbb', Association: { PublicIp: '3.248.0.10', IpOwnerId: '123456789012', PublicDnsName: '' } }],
      }),
    );

    // Act
    const facts = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(facts?.publicIpAddress).toBe('3.248.0.10');
    expect(facts?.publicIpIsAutoAssigned).toBe(false);
  });

  it('has no auto-assigned IP when the instance has no public IP', async () => {
    // Prepare
    answerAttributes();
    answerInstanceType();
    answerInstances(linuxInstance({ PublicIpAddress: undefined, NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0ccc' }] }));

    // Act
    const facts = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(facts?.publicIpIsAutoAssigned).toBe(false);
  });

  it('reports Spot, hibernation, stop protection, terminate-on-shutdown and product codes', async () => {
    // Prepare
    answerInstances(
      linuxInstance({
        InstanceLifecycle: 'spot',
        SpotInstanceRequestId: 'sir-abc',
        HibernationOptions: { Configured: true },
        ProductCodes: [{ ProductCodeId: 'aw0evgkw8e5c1q413zgy5pjce', ProductCodeType: 'marketplace' }],
      }),
    );
    answerAttributes(true, 'terminate');
    answerInstanceType();

    // Act
    const facts = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(facts).toMatchObject({
      spot: true,
      hibernationConfigured: true,
      disableApiStop: true,
      shutdownBehavior: 'terminate',
      productCodes: ['aw0evgkw8e5c1q413zgy5pjce'],
    });
  });

  it('counts the instance storage of the instance type, and asks for a type only once', async () => {
    // Prepare
    answerInstances(linuxInstance({ InstanceType: 'm5d.large' }));
    answerAttributes();
    answerInstanceType(2);

    // Act
    const first = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });
    const second = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(first?.instanceStoreVolumeCount).toBe(2);
    expect(second?.instanceStoreVolumeCount).toBe(2);
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)).toHaveLength(1);
  });

  it('does not read the preflight facts unless asked to (phases poll it while they wait)', async () => {
    // Prepare
    answerAttributes(true, 'terminate');
    answerInstanceType();
    answerInstances(
      linuxInstance({
        Tags: [
          { Key: 'reset-access:managed', Value: 'true' },
          { Key: 'reset-access:role', Value: 'helper' },
        ],
      }),
    );

    // Act
    const helper = await compute.describeInstance('i-0a1b2c3d4e5f60718');
    answerInstances(linuxInstance({ State: { Code: 64, Name: 'stopping' } }));
    const stopping = await compute.describeInstance('i-0a1b2c3d4e5f60718');

    // Assess
    expect(helper?.state).toBe('running');
    expect(stopping?.state).toBe('stopping');
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(2);
    expect(ec2Mock.commandCalls(DescribeInstanceAttributeCommand)).toHaveLength(0);
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)).toHaveLength(0);
  });

  it('reads the preflight facts whatever the state when asked to', async () => {
    // Prepare
    answerInstances(linuxInstance({ State: { Code: 64, Name: 'stopping' } }));
    answerAttributes(true);
    answerInstanceType();

    // Act
    const facts = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(facts?.disableApiStop).toBe(true);
    expect(ec2Mock.commandCalls(DescribeInstanceAttributeCommand)).toHaveLength(2);
  });

  it('knows Auto Scaling membership from the tag but not the lifecycle state, unless a lookup is given', async () => {
    // Prepare
    answerInstances(linuxInstance({ Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] }));
    answerAttributes();
    answerInstanceType();
    const lookup = jest.fn(async () => ({ groupName: 'web-asg', lifecycleState: 'Standby' }));
    const withLookup = new Ec2Compute(new EC2Client({ region: 'eu-west-1' }), new SSMClient({ region: 'eu-west-1' }), { autoScalingLookup: lookup });

    // Act
    const byTag = await compute.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });
    const byLookup = await withLookup.describeInstance('i-0a1b2c3d4e5f60718', { preflight: true });

    // Assess
    expect(byTag?.autoScaling).toEqual({ groupName: 'web-asg', lifecycleState: undefined });
    expect(byLookup?.autoScaling).toEqual({ groupName: 'web-asg', lifecycleState: 'Standby' });
    expect(lookup).toHaveBeenCalledWith('i-0a1b2c3d4e5f60718', { 'aws:autoscaling:groupName': 'web-asg' });
  });

  it('passes on a failure reason but not the reason every stopped instance carries', async () => {
    // Prepare
    answerAttributes();
    answerInstanceType();
    answerInstances(
      linuxInstance({ State: { Code: 80, Name: 'stopped' }, StateReason: { Code: 'Client.UserInitiatedShutdown', Message: 'User initiated shutdown' } }),
    );

    // Act
    const userStopped = await compute.describeInstance('i-0a1b2c3d4e5f60718');
    answerInstances(
      linuxInstance({ State: { Code: 80, Name: 'stopped' }, StateReason: { Code: 'Server.InsufficientInstanceCapacity', Message: 'Insufficient capacity' } }),
    );
    const failedStart = await compute.describeInstance('i-0a1b2c3d4e5f60718');

    // Assess
    expect(userStopped?.stateReason).toBeUndefined();
    expect(failedStart?.stateReason).toBe('Server.InsufficientInstanceCapacity');
  });

  it.each(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'])('answers undefined for %s', async (code) => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error(code));

    // Act
    const facts = await compute.describeInstance('i-0doesnotexist0000');

    // Assess
    expect(facts).toBeUndefined();
  });

  it('turns throttling into a RetryableError and an authorization failure into a PermanentError', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejectsOnce(ec2Error('RequestLimitExceeded', 503)).rejectsOnce(ec2Error('UnauthorizedOperation', 403));

    // Act
    const throttled = compute.describeInstance('i-0a1b2c3d4e5f60718');
    await expect(throttled).rejects.toMatchObject({ code: 'RequestLimitExceeded' });
    await expect(throttled).rejects.toBeInstanceOf(RetryableError);
    const refused = compute.describeInstance('i-0a1b2c3d4e5f60718');

    // Assess
    await expect(refused).rejects.toMatchObject({ name: 'PermanentError', code: 'UnauthorizedOperation' });
  });
});

describe('describeVolume, describeImage, describeSubnet', () => {
  it('maps an encrypted volume attached to the target', async () => {
    // Prepare
    ec2Mock.on(DescribeVolumesCommand).resolves({
      Volumes: [
        {
          VolumeId: 'vol-0root0000000000001',
          State: 'in-use',
          AvailabilityZone: 'eu-west-1b',
          Encrypted: true,
          KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1111-2222',
          Size: 8,
          Attachments: [
            { InstanceId: 'i-0a1b2c3d4e5f60718', Device: '/dev/xvda', State: 'attached', DeleteOnTermination: true, VolumeId: 'vol-0root0000000000001' },
          ],
        },
      ],
    });

    // Act
    const volume = await compute.describeVolume('vol-0root0000000000001');

    // Assess
    expect(volume).toEqual({
      volumeId: 'vol-0root0000000000001',
      state: 'in-use',
      availabilityZone: 'eu-west-1b',
      encrypted: true,
      kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1111-2222',
      productCodes: [],
      attachments: [{ instanceId: 'i-0a1b2c3d4e5f60718', device: '/dev/xvda', state: 'attached', deleteOnTermination: true }],
    });
  });

  it('maps a failed image with its reason', async () => {
    // Prepare
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0backup'] }).resolves({
      Images: [
        {
          ImageId: 'ami-0backup',
          Name: 'ResetAccess-backup-i-1-job',
          State: 'failed',
          StateReason: { Code: 'Client.InternalError', Message: 'snapshot failed' },
        },
      ],
    });

    // Act
    const image = await compute.describeImage('ami-0backup');

    // Assess
    expect(image).toEqual({ imageId: 'ami-0backup', name: 'ResetAccess-backup-i-1-job', state: 'failed', stateReason: 'snapshot failed' });
  });

  it('answers undefined for a volume, image or subnet EC2 does not know', async () => {
    // Prepare
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error('InvalidVolume.NotFound'));
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    ec2Mock.on(DescribeSubnetsCommand).rejects(ec2Error('InvalidSubnetID.NotFound'));

    // Act
    const results = await Promise.all([compute.describeVolume('vol-0gone'), compute.describeImage('ami-0gone'), compute.describeSubnet('subnet-0gone')]);

    // Assess
    expect(results).toEqual([undefined, undefined, undefined]);
  });

  it('describes many images by an image-id filter, a hundred ids a request, leaving out those EC2 does not know', async () => {
    // Prepare: 150 ids, of which EC2 knows two
    const ids = Array.from({ length: 150 }, (_, i) => `ami-0${String(i).padStart(3, '0')}`);
    ec2Mock.on(DescribeImagesCommand).callsFake((input: { Filters: Array<{ Values: string[] }> }) => ({
      Images: input.Filters[0]!.Values.filter((id) => id === 'ami-0007' || id === 'ami-0120').map((id) => ({ ImageId: id, Name: id, State: 'available' })),
    }));

    // Act
    const images = await compute.describeImages(ids);

    // Assess
    expect(images.map((i) => i.imageId)).toEqual(['ami-0007', 'ami-0120']);
    const sent = ec2Mock.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input);
    expect(sent.map((input) => input.Filters![0]!.Values!.length)).toEqual([100, 50]);
    expect(sent[0]).toMatchObject({ Owners: ['self'], Filters: [{ Name: 'image-id' }] });
    expect(sent[0]!.ImageIds).toBeUndefined();
  });

  it('maps a subnet to its VPC and AZ', async () => {
    // Prepare
    ec2Mock.on(DescribeSubnetsCommand, { SubnetIds: ['subnet-0abc'] }).resolves({
      Subnets: [{ SubnetId: 'subnet-0abc', VpcId: 'vpc-0abc', AvailabilityZone: 'eu-west-1c', CidrBlock: '10.0.3.0/24' }],
    });

    // Act
    const subnet = await compute.describeSubnet('subnet-0abc');

    // Assess
    expect(subnet).toEqual({ subnetId: 'subnet-0abc', vpcId: 'vpc-0abc', availabilityZone: 'eu-west-1c' });
  });
});

describe('launchInstance and findInstanceByClientToken', () => {
  it('sends RunInstances with the ClientToken, the profile, IMDSv2 and tags on instance and volume', async () => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0helper' }] });

    // Act
    const id = await compute.launchInstance(launch);

    // Assess
    expect(id).toBe('i-0helper');
    const tags = Object.entries(launch.tags).map(([Key, Value]) => ({ Key, Value }));
    expect(ec2Mock.commandCalls(RunInstancesCommand)[0]!.args[0].input).toEqual({
      ClientToken: 'ra-job-123-launch-helper',
      ImageId: 'ami-0helper000000000',
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: 'subnet-0rescue',
      SecurityGroupIds: ['sg-0rescue'],
      IamInstanceProfile: { Name: 'reset-access-helper' },
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
  });

  it('leaves SecurityGroupIds out when the network names none (the subnet VPC default group applies)', async () => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0helper' }] });

    // Act
    await compute.launchInstance({ ...launch, securityGroupIds: [] });

    // Assess
    expect(ec2Mock.commandCalls(RunInstancesCommand)[0]!.args[0].input).not.toHaveProperty('SecurityGroupIds');
  });

  it('answers the instance the token already made when the parameters changed in between', async () => {
    // Prepare
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('IdempotentParameterMismatch'));
    ec2Mock
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'client-token', Values: ['ra-job-123-launch-helper'] }] })
      .resolves({ Reservations: [{ Instances: [linuxInstance({ InstanceId: 'i-0firsthelper', ClientToken: 'ra-job-123-launch-helper' })] }] });

    // Act
    const id = await compute.launchInstance(launch);

    // Assess
    expect(id).toBe('i-0firsthelper');
  });

  it('finds the instance of a ClientToken, and nothing for an unused one', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'client-token', Values: ['ra-job-123-launch-helper'] }] })
      .resolves({ Reservations: [{ Instances: [linuxInstance({ InstanceId: 'i-0helper', State: { Code: 48, Name: 'terminated' } })] }] })
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'client-token', Values: ['ra-other'] }] })
      .resolves({ Reservations: [] });

    // Act
    const found = await compute.findInstanceByClientToken('ra-job-123-launch-helper');
    const none = await compute.findInstanceByClientToken('ra-other');

    // Assess
    expect(found).toMatchObject({ instanceId: 'i-0helper', state: 'terminated' });
    expect(none).toBeUndefined();
  });
});

describe('run state', () => {
  it('stops with or without Force, and starts', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).resolves({ StoppingInstances: [] });
    ec2Mock.on(StartInstancesCommand).resolves({ StartingInstances: [] });

    // Act
    await compute.stopInstance('i-0target', { force: false });
    await compute.stopInstance('i-0target', { force: true });
    await compute.startInstance('i-0target');

    // Assess
    expect(ec2Mock.commandCalls(StopInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ['i-0target'], Force: false },
      { InstanceIds: ['i-0target'], Force: true },
    ]);
    expect(ec2Mock.commandCalls(StartInstancesCommand)[0]!.args[0].input).toEqual({ InstanceIds: ['i-0target'] });
  });

  it("stops several instances in one StopInstances, and a refusal is the whole request's", async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).resolvesOnce({ StoppingInstances: [] }).rejectsOnce(ec2Error('OperationNotPermitted'));

    // Act
    await compute.stopInstances(['i-0a', 'i-0b', 'i-0c']);
    const refused = compute.stopInstances(['i-0a', 'i-0protected']);

    // Assess
    await expect(refused).rejects.toMatchObject({ name: 'PermanentError', code: 'OperationNotPermitted' });
    expect(ec2Mock.commandCalls(StopInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ['i-0a', 'i-0b', 'i-0c'] },
      { InstanceIds: ['i-0a', 'i-0protected'] },
    ]);
  });

  it('treats terminating an instance EC2 no longer knows as done, but not other errors', async () => {
    // Prepare
    ec2Mock.on(TerminateInstancesCommand).rejectsOnce(ec2Error('InvalidInstanceID.NotFound')).rejectsOnce(ec2Error('OperationNotPermitted'));

    // Act
    await compute.terminateInstance('i-0gone');
    const refused = compute.terminateInstance('i-0protected');

    // Assess
    await expect(refused).rejects.toMatchObject({ name: 'PermanentError', code: 'OperationNotPermitted' });
  });
});

describe('volume moves', () => {
  const attachedTo = (instanceId: string, device: string) => ({
    Volumes: [
      {
        VolumeId: 'vol-0root',
        State: 'in-use' as const,
        AvailabilityZone: 'eu-west-1b',
        Attachments: [{ InstanceId: instanceId, Device: device, State: 'attached' as const }],
      },
    ],
  });

  it('attaches at the device asked for', async () => {
    // Prepare
    ec2Mock.on(AttachVolumeCommand).resolves({ State: 'attaching' });

    // Act
    await compute.attachVolume('vol-0root', 'i-0helper', '/dev/sdf');

    // Assess
    expect(ec2Mock.commandCalls(AttachVolumeCommand)[0]!.args[0].input).toEqual({ VolumeId: 'vol-0root', InstanceId: 'i-0helper', Device: '/dev/sdf' });
  });

  it('counts VolumeInUse as done when the volume is already where it was asked to go', async () => {
    // Prepare
    ec2Mock.on(AttachVolumeCommand).rejects(ec2Error('VolumeInUse'));
    ec2Mock.on(DescribeVolumesCommand).resolves(attachedTo('i-0helper', '/dev/sdf'));

    // Act
    const attach = compute.attachVolume('vol-0root', 'i-0helper', '/dev/sdf');

    // Assess
    await expect(attach).resolves.toBeUndefined();
  });

  it('fails VolumeInUse permanently when the volume is attached somewhere else', async () => {
    // Prepare
    ec2Mock.on(AttachVolumeCommand).rejects(ec2Error('VolumeInUse'));
    ec2Mock.on(DescribeVolumesCommand).resolves(attachedTo('i-0stranger', '/dev/sdf'));

    // Act
    const attach = compute.attachVolume('vol-0root', 'i-0helper', '/dev/sdf');

    // Assess
    await expect(attach).rejects.toMatchObject({ name: 'PermanentError', code: 'VolumeInUse' });
  });

  it('counts a detach of a volume no longer attached there as done', async () => {
    // Prepare
    ec2Mock.on(DetachVolumeCommand).rejects(ec2Error('IncorrectState'));
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-0root', State: 'available', Attachments: [] }] });

    // Act
    const detach = compute.detachVolume('vol-0root', 'i-0target');

    // Assess
    await expect(detach).resolves.toBeUndefined();
    expect(ec2Mock.commandCalls(DetachVolumeCommand)[0]!.args[0].input).toEqual({ VolumeId: 'vol-0root', InstanceId: 'i-0target' });
  });

  it('fails a detach that EC2 refuses while the volume is still attached there', async () => {
    // Prepare
    ec2Mock.on(DetachVolumeCommand).rejects(ec2Error('IncorrectState'));
    ec2Mock.on(DescribeVolumesCommand).resolves(attachedTo('i-0target', '/dev/xvda'));

    // Act
    const detach = compute.detachVolume('vol-0root', 'i-0target');

    // Assess
    await expect(detach).rejects.toBeInstanceOf(PermanentError);
  });

  it('sets DeleteOnTermination through the block device mapping', async () => {
    // Prepare
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});

    // Act
    await compute.setDeleteOnTermination('i-0target', '/dev/xvda', true);

    // Assess
    expect(ec2Mock.commandCalls(ModifyInstanceAttributeCommand)[0]!.args[0].input).toEqual({
      InstanceId: 'i-0target',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true } }],
    });
  });
});

describe('createImage', () => {
  const input = {
    instanceId: 'i-0target',
    name: 'ResetAccess-backup-i-0target-job-123',
    description: 'Backup taken by reset-access job job-123',
    tags: { 'reset-access:managed': 'true', 'reset-access:role': 'backup-image', 'reset-access:job-id': 'job-123' },
  };

  it('creates the image without a reboot, tagging image and snapshots', async () => {
    // Prepare
    ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0new' });

    // Act
    const id = await compute.createImage(input);

    // Assess
    expect(id).toBe('ami-0new');
    const tags = Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value }));
    expect(ec2Mock.commandCalls(CreateImageCommand)[0]!.args[0].input).toEqual({
      InstanceId: 'i-0target',
      Name: 'ResetAccess-backup-i-0target-job-123',
      Description: 'Backup taken by reset-access job job-123',
      NoReboot: true,
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: tags },
      ],
    });
  });

  it('answers the existing image when the name is a duplicate', async () => {
    // Prepare
    ec2Mock.on(CreateImageCommand).rejects(ec2Error('InvalidAMIName.Duplicate'));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0first', Name: input.name, State: 'pending' }] });

    // Act
    const id = await compute.createImage(input);

    // Assess
    expect(id).toBe('ami-0first');
    expect(ec2Mock.commandCalls(DescribeImagesCommand)[0]!.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [{ Name: 'name', Values: ['ResetAccess-backup-i-0target-job-123'] }],
    });
  });

  it('is retried, not failed, when the name is taken by an image DescribeImages does not list yet', async () => {
    // Prepare: EC2's eventual consistency: the duplicate is refused before the image is listed
    ec2Mock.on(CreateImageCommand).rejects(ec2Error('InvalidAMIName.Duplicate'));
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });

    // Act
    const created = compute.createImage(input);

    // Assess
    await expect(created).rejects.toMatchObject({ name: 'RetryableError', code: 'IMAGE_NOT_YET_LISTED' });
  });
});

describe('resolveImageParameter and countVpcs', () => {
  it('reads the image id from the SSM public parameter', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand, { Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' }).resolves({
      Parameter: { Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', Value: 'ami-0al2023', Type: 'String' },
    });

    // Act
    const id = await compute.resolveImageParameter('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64');

    // Assess
    expect(id).toBe('ami-0al2023');
  });

  it('fails permanently for a parameter that does not exist, and retries throttling', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).rejectsOnce(ssmError('ParameterNotFound')).rejectsOnce(ssmError('ThrottlingException'));

    // Act
    const missing = compute.resolveImageParameter('/aws/service/nope');
    await expect(missing).rejects.toMatchObject({ name: 'PermanentError', code: 'HELPER_IMAGE_PARAMETER_NOT_FOUND' });
    const throttled = compute.resolveImageParameter('/aws/service/nope');

    // Assess
    await expect(throttled).rejects.toMatchObject({ name: 'ThrottledError', code: 'ThrottlingException' });
  });

  it('counts the VPCs of every page', async () => {
    // Prepare
    ec2Mock
      .on(DescribeVpcsCommand, { NextToken: undefined })
      .resolves({ Vpcs: [{ VpcId: 'vpc-1' }, { VpcId: 'vpc-2' }], NextToken: 'page-2' })
      .on(DescribeVpcsCommand, { NextToken: 'page-2' })
      .resolves({ Vpcs: [{ VpcId: 'vpc-3' }] });

    // Act
    const count = await compute.countVpcs();

    // Assess
    expect(count).toBe(3);
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)).toHaveLength(2);
  });
});

describe('ssmRoute', () => {
  const subnet = { subnetId: 'subnet-0aaaaaaaaaaaaaaaa', vpcId: 'vpc-0bbbbbbbbbbbbbbbb', availabilityZone: 'us-east-1a' };
  const compute = () => new Ec2Compute(new EC2Client({ region: 'us-east-1' }), new SSMClient({ region: 'us-east-1' }));

  beforeEach(() => {
    ec2Mock.reset();
  });

  it('answers internet-gateway for an active default route through an igw in the subnet’s own table', async () => {
    // Prepare
    ec2Mock
      .on(DescribeRouteTablesCommand)
      .resolves({ RouteTables: [{ Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }] }] });
    // Act
    const route = await compute().ssmRoute(subnet);
    // Assess
    expect(route).toBe('internet-gateway');
    expect(ec2Mock.commandCalls(DescribeRouteTablesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'association.subnet-id', Values: [subnet.subnetId] }],
    });
    expect(ec2Mock.commandCalls(DescribeVpcEndpointsCommand)).toHaveLength(0);
  });

  it('falls back to the VPC’s main table, and answers nat-gateway for a NAT default route', async () => {
    ec2Mock
      .on(DescribeRouteTablesCommand, { Filters: [{ Name: 'association.subnet-id', Values: [subnet.subnetId] }] })
      .resolves({ RouteTables: [] })
      .on(DescribeRouteTablesCommand, {
        Filters: [
          { Name: 'vpc-id', Values: [subnet.vpcId] },
          { Name: 'association.main', Values: ['true'] },
        ],
      })
      .resolves({ RouteTables: [{ Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }] }] });
    expect(await compute().ssmRoute(subnet)).toBe('nat-gateway');
  });

  it('answers vpc-endpoints only when ssm, ssmmessages and ec2messages are all there, else none', async () => {
    ec2Mock
      .on(DescribeRouteTablesCommand)
      .resolves({ RouteTables: [{ Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'blackhole' }] }] });
    const endpoints = (names: string[]) => ({ VpcEndpoints: names.map((n) => ({ ServiceName: `com.amazonaws.us-east-1.${n}` })) });
    ec2Mock
      .on(DescribeVpcEndpointsCommand)
      .resolvesOnce(endpoints(['ssm', 'ssmmessages', 'ec2messages']))
      .resolvesOnce(endpoints(['ssm', 'ssmmessages']));
    expect(await compute().ssmRoute(subnet)).toBe('vpc-endpoints');
    expect(await compute().ssmRoute(subnet)).toBe('none');
    expect(ec2Mock.commandCalls(DescribeVpcEndpointsCommand)[0]!.args[0].input.Filters).toContainEqual({ Name: 'vpc-id', Values: [subnet.vpcId] });
  });
});
