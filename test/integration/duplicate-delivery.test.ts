import type { PhaseName } from '../../domain/job/job';
import { planFor } from '../../domain/pipeline/plan';
import { VirtualStack, type VirtualStackOptions } from '../../infra/local/virtual-stack';
import { mutatingCalls } from '../support/checks';

const TARGET = 'i-0a1b2c3d4e5f60001';

async function runJob(options: VirtualStackOptions, prepare?: (stack: VirtualStack) => void) {
  const stack = new VirtualStack(options);
  prepare?.(stack);
  const { json } = await stack.api('POST', '/resets', { instanceId: TARGET });
  await stack.run();
  return { stack, job: await stack.job(json.jobId) };
}

/** Every message of `phase`, whether published or re-sent after a wait, arrives twice. */
const duplicating = (phase: PhaseName): VirtualStackOptions => ({ queueFault: (send) => (send.message.phase === phase ? 'duplicate' : 'deliver') });

describe('at-least-once delivery: every phase message delivered twice makes one AWS side effect', () => {
  let baseline: Record<string, number>;
  beforeAll(async () => {
    baseline = mutatingCalls((await runJob({})).stack);
  });

  it.each(planFor('linux').map((p) => p.phase))('%s', async (phase) => {
    // Act
    const { stack, job } = await runJob(duplicating(phase));
    // Assess
    expect(job.status).toBe('SUCCEEDED');
    expect(stack.deliveries.filter((d) => d.message.phase === phase).length).toBeGreaterThan(1);
    expect(mutatingCalls(stack)).toEqual(baseline);
  });

  it('rollback', async () => {
    // Prepare: the rescue command is refused, so the job rolls back
    const fail = (stack: VirtualStack) => void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', error: { code: 'AccessDeniedException' } });
    const failing = await runJob({}, fail);
    // Act
    const { stack, job } = await runJob(duplicating('rollback'), fail);
    // Assess
    expect(failing.job.status).toBe('FAILED');
    expect(job.status).toBe('FAILED');
    expect(job.instanceRestored).toBe(true);
    expect(stack.deliveries.filter((d) => d.message.phase === 'rollback').length).toBeGreaterThan(1);
    expect(mutatingCalls(stack)).toEqual(mutatingCalls(failing.stack));
  });
});
