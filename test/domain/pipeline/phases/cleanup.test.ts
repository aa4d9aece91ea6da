import { clientToken } from '../../../../domain/naming';
import { cleanup } from '../../../../domain/pipeline/phases/cleanup';
import { fakePorts, HELPER, seedSwap, swapJob } from './fakes';

describe('cleanup', () => {
  it("terminates the job's helper and keeps the images, reporting the backup's state", async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute);
    compute.images.set('ami-1', { imageId: 'ami-1', name: 'backup', state: 'pending' });
    const job = swapJob('cleanup', { resources: { helperInstanceId: HELPER, backupImageId: 'ami-1' } });
    // Act
    const result = await cleanup(job, ports);
    // Assess
    expect(result.kind).toBe('done');
    expect(compute.sent).toEqual(['terminateInstance']);
    expect(compute.calls.at(-1)!.args).toEqual([HELPER]);
    if (result.kind === 'done') result.record?.(job);
    expect(job.outputs).toMatchObject({ backupImageState: 'pending' });
    expect(job.outputs.backupImageProblem).toBeUndefined();
  });

  it('says plainly when the backup image failed after the rescue went on while it was pending', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute);
    compute.images.set('ami-1', { imageId: 'ami-1', name: 'backup', state: 'failed', stateReason: 'Client.InternalError' });
    const job = swapJob('cleanup', { resources: { helperInstanceId: HELPER, backupImageId: 'ami-1' } });
    // Act
    const result = await cleanup(job, ports);
    if (result.kind === 'done') result.record?.(job);
    // Assess
    expect(job.outputs.backupImageState).toBe('failed');
    expect(job.outputs.backupImageProblem).toMatch(/^backup image ami-1 is failed \(Client.InternalError\): it is no backup/);
  });

  it('finds a helper whose id was never recorded by its launch token (a crash right after RunInstances)', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    const job = swapJob('cleanup', { resources: {} });
    compute.launched.set(clientToken(job.jobId, 'launch-helper'), HELPER);
    seedSwap(compute);
    // Act
    await cleanup(job, ports);
    // Assess
    expect(compute.calls.map((c) => [c.method, c.args[0]])).toEqual([
      ['findInstanceByClientToken', clientToken(job.jobId, 'launch-helper')],
      ['terminateInstance', HELPER],
    ]);
  });

  it('has nothing to terminate when no helper was launched', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    // Act
    await cleanup(swapJob('cleanup', { resources: {} }), ports);
    // Assess
    expect(compute.sent).toEqual([]);
  });
});
