import {
  AttachVolumeCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

import { PUBLIC_IMAGE_IDS, type SimulatedRegion } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

/** A running target and a running helper in the same zone, the target's root volume id. */
async function targetAndHelper(ec2: EC2Client, advance: (ms: number) => void, targetImage: string = PUBLIC_IMAGE_IDS.amazonLinux2023) {
  const launch = async (imageId: string, zone = 'us-east-1a') =>
    (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: zone } }))).Instances![0].InstanceId!;
  const target = await launch(targetImage);
  const helper = await launch(PUBLIC_IMAGE_IDS.amazonLinux2023);
  const otherZoneHelper = await launch(PUBLIC_IMAGE_IDS.amazonLinux2023, 'us-east-1b');
  advance(DEFAULT_TIMINGS.launchMs);
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [target] }));
  const rootVolumeId = described.Reservations![0].Instances![0].BlockDeviceMappings![0].Ebs!.VolumeId!;
  return { target, helper, otherZoneHelper, rootVolumeId };
}

async function volumeState(ec2: EC2Client, volumeId: string) {
  const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
  const volume = out.Volumes![0];
  return { state: volume.State, attachment: volume.Attachments?.[0] };
}

function marketplaceImage(region: SimulatedRegion): string {
  return region.registerImage({
    name: 'vendor-appliance-1.0',
    ownerId: '679593333241',
    ownerAlias: 'aws-marketplace',
    public: true,
    platform: 'linux',
    rootDeviceName: '/dev/xvda',
    rootVolumeSize: 8,
    filesystem: 'xfs',
    files: {},
    productCodes: [{ id: 'abcdefghijklmnopqrstu1234', type: 'marketplace' }],
  }).imageId;
}

describe('volumes through the real EC2 client', () => {
  test('the volume swap: detach from the stopped target, attach to the helper, with the attach/detach times', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const { target, helper, rootVolumeId } = await targetAndHelper(ec2, advance);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [target] }));
    advance(DEFAULT_TIMINGS.stopMs);

    // Act
    const detach = await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: target }));
    const detaching = await volumeState(ec2, rootVolumeId);
    advance(DEFAULT_TIMINGS.detachMs);
    const detached = await volumeState(ec2, rootVolumeId);
    const attach = await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/sdf' }));
    advance(DEFAULT_TIMINGS.attachMs - 1);
    const attaching = await volumeState(ec2, rootVolumeId);
    advance(1);
    const attached = await volumeState(ec2, rootVolumeId);
    const startWithoutRoot = await errorCodeOf(ec2.send(new StartInstancesCommand({ InstanceIds: [target] })));

    // Assess
    expect(detach.State).toBe('detaching');
    expect(detaching).toEqual({ state: 'in-use', attachment: expect.objectContaining({ State: 'detaching', InstanceId: target }) });
    expect(detached).toEqual({ state: 'available', attachment: undefined });
    expect(attach).toEqual(expect.objectContaining({ State: 'attaching', Device: '/dev/sdf', InstanceId: helper, VolumeId: rootVolumeId }));
    expect(attaching.attachment?.State).toBe('attaching');
    expect(attached.attachment).toEqual(expect.objectContaining({ State: 'attached', InstanceId: helper, DeleteOnTermination: false }));
    expect(startWithoutRoot).toBe('IncorrectInstanceState');
  });

  test('wrong attaches and detaches get EC2’s error codes and change nothing', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion();
    const { target, helper, otherZoneHelper, rootVolumeId } = await targetAndHelper(ec2, advance);

    // Act
    const rootFromRunning = await errorCodeOf(ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId })));
    const inUse = await errorCodeOf(ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/sdf' })));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [target] }));
    advance(DEFAULT_TIMINGS.stopMs);
    await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId }));
    advance(DEFAULT_TIMINGS.detachMs);
    const notAttached = await errorCodeOf(ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId })));
    const otherZone = await errorCodeOf(ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: otherZoneHelper, Device: '/dev/sdf' })));
    const badDevice = await errorCodeOf(ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: 'sdf9x' })));
    const takenDevice = await errorCodeOf(ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/xvda' })));
    const noVolume = await errorCodeOf(ec2.send(new AttachVolumeCommand({ VolumeId: 'vol-0123456789abcdef0', InstanceId: helper, Device: '/dev/sdf' })));

    // Assess
    expect({ rootFromRunning, inUse, notAttached, otherZone, badDevice, takenDevice, noVolume }).toEqual({
      rootFromRunning: 'IncorrectState',
      inUse: 'VolumeInUse',
      notAttached: 'IncorrectState',
      otherZone: 'InvalidVolume.ZoneMismatch',
      badDevice: 'InvalidParameterValue',
      takenDevice: 'InvalidParameterValue',
      noVolume: 'InvalidVolume.NotFound',
    });
    expect((await volumeState(ec2, rootVolumeId)).state).toBe('available');
  });

  test('a volume with Marketplace product codes attaches only to a stopped instance', async () => {
    // Prepare
    const { ec2, region, advance } = simulatedRegion();
    const { target, helper, rootVolumeId } = await targetAndHelper(ec2, advance, marketplaceImage(region));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [target] }));
    advance(DEFAULT_TIMINGS.stopMs);
    await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId }));
    advance(DEFAULT_TIMINGS.detachMs);

    // Act
    let refusal = '';
    try {
      await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/sdf' }));
    } catch (error) {
      refusal = `${(error as Error).name}: ${(error as Error).message}`;
    }
    await ec2.send(new StopInstancesCommand({ InstanceIds: [helper] }));
    advance(DEFAULT_TIMINGS.stopMs);
    await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/sdf' }));
    advance(DEFAULT_TIMINGS.attachMs);
    const helperCodes = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [helper] }))).Reservations![0].Instances![0].ProductCodes;

    // Assess
    expect(refusal).toBe(
      `IncorrectInstanceState: Cannot attach volume '${rootVolumeId}' with Marketplace codes as the instance '${helper}' is not in the 'stopped' state.`,
    );
    expect((await volumeState(ec2, rootVolumeId)).attachment?.State).toBe('attached');
    expect(helperCodes).toEqual([{ ProductCodeId: 'abcdefghijklmnopqrstu1234', ProductCodeType: 'marketplace' }]);
  });

  test('an encrypted volume whose key is disabled fails to attach, with an EBS Volume Notification', async () => {
    // Prepare
    const { ec2, region, events, advance } = simulatedRegion();
    const key = region.putKmsKey();
    const target = (
      await ec2.send(
        new RunInstancesCommand({
          ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
          MinCount: 1,
          MaxCount: 1,
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, KmsKeyId: key.keyId } }],
        }),
      )
    ).Instances![0].InstanceId!;
    const { helper } = await targetAndHelper(ec2, advance);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [target] }));
    const rootVolumeId = described.Reservations![0].Instances![0].BlockDeviceMappings![0].Ebs!.VolumeId!;
    await ec2.send(new StopInstancesCommand({ InstanceIds: [target] }));
    advance(DEFAULT_TIMINGS.stopMs);
    await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId }));
    advance(DEFAULT_TIMINGS.detachMs);
    region.setKmsKeyState(key.arn, 'Disabled');

    // Act
    const attach = await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helper, Device: '/dev/sdf' }));
    advance(DEFAULT_TIMINGS.attachMs);

    // Assess
    expect(attach.State).toBe('attaching');
    expect(await volumeState(ec2, rootVolumeId)).toEqual({ state: 'available', attachment: undefined });
    const failure = events.find((e) => e['detail-type'] === 'EBS Volume Notification');
    expect(failure).toEqual(
      expect.objectContaining({
        source: 'aws.ec2',
        resources: [`arn:aws:ec2:us-east-1:123456789012:volume/${rootVolumeId}`, key.arn],
        detail: { event: 'attachVolume', result: 'failed', cause: `${key.arn} is disabled.`, 'request-id': '' },
      }),
    );
  });
});
