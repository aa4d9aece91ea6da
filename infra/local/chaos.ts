/**
 * `npm run chaos`: one fault per run, at every AWS call of each scenario (EC2, SSM, Parameter Store,
 * KMS) and at the first call of each kind of the service's own plumbing (DynamoDB, SQS,
 * EventBridge) and of its Lambda handlers, on the simulated clock, with the SDK clients' production
 * retry configuration; prints a table per service and fault, one of fault kind × phase, and ends
 * with `chaos: <runs> runs, <held> held, <violated> violated, <not fired> not fired`. Exit status 0
 * only when nothing was violated.
 *
 * `--scenario NAME` (repeatable) includes the Windows fast path's scenarios (chaos-windows.ts).
 * `npm run chaos -- --fleet`: instead, 500 resets posted within a minute through the API, 20 of
 * them twice at once, one target in ten given a fault; prints its figures (infra/local/chaos-fleet.ts).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { formatServiceTable, formatTable, planeOf, runChaos, summaryLine, tally, type Baseline, type ChaosResult, type RunReport } from './chaos-harness';
import { ALL_SCENARIOS, chaosArgs, USAGE, type ChaosArgs } from './chaos-args';
import { formatFleetReport, runFleetChaos } from './chaos-fleet';

function describe(report: RunReport): string {
  const { kind, call } = report;
  const head = `[${report.scenario}] ${kind} at #${call.index} ${call.service}:${call.action} (${call.site})${report.fired ? '' : ' [fault never fired]'} → ${report.outcome} (${report.wallMs} ms)`;
  return report.violations.length === 0 ? head : `${head}\n    ${report.violations.join('\n    ')}`;
}

/** A worker's share of the matrix: each baseline and run as a JSON line for the parent. */
async function worker(args: ChaosArgs): Promise<number> {
  const result = await runChaos({ ...matrixOptions(args), onRun: (report) => console.log(`${RUN} ${JSON.stringify(report)}`) });
  for (const baseline of result.baselines) console.log(`${BASELINE} ${JSON.stringify({ ...baseline, scenario: { name: baseline.scenario.name } })}`);
  const cpu = process.cpuUsage();
  console.log(`${CPU} ${(cpu.user + cpu.system) / 1e6}`);
  return 0;
}

const RUN = 'chaos-run';
const BASELINE = 'chaos-baseline';
const CPU = 'chaos-cpu';

function matrixOptions(args: ChaosArgs) {
  return {
    kinds: args.kinds,
    scenarios: args.scenarios ? ALL_SCENARIOS.filter((s) => args.scenarios!.includes(s.name)) : ALL_SCENARIOS,
    every: args.every,
    indices: args.indices,
    shard: args.shard,
  };
}

/** Runs the matrix in `jobs` worker processes (each its share) and merges what they report. */
async function inWorkers(args: ChaosArgs, onRun: (report: RunReport) => void): Promise<ChaosResult & { cpuSeconds: number }> {
  const argv = process.argv.slice(2).filter((a, i, all) => a !== '--jobs' && all[i - 1] !== '--jobs' && !a.startsWith('--jobs='));
  const shares = Array.from(
    { length: args.jobs },
    (_, index) =>
      new Promise<ChaosResult & { cpuSeconds: number }>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv, '--jobs', '1', '--shard', `${index}/${args.jobs}`], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const share: ChaosResult & { cpuSeconds: number } = { baselines: [], runs: [], cpuSeconds: 0 };
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.startsWith(`${RUN} `)) {
            const report = JSON.parse(line.slice(RUN.length + 1)) as RunReport;
            share.runs.push(report);
            onRun(report);
          } else if (line.startsWith(`${BASELINE} `)) share.baselines.push(JSON.parse(line.slice(BASELINE.length + 1)) as Baseline);
          else if (line.startsWith(`${CPU} `)) share.cpuSeconds = Number(line.slice(CPU.length + 1));
          else if (line.trim()) console.log(line);
        });
        child.on('error', reject);
        // 'close', not 'exit': only then has all of its output been read.
        child.on('close', (code) => (code === 0 ? resolve(share) : reject(new Error(`chaos worker ${index} ended with status ${code}`))));
      }),
  );
  const done = await Promise.all(shares);
  return { baselines: done[0]!.baselines, runs: done.flatMap((d) => d.runs), cpuSeconds: done.reduce((a, d) => a + d.cpuSeconds, 0) };
}

async function matrix(args: ChaosArgs): Promise<number> {
  const started = Date.now();
  const onRun = (report: RunReport) => {
    if (args.verbose || report.violations.length > 0) console.log(describe(report));
  };
  const result: ChaosResult & { cpuSeconds?: number } = args.jobs > 1 ? await inWorkers(args, onRun) : await runChaos({ ...matrixOptions(args), onRun });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const t = tally(result.runs);
  console.log('');
  for (const baseline of result.baselines) {
    const faulted = result.runs.filter((r) => r.scenario === baseline.scenario.name && planeOf(r.kind) === baseline.plane).length;
    console.log(
      `${baseline.scenario.name} (${baseline.plane} plane) without faults: ${baseline.calls.length} AWS calls, ${baseline.status}; ${faulted} faulted runs`,
    );
  }
  console.log('');
  console.log(formatServiceTable(result));
  console.log('');
  console.log(formatTable(result));
  const notFired = result.runs.filter((r) => !r.fired && r.violations.length === 0);
  if (notFired.length > 0) {
    console.log(`\nnot fired (no write, publish or later call for the fault to hit; counted apart, not as held): ${notFired.length}`);
    for (const report of notFired) console.log(`  ${describe(report)}`);
  }
  const own = process.cpuUsage();
  const cpuSeconds = (result.cpuSeconds ?? 0) + (own.user + own.system) / 1e6;
  console.log(`\nwall ${seconds} s in ${args.jobs} process(es), cpu ${cpuSeconds.toFixed(1)} s`);
  console.log(summaryLine(result.runs));
  return t.violated === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let args: ChaosArgs;
  try {
    args = chaosArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.shard) return worker(args);
  if (!args.fleet) return matrix(args);
  const report = await runFleetChaos({ count: args.count });
  console.log(formatFleetReport(report));
  return report.violations.length === 0 ? 0 : 1;
}

// process.exit drops what a pipe has not taken yet (a worker's long baseline line): flush first.
const flushed = () => new Promise<void>((resolve) => process.stdout.write('', () => resolve()));

main().then(
  async (code) => {
    await flushed();
    process.exit(code);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
