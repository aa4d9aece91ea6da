/** The four volume moves: each takes the next step towards where the root must be. */
import { attachToHelper } from '../../../../domain/pipeline/phases/attach-to-helper';
import { detachFromHelper } from '../../../../domain/pipeline/phases/detach-from-helper';
import { detachRoot } from '../../../../domain/pipeline/phases/detach-root';
import { reattachRoot } from '../../../../domain/pipeline/phases/reattach-root';
import { FakeRescue, fakePorts, HELPER, ROOT, seedSwap, swapJob, TARGET } from './fakes';

describe('detach-root', () => {
  it('detaches the root from the target on its first delivery, then is done once it is available', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute);
    // Act
    const first = await detachRoot(swapJob('detach-root'), ports);
    compute.settleVolume(ROOT);
    const later = await detachRoot(swapJob('detach-root', {}, 1), ports);
    // Assess
    expect(first.kind).toBe('wait');
    expect(compute.calls[0]).toEqual({ method: 'detachVolume', args: [ROOT, TARGET] });
    expect(later.kind).toBe('done');
    expect(compute.sent).toEqual(['detachVolume']);
  });

  it('refuses a root volume that is attached to an instance the job does not own', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { rootOn: 'i-0someoneelse00001' });
    // Act
    const act = detachRoot(swapJob('detach-root', {}, 1), ports);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'VOLUME_ATTACHED_ELSEWHERE' });
    expect(compute.sent).toEqual([]);
  });
});

describe('attach-to-helper', () => {
  it('attaches the available root to the helper at /dev/sdf and is done once attached', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ rescue: new FakeRescue() });
    seedSwap(compute, { rootOn: '' });
    // Act
    const first = await attachToHelper(swapJob('attach-to-helper'), ports);
    compute.settleVolume(ROOT);
    const later = await attachToHelper(swapJob('attach-to-helper', {}, 1), ports);
    // Assess
    expect(first.kind).toBe('wait');
    expect(compute.calls[0]).toEqual({ method: 'attachVolume', args: [ROOT, HELPER, '/dev/sdf'] });
    expect(later.kind).toBe('done');
  });

  it('stops the helper first for a Marketplace root, attaches, starts it and waits for its agent', async () => {
    // Prepare
    const rescue = new FakeRescue();
    const { ports, compute } = fakePorts({ rescue });
    seedSwap(compute, { rootOn: '' });
    const job = swapJob('attach-to-helper');
    const marketplace = { ...job, target: { ...job.target!, rootProductCodes: ['prod-1'] } };
    // Act: helper running → stop; stopped → attach; attached → start; running, agent not yet Online → wait
    await attachToHelper(marketplace, ports);
    compute.setState(HELPER, 'stopped');
    await attachToHelper(marketplace, ports);
    compute.settleVolume(ROOT);
    await attachToHelper(marketplace, ports);
    compute.setState(HELPER, 'running');
    rescue.agent = 'ConnectionLost';
    const waiting = await attachToHelper(marketplace, ports);
    rescue.agent = 'Online';
    const done = await attachToHelper(marketplace, ports);
    // Assess
    expect(compute.sent).toEqual(['stopInstance', 'attachVolume', 'startInstance']);
    expect(waiting).toMatchObject({ kind: 'wait', waitingFor: expect.stringContaining('ConnectionLost') });
    expect(done.kind).toBe('done');
  });
});

describe('detach-from-helper', () => {
  it('detaches the root from the helper', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { rootOn: HELPER });
    // Act
    const result = await detachFromHelper(swapJob('detach-from-helper'), ports);
    // Assess
    expect(result.kind).toBe('wait');
    expect(compute.calls).toEqual([{ method: 'detachVolume', args: [ROOT, HELPER] }]);
  });
});

describe('reattach-root', () => {
  it('attaches the root back at its device and restores its DeleteOnTermination, which an attach resets', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { rootOn: '' });
    // Act
    await reattachRoot(swapJob('reattach-root'), ports);
    compute.settleVolume(ROOT);
    const result = await reattachRoot(swapJob('reattach-root', {}, 1), ports);
    // Assess
    expect(result.kind).toBe('done');
    expect(compute.calls.filter((c) => compute.sent.includes(c.method as string)).map((c) => [c.method, ...c.args])).toEqual([
      ['attachVolume', ROOT, TARGET, '/dev/xvda'],
      ['setDeleteOnTermination', TARGET, '/dev/xvda', true],
    ]);
  });

  it('gives up after three attaches to the same place that EBS failed (e.g. an unusable KMS key)', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { rootOn: '' });
    const job = swapJob('reattach-root', { resources: { volumeAttach: { instanceId: TARGET, device: '/dev/xvda', sent: 3 } } }, 3);
    // Act
    const act = reattachRoot(job, ports);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'ATTACH_FAILED' });
  });
});
