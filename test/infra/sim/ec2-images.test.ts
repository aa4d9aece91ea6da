import {
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';

import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

async function stoppedInstance(env: ReturnType<typeof simulatedRegion>) {
  const { ec2, advance } = env;
  const run = await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }));
  const instanceId = run.Instances![0].InstanceId!;
  advance(DEFAULT_TIMINGS.launchMs);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  advance(DEFAULT_TIMINGS.stopMs);
  const rootVolumeId = run.Instances![0].BlockDeviceMappings![0].Ebs!.VolumeId!;
  return { instanceId, rootVolumeId };
}

describe('images through the real EC2 client', () => {
  test('CreateImage: pending then available, tagged with its snapshots; a second one with the same name is refused', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, advance } = env;
    const { instanceId, rootVolumeId } = await stoppedInstance(env);
    const name = `ResetAccess-backup-${instanceId}-job-1`;

    // Act
    const { ImageId } = await ec2.send(
      new CreateImageCommand({
        InstanceId: instanceId,
        Name: name,
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: 'image', Tags: [{ Key: 'reset-access:job', Value: 'job-1' }] },
          { ResourceType: 'snapshot', Tags: [{ Key: 'reset-access:job', Value: 'job-1' }] },
        ],
      }),
    );
    const pending = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images![0];
    const duplicate = await errorCodeOf(ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: name })));
    advance(DEFAULT_TIMINGS.imageMs);
    const available = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['ResetAccess-backup-*'] }] })))
      .Images![0];
    const snapshots = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:reset-access:job', Values: ['job-1'] }] }));

    // Assess
    expect(pending.State).toBe('pending');
    expect(duplicate).toBe('InvalidAMIName.Duplicate');
    expect(available).toEqual(expect.objectContaining({ ImageId, State: 'available', Name: name, RootDeviceName: '/dev/xvda', OwnerId: '123456789012' }));
    expect(available.Tags).toEqual([{ Key: 'reset-access:job', Value: 'job-1' }]);
    expect(available.BlockDeviceMappings![0].Ebs).toEqual(expect.objectContaining({ DeleteOnTermination: true, SnapshotId: expect.stringMatching(/^snap-/) }));
    expect(snapshots.Snapshots).toEqual([expect.objectContaining({ VolumeId: rootVolumeId, State: 'completed' })]);
  });

  test('an image made to fail by a fault ends `failed` with a state reason; deregistering frees the name', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, region, advance } = env;
    const { instanceId } = await stoppedInstance(env);
    region.faults.add({ service: 'ec2', action: 'CreateImage', asyncFailure: true, times: 1 });

    // Act
    const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'backup-1' }));
    advance(DEFAULT_TIMINGS.imageMs);
    const failed = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images![0];
    await ec2.send(new DeregisterImageCommand({ ImageId }));
    const again = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'backup-1' }));
    const gone = await errorCodeOf(ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] })));

    // Assess
    expect(failed.State).toBe('failed');
    expect(failed.StateReason?.Code).toBe('Server.InternalError');
    expect(again.ImageId).not.toBe(ImageId);
    expect(gone).toBe('InvalidAMIID.NotFound');
  });

  test('an image failure armed for a CreateImage that EC2 refuses waits for the next one', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, region, advance } = env;
    const { instanceId } = await stoppedInstance(env);
    await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'backup-1' }));
    const fault = region.faults.add({ service: 'ec2', action: 'CreateImage', asyncFailure: true, times: 1 });

    // Act: a repeat of the name is refused, then a new image
    const refused = await errorCodeOf(ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'backup-1' })));
    const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'backup-2' }));
    advance(DEFAULT_TIMINGS.imageMs);
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images![0];

    // Assess
    expect(refused).toBe('InvalidAMIName.Duplicate');
    expect(fault.hits).toBe(1);
    expect(image.State).toBe('failed');
  });

  test('public images are found by owner alias and name, as the helper launch looks them up', async () => {
    // Prepare
    const { ec2 } = simulatedRegion();

    // Act
    const out = await ec2.send(
      new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['Windows_Server-2022-English-Full-Base-*'] }] }),
    );

    // Assess
    expect(out.Images?.map((i) => [i.ImageId, i.Platform, i.RootDeviceName])).toEqual([[PUBLIC_IMAGE_IDS.windowsServer2022, 'windows', '/dev/sda1']]);
  });
});
