import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';

import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

async function describe1(ec2: EC2Client, instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0].Instances![0];
}

async function launch(ec2: EC2Client, extra: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]> = {}) {
  const out = await ec2.send(
    new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra }),
  );
  return out.Instances![0].InstanceId!;
}

describe('instances through the real EC2 client', () => {
  test('RunInstances: pending, then running after the launch time, with the shapes EC2 returns', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();

    // Act
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        IamInstanceProfile: { Name: 'reset-access-helper' },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'reset-access:job', Value: 'job-1' }] },
          { ResourceType: 'volume', Tags: [{ Key: 'reset-access:job', Value: 'job-1' }] },
        ],
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    const atLaunch = await describe1(ec2, instanceId);
    advance(DEFAULT_TIMINGS.launchMs - 1);
    const justBefore = await describe1(ec2, instanceId);
    advance(1);
    const running = await describe1(ec2, instanceId);

    // Assess
    expect(run.Instances![0].State).toEqual({ Code: 0, Name: 'pending' });
    expect(atLaunch.State?.Name).toBe('pending');
    expect(justBefore.State?.Name).toBe('pending');
    expect(running.State).toEqual({ Code: 16, Name: 'running' });
    expect(running.PublicIpAddress).toMatch(/^3\.\d+\.\d+\.\d+$/);
    expect(running.Placement?.AvailabilityZone).toBe('us-east-1a');
    expect(running.RootDeviceName).toBe('/dev/xvda');
    expect(running.RootDeviceType).toBe('ebs');
    expect(running.BlockDeviceMappings).toEqual([
      expect.objectContaining({ DeviceName: '/dev/xvda', Ebs: expect.objectContaining({ DeleteOnTermination: true, Status: 'attached' }) }),
    ]);
    expect(running.Tags).toEqual([{ Key: 'reset-access:job', Value: 'job-1' }]);
    expect(running.IamInstanceProfile?.Arn).toBe('arn:aws:iam::123456789012:instance-profile/reset-access-helper');
    expect(running.SubnetId).toMatch(/^subnet-/);
    expect(running.VpcId).toMatch(/^vpc-/);
    expect(running.PlatformDetails).toBe('Linux/UNIX');
    expect(running.LaunchTime).toBeInstanceOf(Date);
  });

  test('ClientToken: same token and parameters give the same reservation; other parameters are a mismatch', async () => {
    // Prepare
    const { ec2 } = simulatedRegion();
    const params = {
      ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      InstanceType: 't3.micro' as const,
      MinCount: 1,
      MaxCount: 1,
      ClientToken: 'job-1-helper',
    };

    // Act
    const first = await ec2.send(new RunInstancesCommand(params));
    const second = await ec2.send(new RunInstancesCommand(params));
    const mismatch = await errorCodeOf(ec2.send(new RunInstancesCommand({ ...params, InstanceType: 't3.large' })));
    const byToken = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: ['job-1-helper'] }] }));

    // Assess
    expect(second.ReservationId).toBe(first.ReservationId);
    expect(second.Instances![0].InstanceId).toBe(first.Instances![0].InstanceId);
    expect(mismatch).toBe('IdempotentParameterMismatch');
    expect(byToken.Reservations?.flatMap((r) => r.Instances)).toHaveLength(1);
  });

  test('stop releases the public IP; start brings a new one', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const instanceId = await launch(ec2);
    advance(DEFAULT_TIMINGS.launchMs);
    const before = (await describe1(ec2, instanceId)).PublicIpAddress;

    // Act
    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    const stopping = await describe1(ec2, instanceId);
    advance(DEFAULT_TIMINGS.stopMs);
    const stopped = await describe1(ec2, instanceId);
    const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    advance(DEFAULT_TIMINGS.startMs);
    const restarted = await describe1(ec2, instanceId);

    // Assess
    expect(stop.StoppingInstances).toEqual([
      { InstanceId: instanceId, CurrentState: { Code: 64, Name: 'stopping' }, PreviousState: { Code: 16, Name: 'running' } },
    ]);
    expect(stopping.State?.Name).toBe('stopping');
    expect(stopped.State?.Name).toBe('stopped');
    expect(stopped.PublicIpAddress).toBeUndefined();
    expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
    expect(start.StartingInstances![0].CurrentState?.Name).toBe('pending');
    expect(restarted.State?.Name).toBe('running');
    expect(restarted.PublicIpAddress).toBeDefined();
    expect(restarted.PublicIpAddress).not.toBe(before);
  });

  test('a stop stuck in stopping finishes after a second stop, sooner when forced', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion({ timings: { stuckStoppingChance: 1 } });
    const stuck = await launch(ec2);
    const forced = await launch(ec2);
    advance(DEFAULT_TIMINGS.launchMs);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stuck, forced] }));

    // Act
    advance(10 * DEFAULT_TIMINGS.stopMs);
    const stillStopping = (await describe1(ec2, stuck)).State?.Name;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stuck] }));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [forced], Force: true }));
    advance(DEFAULT_TIMINGS.forceStopMs);
    const afterForce = [(await describe1(ec2, stuck)).State?.Name, (await describe1(ec2, forced)).State?.Name];
    advance(DEFAULT_TIMINGS.stopMs);

    // Assess
    expect(stillStopping).toBe('stopping');
    expect(afterForce).toEqual(['stopping', 'stopped']);
    expect((await describe1(ec2, stuck)).State?.Name).toBe('stopped');
  });

  test('stop is refused for DisableApiStop, Spot and pending instances, with no change', async () => {
    // Prepare
    const { ec2, region, advance } = simulatedRegion();
    const guarded = await launch(ec2, { DisableApiStop: true });
    const spot = await launch(ec2, { InstanceMarketOptions: { MarketType: 'spot' } });
    advance(DEFAULT_TIMINGS.launchMs);
    const pending = await launch(ec2);

    // Act
    const codes = [
      await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [guarded] }))),
      await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [spot] }))),
      await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [pending] }))),
      await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))),
    ];

    // Assess
    expect(codes).toEqual(['OperationNotPermitted', 'UnsupportedOperation', 'IncorrectInstanceState', 'InvalidInstanceID.NotFound']);
    expect(region.getInstance(guarded)?.state).toBe('running');
    expect((await describe1(ec2, spot)).InstanceLifecycle).toBe('spot');
  });

  test('start with an encrypted volume whose KMS key is disabled: pending, then stopped with Client.InternalError', async () => {
    // Prepare
    const { ec2, region, advance } = simulatedRegion();
    const key = region.putKmsKey();
    const instanceId = await launch(ec2, {
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, KmsKeyId: key.arn } }],
    });
    advance(DEFAULT_TIMINGS.launchMs);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    advance(DEFAULT_TIMINGS.stopMs);
    region.setKmsKeyState(key.keyId, 'Disabled');

    // Act
    await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    const pending = (await describe1(ec2, instanceId)).State?.Name;
    advance(DEFAULT_TIMINGS.startMs);
    const after = await describe1(ec2, instanceId);

    // Assess
    expect(pending).toBe('pending');
    expect(after.State?.Name).toBe('stopped');
    expect(after.StateReason).toEqual({ Code: 'Client.InternalError', Message: 'Client.InternalError: Client error on launch' });
  });

  test('DeleteOnTermination: read and changed through the instance attributes; terminate keeps a volume that has it false', async () => {
    // Prepare
    const { ec2, region, advance } = simulatedRegion();
    const instanceId = await launch(ec2);
    advance(DEFAULT_TIMINGS.launchMs);
    const volumeId = (await describe1(ec2, instanceId)).BlockDeviceMappings![0].Ebs!.VolumeId!;

    // Act
    await ec2.send(
      new ModifyInstanceAttributeCommand({
        InstanceId: instanceId,
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false } }],
      }),
    );
    const attribute = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'blockDeviceMapping' }));
    const stopAttribute = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'disableApiStop' }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const shuttingDown = (await describe1(ec2, instanceId)).State?.Name;
    advance(DEFAULT_TIMINGS.terminateMs);

    // Assess
    expect(attribute.BlockDeviceMappings?.[0].Ebs?.DeleteOnTermination).toBe(false);
    expect(stopAttribute.DisableApiStop?.Value).toBe(false);
    expect(shuttingDown).toBe('shutting-down');
    expect((await describe1(ec2, instanceId)).State?.Name).toBe('terminated');
    expect(region.getVolume(volumeId)?.state).toBe('available');
  });

  test('DescribeInstances filters by tag and state', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const tagged = await launch(ec2, {
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'reset-access:auto', Value: 'true' }] }],
    });
    await launch(ec2);
    advance(DEFAULT_TIMINGS.launchMs);

    // Act
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:reset-access:auto', Values: ['true'] },
          { Name: 'instance-state-name', Values: ['running', 'stopped'] },
        ],
      }),
    );
    const badFilter = await errorCodeOf(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })));

    // Assess
    expect(out.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toEqual([tagged]);
    expect(badFilter).toBe('InvalidParameterValue');
  });

  test('DescribeInstances pages by MaxResults and NextToken, and refuses a token it did not answer', async () => {
    // Prepare: seven instances, launched one after the other
    const { ec2, advance } = simulatedRegion();
    const launched: string[] = [];
    for (let i = 0; i < 7; i++) {
      launched.push(await launch(ec2));
      advance(1000);
    }

    // Act
    const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }));
    const second = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: first.NextToken }));
    const unpaged = await ec2.send(new DescribeInstancesCommand({}));
    const badToken = await errorCodeOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'zzzz' })));
    const tooSmall = await errorCodeOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 1 })));
    const withIds = await errorCodeOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [launched[0]!] })));

    // Assess
    const idsOf = (out: { Reservations?: Array<{ Instances?: Array<{ InstanceId?: string }> }> }) =>
      out.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId));
    expect(idsOf(first)).toEqual(launched.slice(0, 5));
    expect(first.NextToken).toEqual(expect.any(String));
    expect(idsOf(second)).toEqual(launched.slice(5));
    expect(second.NextToken).toBeUndefined();
    expect(idsOf(unpaged)).toEqual(launched);
    expect(unpaged.NextToken).toBeUndefined();
    expect([badToken, tooSmall, withIds]).toEqual(['InvalidParameterValue', 'InvalidParameterValue', 'InvalidParameterCombination']);
  });
});
