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
import { generateSshKeyPair } from '../../infra/sim/ssh-keys';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { EXISTING_KEYS, fixture, linuxVolumeFixtures } from '../fixtures/linux-volumes';
import { hasCommand, readTree, writeTree } from './support/disk-lab';

const missing = ['setfattr', 'getfattr', 'ssh-keygen'].filter((c) => !hasCommand(c));
const unavailable =
  process.platform !== 'linux' ? 'needs Linux' : process.getuid?.() !== 0 ? 'needs root (the script chowns)' : missing.length ? `missing ${missing.join(', ')}` : undefined;
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

function runOnline(root: string, publicKey: string, jobId: string, options: { failingCommands?: string[] } = {}): OnlineRun {
  const bin = path.join(base, `bin-${++seq}`);
  fs.mkdirSync(bin);
  for (const name of options.failingCommands ?? []) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name}: stub failure" >&2\nexit 1\n`, { mode: 0o755 });
  }
  const commandFile = path.join(base, `command-${seq}.sh`);
  fs.writeFileSync(commandFile, `${buildLinuxOnlineCommands({ jobId, targetInstanceId: 'i-0123456789abcdef0', publicKey, targetRoot: root }).join('\n')}\n`);
  const result = spawnSync('sh', [commandFile], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, summary: parseOnlineSummary(result.stdout) };
}

function ok(run: OnlineRun): OnlineSuccess {
  if (!run.summary.ok || run.status !== 0) throw new Error(`online run failed (exit ${run.status}): ${JSON.stringify(run.summary)}\n${run.stderr}`);
  return run.summary;
}

describeAsRoot('linux-rescue.sh online, on a running system\'s root tree', () => {
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
        expect(summary).toMatchObject({ mode: 'online', root, keyType, publicKey: line, fingerprint: key.fingerprint });
        expect(summary.users.map((u) => u.file).sort()).toEqual(fx.expect.keyFiles);
        expect(usersAcceptingKey(before, line)).toEqual([]);
        expect(usersAcceptingKey(after, line).sort()).toEqual(fx.expect.usersWithKey);
        const model = applyLinuxRescue(before, { publicKey: line });
        expect(model.users).toEqual(summary.users);
        expect(after).toEqual(model.files);
      });
    }
  });

  it('refuses an ed25519 key where the instance\'s OpenSSH predates it, changing nothing', () => {
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

  it('a second run of the same job replaces its own line and keeps every other key', () => {
    // Prepare
    const fx = fixture('debian-12');
    const root = targetRoot(fx.files);
    const first = ok(runOnline(root, generateSshKeyPair('ed25519', 'a').publicKey, 'job-online-twice'));
    const afterFirst = readTree(root);
    const second = generateSshKeyPair('ed25519', 'b');

    // Act
    const run = runOnline(root, second.publicKey, 'job-online-twice');

    // Assess
    const summary = ok(run);
    const after = readTree(root);
    for (const keyFile of fx.expect.keyFiles) {
      const lines = (after[keyFile]?.content ?? '').split('\n');
      expect(lines.filter((l) => l.endsWith(' reset-access-job-online-twice'))).toEqual([summary.publicKey]);
    }
    expect(after['/home/alice/.ssh/authorized_keys']?.content).toContain(EXISTING_KEYS.laptop);
    expect(usersAcceptingKey(after, first.publicKey)).toEqual([]);
    expect(after).toEqual(applyLinuxRescue(afterFirst, { publicKey: summary.publicKey }).files);
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
    const commands = buildLinuxOnlineCommands({ jobId: 'job-online-bad', targetInstanceId: 'i-0123456789abcdef0', publicKey: 'ssh-ed25519 AAAA', targetRoot: root });
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
    expect(buildLinuxOnlineCommands({ jobId: 'j', targetInstanceId: 'i-0123456789abcdef0', publicKey: key.publicKey }).join('\n')).not.toContain(key.privateKey.split('\n')[1]);
  });
});

describe('buildLinuxOnlineCommands', () => {
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
  ])('refuses %s', (_what, override) => {
    expect(() => buildLinuxOnlineCommands({ jobId: 'r-abc', targetInstanceId: 'i-0123456789abcdef0', publicKey: 'ssh-ed25519 AAAAC3Nz', ...override })).toThrow(/invalid Linux online parameters/);
  });
});
