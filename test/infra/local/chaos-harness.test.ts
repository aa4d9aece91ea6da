import { FAULT_KINDS, LINUX_RESET, recordBaseline, runChaos, runWithFault, summaryLine, tally, type ChaosScenario } from '../../../infra/local/chaos-harness';

describe('chaos harness (a sample of `npm run chaos`)', () => {
  it('holds every invariant with one fault at every fifth call, in every fault kind, of a reset and of its rollback', async () => {
    // Act
    const result = await runChaos({ every: 5 });

    // Assess
    const t = tally(result.runs);
    const violated = result.runs.filter((r) => r.violations.length > 0).map((r) => `${r.scenario} ${r.kind} #${r.call.index} ${r.call.action}: ${r.violations.join('; ')}`);
    expect(violated).toEqual([]);
    expect(t.stranded).toBe(0);
    expect(new Set(result.runs.map((r) => r.kind))).toEqual(new Set(FAULT_KINDS));
    expect(result.runs.filter((r) => r.call.site === 'rollback').length).toBeGreaterThan(0);
    expect(result.runs.filter((r) => r.fired).length).toBeGreaterThan(result.runs.length * 0.9);
    expect(summaryLine(result.runs)).toBe(`chaos: ${t.runs} runs, ${t.runs} held, 0 violated`);
  }, 120_000);

  it('reports a violation when a run leaves the helper running', async () => {
    // Prepare: a service that never terminates its helper.
    const broken: ChaosScenario = {
      ...LINUX_RESET,
      name: 'broken cleanup',
      arrange: (stack) => void (stack.ports.compute.terminateInstance = async () => undefined),
    };
    const baseline = await recordBaseline(broken);

    // Act
    const report = await runWithFault(baseline, 'throttle', baseline.calls.find((c) => c.site === 'validate')!);

    // Assess
    expect(report.violations).toEqual([expect.stringMatching(/^helper i-[0-9a-f]+ left running$/)]);
  });

  it('reports a violation when a private key shows up outside Parameter Store', async () => {
    // Prepare: a service that logs what the rescue command answered, key and all.
    const leaky: ChaosScenario = {
      ...LINUX_RESET,
      name: 'leaky log',
      arrange: (stack) => {
        const rescue = stack.ports.rescue;
        const result = rescue.result.bind(rescue);
        rescue.result = async (commandId, instanceId) => {
          const answer = await result(commandId, instanceId);
          stack.ports.log.info('rescue answered', { answer, key: '-----BEGIN OPENSSH PRIVATE KEY-----' });
          return answer;
        };
      },
    };
    const baseline = await recordBaseline(leaky);

    // Act
    const report = await runWithFault(baseline, 'duplicate', baseline.calls.find((c) => c.site === 'validate')!);

    // Assess
    expect(report.violations).toContain('a private key appears in logs');
  });
});
