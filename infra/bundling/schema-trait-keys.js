/**
 * An esbuild plugin for the AWS SDK's generated schemas (`dist-es/…/schemas/schemas_N.js` of the
 * `@aws-sdk/*` clients): writes the computed keys of their trait objects as the literal strings
 * they stand for, `{ [_xN]: _m }` → `{ "xmlName": _m }`. The objects are the same.
 *
 * Why: esbuild keeps every statement with a computed key it cannot prove to be a primitive (the
 * key's `toString` could have side effects), so each structure schema carrying a trait survived
 * tree shaking, and every function bundled the whole EC2 model, ≈ 550 kB of its 1.3 MB, for the
 * thirty-odd operations it calls. Known upstream since SDK 3.930 (aws/aws-sdk-js-v3#7607); the
 * codegen fix (smithy-lang/smithy-typescript#1889) emits literal keys. Once the pinned SDK carries
 * it, this plugin finds nothing to rewrite and can go.
 *
 * Only a key that names a top-level `const _x = "…";` of the same file, inside an object literal,
 * is rewritten; anything else is left as it is. test/infra/bundling/schema-trait-keys.test.ts
 * checks that every schema the service's clients export is unchanged.
 *
 * Plain CommonJS (types in the .d.ts beside it): serverless-esbuild `require`s the plugins at
 * packaging time, without a TypeScript loader.
 */
'use strict';
const { readFile } = require('node:fs/promises');

/** The generated schema modules of the SDK's ES module builds (clients and nested clients). */
const SDK_SCHEMA_FILE = /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/](?:.*[\\/])?schemas[\\/]schemas_\d+\.js$/;

const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
// `[_x]:` right after `{` or `,`: a computed key of an object literal, not an element access.
const COMPUTED_KEY = /(?<=[{,]\s*)\[(_\w+)\]:/g;

/** The module's text with every computed key that names one of its string constants written as that string. */
function inlineTraitKeys(source) {
  const constants = new Map();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) constants.set(name, literal);
  return source.replace(COMPUTED_KEY, (key, name) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

const schemaTraitKeys = {
  name: 'sdk-schema-trait-keys',
  setup(build) {
    build.onLoad({ filter: SDK_SCHEMA_FILE }, async ({ path }) => ({ contents: inlineTraitKeys(await readFile(path, 'utf8')), loader: 'js' }));
  },
};

module.exports = { SDK_SCHEMA_FILE, inlineTraitKeys, schemaTraitKeys };
