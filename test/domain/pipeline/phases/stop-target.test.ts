import { stopTarget } from '../../../../domain/pipeline/phases/stop-target';
import type { Job } from '../../../../domain/job/job';
import type { PhaseResult } from '../../../../domain/pipeline/phase';
import { fakePorts, seedSwap, stopBatches, swapJob, TARGET } from './fakes';

const after = (job: Job, result: PhaseResult): Job => {
  const draft = structuredClone(job);
  result.record?.(draft);
  return draft;
};

describe('stop-target', () => {
  it('stops a running target on its first delivery without looking first, and waits for the stop event', async () => {
    // Prepare
    const { ports, compute } = fakePorts(stopBatches());
    seedSwap(compute, { target: { state: 'running' } });
    // Act
    const result = await stopTarget(swapJob('stop-target'), ports);
    // Assess
    expect(compute.calls.map((c) => c.method)).toEqual(['stopInstance']);
    expect(compute.calls[0]!.args).toEqual([TARGET, { force: false }]);
    expect(result).toMatchObject({ kind: 'wait', onEvent: true });
  });

  it('is done once the target is stopped', async () => {
    // Prepare
    const { ports, compute } = fakePorts(stopBatches());
    seedSwap(compute, { target: { state: 'stopped' } });
    // Act
    const result = await stopTarget(swapJob('stop-target', {}, 1), ports);
    // Assess
    expect(result.kind).toBe('done');
    expect(compute.sent).toEqual([]);
  });

  it('stops again, then force-stops, while the target stays stopping', async () => {
    // Prepare
    const { ports, compute, advance } = fakePorts(stopBatches());
    seedSwap(compute, { target: { state: 'running' } });
    let job = swapJob('stop-target');
    job = after(job, await stopTarget(job, ports));
    const [second, force] = ports.config.stopEscalationSeconds;
    // Act
    advance(second);
    job = after(job, await stopTarget({ ...job, phases: { ...job.phases, 'stop-target': { ...job.phases['stop-target']!, attempt: 1 } } }, ports));
    advance(force - second);
    await stopTarget({ ...job, phases: { ...job.phases, 'stop-target': { ...job.phases['stop-target']!, attempt: 2 } } }, ports);
    // Assess
    expect(compute.calls.filter((c) => c.method === 'stopInstance').map((c) => c.args[1])).toEqual([{ force: false }, { force: false }, { force: true }]);
  });

  it('fails the phase for a target that was terminated meanwhile', async () => {
    // Prepare
    const { ports, compute } = fakePorts(stopBatches());
    seedSwap(compute, { target: { state: 'terminated' } });
    // Act
    const act = stopTarget(swapJob('stop-target', {}, 1), ports);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'TARGET_TERMINATED' });
  });
});
