/** `npm run chaos`'s command line (infra/local/chaos.ts), read with node:util parseArgs. */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, planeOf, SCENARIOS, type FaultKind, type Plane } from './chaos-harness';
import { WINDOWS_FAST_PATH_SCENARIOS } from './chaos-windows';

/** Every scenario of the matrix: the harness's and the Windows fast path's (chaos-windows.ts). */
export const ALL_SCENARIOS = [...SCENARIOS, ...WINDOWS_FAST_PATH_SCENARIOS];

export const USAGE = `usage: npm run chaos -- [options]
  --every N        only every N-th faulted call of each kind (default 1: all)
  --kind K         only this fault kind (repeatable): ${FAULT_KINDS.join(', ')}
  --plane P        only the faults of this plane: memory (EC2, SSM, KMS) or wire (DynamoDB, SQS, EventBridge, Lambda)
  --scenario S     only this scenario (repeatable): ${ALL_SCENARIOS.map((s) => `"${s.name}"`).join(', ')}
  --index I        only the call with this index (repeatable)
  --verbose        every run, not only the violated ones
  --jobs N         worker processes sharing the matrix (default: 2, or 1 on one core)
  --fleet          the fleet under faults instead of the matrix
  --count N        (with --fleet) how many instances (default 500)
  --help           this text`;

export interface ChaosArgs {
  kinds: readonly FaultKind[];
  scenarios: string[] | undefined;
  indices: number[] | undefined;
  every: number;
  verbose: boolean;
  fleet: boolean;
  count: number;
  jobs: number;
  help: boolean;
  /** Set in a worker: its share of the matrix (`--shard i/n`, internal). */
  shard?: { index: number; count: number };
}

/** The command line, read with node:util parseArgs; a bad option or value throws a message naming it. */
export function chaosArgs(argv: string[]): ChaosArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      every: { type: 'string' },
      kind: { type: 'string', multiple: true },
      plane: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      index: { type: 'string', multiple: true },
      verbose: { type: 'boolean', default: false },
      fleet: { type: 'boolean', default: false },
      count: { type: 'string' },
      jobs: { type: 'string' },
      shard: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const whole = (name: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
  for (const kind of values.kind ?? [])
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(`--kind must be one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  if (values.plane !== undefined && values.plane !== 'memory' && values.plane !== 'wire')
    throw new Error(`--plane must be memory or wire, got ${JSON.stringify(values.plane)}`);
  for (const name of values.scenario ?? [])
    if (!ALL_SCENARIOS.some((s) => s.name === name))
      throw new Error(`--scenario must be one of ${ALL_SCENARIOS.map((s) => s.name).join(', ')}, got ${JSON.stringify(name)}`);
  let kinds: readonly FaultKind[] = values.kind && values.kind.length > 0 ? (values.kind as FaultKind[]) : FAULT_KINDS;
  if (values.plane) kinds = kinds.filter((k) => planeOf(k) === (values.plane as Plane));
  return {
    kinds,
    scenarios: values.scenario,
    indices: values.index?.map((i) => whole('index', i, 0, 0)),
    every: whole('every', values.every, 1, 1),
    verbose: values.verbose ?? false,
    fleet: values.fleet ?? false,
    count: whole('count', values.count, 500, 1),
    jobs: whole('jobs', values.jobs, Math.min(2, availableParallelism()), 1),
    shard: shardOf(values.shard),
    help: values.help ?? false,
  };
}

function shardOf(value: string | undefined): { index: number; count: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(value);
  if (!match || Number(match[1]) >= Number(match[2])) throw new Error(`--shard must be i/n with i < n, got ${JSON.stringify(value)}`);
  return { index: Number(match[1]), count: Number(match[2]) };
}
