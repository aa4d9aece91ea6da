/**
 * The benchmark's machine-readable last lines (issue 7), one formatter each, so that `npm run bench`
 * and its smoke test print and parse exactly the same text; and the fleet's report for operators.
 */
import type { FleetResult } from './fleet';

const s = (seconds: number) => seconds.toFixed(1);
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN).toFixed(2);

export function linuxLine(seconds: number, baselineSeconds: number): string {
  return `bench: linux ${s(seconds)} s vs baseline ${s(baselineSeconds)} s (ratio ${ratio(seconds, baselineSeconds)})`;
}

export function windowsLine(result: { seconds: number; baselineSeconds: number } | { unavailable: string }): string {
  if ('unavailable' in result) return `bench: windows n/a (${result.unavailable})`;
  return `bench: windows ${s(result.seconds)} s vs baseline ${s(result.baselineSeconds)} s (ratio ${ratio(result.seconds, result.baselineSeconds)})`;
}

/** The Windows fallback (the NTFS rescue refused the volume): a Windows helper launched, or one of the warm pool started. */
export function windowsFallbackLine(result: { launchedSeconds: number; pooledSeconds: number } | { unavailable: string }): string {
  if ('unavailable' in result) return `bench: windows fallback n/a (${result.unavailable})`;
  return `bench: windows fallback ${s(result.launchedSeconds)} s, with the warm pool ${s(result.pooledSeconds)} s`;
}

export function fleetLine(fleet: { jobs: number; succeeded: number; failed: number; makespanSeconds: number; p95Seconds: number }): string {
  return `bench: fleet ${fleet.jobs} jobs, ${fleet.succeeded} succeeded, ${fleet.failed} failed, makespan ${s(fleet.makespanSeconds)} s, p95 ${s(fleet.p95Seconds)} s`;
}

/**
 * The fleet's human-readable report, for whoever runs the service: what the API answered the burst
 * of requests, what EC2 throttled, how busy the scarcest bucket kept, and what waiting for it cost
 * each job and each target (an instance is down from its stop until it is restored).
 */
export function fleetReport(fleet: FleetResult): string[] {
  const byCount = (counts: Record<string, number>, limit = Infinity) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
  const answers = fleet.apiAnswers;
  const shared = fleet.throttlingScope === 'category';
  const down = fleet.targetDowntime;
  return [
    `${fleet.succeeded}/${fleet.jobs} succeeded, ${fleet.failed} failed${fleet.unfinished ? `, ${fleet.unfinished} unfinished` : ''}; failures ${JSON.stringify(fleet.failures)}`,
    `failed from throttling or quota: ${fleet.failedFromLimits}; VPCs in the region at the end: ${fleet.vpcs}`,
    `makespan ${s(fleet.makespanSeconds)} s; job time p50 ${s(fleet.p50Seconds)} s, p95 ${s(fleet.p95Seconds)} s, max ${s(fleet.maxSeconds)} s`,
    `start requests: ${answers['202'] ?? 0} accepted; ${answers['429'] ?? 0} answered 429 (over the API's start rate, nothing read), ${answers['503'] ?? 0} answered 503 (EC2 throttled the preflight's reads); the client repeated ${fleet.apiRetries}`,
    `throttled (RequestLimitExceeded) and retried: ${fleet.throttledTotal} (${byCount(fleet.throttled)})`,
    `lower bound from RunInstances + StartInstances (${shared ? 'one bucket' : 'a bucket each'}, 5 then 2/s): ${s(fleet.launchStartBoundSeconds)} s; makespan ratio ${ratio(fleet.makespanSeconds, fleet.launchStartBoundSeconds)}`,
    `each bucket's bound from the calls it answered: ${fleet.bucketBounds
      .slice(0, 6)
      .map((b) => `${b.bucket} ${b.calls} calls ≥ ${b.boundSeconds.toFixed(0)} s`)
      .join(', ')}`,
    `busiest bucket ${fleet.bottleneck.bucket}: answered ${(fleet.bottleneck.utilization * 100).toFixed(0)} % of what it could from the first request to the last job's end`,
    `per job, waiting for EC2 request slots or backing off from throttles: p50 ${s(fleet.slotWait.p50Seconds)} s, p95 ${s(fleet.slotWait.p95Seconds)} s`,
    `per target, down from its stop until restored: p50 ${s(down.p50Seconds)} s, p95 ${s(down.p95Seconds)} s; at most ${down.maxAtOnce} down at once`,
    `stops: ${fleet.stops.instances} instances in ${fleet.stops.requests} StopInstances requests (at most ${fleet.stops.largest} in one; shared while the mutating bucket has a queue)`,
    `answered calls: ${byCount(fleet.answered, 8)}`,
    `AWS calls per job ${fleet.callsPerJob.toFixed(1)}; DynamoDB ${fleet.counts.dynamoReads} reads, ${fleet.counts.dynamoWrites} writes; simulated in ${s(fleet.wallSeconds)} s of wall time`,
  ];
}

export function apiCallsLine(calls: number): string {
  return `bench: api calls per linux job ${calls}`;
}

export function coldStartLine(largestBundleBytes: number, slowestLoadMs: number): string {
  return `bench: largest bundle ${(largestBundleBytes / 1024).toFixed(0)} kB, slowest handler load ${slowestLoadMs.toFixed(0)} ms`;
}

/** Patterns of the six lines, in order (the smoke test and any consumer parse with these). */
export const LINE_PATTERNS: readonly RegExp[] = [
  /^bench: linux (\d+\.\d) s vs baseline (\d+\.\d) s \(ratio (\d+\.\d\d)\)$/,
  /^bench: windows (?:(\d+\.\d) s vs baseline (\d+\.\d) s \(ratio (\d+\.\d\d)\)|n\/a \(.+\))$/,
  /^bench: fleet (\d+) jobs, (\d+) succeeded, (\d+) failed, makespan (\d+\.\d) s, p95 (\d+\.\d) s$/,
  /^bench: api calls per linux job (\d+)$/,
  /^bench: largest bundle (\d+) kB, slowest handler load (\d+) ms$/,
  /^bench: windows fallback (?:(\d+\.\d) s, with the warm pool (\d+\.\d) s|n\/a \(.+\))$/,
];

/** A table of `rows` with aligned columns, for the human-readable part of the output. */
export function table(rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return cells.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}
