/**
 * `npm run bench` (issue 7): one Linux and one Windows reset against the runbook's sequential
 * baseline, a fleet under EC2's request buckets, and the functions' cold start. Everything but the
 * cold start runs on simulated time (`VirtualStack`), with the simulated region's timings
 * (`infra/sim/timings.ts`, each with its source). The last six lines are machine-readable
 * (`report.ts`). Windows: the fast path (the NTFS rescue on a Linux helper) against the runbook's
 * order, then its fallback to a Windows helper, launched or started from the warm pool.
 */
import type { Platform } from '../domain/job/job';
import { seedLinuxFleet, seedWindowsTarget } from '../infra/local/fleet';
import { VirtualStack } from '../infra/local/virtual-stack';
import { RUNBOOK_POLL_SECONDS } from './baseline';
import { measureColdStart, type FunctionColdStart } from './cold-start';
import { runFleet, type FleetResult } from './fleet';
import { Meter } from './instrument';
import { apiCallsLine, coldStartLine, fleetLine, fleetReport, linuxLine, table, windowsFallbackLine, windowsLine } from './report';
import { runBaseline, runServiceJob, type ServiceJobResult } from './single';

export interface BenchOptions {
  /** Jobs in the fleet (500 in the benchmark). */
  fleetSize: number;
  /** Run the fleet a second time with a bucket per EC2 action (the current EC2 guide's wording). */
  fleetPerAction?: boolean;
  /** Functions to bundle and load (all of serverless.yml when absent), and fresh processes each. */
  coldStart: { only?: string[]; runs: number };
  /** Where the human-readable report goes, line by line. */
  print: (line: string) => void;
}

export interface BenchResult {
  /** The six machine-readable lines, in order. */
  lines: string[];
  linux: { service: ServiceJobResult; warm: ServiceJobResult; baselineSeconds: number };
  windows: ({ seconds: number; baselineSeconds: number; service: ServiceJobResult } | { unavailable: string }) & { fallback: WindowsFallbackBench };
  fleet: FleetResult;
  coldStart: FunctionColdStart[];
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { print } = options;
  const wallStart = Date.now();

  // ---- one Linux reset, and the runbook on the same region
  const stack = new VirtualStack({ samples: false, idSeed: 'b', region: { callLogLimit: 10_000_000 } });
  const meter = new Meter(stack);
  const zone = stack.region.config.availabilityZones[0];
  const [coldTarget, baselineTarget, warmTarget] = seedLinuxFleet(stack.region, { count: 3, namePrefix: 'bench', availabilityZone: zone });
  const service = await runServiceJob(stack, meter, coldTarget!);
  const warm = await runServiceJob(stack, meter, warmTarget!);
  const baseline = await runBaseline(stack, baselineTarget!, 'linux');
  const baselineFast = await runBaseline(stack, baselineTarget!, 'linux', 5);
  print('== Linux reset (simulated seconds; the first job in the region, so it also makes the rescue network)');
  printJob(print, service);
  print(
    `   baseline (runbook order, ${RUNBOOK_POLL_SECONDS} s polls): ${baseline.seconds} s to the end, ${baseline.accessRestoredSeconds} s until the target is back`,
  );
  print(`   ${baseline.steps.map((step) => `${step.step} ${step.at}`).join(' | ')}`);
  print(`   baseline with 5 s polls instead: ${baselineFast.seconds} s (ratio ${(service.seconds / baselineFast.seconds).toFixed(2)})`);
  print(`== A second Linux reset in the same region (its rescue network exists): ${warm.status} in ${warm.seconds} s`);
  printCalls(print, warm);

  // ---- one Windows reset
  const windows = await benchWindows(print);

  // ---- the fleet
  print(
    `== Fleet: ${options.fleetSize} Linux resets requested at once, EC2 request buckets enforced (one per row of the table in docs/aws-facts.md#ec2-request-throttling), 5-VPC quota`,
  );
  const fleet = await runFleet({ count: options.fleetSize });
  printFleet(print, fleet);
  if (options.fleetPerAction) {
    print(`== The same fleet with a bucket per EC2 action ("each API is evaluated individually", EC2 Developer Guide, current)`);
    printFleet(print, await runFleet({ count: options.fleetSize, throttlingScope: 'action' }));
  }

  // ---- cold start
  print('== Cold start: each function bundled as serverless-esbuild does, `require` in a fresh Node process');
  const coldStart = await measureColdStart({ root: '.', only: options.coldStart.only, runs: options.coldStart.runs });
  print(
    table([
      ['function', 'bundle kB', 'zipped kB', 'load ms (median)'],
      ...coldStart.map((f) => [f.name, (f.bundleBytes / 1024).toFixed(0), (f.zippedBytes / 1024).toFixed(0), f.loadMs.toFixed(0)]),
    ]),
  );
  const largest = Math.max(...coldStart.map((f) => f.bundleBytes));
  const slowest = Math.max(...coldStart.map((f) => f.loadMs));
  print(`   bundle sizes are the uncompressed .js; the deployed zip is the "zipped" column`);

  print(`bench: wall time ${((Date.now() - wallStart) / 1000).toFixed(1)} s`);
  const lines = [
    linuxLine(service.seconds, baseline.seconds),
    windowsLine(windows),
    fleetLine(fleet),
    apiCallsLine(warm.totalCalls),
    coldStartLine(largest, slowest),
    windowsFallbackLine(windows.fallback),
  ];
  return { lines, linux: { service, warm, baselineSeconds: baseline.seconds }, windows, fleet, coldStart };
}

/** What the Windows fallback costs: a Windows helper launched (a first boot), or started from the warm pool. */
export type WindowsFallbackBench =
  | { launchedSeconds: number; pooledSeconds: number; launched: ServiceJobResult; pooled: ServiceJobResult }
  | { unavailable: string };

/** A Windows reset on the fast path and its baseline, then the fallback with and without the warm pool. */
async function benchWindows(print: (line: string) => void): Promise<BenchResult['windows']> {
  const fastPath = await benchWindowsFastPath(print);
  return { ...fastPath, fallback: await benchWindowsFallback(print) };
}

async function benchWindowsFastPath(
  print: (line: string) => void,
): Promise<{ seconds: number; baselineSeconds: number; service: ServiceJobResult } | { unavailable: string }> {
  const stack = new VirtualStack({ samples: false, idSeed: 'w', region: { callLogLimit: 10_000_000 } });
  const meter = new Meter(stack);
  let targets: [string, string];
  try {
    targets = [seedWindowsTarget(stack.region, 'bench-windows-1'), seedWindowsTarget(stack.region, 'bench-windows-2')];
  } catch (error) {
    return { unavailable: `the simulated region cannot seed a Windows target: ${(error as Error).message}` };
  }
  const service = await runServiceJob(stack, meter, targets[0]);
  print('== Windows reset (EC2Launch v2): the NTFS rescue on a Linux helper, the first job in the region');
  printJob(print, service);
  if (service.status !== 'SUCCEEDED') return { unavailable: `the service's Windows reset ended ${service.status}: ${service.error ?? 'no reason given'}` };
  try {
    const baseline = await runBaseline(stack, targets[1], 'windows' satisfies Platform);
    print(
      `   baseline (runbook order, ${RUNBOOK_POLL_SECONDS} s polls, a Windows helper): ${baseline.seconds} s to the end, ${baseline.accessRestoredSeconds} s until the target is back`,
    );
    print(`   ratio ${(service.seconds / baseline.seconds).toFixed(2)}`);
    return { seconds: service.seconds, baselineSeconds: baseline.seconds, service };
  } catch (error) {
    return { unavailable: `the baseline's Windows run failed: ${(error as Error).message}` };
  }
}

/**
 * A Windows target whose volume the NTFS rescue refuses (BitLocker), reset twice in fresh regions:
 * with no warm pool (the fallback launches a Windows helper and waits for its first boot), and with
 * a pool of one the sweeper filled beforehand (the fallback starts it: a later boot).
 */
async function benchWindowsFallback(print: (line: string) => void): Promise<WindowsFallbackBench> {
  const zone = 'us-east-1a';
  const run = async (pool: boolean) => {
    const stack = new VirtualStack({
      samples: false,
      idSeed: pool ? 'p' : 'f',
      region: { callLogLimit: 10_000_000 },
      config: pool ? { windowsHelperPool: { size: 1, availabilityZones: [zone], instanceType: 't3.small' } } : {},
    });
    if (pool) {
      // The sweeper's runs (every 10 minutes) launch the pool's helper, stop it after its first boot, and mark it ready.
      for (let i = 0; i < 12 && !(await stack.helperPool.list()).some((slot) => slot.state === 'ready'); i++) {
        await stack.sweep();
        stack.clock.advance(10 * 60_000);
        stack.region.tick();
      }
    }
    const target = seedWindowsTarget(stack.region, pool ? 'bench-windows-pooled' : 'bench-windows-refused', { bitlocker: true });
    return runServiceJob(stack, new Meter(stack), target);
  };
  const launched = await run(false);
  const pooled = await run(true);
  print('== Windows fallback: the NTFS rescue refuses the volume (BitLocker), a Windows helper takes over');
  print(`   a Windows helper launched (a first boot): ${launched.status} in ${launched.seconds} s`);
  printJob(print, launched);
  print(
    `   a Windows helper of the warm pool started (the pool filled by the sweeper beforehand; its rescue network exists): ${pooled.status} in ${pooled.seconds} s`,
  );
  printJob(print, pooled);
  if (launched.status !== 'SUCCEEDED' || pooled.status !== 'SUCCEEDED') {
    return { unavailable: `a fallback ended ${launched.status} / ${pooled.status}: ${launched.error ?? pooled.error ?? 'no reason given'}` };
  }
  return { launchedSeconds: launched.seconds, pooledSeconds: pooled.seconds, launched, pooled };
}

function printJob(print: (line: string) => void, job: ServiceJobResult): void {
  print(
    `   service: ${job.status} in ${job.seconds} s${job.accessRestoredSeconds !== undefined ? ` (target back at ${job.accessRestoredSeconds} s)` : ''}${job.error ? ` — ${job.error}` : ''}`,
  );
  if (job.phases.length > 0) {
    print(
      table([
        ['phase', 'start s', 'end s', 'polls'],
        ...job.phases.map((p) => [p.phase, p.start.toFixed(0), p.end === undefined ? '-' : p.end.toFixed(0), p.polls]),
      ])
        .split('\n')
        .map((line) => `   ${line}`)
        .join('\n'),
    );
  }
  printCalls(print, job);
}

function printCalls(print: (line: string) => void, job: ServiceJobResult): void {
  const byAction = Object.entries(job.calls)
    .sort((a, b) => b[1] - a[1])
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');
  print(`   AWS calls: ${job.totalCalls} (${byAction})`);
  const c = job.counts;
  print(
    `   DynamoDB: ${c.dynamoReads} reads, ${c.dynamoWrites} writes; phase events published ${c.phaseEvents}, delayed re-checks sent ${c.delayedSends}; AWS events emitted ${c.awsEvents}, delivered ${job.awsEventsDelivered}, ${job.awsEventsThatWoke} woke a phase`,
  );
}

function printFleet(print: (line: string) => void, fleet: FleetResult): void {
  for (const line of fleetReport(fleet)) print(`   ${line}`);
}
