/**
 * linux-rescue.sh in online mode: the command `buildLinuxOnlineCommands` makes, run the way SSM
 * runs it on the target, against a real directory tree written from each distribution fixture and
 * given to the script as the instance's root (`RA_TARGET_ROOT`, chroot-like: a running system has
 * it at `/`). Owners, modes and labels are real, so every run is compared with the model the
 * offline disk tests hold the script to: one set of user and file rules for both modes.
 *
 * Needs root (the script chowns) and setfattr/getfattr; no loop devices.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildLinuxOnlineCommands, parseOnlineSummary, type OnlineSuccess, type OnlineSummary } from '../../infra/scripts/linux-rescue';
import { applyLinuxRescue, usersAcceptingKey } from '../../infra/sim/linux-rescue-model';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { fixture, linuxVolumeFixtures } from '../fixtures/linux-volumes';
import { hasCommand, readTree, writeTree } from './support/disk-lab';
import { callerKey, writeNoisyCommands } from './support/rescue-runner';

const missing = ['setfattr', 'getfattr', 'ssh-keygen'].filter((c) => !hasCommand(c));
const unavailable =
  process.platform !== 'linux'
    ? 'needs Linux'
    : process.getuid?.() !== 0
      ? 'needs root (the script chowns)'
      : missing.length
        ? `missing ${missing.join(', ')}`
        : undefined;
if (unavailable) console.warn(`linux-rescue.online.test.ts skipped: ${unavailable}`);
const describeAsRoot = unavailable ? describe.skip : describe;

interface OnlineRun {
  status: number;
  stdout: string;
  stderr: string;
  summary: OnlineSummary;
}

let base: string;
let seq = 0;

/** Writes `files` as a root tree of its own; answers its path. */
function targetRoot(files: VolumeFiles): string {
  const root = path.join(base, `root-${++seq}`);
  writeTree(root, files);
  return root;
}

interface OnlineOptions {
  failingCommands?: string[];
  /** Commands that print to stdout before doing their real work. */
  noisyCommands?: string[];
  keySource?: 'caller' | 'generated';
  user?: string;
}

function runOnline(root: string, publicKey: string, jobId: string, options: OnlineOptions = {}): OnlineRun {
  const bin = path.join(base, `bin-${++seq}`);
  fs.mkdirSync(bin);
  for (const name of options.failingCommands ?? []) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name}: stub failure" >&2\nexit 1\n`, { mode: 0o755 });
  }
  writeNoisyCommands(bin, options.noisyCommands ?? []);
  const commandFile = path.join(base, `command-${seq}.sh`);
  const commands = buildLinuxOnlineCommands({
    jobId,
    targetInstanceId: 'i-0123456789abcdef0',
    publicKey,
    targetRoot: root,
    ...(options.keySource ? { keySource: options.keySource } : {}),
    ...(options.user ? { user: options.user } : {}),
  });
  fs.writeFileSync(commandFile, `${commands.join('\n')}\n`);
  const result = spawnSync('sh', [commandFile], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, summary: parseOnlineSummary(result.stdout) };
}

function ok(run: OnlineRun): OnlineSuccess {
  if (!run.summary.ok || run.status !== 0) throw new Error(`online run failed (exit ${run.status}): ${JSON.stringify(run.summary)}\n${run.stderr}`);
  return run.summary;
}

describeAsRoot("linux-rescue.sh online, on a running system's root tree", () => {
  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-online-'));
  });
  afterAll(() => {
    fs.rmSync(base, { recursive: true, force: true });
  });

  describe('each distribution fixture: the same users, files, owners, modes and labels as the offline model', () => {
    for (const fx of linuxVolumeFixtures) {
      it(`${fx.name}: ${fx.description}`, () => {
        // Prepare
        const jobId = `job-online-${seq + 1}`;
        const keyType = fx.expect.keyType ?? 'ed25519';
        const key = generateSshKeyPair(keyType, 'made-by-the-service');
        const root = targetRoot(fx.files);
        const before = readTree(root);

        // Act
        const run = runOnline(root, key.publicKey, jobId);

        // Assess
        const after = readTree(root);
        if (fx.expect.error) {
          expect(run.status).not.toBe(0);
          expect(run.summary).toMatchObject({ ok: false, error: fx.expect.error });
          expect(after).toEqual(before);
          return;
        }
        const summary = ok(run);
        const line = `${key.publicKey.split(' ').slice(0, 2).join(' ')} reset-access-${jobId}`;
        expect(summary).toMatchObject({ mode: 'online', root, keyType, keySource: 'generated', publicKey: line, fingerprint: key.fingerprint });
        expect(summary).not.toHaveProperty('parameterName');
        expect(summary.users.map((u) => u.file).sort()).toEqual(fx.expect.keyFiles);
        expect(usersAcceptingKey(before, line)).toEqual([]);
        expect(usersAcceptingKey(after, line).sort()).toEqual(fx.expect.usersWithKey);
        const model = applyLinuxRescue(before, { publicKey: line, requireKeyType: keyType, mode: 'online' });
        expect(model.users).toEqual(summary.users);
        expect(model.placement).toEqual({
          user: summary.user,
          userSource: summary.userSource,
          file: summary.file,
          added: summary.added,
          selinux: summary.selinux,
        });
        expect(after).toEqual(model.files);
      });
    }
  });

  it("refuses an ed25519 key where the instance's OpenSSH predates it, changing nothing", () => {
    // Prepare
    const root = targetRoot(fixture('centos-6-old-openssh').files);
    const before = readTree(root);

    // Act
    const run = runOnline(root, generateSshKeyPair('ed25519', 'x').publicKey, 'job-online-old');

    // Assess
    expect(run.status).not.toBe(0);
    expect(run.summary).toMatchObject({ ok: false, error: 'KEY_TYPE_UNSUPPORTED' });
    expect(readTree(root)).toEqual(before);
  });

  it('the same command again adds nothing; another key is appended after the first, never rewriting the file', () => {
    // Prepare
    const fx = fixture('debian-12');
    const root = targetRoot(fx.files);
    const key = generateSshKeyPair('ed25519', 'a');
    const first = ok(runOnline(root, key.publicKey, 'job-online-twice'));
    const afterFirst = readTree(root);

    // Act
    const again = ok(runOnline(root, key.publicKey, 'job-online-twice'));
    const afterAgain = readTree(root);
    const other = ok(runOnline(root, generateSshKeyPair('ed25519', 'b').publicKey, 'job-online-twice'));

    // Assess
    expect(again).toMatchObject({ added: false, file: first.file, users: [{ user: 'admin', file: first.file, added: false }] });
    expect(afterAgain).toEqual(afterFirst);
    const after = readTree(root);
    expect(after[first.file]?.content).toBe(`${afterFirst[first.file]?.content}${other.publicKey}\n`);
    expect(after['/home/alice/.ssh/authorized_keys']).toEqual(fx.files['/home/alice/.ssh/authorized_keys']);
    expect(usersAcceptingKey(after, first.publicKey)).toEqual(['admin']);
  });

  it("the caller's own line (RA_KEY_SOURCE=caller), options kept, to a named account", () => {
    // Prepare
    const fx = fixture('ubuntu-with-deploy');
    const root = targetRoot(fx.files);
    const before = readTree(root);
    const key = callerKey(base, 'ecdsa', 384);
    const line = `from="10.1.2.0/24",no-pty ${key.line} me@laptop`;

    // Act
    const run = runOnline(root, line, 'job-online-caller', { keySource: 'caller', user: 'deploy' });

    // Assess
    const summary = ok(run);
    expect(summary).toMatchObject({
      user: 'deploy',
      userSource: 'requested',
      keySource: 'caller',
      keyType: 'ecdsa',
      publicKey: line,
      fingerprint: key.fingerprint,
      added: true,
    });
    const after = readTree(root);
    expect(after['/home/deploy/.ssh/authorized_keys']?.content).toBe(`${before['/home/deploy/.ssh/authorized_keys']?.content}${line}\n`);
    expect(after['/home/ubuntu/.ssh/authorized_keys']).toEqual(before['/home/ubuntu/.ssh/authorized_keys']);
    expect(after).toEqual(applyLinuxRescue(before, { publicKey: line, user: 'deploy', requireKeyType: 'ecdsa', mode: 'online' }).files);
  });

  it('INVALID_PUBLIC_KEY for a caller RSA key under 3072 bits, USER_NOT_FOUND for an absent account; nothing changed', () => {
    // Prepare
    const root = targetRoot(fixture('ubuntu-with-deploy').files);
    const before = readTree(root);

    // Act
    const weak = runOnline(root, callerKey(base, 'rsa', 2048).line, 'job-online-weak', { keySource: 'caller' });
    const absent = runOnline(root, generateSshKeyPair('ed25519', 'x').publicKey, 'job-online-absent', { user: 'nobody-here' });

    // Assess
    expect(weak.summary).toMatchObject({ ok: false, error: 'INVALID_PUBLIC_KEY', message: expect.stringMatching(/2048 bits/) });
    expect(absent.summary).toMatchObject({ ok: false, error: 'USER_NOT_FOUND', message: expect.stringMatching(/no account 'nobody-here'/) });
    expect(readTree(root)).toEqual(before);
  });

  it('stdout is exactly the one summary line, however noisy the tools', () => {
    // Prepare
    const root = targetRoot(fixture('rocky-9').files);

    // Act
    const run = runOnline(root, generateSshKeyPair('ed25519', 'x').publicKey, 'job-online-noisy', {
      noisyCommands: ['chown', 'chmod', 'mkdir', 'setfattr', 'sync'],
    });

    // Assess
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ ok: true, user: 'rocky' });
    expect(run.stderr).toContain('noise from chown');
  });

  it('SELinux enforcing and labels cannot be set: fails (sshd would not read the file) instead of asking for a relabel', () => {
    // Prepare
    const root = targetRoot(fixture('rocky-9').files);

    // Act
    const run = runOnline(root, generateSshKeyPair('ed25519', 'x').publicKey, 'job-online-selinux', { failingCommands: ['setfattr', 'chcon'] });

    // Assess
    expect(run.status).not.toBe(0);
    expect(run.summary).toMatchObject({ ok: false, error: 'SELINUX_LABEL_FAILED' });
    expect(readTree(root)['/.autorelabel']).toBeUndefined();
  });

  it('INVALID_INPUT for a key line the script does not accept, before it reads anything', () => {
    // Prepare
    const root = targetRoot(fixture('amazon-linux-2023').files);
    const before = readTree(root);
    const commands = buildLinuxOnlineCommands({
      jobId: 'job-online-bad',
      targetInstanceId: 'i-0123456789abcdef0',
      publicKey: 'ssh-ed25519 AAAA',
      targetRoot: root,
    });
    const commandFile = path.join(base, 'command-bad.sh');
    fs.writeFileSync(commandFile, `${commands.join('\n').replace("export RA_PUBLIC_KEY='ssh-ed25519 AAAA'", "export RA_PUBLIC_KEY='ssh-dss AAAA'")}\n`);

    // Act
    const result = spawnSync('sh', [commandFile], { encoding: 'utf8' });

    // Assess
    expect(result.status).not.toBe(0);
    expect(parseOnlineSummary(result.stdout)).toMatchObject({ ok: false, error: 'INVALID_INPUT' });
    expect(readTree(root)).toEqual(before);
  });

  it('never prints anything that looks like a private key', () => {
    const root = targetRoot(fixture('amazon-linux-2023').files);
    const key = generateSshKeyPair('ed25519', 'x');

    const run = runOnline(root, key.publicKey, 'job-online-quiet');

    ok(run);
    expect(run.stdout + run.stderr).not.toContain('PRIVATE KEY');
    expect(buildLinuxOnlineCommands({ jobId: 'j', targetInstanceId: 'i-0123456789abcdef0', publicKey: key.publicKey }).join('\n')).not.toContain(
      key.privateKey.split('\n')[1],
    );
  });
});

describe('buildLinuxOnlineCommands', () => {
  it('a caller line is exported whole with RA_KEY_SOURCE=caller, and the account as RA_USER', () => {
    const line = 'from="10.0.0.0/8" ssh-ed25519 AAAAC3Nz me@laptop';

    const commands = buildLinuxOnlineCommands({
      jobId: 'r-abc',
      targetInstanceId: 'i-0123456789abcdef0',
      publicKey: line,
      keySource: 'caller',
      user: 'deploy',
    });

    expect(commands.filter((c) => c.startsWith('export RA_'))).toEqual([
      "export RA_JOB_ID='r-abc'",
      "export RA_TARGET_INSTANCE_ID='i-0123456789abcdef0'",
      "export RA_TARGET_ROOT='/'",
      `export RA_PUBLIC_KEY='from="10.0.0.0/8" ssh-ed25519 AAAAC3Nz me@laptop'`,
      "export RA_KEY_SOURCE='caller'",
      "export RA_USER='deploy'",
    ]);
  });

  it('exports only the job, the instance, the root and the public key (without its comment)', () => {
    const commands = buildLinuxOnlineCommands({ jobId: 'r-abc', targetInstanceId: 'i-0123456789abcdef0', publicKey: 'ssh-ed25519 AAAAC3Nz me@laptop' });

    expect(commands.filter((c) => c.startsWith('export RA_'))).toEqual([
      "export RA_JOB_ID='r-abc'",
      "export RA_TARGET_INSTANCE_ID='i-0123456789abcdef0'",
      "export RA_TARGET_ROOT='/'",
      "export RA_PUBLIC_KEY='ssh-ed25519 AAAAC3Nz'",
    ]);
  });

  it.each([
    ['a private key', { publicKey: '-----BEGIN OPENSSH PRIVATE KEY-----' }],
    ['a key with a quote', { publicKey: "ssh-ed25519 AAAA'x" }],
    ['a relative root', { targetRoot: 'etc' }],
    ['a bad instance id', { targetInstanceId: 'i-zz' }],
    ['a bad user name', { user: 'Root;id' }],
    ['a caller line with a newline', { keySource: 'caller' as const, publicKey: 'ssh-ed25519 AAAAC3Nz a\nssh-ed25519 AAAAC3Nz b' }],
  ])('refuses %s', (_what, override) => {
    expect(() => buildLinuxOnlineCommands({ jobId: 'r-abc', targetInstanceId: 'i-0123456789abcdef0', publicKey: 'ssh-ed25519 AAAAC3Nz', ...override })).toThrow(
      /invalid Linux online parameters/,
    );
  });
});
