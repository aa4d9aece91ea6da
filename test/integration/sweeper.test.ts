/**
 * The sweeper and the shared rescue network on the simulated region (VirtualStack): what issue 5's
 * "Done when" lists, each one.
 */
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import type { QueueSend } from '../../infra/memory/memory-queues';
import { seedLinuxFleet } from '../../infra/local/fleet';
import { VirtualStack, type VirtualStackOptions } from '../../infra/local/virtual-stack';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import type { RegionState } from '../../infra/sim/state';
import { isMutating } from '../support/checks';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const MINUTE = 60_000;

/** Short idle time, so that a network left by a test job can be reclaimed within a few sweeps. */
function stackWith(options: VirtualStackOptions & { sweeper?: Partial<ServiceConfig['sweeper']>; idleSeconds?: number } = {}): VirtualStack {
  const { sweeper, idleSeconds, ...rest } = options;
  return new VirtualStack({
    ...rest,
    config: {
      ...rest.config,
      rescueNetwork: { ...defaultConfig.rescueNetwork, idleSeconds: idleSeconds ?? 5 * 60 },
      sweeper: { ...defaultConfig.sweeper, ...sweeper },
    },
  });
}

const managed = (tags: Record<string, string>) => tags['reset-access:managed'] === 'true';
function rescueVpcs(state: RegionState) {
  return Object.values(state.vpcs).filter((v) => managed(v.tags) && v.tags['reset-access:role'] === 'rescue-vpc');
}
function rootAttachment(stack: VirtualStack, instanceId: string) {
  const instance = stack.region.getInstance(instanceId)!;
  const volume = Object.values(stack.region.exportState().volumes).find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName,
  );
  return { instance, volume };
}
function mutatingCallsSince(stack: VirtualStack, from: number) {
  return stack.region.calls.slice(from).filter((c) => !c.error && isMutating(c.action));
}

/** Starts a reset of AL2023 and loses its record once the root volume is on the helper. */
async function jobLostWithVolumeOnHelper(stack: VirtualStack): Promise<{ jobId: string; helperId: string; rootVolumeId: string; backupImageId: string }> {
  const { volume } = rootAttachment(stack, AL2023);
  const started = await stack.api('POST', '/resets', { instanceId: AL2023 });
  const jobId = started.json.jobId as string;
  stack.beforeDelivery = (message) => {
    if (message.jobId === jobId && message.phase === 'run-rescue') stack.store.forget(jobId);
  };
  await stack.run();
  stack.beforeDelivery = undefined;
  expect(await stack.store.get(jobId)).toBeUndefined();
  const state = stack.region.exportState();
  const helper = Object.values(state.instances).find((i) => i.tags['reset-access:job-id'] === jobId)!;
  const backup = Object.values(state.images).find((i) => i.name === `ResetAccess-backup-${AL2023}-${jobId}`)!;
  return { jobId, helperId: helper.instanceId, rootVolumeId: volume!.volumeId, backupImageId: backup.imageId };
}

describe('sweeper on the simulated region', () => {
  it('leaves nothing behind a job whose record was deleted mid-run after two sweeps, and restores its target', async () => {
    // Prepare: the record disappears while the target's root volume is on the helper
    const stack = stackWith();
    const lost = await jobLostWithVolumeOnHelper(stack);
    expect(stack.region.getVolume(lost.rootVolumeId)?.attachment?.instanceId).toBe(lost.helperId);
    expect(stack.region.getInstance(AL2023)?.state).toBe('stopped');
    stack.clock.advance(16 * MINUTE); // past the helpers' grace period

    // Act
    const first = await stack.sweep();
    stack.clock.advance(10 * MINUTE);
    const second = await stack.sweep();
    stack.clock.advance(1 * MINUTE);

    // Assess: the target has its root back, as it was, and runs again
    const { instance, volume } = rootAttachment(stack, AL2023);
    expect(volume?.volumeId).toBe(lost.rootVolumeId);
    expect(volume?.attachment?.deleteOnTermination).toBe(true);
    expect(instance.state).toBe('running');
    // Nothing of the job is left: no helper, no rescue network, no lease; the backup image is kept
    const state = stack.region.exportState();
    expect(['shutting-down', 'terminated', undefined]).toContain(state.instances[lost.helperId]?.state);
    expect(Object.values(state.instances).filter((i) => managed(i.tags) && i.state !== 'terminated')).toEqual([]);
    expect(rescueVpcs(state)).toEqual([]);
    expect(Object.values(state.subnets).filter((s) => managed(s.tags))).toEqual([]);
    expect(Object.values(state.internetGateways).filter((g) => managed(g.tags))).toEqual([]);
    expect(await stack.networkLeases.read()).toBeUndefined();
    expect(state.images[lost.backupImageId]).toBeDefined();
    expect([first.volumesReturned, second.volumesReturned]).toEqual([1, 0]);
    expect(second.deferred).toBe(0);
  });

  it("gives a customer's volume on a helper back to its target before it terminates the helper", async () => {
    // Prepare: a helper the service launched (its tags) holding the root of a stopped instance, no job
    const stack = stackWith();
    const { volume } = rootAttachment(stack, UBUNTU);
    const rootVolumeId = volume!.volumeId;
    const helper = stack.region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: 'running',
      launchTime: stack.clock.now() - 60 * MINUTE,
      // What only the service's launch gives it: this deployment's helper profile (iam:PassRole).
      iamInstanceProfileName: 'reset-access-helper',
      tags: {
        'reset-access:managed': 'true',
        'reset-access:deployment': 'ec2-reset-access-local',
        'reset-access:role': 'helper',
        'reset-access:job-id': 'r-neverrecorded',
        'reset-access:target-instance-id': UBUNTU,
        'reset-access:target-root-volume-id': rootVolumeId,
        'reset-access:target-state': 'stopped',
        'reset-access:target-root-delete-on-termination': 'true',
      },
    });
    stack.region.ec2('DetachVolume', { VolumeId: rootVolumeId, InstanceId: UBUNTU });
    stack.clock.advance(MINUTE);
    stack.region.ec2('AttachVolume', { VolumeId: rootVolumeId, InstanceId: helper.instanceId, Device: '/dev/sdf' });
    stack.clock.advance(MINUTE);
    const from = stack.region.calls.length;

    // Act
    const summary = await stack.sweep();

    // Assess
    const calls = mutatingCallsSince(stack, from).map((c) => c.action);
    expect(calls).toEqual(['DetachVolume', 'AttachVolume', 'ModifyInstanceAttribute', 'TerminateInstances']);
    expect(rootAttachment(stack, UBUNTU).volume?.volumeId).toBe(rootVolumeId);
    expect(stack.region.getInstance(UBUNTU)?.state).toBe('stopped');
    expect(summary).toMatchObject({ volumesReturned: 1, deleted: 1, held: 0 });
  });

  it('never terminates a helper holding a volume that is not its target root, and reports it', async () => {
    // Prepare: the lost job's helper also holds another instance's root
    const stack = stackWith();
    const lost = await jobLostWithVolumeOnHelper(stack);
    const stranger = rootAttachment(stack, UBUNTU).volume!.volumeId;
    stack.region.ec2('DetachVolume', { VolumeId: stranger, InstanceId: UBUNTU });
    stack.clock.advance(MINUTE);
    stack.region.ec2('AttachVolume', { VolumeId: stranger, InstanceId: lost.helperId, Device: '/dev/sdg' });
    stack.clock.advance(16 * MINUTE);
    const from = stack.region.calls.length;

    // Act
    const summary = await stack.sweep();

    // Assess
    expect(mutatingCallsSince(stack, from)).toEqual([]);
    expect(stack.region.getInstance(lost.helperId)?.state).toBe('running');
    expect(stack.region.getVolume(stranger)?.attachment?.instanceId).toBe(lost.helperId);
    expect(stack.region.getVolume(lost.rootVolumeId)?.attachment?.instanceId).toBe(lost.helperId);
    expect(summary.held).toBe(1);
    expect(summary.actions).toContainEqual(
      expect.objectContaining({ resource: 'helper', id: lost.helperId, action: 'held', reason: expect.stringContaining(stranger) }),
    );
  });

  it('defers the VPC to the next run while a VPC endpoint is still deleting', async () => {
    // Prepare: a finished job's network, with an (interface) SSM endpoint; deletion outlasts a run's waiting
    const stack = stackWith({ region: { timings: { vpcEndpointDeleteMs: 8 * MINUTE } } });
    await stack.api('POST', '/resets', { instanceId: AL2023 });
    await stack.run();
    const vpc = rescueVpcs(stack.region.exportState())[0]!;
    const state = stack.region.exportState();
    const subnetId = Object.values(state.subnets).find((s) => s.vpcId === vpc.vpcId)!.subnetId;
    const groupId = Object.values(state.securityGroups).find((g) => g.vpcId === vpc.vpcId && g.tags['reset-access:role'] === 'rescue-security-group')!.groupId;
    const endpoint = stack.region.ec2('CreateVpcEndpoint', {
      VpcId: vpc.vpcId,
      ServiceName: 'com.amazonaws.us-east-1.ssm',
      VpcEndpointType: 'Interface',
      SubnetIds: [subnetId],
      SecurityGroupIds: [groupId],
      TagSpecifications: [
        {
          ResourceType: 'vpc-endpoint',
          Tags: [
            { Key: 'reset-access:managed', Value: 'true' },
            { Key: 'reset-access:deployment', Value: 'ec2-reset-access-local' },
            { Key: 'reset-access:role', Value: 'rescue-endpoint' },
          ],
        },
      ],
    }).VpcEndpoint!.VpcEndpointId!;
    stack.clock.advance(10 * MINUTE); // idle for longer than the idle time

    // Act
    const first = await stack.sweep();
    const afterFirst = stack.region.exportState();
    stack.clock.advance(10 * MINUTE);
    const second = await stack.sweep();

    // Assess
    expect(afterFirst.vpcs[vpc.vpcId]).toBeDefined();
    expect(afterFirst.subnets[subnetId]).toBeDefined();
    expect(afterFirst.vpcEndpoints[endpoint]?.state).toBe('deleting');
    expect(first.actions).toContainEqual(
      expect.objectContaining({ resource: 'vpc', id: vpc.vpcId, action: 'deferred', reason: expect.stringMatching(/endpoints still deleting/) }),
    );
    expect(second.actions).toContainEqual({ resource: 'vpc', id: vpc.vpcId, action: 'deleted' });
    expect(stack.region.calls.filter((c) => c.action === 'DeleteVpcEndpoints')).toHaveLength(1);
    expect(rescueVpcs(stack.region.exportState())).toEqual([]);
  });

  it('completes a job whose next event was lost after the state write once a sweep re-drives it', async () => {
    // Prepare: the create-backup event is lost, and so is its re-publication by a late stop-target
    // delivery (republishIfLost): nothing but the sweeper can move the job on
    let losing = true;
    let dropped = 0;
    const stack = stackWith({
      queueFault: (send: QueueSend) => {
        if (!losing || send.via !== 'publish' || send.message.phase !== 'create-backup') return 'deliver';
        dropped += 1;
        return 'drop';
      },
    });
    const { json } = await stack.api('POST', '/resets', { instanceId: AL2023 });
    await stack.run();
    const stuck = await stack.job(json.jobId);
    losing = false;
    expect(dropped).toBeGreaterThan(0);
    expect(stuck.status).toBe('RUNNING');
    expect(stuck.current).toEqual(['create-backup']);
    expect(stack.queue.size).toBe(0);
    const stalledAfter = Date.parse(stuck.phases['create-backup']!.startedAt) + (defaultConfig.sweeper.stalledAfterSeconds + 10) * 1000;
    stack.clock.set(Math.max(stack.clock.now(), stalledAfter));

    // Act
    const summary = await stack.sweep();
    await stack.run();

    // Assess
    expect(summary.redriven).toBe(1);
    expect((await stack.job(json.jobId)).status).toBe('SUCCEEDED');
  });

  it('makes one rescue VPC for two jobs that start at once in a fresh region', async () => {
    // Prepare
    const stack = stackWith({ concurrentDeliveries: true });

    // Act
    const started = await Promise.all([AL2023, UBUNTU].map((instanceId) => stack.api('POST', '/resets', { instanceId })));
    await stack.run();

    // Assess
    expect(stack.region.calls.filter((c) => c.action === 'CreateVpc' && !c.error)).toHaveLength(1);
    expect(rescueVpcs(stack.region.exportState())).toHaveLength(1);
    for (const { json } of started) expect((await stack.job(json.jobId)).status).toBe('SUCCEEDED');
  });

  it('would make two VPCs in the same race without the creation lock (the harness does race)', async () => {
    // Prepare: a lock that always says yes
    const stack = stackWith({ concurrentDeliveries: true });
    stack.networkLeases.lockCreation = async () => true;

    // Act
    await Promise.all([AL2023, UBUNTU].map((instanceId) => stack.api('POST', '/resets', { instanceId })));
    await stack.run();

    // Assess
    expect(rescueVpcs(stack.region.exportState())).toHaveLength(2);
  });

  it('runs 50 concurrent jobs in one AZ in one VPC, and all succeed', async () => {
    // Prepare: 50 locked-out instances in one AZ (the fleet spreads over six zones: take every sixth)
    const stack = stackWith({ concurrentDeliveries: true, samples: false, region: { callLogLimit: 100_000 } });
    const zone = stack.region.config.availabilityZones[0];
    const fleet = seedLinuxFleet(stack.region, { count: 300 }).filter((id) => stack.region.getInstance(id)!.availabilityZone === zone);
    expect(fleet).toHaveLength(50);

    // Act
    const started = await Promise.all(fleet.map((instanceId) => stack.api('POST', '/resets', { instanceId })));
    await stack.run();

    // Assess
    const jobs = await Promise.all(started.map(({ json }) => stack.job(json.jobId)));
    expect(jobs.filter((j) => j.status !== 'SUCCEEDED').map((j) => `${j.jobId} ${j.status} ${j.error?.code}`)).toEqual([]);
    const state = stack.region.exportState();
    expect(rescueVpcs(state)).toHaveLength(1);
    expect(new Set(jobs.map((j) => j.resources.rescueNetwork?.subnetId)).size).toBe(1);
    expect(stack.region.calls.filter((c) => c.action === 'CreateVpc' && !c.error)).toHaveLength(1);
    expect((await stack.networkLeases.read())?.leases).toEqual({});
  });

  it('never touches look-alikes without the service tags', async () => {
    // Prepare: a reclaimable network and orphan of a lost job, and untagged (or wrongly tagged) twins
    const stack = stackWith();
    const lost = await jobLostWithVolumeOnHelper(stack);
    const old = stack.clock.now() - 24 * 60 * MINUTE;
    const twins = (
      [
        { 'reset-access:role': 'helper', 'reset-access:job-id': 'r-gone' },
        { 'reset-access:managed': 'false', 'reset-access:role': 'helper', 'reset-access:job-id': 'r-gone' },
        { 'reset-access:managed': 'true', 'reset-access:role': 'backup-image', 'reset-access:job-id': 'r-gone' },
        { Name: 'reset-access-helper-i-0a1b2c3d4e5f60001' },
      ] as Array<Record<string, string>>
    ).map((tags) => stack.region.seedInstance({ imageId: PUBLIC_IMAGE_IDS.amazonLinux2023, state: 'running', launchTime: old, tags }).instanceId);
    const vpcTwin = stack.region.ec2('CreateVpc', {
      CidrBlock: '10.213.0.0/16',
      TagSpecifications: [
        {
          ResourceType: 'vpc',
          Tags: [
            { Key: 'Name', Value: 'reset-access-rescue' },
            { Key: 'reset-access:role', Value: 'rescue-vpc' },
          ],
        },
      ],
    }).Vpc!.VpcId!;
    const subnetTwin = stack.region.ec2('CreateSubnet', {
      VpcId: vpcTwin,
      CidrBlock: '10.213.0.0/24',
      AvailabilityZone: 'us-east-1a',
      TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'reset-access:role', Value: 'rescue-subnet' }] }],
    }).Subnet!.SubnetId!;
    const gatewayTwin = stack.region.ec2('CreateInternetGateway', {
      TagSpecifications: [
        {
          ResourceType: 'internet-gateway',
          Tags: [
            { Key: 'reset-access:managed', Value: 'false' },
            { Key: 'reset-access:role', Value: 'rescue-igw' },
          ],
        },
      ],
    }).InternetGateway!.InternetGatewayId!;
    const twinIds = [...twins, vpcTwin, subnetTwin, gatewayTwin];
    stack.clock.advance(16 * MINUTE);
    const from = stack.region.calls.length;

    // Act: enough sweeps to reclaim everything of the service's
    for (let run = 0; run < 3; run++) {
      await stack.sweep();
      stack.clock.advance(10 * MINUTE);
    }

    // Assess: the service's are gone, the twins are all there, and no change named one of them
    const state = stack.region.exportState();
    expect(rescueVpcs(state)).toEqual([]);
    expect(state.instances[lost.helperId]?.state ?? 'terminated').toBe('terminated');
    for (const id of twins) expect(state.instances[id]?.state).toBe('running');
    expect(state.vpcs[vpcTwin]).toBeDefined();
    expect(state.subnets[subnetTwin]).toBeDefined();
    expect(state.internetGateways[gatewayTwin]).toBeDefined();
    const touching = mutatingCallsSince(stack, from).filter((c) => twinIds.some((id) => JSON.stringify(c.input).includes(id)));
    expect(touching).toEqual([]);
  });

  it('changes nothing in a dry run, and reports what it would do', async () => {
    // Prepare: a lost job's helper with the target's root on it, its lease, and a stalled job
    let armed = false;
    const stack = stackWith({
      queueFault: (send: QueueSend) => (armed && send.via === 'publish' && send.message.phase === 'create-backup' ? 'drop' : 'deliver'),
    });
    const lost = await jobLostWithVolumeOnHelper(stack);
    armed = true;
    const stalled = await stack.api('POST', '/resets', { instanceId: UBUNTU });
    await stack.run();
    stack.clock.advance(16 * MINUTE);
    const from = stack.region.calls.length;
    const before = { region: stack.region.exportState(), leases: await stack.networkLeases.read(), job: await stack.job(stalled.json.jobId) };

    // Act
    const first = await stack.sweep({ dryRun: true });
    stack.clock.advance(10 * MINUTE);
    const second = await stack.sweep({ dryRun: true });

    // Assess
    expect(mutatingCallsSince(stack, from)).toEqual([]);
    expect(stack.queue.size).toBe(0);
    expect(await stack.networkLeases.read()).toEqual(before.leases);
    expect(await stack.job(stalled.json.jobId)).toEqual(before.job);
    expect(stack.region.getVolume(lost.rootVolumeId)?.attachment?.instanceId).toBe(lost.helperId);
    expect(Object.keys(stack.region.exportState().vpcs)).toEqual(Object.keys(before.region.vpcs));
    for (const summary of [first, second]) {
      expect(summary).toMatchObject({ dryRun: true, volumesReturned: 1, deleted: 1 });
      expect(summary.redriven + summary.rolledBack).toBe(1);
    }
    expect(first.actions.filter((a) => a.action !== 'held').every((a) => /would/.test(a.reason ?? ''))).toBe(true);
  });
});
