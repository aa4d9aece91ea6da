import { restoreTarget } from '../../../../domain/pipeline/phases/restore-target';
import { fakePorts, seedSwap, swapJob, TARGET } from './fakes';

describe('restore-target', () => {
  it('starts a target that was running before the job, without looking first', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { target: { state: 'stopped' } });
    // Act
    const result = await restoreTarget(swapJob('restore-target'), ports);
    // Assess
    expect(compute.calls.map((c) => [c.method, c.args[0]])).toEqual([['startInstance', TARGET]]);
    expect(result).toMatchObject({ kind: 'wait', onEvent: true });
  });

  it('leaves a target that was stopped before the job stopped', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { target: { state: 'stopped' } });
    const job = swapJob('restore-target');
    // Act
    const result = await restoreTarget({ ...job, target: { ...job.target!, state: 'stopped' } }, ports);
    // Assess
    expect(result.kind).toBe('done');
    expect(compute.sent).toEqual([]);
  });

  it('is done once the target runs again', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { target: { state: 'running' } });
    // Act
    const result = await restoreTarget(swapJob('restore-target', { resources: { startRequestedAt: '2026-01-01T00:09:00.000Z' } }, 1), ports);
    // Assess
    expect(result.kind).toBe('done');
  });

  it('fails instead of starting again a target EC2 could not start (its stop reason says why)', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute, { target: { state: 'stopped', stateReason: 'Client.InternalError' } });
    // Act
    const act = restoreTarget(swapJob('restore-target', { resources: { startRequestedAt: '2026-01-01T00:09:00.000Z' } }, 1), ports);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'START_FAILED' });
    expect(compute.sent).toEqual([]);
  });
});
