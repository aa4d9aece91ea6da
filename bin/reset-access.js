#!/usr/bin/env node
// `npx reset-access`: runs bin/reset-access.ts through tsx (installed by `npm ci`), so that no
// build step is needed. Works on Node 20, offline.
'use strict';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').require('./reset-access.ts', __filename);
