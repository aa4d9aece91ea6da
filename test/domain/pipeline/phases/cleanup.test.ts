import { clientToken } from '../../../../domain/naming';
import { cleanup } from '../../../../domain/pipeline/phases/cleanup';
import { fakePorts, HELPER, seedSwap, swapJob } from './fakes';

describe('cleanup', () => {
  it("terminates the job's helper and keeps the images", async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute);
    // Act
    const result = await cleanup(swapJob('cleanup', { resources: { helperInstanceId: HELPER, backupImageId: 'ami-1' } }), ports);
    // Assess
    expect(result.kind).toBe('done');
    expect(compute.sent).toEqual(['terminateInstance']);
    expect(compute.calls.at(-1)!.args).toEqual([HELPER]);
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
