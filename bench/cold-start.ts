/**
 * Cold start: every function the deployment has bundled as `serverless package` bundles it (the
 * options of `custom.esbuild`, read from the file), its size, and how long `require` of the bundle
 * takes in a fresh Node process (the module initialisation a Lambda cold start pays before the
 * first event), the median of several runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { parse } from 'yaml';
import { functionsOf } from '../infra/deploy/cloudformation';

export interface FunctionColdStart {
  name: string;
  handler: string;
  /** The bundled `.js`, bytes. */
  bundleBytes: number;
  /** The same deflated, about what the function's zip weighs. */
  zippedBytes: number;
  /** Median `require` time in a fresh process, ms. */
  loadMs: number;
  loadRunsMs: number[];
}

export interface ColdStartOptions {
  root?: string;
  /** Only these functions (default: all). */
  only?: string[];
  /** Fresh processes per function. Default 5. */
  runs?: number;
}

type FunctionEntry = { handler: string; environment?: Record<string, unknown> };

interface ServerlessFunctions {
  service: string;
  /** serverless.yml's own functions, and a `${file(…)}` item the deploy module fills (infra/deploy/). */
  functions: Array<Record<string, FunctionEntry> | string>;
  custom?: { esbuild?: Record<string, unknown> };
}

export interface BenchFunction {
  name: string;
  handler: string;
  entry: string;
  /** The literal environment the deployment gives it (`PHASE` for a phase function). */
  environment: Record<string, string>;
}

/** The functions (serverless.yml's and the deploy module's) and the esbuild options of serverless.yml. */
export function readServerless(root: string): { functions: BenchFunction[]; esbuild: Record<string, unknown> } {
  const text = readFileSync(join(root, 'serverless.yml'), 'utf8');
  const doc = parse(text, { logLevel: 'error', customTags: CLOUDFORMATION_TAGS }) as ServerlessFunctions;
  const declared = doc.functions.filter((item): item is Record<string, FunctionEntry> => typeof item === 'object');
  const all: Record<string, FunctionEntry> = Object.assign({}, ...declared, functionsOf({ service: doc.service, stage: 'bench' }));
  const functions = Object.entries(all).map(([name, fn]) => ({
    name,
    handler: fn.handler,
    entry: join(root, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`),
    environment: Object.fromEntries(Object.entries(fn.environment ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
  }));
  return { functions, esbuild: doc.custom?.esbuild ?? {} };
}

export async function measureColdStart(options: ColdStartOptions = {}): Promise<FunctionColdStart[]> {
  const out = mkdtempSync(join(tmpdir(), 'reset-access-bench-'));
  try {
    const bundles = await bundleFunctions({ ...options, outDir: out });
    return bundles.map((bundle) => {
      const loadRunsMs = Array.from({ length: options.runs ?? 5 }, () => loadOnce(bundle.file, bundle.environment));
      return {
        name: bundle.name,
        handler: bundle.handler,
        bundleBytes: bundle.bundleBytes,
        zippedBytes: deflateRawSync(readFileSync(bundle.file), { level: 9 }).length,
        loadMs: median(loadRunsMs),
        loadRunsMs,
      };
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export interface FunctionBundle {
  name: string;
  handler: string;
  environment: Record<string, string>;
  /** The bundled `.js`. */
  file: string;
  bundleBytes: number;
}

/** Every function of serverless.yml (or `only` these) bundled into `outDir` as `serverless package` bundles it. */
export async function bundleFunctions(options: { root?: string; only?: string[]; outDir: string }): Promise<FunctionBundle[]> {
  const root = resolve(options.root ?? '.');
  const { functions, esbuild } = readServerless(root);
  const buildOptions = esbuildOptions(esbuild, root);
  const bundles: FunctionBundle[] = [];
  // The phase functions share one entry (handlers/phase.ts): one bundle serves them all.
  const built = new Map<string, string>();
  for (const fn of functions.filter((f) => !options.only || options.only.includes(f.name))) {
    let file = built.get(fn.entry);
    if (!file) {
      file = join(options.outDir, `${fn.name}.js`);
      await build({ ...buildOptions, entryPoints: [fn.entry], outfile: file, logLevel: 'silent' });
      built.set(fn.entry, file);
    }
    bundles.push({ name: fn.name, handler: fn.handler, environment: fn.environment, file, bundleBytes: statSync(file).size });
  }
  return bundles;
}

/** Options of serverless-esbuild itself, which it removes before calling esbuild (its `bundle.ts`). */
const PLUGIN_ONLY_OPTIONS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
]);

/**
 * `custom.esbuild` as serverless-esbuild passes it to esbuild: its own options out, `exclude` as
 * `external`, `plugins` (a file of the service exporting the list) loaded.
 */
function esbuildOptions(custom: Record<string, unknown>, root: string): BuildOptions {
  const passed = Object.fromEntries(Object.entries(custom).filter(([key]) => !PLUGIN_ONLY_OPTIONS.has(key)));
  const exclude = Array.isArray(custom.exclude) ? (custom.exclude as string[]) : [];
  return {
    // serverless-esbuild's defaults, for what serverless.yml leaves out.
    bundle: true,
    target: 'node20',
    platform: 'node',
    ...passed,
    external: [...((passed.external as string[] | undefined) ?? []), ...(exclude.includes('*') ? [] : exclude)],
    plugins: loadPlugins(custom.plugins, root),
  } as BuildOptions;
}

/** serverless-esbuild's `plugins`: a path from the service's directory to a module exporting the plugins (its `index.ts`). */
function loadPlugins(option: unknown, root: string): Plugin[] {
  if (option === undefined) return [];
  if (typeof option !== 'string') throw new Error('custom.esbuild.plugins: the bench reads only a file path');
  // `require`, as serverless-esbuild loads it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(join(root, option)) as Plugin[] | { default: Plugin[] } | ((serverless: unknown) => Plugin[]);
  const plugins = 'default' in loaded ? loaded.default : loaded;
  if (typeof plugins === 'function') throw new Error('custom.esbuild.plugins: a function of the serverless instance cannot be called here');
  return plugins;
}

/** `require` of the bundle in a new Node process, with the environment the deployment gives the function. */
function loadOnce(bundle: string, environment: Record<string, string>): number {
  const script = 'const t=process.hrtime.bigint();require(process.argv[1]);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  const output = execFileSync(process.execPath, ['-e', script, bundle], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      TABLE_NAME: 'bench-jobs',
      EVENT_BUS_NAME: 'bench-bus',
      PHASE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench',
      HELPER_INSTANCE_PROFILE: 'bench-helper',
      ...environment,
    },
    encoding: 'utf8',
  });
  return Number(output);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The CloudFormation short tags serverless.yml may hold, read as plain values. */
const CLOUDFORMATION_TAGS = [
  'Ref',
  'GetAtt',
  'Sub',
  'Join',
  'If',
  'Equals',
  'Select',
  'Split',
  'FindInMap',
  'ImportValue',
  'Base64',
  'Not',
  'And',
  'Or',
  'GetAZs',
  'Cidr',
  'Condition',
].flatMap((name) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${name}`,
    collection: collection === 'scalar' ? undefined : collection,
    resolve: (value: unknown) => value,
  })),
) as never;
