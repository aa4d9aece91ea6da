import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';

import { sampleInstances, SAMPLE_KMS_KEY_ID, SAMPLE_MARKETPLACE_PRODUCT_CODE, seedSampleRegion } from '../../../infra/sim/samples';
import { simulatedRegion } from './sim-harness';

describe('sample instances', () => {
  test('each sample exists with its fixed id, state, root device and what it demonstrates', async () => {
    // Prepare
    const { ec2, region } = simulatedRegion();

    // Act
    seedSampleRegion(region);
    seedSampleRegion(region);
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: sampleInstances.map((s) => s.instanceId) }));
    const byId = new Map(out.Reservations!.flatMap((r) => r.Instances!).map((i) => [i.InstanceId!, i]));
    const volumes = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: ['i-0a1b2c3d4e5f60003'] }] }));

    // Assess
    expect(byId.size).toBe(sampleInstances.length);
    for (const sample of sampleInstances) {
      const instance = byId.get(sample.instanceId)!;
      expect([instance.State?.Name, instance.Tags?.find((t) => t.Key === 'Name')?.Value]).toEqual([sample.state, sample.name]);
      expect(instance.Placement?.AvailabilityZone).toBe('us-east-1a');
      expect(instance.BlockDeviceMappings?.[0].Ebs?.DeleteOnTermination).toBe(true);
    }
    expect(byId.get('i-0a1b2c3d4e5f60001')?.RootDeviceName).toBe('/dev/xvda');
    expect(byId.get('i-0a1b2c3d4e5f60002')?.RootDeviceName).toBe('/dev/sda1');
    expect(volumes.Volumes?.[0]).toEqual(expect.objectContaining({ Encrypted: true, KmsKeyId: expect.stringContaining(SAMPLE_KMS_KEY_ID) }));
    expect(byId.get('i-0a1b2c3d4e5f60004')?.ProductCodes).toEqual([{ ProductCodeId: SAMPLE_MARKETPLACE_PRODUCT_CODE, ProductCodeType: 'marketplace' }]);
    expect(byId.get('i-0a1b2c3d4e5f60005')?.InstanceLifecycle).toBe('spot');
    expect(region.getInstance('i-0a1b2c3d4e5f60006')?.disableApiStop).toBe(true);
    const ubuntuRoot = region.getVolume(byId.get('i-0a1b2c3d4e5f60002')!.BlockDeviceMappings![0].Ebs!.VolumeId!)!;
    expect(ubuntuRoot.files['/home/ubuntu/.ssh/authorized_keys'].content).toMatch(/^ssh-ed25519 \S+ old-laptop\n$/);
  });
});
