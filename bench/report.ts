/**
 * The benchmark's machine-readable last lines (issue 7), one formatter each, so that `npm run bench`
 * and its smoke test print and parse exactly the same text.
 */

const s = (seconds: number) => seconds.toFixed(1);
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN).toFixed(2);

export function linuxLine(seconds: number, baselineSeconds: number): string {
  return `bench: linux ${s(seconds)} s vs baseline ${s(baselineSeconds)} s (ratio ${ratio(seconds, baselineSeconds)})`;
}

export function windowsLine(result: { seconds: number; baselineSeconds: number } | { unavailable: string }): string {
  if ('unavailable' in result) return `bench: windows n/a (${result.unavailable})`;
  return `bench: windows ${s(result.seconds)} s vs baseline ${s(result.baselineSeconds)} s (ratio ${ratio(result.seconds, result.baselineSeconds)})`;
}

export function fleetLine(fleet: { jobs: number; succeeded: number; failed: number; makespanSeconds: number; p95Seconds: number }): string {
  return `bench: fleet ${fleet.jobs} jobs, ${fleet.succeeded} succeeded, ${fleet.failed} failed, makespan ${s(fleet.makespanSeconds)} s, p95 ${s(fleet.p95Seconds)} s`;
}

export function apiCallsLine(calls: number): string {
  return `bench: api calls per linux job ${calls}`;
}

export function coldStartLine(largestBundleBytes: number, slowestLoadMs: number): string {
  return `bench: largest bundle ${(largestBundleBytes / 1024).toFixed(0)} kB, slowest handler load ${slowestLoadMs.toFixed(0)} ms`;
}

/** Patterns of the five lines, in order (the smoke test and any consumer parse with these). */
export const LINE_PATTERNS: readonly RegExp[] = [
  /^bench: linux (\d+\.\d) s vs baseline (\d+\.\d) s \(ratio (\d+\.\d\d)\)$/,
  /^bench: windows (?:(\d+\.\d) s vs baseline (\d+\.\d) s \(ratio (\d+\.\d\d)\)|n\/a \(.+\))$/,
  /^bench: fleet (\d+) jobs, (\d+) succeeded, (\d+) failed, makespan (\d+\.\d) s, p95 (\d+\.\d) s$/,
  /^bench: api calls per linux job (\d+)$/,
  /^bench: largest bundle (\d+) kB, slowest handler load (\d+) ms$/,
];

/** A table of `rows` with aligned columns, for the human-readable part of the output. */
export function table(rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return cells.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}
