/**
 * `reset-access`: start, follow, list and cancel resets, and see what can be reset, through the
 * service's HTTP API: the local stack (`npm start`, http://127.0.0.1:3000) by default, a deployed
 * API with `--api <url>` or RESET_ACCESS_API (requests are then signed with SigV4 from the
 * standard AWS credential chain). Run it with `npx reset-access` (bin/reset-access.js, which loads
 * bin/reset-access.ts, which calls `runCli`).
 */
import { ApiClient, ApiError, ApiUnreachableError, DEFAULT_API } from './api-client';
import { parseArgs, UsageError } from './args';
import { COMMANDS, type Io } from './commands';

const GLOBAL_FLAGS = ['json', 'help'];
const GLOBAL_VALUED = ['api', 'region', 'as'];

export function usage(): string {
  return [
    'usage: reset-access <command> [options]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
    '',
    'options (every command):',
    `  --api <url>      the API (default ${DEFAULT_API}, or RESET_ACCESS_API)`,
    '  --region <r>     the region to sign for (default: from the URL, then AWS_REGION)',
    "  --json           print the API's JSON",
    '  --as <arn>       the caller the local stack records and checks (its access rule); a deployed API takes it from the signature',
    '',
    'exit codes: 0 done (with --wait: the job SUCCEEDED), 1 refused or not SUCCEEDED, 2 usage error',
  ].join('\n');
}

export async function main(argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`reset-access: unknown command ${name}\n\n${usage()}`);
    return 2;
  }
  let args;
  try {
    args = parseArgs(rest, { flags: [...command.flags, ...GLOBAL_FLAGS], valued: [...command.valued, ...GLOBAL_VALUED] });
  } catch (error) {
    io.err(`reset-access ${name}: ${(error as Error).message}\nusage: reset-access ${command.usage}`);
    return 2;
  }
  if (args.options.help) {
    io.out(`usage: reset-access ${command.usage}`);
    return 0;
  }
  const json = args.options.json === true;
  const api = new ApiClient({
    baseUrl: typeof args.options.api === 'string' ? args.options.api : (env.RESET_ACCESS_API ?? DEFAULT_API),
    region: typeof args.options.region === 'string' ? args.options.region : undefined,
    caller: typeof args.options.as === 'string' ? args.options.as : undefined,
    env,
  });
  try {
    return await command.run({ api, io, json, pollMs: Number(env.RESET_ACCESS_POLL_MS ?? 1000) }, args);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`reset-access ${name}: ${error.message}\nusage: reset-access ${command.usage}`);
      return 2;
    }
    if (error instanceof ApiError) {
      if (json) io.out(JSON.stringify(error.body ?? { code: error.code, message: error.message }, null, 2));
      else io.err(`reset-access ${name}: ${error.code} (${error.status}): ${error.message}${error.requestId ? ` [request ${error.requestId}]` : ''}`);
      return 1;
    }
    if (error instanceof ApiUnreachableError) {
      io.err(`reset-access ${name}: ${error.message}`);
      return 1;
    }
    io.err(`reset-access ${name}: ${(error as Error).message}`);
    return 1;
  }
}

/** The process's Io: lines to stdout/stderr, a live line on a terminal. */
export function processIo(): Io {
  let live = false;
  return {
    out: (text) => {
      if (live) process.stdout.write('\r\x1b[K');
      live = false;
      process.stdout.write(`${text}\n`);
    },
    err: (text) => process.stderr.write(`${text}\n`),
    isTty: process.stdout.isTTY === true,
    live: (text) => {
      process.stdout.write(`\r\x1b[K${text.slice(0, Math.max(20, (process.stdout.columns ?? 120) - 1))}`);
      live = text !== '';
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  };
}

/** Runs the CLI as a process: arguments from argv, exit code on the process. */
export function runCli(): void {
  main(process.argv.slice(2), processIo()).then(
    (code) => (process.exitCode = code),
    (error: Error) => {
      process.stderr.write(`reset-access: ${error.stack ?? error.message}\n`);
      process.exitCode = 1;
    },
  );
}
