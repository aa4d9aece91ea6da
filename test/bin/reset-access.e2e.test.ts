/**
 * The CLI as a new user would run it, against `npm start`'s stack in a process of its own: a reset
 * of a sample with `--wait` (live progress, a line per finished phase, exit 0 and the outputs), a
 * refusal's exit code, and an alarm put on the local EventBridge starting a job for an opted-in
 * instance only. (Every command and option in detail: reset-access.test.ts, in process.)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import { alarmEvent } from '../support/events';
import { startService, stopService, waitFor } from '../e2e/local-service';

const ROOT = join(__dirname, '..', '..');
const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const SPOT = 'i-0a1b2c3d4e5f60005';
const MANAGED = 'i-0a1b2c3d4e5f60009';

let stack: ChildProcess;
let output: () => string;
let apiUrl: string;
let busUrl: string;
const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-cli-'));

beforeAll(async () => {
  const started = await startService(dataDir, true, { SIM_SPEED: '100', POWERTOOLS_METRICS_DISABLED: 'true' });
  ({ child: stack, output } = started);
  apiUrl = `http://127.0.0.1:${started.port}`;
  busUrl = await waitFor('the local EventBridge', async () => /local EventBridge at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], 10_000, 50);
}, 45_000);

afterAll(async () => {
  await stopService(stack);
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npx reset-access …` (the package's bin) against the stack; answers its exit code and output. */
function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['bin/reset-access.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, RESET_ACCESS_API: apiUrl, RESET_ACCESS_POLL_MS: '200', ...env },
    encoding: 'utf8',
    timeout: 40_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

it('start <sample> --wait shows live progress, a line per finished phase, the outputs, and exits 0', () => {
  // Act
  const run = cli(['start', AL2023, '--wait']);
  // Assess
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = run.stdout.split('\n');
  expect(lines[0]).toMatch(new RegExp(`^Started r-[0-9a-z]+ for ${AL2023}$`));
  expect(lines.filter((line) => /^ {2}… .+ · \d+s$/.test(line)).length).toBeGreaterThan(2);
  const finished = lines.filter((line) => line.startsWith('  ✓ ')).map((line) => line.trim().split(/\s+/)[1]);
  expect(finished).toEqual(
    expect.arrayContaining(['validate', 'stop-target', 'create-backup', 'launch-helper', 'run-rescue', 'reattach-root', 'restore-target', 'cleanup']),
  );
  expect(finished.at(-1)).toBe('cleanup');
  expect(run.stdout).toMatch(/SUCCEEDED in .+: i-0a1b2c3d4e5f60001 has a new way in/);
  expect(run.stdout).toContain(`/ec2rl/openssh/${AL2023}/key`);
  expect(run.stdout).not.toMatch(/PRIVATE KEY/);
}, 45_000);

/** Every file of the stack's state, read as text. */
function stateFiles(): Array<{ path: string; text: string }> {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.pub'))
    .map((entry) => join(entry.parentPath, entry.name))
    .map((path) => ({ path, text: readFileSync(path).toString('latin1') }));
}

const privateKeysIn = (files: Array<{ text: string }>) => files.reduce((n, f) => n + (f.text.match(/BEGIN OPENSSH PRIVATE KEY/g)?.length ?? 0), 0);

/** The simulated region's parameters that hold a private key, by name (the region's state on disk). */
function privateKeyParameters(): string[] {
  const saved = JSON.parse(readFileSync(join(dataDir, 'sim-region.json'), 'utf8')) as { state: { parameters: Record<string, { value: string }> } };
  return Object.entries(saved.state.parameters)
    .filter(([, p]) => p.value.includes('PRIVATE KEY'))
    .map(([name]) => name);
}

it("start --user --public-key-file puts the caller's own key online: no private key made, in the state directory, the logs or the output", async () => {
  // Prepare: the caller's key pair; only its .pub file is given.
  const mine = generateSshKeyPair('ed25519', 'me@laptop');
  const pub = join(dataDir, 'id_ed25519.pub');
  writeFileSync(pub, `${mine.publicKey}\n`);
  // Act
  const run = cli(['start', MANAGED, '--user', 'ec2-user', '--public-key-file', pub, '--wait']);
  // Assess
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toContain('\n  account:       ec2-user (/home/ec2-user/.ssh/authorized_keys)\n');
  expect(run.stdout).toContain(`\n  fingerprint:   ${mine.fingerprint} (your own key: no private key was made)\n`);
  // The region saves its state every 2 s: wait for a save that has the key on the volume (anything
  // stored for this reset came before it).
  const onVolume = () => readFileSync(join(dataDir, 'sim-region.json'), 'utf8').includes(mine.publicKey.split(' ')[1]!);
  for (const until = Date.now() + 15_000; !onVolume() && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 200));
  expect(onVolume()).toBe(true);
  const state = stateFiles();
  // The only private keys on disk are in Parameter Store, of the generated-key reset above (if it ran): none for this instance.
  const parameters = privateKeyParameters();
  expect(parameters.filter((name) => name !== `/ec2rl/openssh/${AL2023}/key`)).toEqual([]);
  expect(privateKeysIn(state)).toBe(parameters.length);
  expect(state.filter((f) => f.text.includes(`/ec2rl/openssh/${MANAGED}/`)).map((f) => f.path)).toEqual([]);
  for (const log of [output(), run.stdout]) expect(log).not.toMatch(/PRIVATE KEY/);
}, 45_000);

it('start of an instance the service refuses exits 1 with the reason', () => {
  // Act
  const refused = cli(['start', SPOT, '--wait']);
  // Assess
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/SPOT_INSTANCE \(422\)/);
});

it('an alarm put on the local EventBridge starts a job for an opted-in instance, none for another', async () => {
  // Prepare
  const events = new EventBridgeClient({ endpoint: busUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const event = alarmEvent([UBUNTU, ENCRYPTED], { alarmName: 'status-check' });
  const others = async () => {
    const { jobs } = (await (await fetch(`${apiUrl}/resets`)).json()) as { jobs: Array<{ instanceId: string; requestedBy?: string }> };
    return jobs.filter((job) => job.instanceId !== AL2023 && job.instanceId !== SPOT && job.instanceId !== MANAGED);
  };
  // Act
  const put = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: event.source as string,
          DetailType: event['detail-type'] as string,
          Resources: event.resources as string[],
          Detail: JSON.stringify(event.detail),
        },
      ],
    }),
  );
  for (const until = Date.now() + 15_000; (await others()).length === 0 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 200));
  // What the alarm function does with the other instance is done by now: both come in one message.
  const jobs = await others();
  events.destroy();
  // Assess
  expect(put.FailedEntryCount ?? 0).toBe(0);
  expect(jobs).toEqual([expect.objectContaining({ instanceId: UBUNTU, requestedBy: 'alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:status-check' })]);
}, 30_000);
