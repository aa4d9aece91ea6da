import {
  FAULT_KINDS,
  LINUX_RESET,
  LINUX_ROLLBACK,
  MEMORY_KINDS,
  WIRE_KINDS,
  formatServiceTable,
  recordBaseline,
  runChaos,
  runWithFault,
  summaryLine,
  tally,
  type ChaosScenario,
} from '../../../infra/local/chaos-harness';

const violatedOf = (runs: Awaited<ReturnType<typeof runChaos>>['runs']) =>
  runs.filter((r) => r.violations.length > 0).map((r) => `${r.scenario} ${r.kind} #${r.call.index} ${r.call.action}: ${r.violations.join('; ')}`);

describe('chaos harness (a sample of `npm run chaos`)', () => {
  it('holds every invariant with one fault at every tenth call, in every EC2/SSM/KMS fault kind, of resets and their rollbacks', async () => {
    // Act
    const result = await runChaos({ every: 10, kinds: MEMORY_KINDS });

    // Assess
    const t = tally(result.runs);
    expect(violatedOf(result.runs)).toEqual([]);
    expect(new Set(result.runs.map((r) => r.kind))).toEqual(new Set(MEMORY_KINDS));
    expect(result.runs.filter((r) => r.call.site === 'rollback').length).toBeGreaterThan(0);
    expect(result.runs.filter((r) => r.call.service === 'kms').length).toBeGreaterThan(0);
    expect(t.held).toBeGreaterThan(result.runs.length * 0.9);
    expect(summaryLine(result.runs)).toBe(`chaos: ${t.runs} runs, ${t.held} held, 0 violated, ${t.notFired} not fired`);
  }, 900_000);

  it('holds every invariant, and every fault fires, with faults in DynamoDB, SQS, EventBridge and Lambda', async () => {
    // Act: every eighth call of each kind of the Linux reset and its rollback.
    const result = await runChaos({ every: 8, kinds: WIRE_KINDS, scenarios: [LINUX_RESET, LINUX_ROLLBACK] });

    // Assess
    const t = tally(result.runs);
    expect(violatedOf(result.runs)).toEqual([]);
    expect(t.notFired).toBe(0);
    expect(new Set(result.runs.map((r) => r.kind))).toEqual(new Set(WIRE_KINDS));
    expect(formatServiceTable(result)).toMatch(/^dynamodb .*\n(.*\n)*sqs .*\n(.*\n)*eventbridge .*\n(.*\n)*lambda /m);
  }, 900_000);

  it('counts a transient throttle as held only when the production retry absorbed it', async () => {
    // Prepare: the same fault, with the SDK's deployed retries and with a single attempt per call.
    const baseline = await recordBaseline(LINUX_RESET, 'wire');
    const jobWrite = baseline.calls.find((c) => c.versionedJobWrite && c.site === 'stop-target')!;
    const singleAttempt = { ...baseline, scenario: { ...LINUX_RESET, stack: { sdkRetries: 'none' as const } } };

    // Act
    const production = await runWithFault(baseline, 'ddb-throttle', jobWrite);
    const without = await runWithFault(singleAttempt, 'ddb-throttle', jobWrite);

    // Assess
    expect(production).toMatchObject({ fired: true, violations: [], outcome: 'SUCCEEDED' });
    expect(without.violations).toContain('a transient fault (ProvisionedThroughputExceeded once (transient)) was not absorbed by the retry meant for it');
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

  it('lists every fault kind of both planes', () => {
    expect(FAULT_KINDS).toEqual([...MEMORY_KINDS, ...WIRE_KINDS]);
  });
});
