/** `npm start` as a child process, for the end-to-end tests: start it, call its API, stop or kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * Starts `npm start`'s entry point on a port the system picks (`PORT=0`: a port chosen here and
 * freed before the child binds it could be taken in between by another test's server) and waits
 * until it says it is running, and where.
 */
export async function startService(
  dataDir: string,
  fresh: boolean,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/start.ts', ...(fresh ? ['--fresh'] : [])], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', RESET_ACCESS_DATA_DIR: dataDir, SIM_SPEED: '30', POWERTOOLS_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  let running: RegExpMatchArray | null;
  while (!(running = output.match(/reset-access is running: API http:\/\/127\.0\.0\.1:(\d+)/))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port: Number(running[1]), output: () => output };
}

/** Stops it as Ctrl-C would (SIGTERM: it saves and closes). */
export function stopService(child: ChildProcess): Promise<void> {
  return signalService(child, 'SIGTERM');
}

/** `kill -9`: gone at once, with no chance to save anything. */
export function killService(child: ChildProcess): Promise<void> {
  return signalService(child, 'SIGKILL');
}

function signalService(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function http(port: number, method: string, path: string, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- an API answer read field by field
  return { status: response.status, json: (await response.json()) as any };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
