import { rollback } from '../../../../domain/pipeline/phases/rollback';
import type { Job } from '../../../../domain/job/job';
import { FakeRescue, fakePorts, HELPER, ROOT, seedSwap, stopBatches, swapJob, TARGET } from './fakes';

/** A job whose swap got as far as the root on the helper, rolling back `settleSeconds` after it began. */
function rollingBack(attempt = 0): Job {
  const job = swapJob(
    'rollback',
    { status: 'ROLLING_BACK', undo: [{ kind: 'restore-run-state' }, { kind: 'terminate-helper' }, { kind: 'return-root-volume' }] },
    attempt,
  );
  return job;
}

describe('rollback', () => {
  it('first waits for in-flight phase handlers to finish', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ ...stopBatches(), rescue: new FakeRescue() }, { now: '2026-01-01T00:00:10.000Z' });
    seedSwap(compute, { rootOn: HELPER });
    // Act
    const result = await rollback(rollingBack(), ports);
    // Assess
    expect(result).toMatchObject({ kind: 'wait', waitingFor: 'in-flight phase handlers to finish' });
    expect(compute.calls).toEqual([]);
  });

  it('undoes newest first: the root back at its device, the helper terminated, the target started; then reports it restored', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ ...stopBatches(), rescue: new FakeRescue() });
    seedSwap(compute, { rootOn: HELPER });
    let job = rollingBack();
    const deliver = async () => {
      const result = await rollback(job, ports);
      const draft = structuredClone(job);
      result.record?.(draft);
      job = draft;
      compute.settleVolume(ROOT);
      if (compute.instances.get(TARGET)!.state === 'pending') compute.setState(TARGET, 'running');
      return result;
    };
    // Act
    const results = [];
    for (let i = 0; i < 8 && results.at(-1)?.kind !== 'done'; i++) results.push(await deliver());
    // Assess
    expect(results.at(-1)!.kind).toBe('done');
    expect(job.instanceRestored).toBe(true);
    expect(compute.calls.filter((c) => compute.sent.includes(c.method as string)).map((c) => [c.method, c.args[0], c.args[1]])).toEqual([
      ['detachVolume', ROOT, HELPER],
      ['attachVolume', ROOT, TARGET],
      ['setDeleteOnTermination', TARGET, '/dev/xvda'],
      ['terminateInstance', HELPER, undefined],
      ['startInstance', TARGET, undefined],
    ]);
  });
});
