import { VirtualStack } from '../../infra/local/virtual-stack';
import { mutatingCalls, usersAcceptingStoredKey } from '../support/checks';

const AL2023 = 'i-0a1b2c3d4e5f60001';

function rootOf(stack: VirtualStack, instanceId: string) {
  const instance = stack.region.getInstance(instanceId)!;
  const volume = [...Object.values(stack.region.exportState().volumes)].find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName,
  );
  return { instance, volume };
}

describe('a Linux reset end to end on the simulated region', () => {
  it('puts a new key on the instance, stores the private key, and leaves the instance as it was', async () => {
    // Prepare
    const stack = new VirtualStack();
    const before = rootOf(stack, AL2023);
    expect(before.volume).toBeDefined();

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: AL2023 });
    const ran = await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(started.statusCode).toBe(202);
    expect(ran).toBe('idle');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs.sshKeyParameter).toBe(`/ec2rl/openssh/${AL2023}/key`);
    expect(view.outputs.backupImageId).toMatch(/^ami-/);
    expect(view.outputs.publicIpWillChange).toBe(true);
    const after = rootOf(stack, AL2023);
    expect(after.instance.state).toBe('running');
    expect(after.volume?.volumeId).toBe(before.volume!.volumeId);
    expect(after.volume?.attachment?.deleteOnTermination).toBe(before.volume!.attachment!.deleteOnTermination);
    expect(usersAcceptingStoredKey(stack, AL2023, before.volume!.volumeId)).toContain('ec2-user');
    expect(stack.region.getParameter(`/ec2rl/openssh/${AL2023}/key`)?.type).toBe('SecureString');
    const helper = stack.region.getInstance(view.helperInstanceId)!;
    expect(['shutting-down', 'terminated']).toContain(helper.state);
    expect(stack.region.getImage(view.outputs.backupImageId)?.name).toBe(`ResetAccess-backup-${AL2023}-${view.jobId}`);
  });

  it('overlaps the helper launch with the target stop', async () => {
    const stack = new VirtualStack();
    const { json } = await stack.api('POST', '/resets', { instanceId: AL2023 });
    await stack.run();
    const phases = Object.fromEntries((await stack.api('GET', `/resets/${json.jobId}`)).json.phases.map((p: { name: string }) => [p.name, p]));
    const launch = phases['launch-helper'];
    const stop = phases['stop-target'];
    expect(Date.parse(stop.startedAt)).toBeLessThan(Date.parse(launch.endedAt));
    expect(Date.parse(launch.startedAt)).toBeLessThan(Date.parse(stop.endedAt));
  });

  it('launches one helper, stops once, and makes one backup', async () => {
    const stack = new VirtualStack();
    await stack.api('POST', '/resets', { instanceId: AL2023 });
    await stack.run();
    const calls = mutatingCalls(stack);
    expect(calls.RunInstances).toBe(1);
    expect(calls.StopInstances).toBe(1);
    expect(calls.CreateImage).toBe(1);
    expect(calls.SendCommand).toBe(1);
    expect(calls.TerminateInstances).toBe(1);
  });
});
