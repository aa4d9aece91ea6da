/** The `reset-access` command (see bin/cli/main.ts); bin/reset-access.js runs this file through tsx. */
import { runCli } from './cli/main';

runCli();
