// The esbuild plugins of every function's bundle: serverless.yml `custom.esbuild.plugins` names
// this file, which serverless-esbuild `require`s; the cold-start bench loads it the same way.
'use strict';
const { schemaTraitKeys } = require('./schema-trait-keys');

module.exports = [schemaTraitKeys];
