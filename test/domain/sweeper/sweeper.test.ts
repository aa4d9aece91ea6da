import type { Job } from '../../../domain/job/job';
import { sweep } from '../../../domain/sweeper/sweeper';
import { job as jobFixture } from '../fixtures';
import { managedHelper, rescueVpc, strandedTarget, sweeperWorld, T0 } from './sweeper-fakes';

const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (n: number) => n * 60_000;

/** A running Linux job in create-backup since `startedAt`, its attempt last moved at `movedAt`. */
function runningJob(overrides: Partial<Job> & { startedAt?: number; movedAt?: number } = {}): Job {
  const { startedAt = T0 - minutes(5), movedAt, ...rest } = overrides;
  return jobFixture({
    jobId: 'r-run00001',
    createdAt: iso(T0 - minutes(20)),
    current: ['create-backup'],
    phases: { 'create-backup': { status: 'running', startedAt: iso(startedAt), attempt: 3, ...(movedAt ? { movedAt: iso(movedAt) } : {}) } },
    ...rest,
  });
}

describe('sweeper: stalled and overdue jobs', () => {
  it('publishes again, at its current attempt, a phase that has not moved for longer than allowed', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ movedAt: T0 - minutes(4) }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.published).toEqual([{ jobId: 'r-run00001', phase: 'create-backup', attempt: 3 }]);
    expect(summary).toMatchObject({ found: 1, redriven: 1, rolledBack: 0 });
  });

  it('leaves a phase alone that moved recently', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ movedAt: T0 - minutes(1) }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.published).toEqual([]);
    expect(summary.found).toBe(0);
  });

  it('re-drives only the stalled one of two parallel phases', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(
      runningJob({
        current: ['launch-helper', 'stop-target'],
        phases: {
          'launch-helper': { status: 'running', startedAt: iso(T0 - minutes(6)), attempt: 0 },
          'stop-target': { status: 'running', startedAt: iso(T0 - minutes(6)), attempt: 9, movedAt: iso(T0 - 30_000) },
        },
      }),
    );
    // Act
    await sweep(w.ports);
    // Assess
    expect(w.published).toEqual([{ jobId: 'r-run00001', phase: 'launch-helper', attempt: 0 }]);
  });

  it('rolls back a job whose phase is past its deadline, instead of re-driving it', async () => {
    // Prepare: create-backup may take 10 minutes
    const w = sweeperWorld();
    await w.seed(runningJob({ startedAt: T0 - minutes(11), movedAt: T0 - minutes(11) }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    const job = (await w.store.get('r-run00001'))!;
    expect(job.status).toBe('ROLLING_BACK');
    expect(job.error).toMatchObject({ code: 'PHASE_DEADLINE', phase: 'create-backup' });
    expect(w.published).toEqual([{ jobId: 'r-run00001', phase: 'rollback', attempt: 0 }]);
    expect(summary).toMatchObject({ rolledBack: 1, redriven: 0 });
  });

  it('does not count the time a phase backed off from throttling against its deadline, as the runner does not', async () => {
    // Prepare: 11 minutes in create-backup (10 allowed), 2 of them backing off
    const w = sweeperWorld();
    const job = runningJob({ startedAt: T0 - minutes(11), movedAt: T0 - 30_000 });
    job.phases['create-backup']!.throttledSeconds = 120;
    await w.seed(job);
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect((await w.store.get('r-run00001'))!.status).toBe('RUNNING');
    expect(summary.rolledBack).toBe(0);
  });

  it('rolls back a job older than the job deadline', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ createdAt: iso(T0 - minutes(361)), movedAt: T0 - 10_000 }));
    // Act
    await sweep(w.ports);
    // Assess
    expect((await w.store.get('r-run00001'))!.error?.code).toBe('JOB_DEADLINE');
  });

  it('re-drives a stalled rollback (the runner judges its deadline)', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(
      runningJob({ status: 'ROLLING_BACK', current: ['rollback'], phases: { rollback: { status: 'running', startedAt: iso(T0 - minutes(400)), attempt: 2 } } }),
    );
    // Act
    await sweep(w.ports);
    // Assess
    expect(w.published).toEqual([{ jobId: 'r-run00001', phase: 'rollback', attempt: 2 }]);
  });

  it('changes nothing in a dry run, and says what it would do', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ movedAt: T0 - minutes(4) }));
    await w.seed(runningJob({ jobId: 'r-late0001', startedAt: T0 - minutes(11) }));
    // Act
    const summary = await sweep(w.ports, { dryRun: true });
    // Assess
    expect(w.published).toEqual([]);
    expect((await w.store.get('r-late0001'))!.status).toBe('RUNNING');
    expect(summary).toMatchObject({ dryRun: true, redriven: 1, rolledBack: 1 });
    expect(summary.actions.map((a) => a.reason)).toEqual([expect.stringMatching(/^would re-drive/), expect.stringMatching(/^would roll back/)]);
  });
});

describe('sweeper: orphaned helpers', () => {
  it('terminates a helper whose job is gone, once it is older than the grace period', async () => {
    // Prepare
    const w = sweeperWorld();
    w.ec2.helpers.push(managedHelper({ instanceId: 'i-old' }), managedHelper({ instanceId: 'i-young', launchTime: iso(T0 - minutes(5)) }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual(['terminate i-old']);
    expect(summary).toMatchObject({ found: 1, deleted: 1 });
  });

  it("leaves alone, and reports, an instance with the helper tags but not the helper profile, or not its job's helper", async () => {
    // Prepare: tags anyone allowed ec2:CreateTags can put on any instance
    const w = sweeperWorld();
    w.ec2.helpers.push(
      managedHelper({ instanceId: 'i-forged', instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/app-server' }),
      managedHelper({ instanceId: 'i-noprofile', instanceProfileArn: undefined }),
      managedHelper({ instanceId: 'i-impostor', tags: { 'reset-access:job-id': 'r-done0001' } }),
    );
    await w.seed(jobFixture({ jobId: 'r-done0001', status: 'SUCCEEDED', resources: { helperInstanceId: 'i-real' } }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary).toMatchObject({ held: 3, deleted: 0 });
    expect(summary.actions.map((a) => a.reason)).toEqual([
      expect.stringMatching(/runs with instance profile app-server, not reset-access-helper/),
      expect.stringMatching(/runs with no instance profile/),
      expect.stringMatching(/its job r-done0001 recorded helper i-real/),
    ]);
  });

  it("counts the helpers EC2 runs before it reclaims any: pending or running, tagged as helpers, its jobs' too", async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ jobId: 'r-active01', movedAt: T0 }));
    w.ec2.helpers.push(
      managedHelper({ instanceId: 'i-active', tags: { 'reset-access:job-id': 'r-active01' } }),
      managedHelper({ instanceId: 'i-booting', state: 'pending', launchTime: iso(T0 - minutes(1)) }),
      managedHelper({ instanceId: 'i-orphan' }),
      managedHelper({ instanceId: 'i-stopped', state: 'stopped', tags: { 'reset-access:job-id': 'r-active01' } }),
      managedHelper({ instanceId: 'i-going', state: 'shutting-down' }),
      managedHelper({ instanceId: 'i-other', tags: { 'reset-access:role': 'not-a-helper' } }),
    );
    // Act
    const summary = await sweep(w.ports);
    // Assess: the orphan is terminated in this run, yet it was running when the run looked.
    expect(w.ec2.changes).toContain('terminate i-orphan');
    expect(summary.helpersRunning).toBe(3);
  });

  it('leaves the helper of a running job to the job, and terminates that of a finished one', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(runningJob({ jobId: 'r-active01', movedAt: T0 }));
    await w.seed(jobFixture({ jobId: 'r-done0001', status: 'SUCCEEDED', current: [] }));
    w.ec2.helpers.push(
      managedHelper({ instanceId: 'i-active', tags: { 'reset-access:job-id': 'r-active01' } }),
      managedHelper({ instanceId: 'i-done', tags: { 'reset-access:job-id': 'r-done0001' } }),
    );
    // Act
    await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual(['terminate i-done']);
  });

  it('gives the volume back to its stopped target before it terminates the helper, and restores what the tags say', async () => {
    // Prepare
    const w = sweeperWorld();
    const { targetId, volumeId } = strandedTarget(w.ec2);
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([
      `detach ${volumeId} i-helper`,
      `attach ${volumeId} ${targetId} /dev/xvda`,
      `delete-on-termination ${targetId} /dev/xvda true`,
      `start ${targetId}`,
      'terminate i-helper',
    ]);
    expect(summary).toMatchObject({ volumesReturned: 1, deleted: 1, held: 0 });
  });

  it('takes the return up in the next run when this one ran out of waiting time', async () => {
    // Prepare
    const w = sweeperWorld();
    w.ports.config.sweeper.maxWaitSeconds = 0;
    const { targetId, volumeId } = strandedTarget(w.ec2);
    // Act
    const first = await sweep(w.ports);
    w.ec2.settle();
    const second = await sweep(w.ports);
    w.ec2.settle();
    const third = await sweep(w.ports);
    // Assess
    expect([first.deferred, second.deferred, third.deferred]).toEqual([1, 1, 0]);
    expect(w.ec2.changes).toEqual([`detach ${volumeId} i-helper`, `attach ${volumeId} ${targetId} /dev/xvda`, 'terminate i-helper']);
  });

  it('leaves the volume attached, and the helper running, when the target is running', async () => {
    // Prepare
    const w = sweeperWorld();
    strandedTarget(w.ec2, { targetState: 'running' });
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary).toMatchObject({ held: 1, deleted: 0 });
    expect(summary.actions[0]!.reason).toMatch(/the target is running/);
  });

  it('never terminates a helper that holds a volume other than its target root', async () => {
    // Prepare
    const w = sweeperWorld();
    const { helper } = strandedTarget(w.ec2);
    helper.volumes.push({ volumeId: 'vol-0someoneelse', device: '/dev/sdg', state: 'attached', own: false });
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary.held).toBe(1);
  });

  it('leaves attached a volume on a helper that names no target (no job, no tags)', async () => {
    // Prepare
    const w = sweeperWorld();
    const { helper } = strandedTarget(w.ec2);
    helper.tags = { 'reset-access:managed': 'true', 'reset-access:deployment': 'ec2-reset-access-local', 'reset-access:role': 'helper' };
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary.actions).toEqual([expect.objectContaining({ action: 'held', reason: expect.stringMatching(/names no target/) })]);
  });

  it('uses the target the job recorded when the job ended without restoring it', async () => {
    // Prepare: the job's rollback gave up; the job's record names device and DeleteOnTermination
    const w = sweeperWorld();
    const { targetId, volumeId } = strandedTarget(w.ec2);
    w.ec2.helpers[0]!.tags = {
      'reset-access:managed': 'true',
      'reset-access:deployment': 'ec2-reset-access-local',
      'reset-access:role': 'helper',
      'reset-access:job-id': 'r-failed01',
    };
    await w.seed(
      jobFixture({
        jobId: 'r-failed01',
        instanceId: targetId,
        status: 'FAILED',
        instanceRestored: false,
        current: [],
        target: {
          state: 'stopped',
          platform: 'linux',
          availabilityZone: 'us-east-1a',
          rootDeviceName: '/dev/xvda',
          rootVolumeId: volumeId,
          rootDeleteOnTermination: false,
          rootEncrypted: false,
          rootProductCodes: [],
          publicIpWillChange: false,
        },
      }),
    );
    // Act
    await sweep(w.ports);
    // Assess: attached at the recorded device; stopped before, so not started
    expect(w.ec2.changes).toEqual([`detach ${volumeId} i-helper`, `attach ${volumeId} ${targetId} /dev/xvda`, 'terminate i-helper']);
  });

  it('changes nothing in a dry run', async () => {
    // Prepare
    const w = sweeperWorld();
    strandedTarget(w.ec2);
    w.ec2.helpers.push(managedHelper({ instanceId: 'i-plain' }));
    // Act
    const summary = await sweep(w.ports, { dryRun: true });
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary).toMatchObject({ dryRun: true, deleted: 2, volumesReturned: 1 });
  });
});

describe('sweeper: the rescue network', () => {
  async function idleNetwork(w: ReturnType<typeof sweeperWorld>, releasedMinutesAgo: number) {
    await w.networkLeases.acquire('r-old00001', new Date(T0 - minutes(120)));
    await w.networkLeases.recordVpc('vpc-rescue');
    await w.networkLeases.release('r-old00001', new Date(T0 - minutes(releasedMinutesAgo)));
  }

  it('deletes an idle network in dependency order and forgets its record', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc());
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([
      'delete route-table-association rtbassoc-a',
      'delete route-table rtb-rescue',
      'delete security-group sg-rescue',
      'delete subnet subnet-a',
      'delete internet-gateway-attachment igw-rescue',
      'delete internet-gateway igw-rescue',
      'delete vpc vpc-rescue',
    ]);
    expect(await w.networkLeases.read()).toBeUndefined();
    expect(summary).toMatchObject({ deleted: 7, deferred: 0 });
  });

  it('keeps a network a job holds, and one idle for less than the idle time', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 30);
    w.ec2.vpcs.push(rescueVpc());
    // Act
    await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect((await w.networkLeases.read())?.state).toBe('in-use');
  });

  it('drops the lease of a job that is gone, which restarts the idle time', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.networkLeases.acquire('r-gone0001', new Date(T0 - minutes(300)));
    w.ec2.vpcs.push(rescueVpc());
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(await w.networkLeases.read()).toMatchObject({ state: 'in-use', leases: {}, lastReleasedAt: iso(T0) });
    expect(w.ec2.changes).toEqual([]);
    expect(summary.actions).toContainEqual({ resource: 'lease', id: 'r-gone0001', action: 'lease-dropped', reason: 'job gone' });
  });

  it('stops at what is not deletable yet and goes on from there in the next run', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc());
    w.ec2.deferred.set('subnet-a', 'DependencyViolation: in use');
    // Act
    const first = await sweep(w.ports);
    const between = await w.networkLeases.read();
    w.ec2.deferred.clear();
    const second = await sweep(w.ports);
    // Assess
    expect(first).toMatchObject({ deleted: 3, deferred: 1 });
    expect(between?.state).toBe('reclaiming');
    expect(second.deleted).toBe(4);
    expect(w.ec2.vpcs).toEqual([]);
    expect(await w.networkLeases.read()).toBeUndefined();
  });

  it('waits for endpoints to go, and defers the VPC when they take longer than the run may wait', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc({ endpoints: [{ id: 'vpce-ssm', state: 'available' }] }));
    w.ec2.endpointLooks.set('vpce-ssm', 100);
    // Act
    const first = await sweep(w.ports);
    w.ec2.endpointLooks.set('vpce-ssm', 0);
    const second = await sweep(w.ports);
    // Assess
    expect(first.actions).toContainEqual(
      expect.objectContaining({ resource: 'vpc', action: 'deferred', reason: expect.stringMatching(/endpoints still deleting/) }),
    );
    expect(w.ec2.changes.filter((c) => c.includes('vpc-endpoint'))).toEqual(['delete vpc-endpoint vpce-ssm']);
    expect(second.actions).toContainEqual({ resource: 'vpc', id: 'vpc-rescue', action: 'deleted' });
  });

  it('deletes nothing while an instance is still in the VPC', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc({ instanceIds: ['i-shutting'] }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect(summary.deferred).toBe(1);
    expect((await w.networkLeases.read())?.state).toBe('reclaiming');
  });

  it('does not start reclaiming a network that holds resources without the service tags', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc({ foreign: ['subnet-customer'] }));
    // Act
    const summary = await sweep(w.ports);
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect((await w.networkLeases.read())?.state).toBe('in-use');
    expect(summary.held).toBe(1);
  });

  it('reclaims only the VPC its record names: another with its tags, or one no record names, is reported and left', async () => {
    // Prepare: the recorded network, idle, and a VPC someone tagged as this deployment's
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(
      rescueVpc(),
      rescueVpc({ vpcId: 'vpc-forged', subnetIds: ['subnet-forged'], routeTables: [], securityGroupIds: [], internetGatewayIds: [] }),
    );
    const unrecorded = sweeperWorld();
    unrecorded.ec2.vpcs.push(rescueVpc());
    // Act
    const summary = await sweep(w.ports);
    const without = await sweep(unrecorded.ports);
    // Assess
    expect(w.ec2.changes.filter((c) => c.includes('forged'))).toEqual([]);
    expect(w.ec2.changes).toContain('delete vpc vpc-rescue');
    expect(summary.actions).toContainEqual(
      expect.objectContaining({ id: 'vpc-forged', action: 'held', reason: expect.stringMatching(/network is vpc-rescue: left alone/) }),
    );
    expect(unrecorded.ec2.changes).toEqual([]);
    expect(without).toMatchObject({ held: 1, deleted: 0 });
    expect(await unrecorded.networkLeases.read()).toBeUndefined();
  });

  it('deletes spare gateways only while reclaiming', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.networkLeases.acquire('r-live0001', new Date(T0));
    await w.seed(runningJob({ jobId: 'r-live0001', movedAt: T0 }));
    w.ec2.vpcs.push(rescueVpc());
    w.ec2.detachedGateways.push('igw-spare');
    // Act
    await sweep(w.ports);
    const whileUsed = [...w.ec2.changes];
    await w.networkLeases.release('r-live0001', new Date(T0 - minutes(90)));
    await sweep(w.ports);
    // Assess
    expect(whileUsed).toEqual([]);
    expect(w.ec2.changes).toContain('delete internet-gateway igw-spare');
  });

  it('changes nothing in a dry run, and lists what it would delete', async () => {
    // Prepare
    const w = sweeperWorld();
    await idleNetwork(w, 61);
    w.ec2.vpcs.push(rescueVpc());
    // Act
    const summary = await sweep(w.ports, { dryRun: true });
    // Assess
    expect(w.ec2.changes).toEqual([]);
    expect((await w.networkLeases.read())?.state).toBe('in-use');
    expect(summary.deleted).toBe(7);
  });
});

describe('sweeper: backup images pending when their job ended', () => {
  const succeeded = (jobId: string, createdAt: number, backupImageState = 'pending') =>
    jobFixture({
      jobId,
      status: 'SUCCEEDED',
      createdAt: iso(createdAt),
      endedAt: iso(createdAt + minutes(4)),
      outputs: { backupImageId: `ami-${jobId}`, backupImageState },
    });

  it('records on the job what became of a pending backup: failed with what it means, or available', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(succeeded('r-failed01', T0 - minutes(30)));
    await w.seed(succeeded('r-avail001', T0 - minutes(20)));
    await w.seed(succeeded('r-still001', T0 - minutes(10)));
    w.ec2.images.set('ami-r-failed01', { imageId: 'ami-r-failed01', name: 'b1', state: 'failed', stateReason: 'Server.InternalError' });
    w.ec2.images.set('ami-r-avail001', { imageId: 'ami-r-avail001', name: 'b2', state: 'available' });
    w.ec2.images.set('ami-r-still001', { imageId: 'ami-r-still001', name: 'b3', state: 'pending' });

    // Act
    const summary = await sweep(w.ports);

    // Assess
    expect((await w.store.get('r-failed01'))!.outputs).toMatchObject({
      backupImageState: 'failed',
      backupImageProblem: expect.stringMatching(/^backup image ami-r-failed01 is failed \(Server.InternalError\): it is no backup/),
    });
    expect((await w.store.get('r-avail001'))!.outputs).toEqual({ backupImageId: 'ami-r-avail001', backupImageState: 'available' });
    expect((await w.store.get('r-still001'))!.outputs.backupImageState).toBe('pending');
    expect(summary.actions.filter((a) => a.action === 'backup-checked').map((a) => a.id)).toEqual(['r-avail001', 'r-failed01']);
  });

  it('leaves jobs older than a day, and changes nothing in a dry run', async () => {
    // Prepare
    const w = sweeperWorld();
    await w.seed(succeeded('r-recent01', T0 - minutes(30)));
    await w.seed(succeeded('r-old00001', T0 - minutes(25 * 60)));
    w.ec2.images.set('ami-r-recent01', { imageId: 'ami-r-recent01', name: 'b1', state: 'failed' });
    w.ec2.images.set('ami-r-old00001', { imageId: 'ami-r-old00001', name: 'b2', state: 'failed' });

    // Act
    const dry = await sweep(w.ports, { dryRun: true });
    const recentAfterDryRun = (await w.store.get('r-recent01'))!.outputs.backupImageState;
    await sweep(w.ports);

    // Assess
    expect(dry.actions).toContainEqual({
      resource: 'job',
      id: 'r-recent01',
      action: 'backup-checked',
      reason: 'would record: backup image ami-r-recent01 is failed',
    });
    expect(recentAfterDryRun).toBe('pending');
    expect((await w.store.get('r-recent01'))!.outputs.backupImageState).toBe('failed');
    expect((await w.store.get('r-old00001'))!.outputs.backupImageState).toBe('pending');
  });
});
