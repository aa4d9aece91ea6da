/**
 * The plugin must change how esbuild tree-shakes the SDK's schemas and nothing else: every schema
 * the service's clients export is the same object graph with the plugin as without it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { inlineTraitKeys, schemaTraitKeys, SDK_SCHEMA_FILE } from '../../../infra/bundling/schema-trait-keys';

const ROOT = join(__dirname, '..', '..', '..');

/** The schema modules of the SDK clients package.json depends on, and of the nested clients their credentials use. */
function serviceSchemaFiles(): string[] {
  const dependencies = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
  const packages = [...dependencies.filter((name) => name.startsWith('@aws-sdk/client-')), '@aws-sdk/nested-clients'];
  return packages.flatMap((name) => {
    const dir = dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }));
    return readdirSync(join(dir, 'dist-es'), { recursive: true, encoding: 'utf8' })
      .map((file) => join(dir, 'dist-es', file))
      .filter((file) => SDK_SCHEMA_FILE.test(file));
  });
}

/** Everything the module exports, bundled (with or without the plugin) and evaluated. */
async function exportsOf(file: string, plugins: Plugin[]): Promise<Record<string, unknown>> {
  const result = await build({
    stdin: { contents: `export * from ${JSON.stringify(file)};`, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'silent',
    plugins,
  });
  const module = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', 'require', result.outputFiles[0]!.text)(module, module.exports, require);
  return module.exports;
}

/**
 * Structural equality of two schema graphs: arrays and objects by their entries, a thunk
 * (`() => OtherSchema$`) by what it returns, a class (an error type) by its name, a map by its entries.
 */
function sameGraph(a: unknown, b: unknown, seen = new Map<unknown, unknown>()): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || (typeof a !== 'object' && typeof a !== 'function')) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (typeof a === 'function') {
    const [fa, fb] = [a as () => unknown, b as () => unknown];
    const isClass = /^class\b/.test(Function.prototype.toString.call(fa));
    return isClass ? fa.name === fb.name : fa.length === 0 && sameGraph(fa(), fb(), seen);
  }
  // A registry's maps (some keyed by the error schemas themselves): entry by entry, in order.
  if (a instanceof Map || b instanceof Map) return a instanceof Map && b instanceof Map && sameGraph([...a], [...b], seen);
  const [keysA, keysB] = [Reflect.ownKeys(a), Reflect.ownKeys(b as object)];
  if (Array.isArray(a) !== Array.isArray(b) || keysA.length !== keysB.length) return false;
  return keysA.every((key) => keysB.includes(key) && sameGraph((a as Record<PropertyKey, unknown>)[key], (b as Record<PropertyKey, unknown>)[key], seen));
}

describe('inlineTraitKeys', () => {
  it('writes a computed key that names a string constant of the module as that string', () => {
    // Prepare
    const source = ['const _xN = "xmlName";', 'const _m = "min";', 'export var A$ = [3, n0, _A, 0, [_M], [[1, { [_eQN]: `Min`,', '  [_xN]: _m }]]];'].join(
      '\n',
    );
    // Act
    const inlined = inlineTraitKeys(source);
    // Assess
    expect(inlined).toContain('{ [_eQN]: `Min`,\n  "xmlName": _m }');
  });

  it('leaves element accesses and names that are no string constant alone', () => {
    const source = ['const _a = "a";', 'let _b = "b";', 'x = y[_a] ? y[_a]: { [_b]: 1 };'].join('\n');
    expect(inlineTraitKeys(source)).toBe(source);
  });
});

describe('the schemas of the service’s SDK clients', () => {
  const files = serviceSchemaFiles();

  it('are compared by what they hold, thunks by what they return', () => {
    expect(sameGraph([3, 'ns', [() => [0, 'a']]], [3, 'ns', [() => [0, 'a']]])).toBe(true);
    expect(sameGraph([3, 'ns', [() => [0, 'a']]], [3, 'ns', [() => [0, 'b']]])).toBe(false);
    expect(sameGraph({ xmlName: 'a' }, { xmlname: 'a' })).toBe(false);
  });

  it('are found (EC2, SSM, DynamoDB, SQS, EventBridge, KMS and the credential chain’s clients)', () => {
    expect(
      files
        .map((file) =>
          file
            .replace(/.*node_modules[\\/]/, '')
            .split(/[\\/]/)
            .filter((part) => !['dist-es', 'submodules', 'schemas'].includes(part))
            .slice(0, -1)
            .join('/'),
        )
        .sort(),
    ).toEqual(
      expect.arrayContaining([
        '@aws-sdk/client-dynamodb',
        '@aws-sdk/client-ec2',
        '@aws-sdk/client-eventbridge',
        '@aws-sdk/client-kms',
        '@aws-sdk/client-sqs',
        '@aws-sdk/client-ssm',
        '@aws-sdk/nested-clients/sso',
        '@aws-sdk/nested-clients/sts',
      ]),
    );
  });

  it('carry computed keys that the plugin rewrites (else it has become useless: remove it)', () => {
    const ec2 = files.find((file) => file.includes('client-ec2'))!;
    const source = readFileSync(ec2, 'utf8');
    expect(source.match(/\[_\w+\]:/g)?.length).toBeGreaterThan(1000);
    expect(inlineTraitKeys(source).match(/\[_\w+\]:/g)).toBeNull();
  });

  it.each(files.map((file) => [file.replace(/.*node_modules[\\/]/, ''), file]))(
    '%s exports the same schemas with the plugin',
    async (_name, file) => {
      // Act
      const [plain, inlined] = await Promise.all([exportsOf(file, []), exportsOf(file, [schemaTraitKeys])]);
      // Assess
      expect(Object.keys(inlined).sort()).toEqual(Object.keys(plain).sort());
      expect(Object.keys(plain).length).toBeGreaterThan(0);
      const different = Object.keys(plain).filter((name) => !sameGraph(plain[name], inlined[name]));
      expect(different).toEqual([]);
    },
    60_000,
  );
});
