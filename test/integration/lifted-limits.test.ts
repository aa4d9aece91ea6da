import { VirtualStack } from '../../infra/local/virtual-stack';
import { amazonLinux2023Files, lostPublicKey, withLoginUser } from '../../infra/sim/base-images';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import { SAMPLE_KMS_KEY_ID, SAMPLE_MARKETPLACE_PRODUCT_CODE } from '../../infra/sim/samples';
import { mutatingCalls, usersAcceptingStoredKey } from '../support/checks';

const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const MARKETPLACE = 'i-0a1b2c3d4e5f60004';

async function reset(instanceId: string) {
  const stack = new VirtualStack();
  const before = stack.region.getInstance(instanceId)!;
  const rootVolumeId = Object.values(stack.region.exportState().volumes).find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === before.rootDeviceName,
  )!.volumeId;
  const started = await stack.api('POST', '/resets', { instanceId });
  await stack.run();
  const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;
  return { stack, view, rootVolumeId, rootDeviceName: before.rootDeviceName };
}

describe('resets the runbook refuses', () => {
  it('resets an instance whose root is encrypted with a customer managed KMS key', async () => {
    // Act
    const { stack, view, rootVolumeId, rootDeviceName } = await reset(ENCRYPTED);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    const volume = stack.region.getVolume(rootVolumeId)!;
    expect(volume.encrypted).toBe(true);
    expect(volume.kmsKeyId).toContain(SAMPLE_KMS_KEY_ID);
    expect(volume.attachment).toMatchObject({ instanceId: ENCRYPTED, device: rootDeviceName, state: 'attached', deleteOnTermination: true });
    expect(stack.region.getInstance(ENCRYPTED)?.state).toBe('running');
    expect(usersAcceptingStoredKey(stack, ENCRYPTED, rootVolumeId)).toContain('ec2-user');
  });

  it('resets an instance whose root is encrypted with the AWS managed EBS key', async () => {
    // Prepare
    const stack = new VirtualStack();
    const instanceId = stack.region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'stopped',
      availabilityZone: 'us-east-1a',
      tags: { 'reset-access:allowed': 'true' },
      root: {
        encrypted: true, // no key named: the AWS managed key aws/ebs
        deleteOnTermination: false,
        files: withLoginUser(amazonLinux2023Files(), {
          user: 'ec2-user',
          uid: 1000,
          gid: 1000,
          gecos: 'EC2 Default User',
          groups: ['wheel'],
          authorizedKeys: [lostPublicKey('old')],
        }),
      },
    }).instanceId;

    // Act
    const started = await stack.api('POST', '/resets', { instanceId });
    await stack.run();

    // Assess
    const job = await stack.job(started.json.jobId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.target?.rootEncrypted).toBe(true);
    expect(stack.region.getInstance(instanceId)?.state).toBe('stopped');
    expect(stack.region.getVolume(job.target!.rootVolumeId)?.attachment).toMatchObject({ instanceId, state: 'attached', deleteOnTermination: false });
    expect(usersAcceptingStoredKey(stack, instanceId, job.target!.rootVolumeId)).toContain('ec2-user');
  });

  it('resets an instance with a Marketplace product code, attaching its root only to a stopped helper', async () => {
    // Act
    const { stack, view, rootVolumeId, rootDeviceName } = await reset(MARKETPLACE);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(stack.region.getVolume(rootVolumeId)?.productCodes.map((p) => p.id)).toContain(SAMPLE_MARKETPLACE_PRODUCT_CODE);
    expect(stack.region.getVolume(rootVolumeId)?.attachment).toMatchObject({ instanceId: MARKETPLACE, device: rootDeviceName, state: 'attached' });
    expect(usersAcceptingStoredKey(stack, MARKETPLACE, rootVolumeId)).toContain('bitnami');
    const helper = view.helperInstanceId as string;
    const helperCalls = stack.region.calls.filter((c) => JSON.stringify(c.input).includes(helper) && !c.error).map((c) => c.action);
    expect(helperCalls).toEqual(expect.arrayContaining(['StopInstances', 'AttachVolume', 'StartInstances', 'TerminateInstances']));
    expect(helperCalls.indexOf('StopInstances')).toBeLessThan(helperCalls.indexOf('AttachVolume'));
    expect(helperCalls.lastIndexOf('StartInstances')).toBeGreaterThan(helperCalls.indexOf('AttachVolume'));
    expect(mutatingCalls(stack).RunInstances).toBe(1);
  });
});
