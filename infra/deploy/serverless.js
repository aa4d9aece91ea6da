/**
 * What serverless.yml takes from the phase registry: `functions:` and `resources:` list items
 * `${file(./infra/deploy/serverless.js):functions}` and `…:resources`. Serverless Framework calls
 * each export with its variable resolver; the model and its rendering are TypeScript
 * (infra/deploy/topology.ts, cloudformation.ts), loaded through tsx.
 */
'use strict';
const { require: tsxRequire } = require('tsx/cjs/api');

const { functionsOf, resourcesOf } = tsxRequire('./cloudformation.ts', __filename);

async function context(resolveVariable) {
  return {
    service: await resolveVariable('self:service'),
    stage: await resolveVariable('sls:stage'),
    // Only an explicit `false` turns the opt-in off (serverless.yml custom.requireAllowedTag).
    requireAllowedTag: String(await resolveVariable('self:custom.requireAllowedTag')) !== 'false',
  };
}

module.exports.functions = async ({ resolveVariable }) => functionsOf(await context(resolveVariable));
module.exports.resources = async ({ resolveVariable }) => ({ Resources: resourcesOf(await context(resolveVariable)) });
