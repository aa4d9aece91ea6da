/**
 * `npm run chaos`: one fault per run at every AWS call of a Linux reset, in every fault kind, on
 * the simulated clock; prints a table of fault kind × phase and ends with
 * `chaos: <runs> runs, <held> held, <violated> violated`. Exit status 0 only when nothing was
 * violated.
 *
 * Options: `--every N` (every N-th call only), `--kind K` (repeatable), `--index I` (repeatable),
 * `--scenario NAME` (repeatable; default all, the Windows fast path's of chaos-windows.ts included),
 * `--verbose` (every run, not only the violated ones).
 */
import { FAULT_KINDS, formatTable, runChaos, SCENARIOS, summaryLine, tally, type FaultKind, type RunReport } from './chaos-harness';
import { WINDOWS_FAST_PATH_SCENARIOS } from './chaos-windows';

function parseArgs(argv: string[]) {
  const kinds: FaultKind[] = [];
  const indices: number[] = [];
  let every = 1;
  let verbose = false;
  const scenarios: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--every') every = Number(value());
    else if (arg === '--kind') {
      const kind = value() as FaultKind;
      if (!FAULT_KINDS.includes(kind)) throw new Error(`--kind must be one of ${FAULT_KINDS.join(', ')}`);
      kinds.push(kind);
    } else if (arg === '--index') indices.push(Number(value()));
    else if (arg === '--verbose') verbose = true;
    else if (arg === '--scenario') scenarios.push(value());
    else throw new Error(`unknown option ${arg}`);
  }
  const all = [...SCENARIOS, ...WINDOWS_FAST_PATH_SCENARIOS];
  const unknown = scenarios.filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`--scenario must be one of ${all.map((s) => `"${s.name}"`).join(', ')}`);
  const chosen = scenarios.length > 0 ? all.filter((s) => scenarios.includes(s.name)) : all;
  return { kinds: kinds.length > 0 ? kinds : FAULT_KINDS, indices: indices.length > 0 ? indices : undefined, every, verbose, scenarios: chosen };
}

function describe(report: RunReport): string {
  const { kind, call } = report;
  const head = `[${report.scenario}] ${kind} at #${call.index} ${call.service}:${call.action} (${call.site})${report.fired ? '' : ' [fault never fired]'} → ${report.outcome}`;
  if (report.stranded) return `${head}: stranded (no sweeper to re-drive it)`;
  return report.violations.length === 0 ? head : `${head}\n    ${report.violations.join('\n    ')}`;
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const result = await runChaos({
    scenarios: args.scenarios,
    kinds: args.kinds,
    every: args.every,
    indices: args.indices,
    onRun: (report) => {
      if (args.verbose || report.violations.length > 0) console.log(describe(report));
    },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const t = tally(result.runs);
  console.log('');
  for (const baseline of result.baselines) {
    const faulted = result.runs.filter((r) => r.scenario === baseline.scenario.name && r.kind === result.runs[0]?.kind).length;
    console.log(`${baseline.scenario.name} without faults: ${baseline.calls.length} AWS calls, ${baseline.status}; ${faulted} of them faulted in each kind`);
  }
  console.log(formatTable(result));
  const notFired = result.runs.filter((r) => !r.fired).length;
  console.log(`faults that never fired (no write/publish after the call): ${notFired}; stranded without a sweeper: ${t.stranded}; wall ${seconds} s`);
  console.log(summaryLine(result.runs));
  return t.violated === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
