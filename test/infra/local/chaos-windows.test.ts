import { FAULT_KINDS, recordBaseline, runChaos, runWithFault, tally, type ChaosScenario } from '../../../infra/local/chaos-harness';
import { WINDOWS_FALLBACK_POOL, WINDOWS_FAST_PATH_SCENARIOS } from '../../../infra/local/chaos-windows';

describe('chaos of the Windows fast path (a sample of `npm run chaos --scenario …`)', () => {
  it('holds every invariant with one fault at every fifteenth call of the fallback (launched, pooled, after a release)', async () => {
    // Act
    const result = await runChaos({ scenarios: WINDOWS_FAST_PATH_SCENARIOS, every: 15 });

    // Assess
    const violated = result.runs
      .filter((r) => r.violations.length > 0)
      .map((r) => `${r.scenario} ${r.kind} #${r.call.index} ${r.call.action}: ${r.violations.join('; ')}`);
    expect(violated).toEqual([]);
    expect(tally(result.runs).stranded).toBe(0);
    expect(new Set(result.runs.map((r) => r.kind))).toEqual(new Set(FAULT_KINDS));
    expect(result.runs.filter((r) => r.call.site === 'windows-fallback').length).toBeGreaterThan(0);
  }, 180_000);

  it('reports a violation when the job leaves the pooled helper it took', async () => {
    // Prepare: a service that never terminates its helpers.
    const broken: ChaosScenario = {
      ...WINDOWS_FALLBACK_POOL,
      name: 'broken cleanup',
      arrange: (stack) => {
        WINDOWS_FALLBACK_POOL.arrange!(stack);
        stack.ports.compute.terminateInstance = async () => undefined;
      },
    };
    const baseline = await recordBaseline(broken);

    // Act
    const report = await runWithFault(baseline, 'throttle', baseline.calls.find((c) => c.site === 'validate')!);

    // Assess
    expect(report.violations).toContainEqual(expect.stringMatching(/^pooled helper i-[0-9a-f]+ claimed by the job left running$/));
  });
});
