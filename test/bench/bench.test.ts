/**
 * The benchmark's smoke run: a small fleet and one function's cold start, checking the format of the
 * six last lines and that their numbers make sense. No timing thresholds: those depend on the
 * machine; the simulated times are deterministic, the wall-clock ones are not asserted.
 */
import { runBench, type BenchResult } from '../../bench/bench';
import { LINE_PATTERNS } from '../../bench/report';
import { percentile } from '../../bench/fleet';

describe('npm run bench, smoke size', () => {
  let result: BenchResult;
  const printed: string[] = [];

  beforeAll(async () => {
    // Act
    result = await runBench({ fleetSize: 20, coldStart: { only: ['stop-target'], runs: 1 }, print: (line) => printed.push(line) });
  }, 180_000);

  it('ends with the six machine-readable lines, in order', () => {
    // Assess
    expect(result.lines).toHaveLength(LINE_PATTERNS.length);
    result.lines.forEach((line, i) => expect(line).toMatch(LINE_PATTERNS[i]!));
  });

  it('reports a Linux reset that succeeded, faster than the runbook, with the ratio of the two', () => {
    const [, seconds, baseline, ratio] = LINE_PATTERNS[0]!.exec(result.lines[0]!)!.map(Number);
    expect(result.linux.service.status).toBe('SUCCEEDED');
    expect(seconds).toBeGreaterThan(0);
    expect(baseline).toBeGreaterThan(seconds!);
    expect(ratio).toBeCloseTo(seconds! / baseline!, 2);
  });

  it('reports a Windows reset on the fast path (a Linux helper, no fallback) against the runbook, with the ratio', () => {
    const [, seconds, baseline, ratio] = LINE_PATTERNS[1]!.exec(result.lines[1]!)!.map(Number);
    expect('service' in result.windows && result.windows.service.status).toBe('SUCCEEDED');
    expect('service' in result.windows && result.windows.service.calls.RunInstances).toBe(1);
    expect(ratio).toBeCloseTo(seconds! / baseline!, 2);
  });

  it('reports the Windows fallback with a launched Windows helper and with one of the warm pool started instead', () => {
    const [, launched, pooled] = LINE_PATTERNS[5]!.exec(result.lines[5]!)!.map(Number);
    const fallback = result.windows.fallback;
    if ('unavailable' in fallback) throw new Error(fallback.unavailable);
    expect([launched, pooled]).toEqual([fallback.launchedSeconds, fallback.pooledSeconds]);
    // Launched: the Linux helper and the Windows one; pooled: the Linux helper, and a start.
    expect(fallback.launched.calls.RunInstances).toBe(2);
    expect(fallback.pooled.calls.RunInstances).toBe(1);
    expect(fallback.pooled.calls.StartInstances).toBeGreaterThanOrEqual(1);
  });

  it('reports the fleet: every job accounted for, none failed from throttling or quota', () => {
    const [, jobs, ok, failed, makespan, p95] = LINE_PATTERNS[2]!.exec(result.lines[2]!)!.map(Number);
    expect(jobs).toBe(20);
    expect(ok! + failed! + result.fleet.unfinished).toBe(jobs);
    expect(result.fleet.failedFromLimits).toBe(0);
    expect(p95).toBeLessThanOrEqual(makespan!);
    expect(makespan).toBeGreaterThan(0);
  });

  it('counts the AWS calls of a Linux job, polling included', () => {
    const [, calls] = LINE_PATTERNS[3]!.exec(result.lines[3]!)!.map(Number);
    expect(calls).toBe(result.linux.warm.totalCalls);
    expect(result.linux.warm.calls.RunInstances).toBe(1);
    expect(result.linux.warm.calls.StopInstances).toBe(1);
  });

  it('measures the bundle and its load', () => {
    const [, kb, ms] = LINE_PATTERNS[4]!.exec(result.lines[4]!)!.map(Number);
    expect(result.coldStart.map((f) => f.name)).toEqual(['stop-target']);
    expect(kb).toBeGreaterThan(10);
    expect(ms).toBeGreaterThan(0);
  });

  it('prints a human-readable report before the lines', () => {
    expect(printed.some((line) => line.startsWith('== Fleet'))).toBe(true);
    expect(printed.some((line) => line.includes('lower bound from RunInstances + StartInstances'))).toBe(true);
  });
});

describe('percentile', () => {
  it('answers the nearest-rank value', () => {
    const sorted = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(10);
    expect(percentile(sorted, 0.95)).toBe(19);
    expect(percentile([], 0.95)).toBe(0);
  });
});
