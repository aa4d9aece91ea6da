import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  LINUX_RESCUE_SCRIPT,
  RESCUE_ERROR_CODES,
  buildLinuxRescueCommands,
  inspectPublicKeyLine,
  parseRescueSummary,
  shellQuote,
  type LinuxRescueParams,
} from '../../infra/scripts/linux-rescue';
import { callerKey } from './support/rescue-runner';
import { LINUX_RESCUE_SCRIPT_SOURCE } from '../../infra/scripts/linux-rescue.generated';
import { generatedModule } from '../../infra/scripts/generate';
import { shippedBash } from '../../infra/scripts/shipped-text';

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');
const SCRIPT_ON_DISK = fs.readFileSync(path.join(SCRIPTS_DIR, 'linux-rescue.sh'), 'utf8');
/** What the builders and bundles carry: the script with its comment lines emptied (shipped-text.ts). */
const SHIPPED = shippedBash(SCRIPT_ON_DISK);

const PARAMS: LinuxRescueParams = {
  jobId: 'job-0001',
  targetInstanceId: 'i-0123456789abcdef0',
  volumeId: 'vol-0123456789abcdef0',
  parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key',
  keyType: 'ed25519',
  region: 'eu-west-1',
};

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-cmd-'));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the generated copy of linux-rescue.sh', () => {
  it('is identical to the script (run node --import tsx infra/scripts/generate.ts after editing it)', () => {
    expect(LINUX_RESCUE_SCRIPT_SOURCE).toBe(SHIPPED);
    expect(fs.readFileSync(path.join(SCRIPTS_DIR, 'linux-rescue.generated.ts'), 'utf8')).toBe(
      generatedModule(SHIPPED, 'linux-rescue.sh', 'LINUX_RESCUE_SCRIPT_SOURCE'),
    );
    expect(LINUX_RESCUE_SCRIPT).toBe(SHIPPED);
  });
});

describe('buildLinuxRescueCommands', () => {
  it('exports the inputs, then the script verbatim in a quoted here-document', () => {
    const commands = buildLinuxRescueCommands({ ...PARAMS, kmsKeyId: 'alias/reset-access', deviceHints: ['/dev/sdf'] });

    expect(commands.slice(0, 8)).toEqual([
      "export RA_JOB_ID='job-0001'",
      "export RA_TARGET_INSTANCE_ID='i-0123456789abcdef0'",
      "export RA_VOLUME_ID='vol-0123456789abcdef0'",
      "export RA_PARAMETER_NAME='/ec2rl/openssh/i-0123456789abcdef0/key'",
      "export RA_KEY_TYPE='ed25519'",
      "export RA_REGION='eu-west-1'",
      "export RA_KMS_KEY_ID='alias/reset-access'",
      "export RA_DEVICE_HINTS='/dev/sdf'",
    ]);
    const start = commands.indexOf('cat >"$RA_SCRIPT_FILE" <<\'RA_LINUX_RESCUE_SCRIPT_END\'');
    const end = commands.indexOf('RA_LINUX_RESCUE_SCRIPT_END');
    expect(`${commands.slice(start + 1, end).join('\n')}\n`).toBe(SHIPPED);
  });

  it("with the caller's key: exports it and the account, and neither a parameter name, a key type nor a KMS key", () => {
    const line = 'from="10.0.0.0/8",no-agent-forwarding ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop';

    const commands = buildLinuxRescueCommands({
      jobId: 'job-0001',
      targetInstanceId: 'i-0123456789abcdef0',
      volumeId: 'vol-0123456789abcdef0',
      region: 'eu-west-1',
      publicKey: line,
      user: 'deploy',
      kmsKeyId: 'alias/unused',
    });

    expect(commands.filter((c) => c.startsWith('export RA_'))).toEqual([
      "export RA_JOB_ID='job-0001'",
      "export RA_TARGET_INSTANCE_ID='i-0123456789abcdef0'",
      "export RA_VOLUME_ID='vol-0123456789abcdef0'",
      "export RA_REGION='eu-west-1'",
      `export RA_PUBLIC_KEY='${line}'`,
      "export RA_USER='deploy'",
    ]);
  });

  it("the command puts nothing but the script's own output on stdout", () => {
    const commands = buildLinuxRescueCommands(PARAMS);

    expect(commands.slice(commands.indexOf('RA_LINUX_RESCUE_SCRIPT_END') + 1)).toEqual([
      'RA_STATUS=0',
      'bash "$RA_SCRIPT_FILE" || RA_STATUS=$?',
      'rm -f "$RA_SCRIPT_FILE" >&2',
      'exit "$RA_STATUS"',
    ]);
  });

  it('leaves out the optional inputs when absent', () => {
    const commands = buildLinuxRescueCommands(PARAMS);

    expect(commands.some((c) => c.startsWith('export RA_KMS_KEY_ID'))).toBe(false);
    expect(commands.some((c) => c.startsWith('export RA_DEVICE_HINTS'))).toBe(false);
  });

  it('runs under sh as the SSM agent runs it: the script sees the inputs, exits non-zero and removes its copy', () => {
    withTmp((dir) => {
      // Prepare: an empty device tree, so the script stops at DEVICE_NOT_FOUND.
      fs.mkdirSync(path.join(dir, 'dev'));
      fs.mkdirSync(path.join(dir, 'tmp'));
      fs.writeFileSync(path.join(dir, 'commands.sh'), `${buildLinuxRescueCommands(PARAMS).join('\n')}\n`);

      // Act
      const r = spawnSync('sh', [path.join(dir, 'commands.sh')], {
        encoding: 'utf8',
        env: {
          ...process.env,
          TMPDIR: path.join(dir, 'tmp'),
          RA_DEV_ROOT: path.join(dir, 'dev'),
          RA_MOUNT_BASE: path.join(dir, 'mnt'),
          RA_DEVICE_WAIT_SECONDS: '0',
        },
      });

      // Assess
      expect(r.status).toBe(1);
      const summary = parseRescueSummary(r.stdout);
      expect(summary).toMatchObject({ ok: false, error: 'DEVICE_NOT_FOUND' });
      expect(summary.ok === false && summary.message).toContain('vol0123456789abcdef0');
      expect(r.stderr).toContain('job job-0001: looking for vol-0123456789abcdef0 of i-0123456789abcdef0');
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    });
  });

  it.each([
    ['jobId', { jobId: 'job 1; rm -rf /' }],
    ['targetInstanceId', { targetInstanceId: 'i-xyz' }],
    ['volumeId', { volumeId: 'vol-$(id)' }],
    ['parameterName', { parameterName: "/ec2rl/openssh/'/key" }],
    ['region', { region: 'moon' }],
    ['kmsKeyId', { kmsKeyId: "alias/x'y" }],
    ['deviceHints', { deviceHints: ['/dev/sdf; reboot'] }],
    ['user', { user: 'Deploy' }],
    ['user', { user: 'a'.repeat(33) }],
    ['user', { user: "x';reboot;'" }],
    ['publicKey', { publicKey: 'ssh-dss AAAAB3NzaC1kc3M= old' }],
    ['publicKey', { publicKey: 'ssh-ed25519 AAAAC3Nz a\nssh-ed25519 AAAAC3Nz b' }],
    ['publicKey', { publicKey: '-----BEGIN OPENSSH PRIVATE KEY-----' }],
    ['parameterName', { parameterName: undefined }],
  ] as Array<[string, Partial<LinuxRescueParams>]>)('refuses a bad %s', (field, bad) => {
    expect(() => buildLinuxRescueCommands({ ...PARAMS, ...bad })).toThrow(new RegExp(`invalid Linux rescue parameters: .*${field}`));
  });
});

describe('RESCUE_ERROR_CODES', () => {
  it('has every code the script can send', () => {
    const sent = new Set([...SCRIPT_ON_DISK.matchAll(/fail ([A-Z_]+) /g)].map((m) => m[1]));
    sent.add('INTERNAL_ERROR');

    expect([...sent].filter((code) => !(RESCUE_ERROR_CODES as readonly string[]).includes(code as string))).toEqual([]);
    expect(RESCUE_ERROR_CODES).toEqual(expect.arrayContaining(['USER_NOT_FOUND', 'INVALID_PUBLIC_KEY', 'KEY_FILE_REFUSED', 'NO_LOGIN_USER']));
  });
});

describe('inspectPublicKeyLine (what the script checks with ssh-keygen)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-keys-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['ed25519', undefined, 'ed25519', 256],
    ['ecdsa', 256, 'ecdsa', 256],
    ['ecdsa', 384, 'ecdsa', 384],
    ['ecdsa', 521, 'ecdsa', 521],
    ['rsa', 3072, 'rsa', 3072],
  ] as const)("accepts %s %s with options and a comment, with ssh-keygen's fingerprint", (type, bits, keyType, size) => {
    const key = callerKey(dir, type, bits);

    const r = inspectPublicKeyLine(`from="10.0.0.0/8",command="echo \\"x\\"" ${key.line} me@laptop`);

    expect(r).toMatchObject({ ok: true, keyType, bits: size, fingerprint: key.fingerprint });
  });

  it('refuses an RSA key under 3072 bits, a blob of another type, a broken blob, and two lines', () => {
    const rsa = callerKey(dir, 'rsa', 2048);
    const ed = callerKey(dir, 'ed25519');

    expect(inspectPublicKeyLine(rsa.line)).toEqual({ ok: false, reason: 'an RSA key of 2048 bits: at least 3072 bits are needed' });
    expect(inspectPublicKeyLine(`ssh-rsa ${ed.line.split(' ')[1]}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/not the ssh-rsa key/) });
    expect(inspectPublicKeyLine(`ssh-ed25519 ${ed.line.split(' ')[1]?.slice(0, 40)}`)).toMatchObject({ ok: false });
    expect(inspectPublicKeyLine(`${ed.line}\n${ed.line}`)).toMatchObject({ ok: false });
    expect(inspectPublicKeyLine(`bad option ${ed.line}`)).toMatchObject({ ok: false });
  });
});

describe('shellQuote', () => {
  it.each(["it's", '$HOME `id` "x"', 'a\\b', ''])('round-trips %j through sh', (value) => {
    const r = spawnSync('sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });

    expect(r.stdout).toBe(value);
  });
});

describe('parseRescueSummary', () => {
  const success = {
    ok: true,
    volumeId: 'vol-0123456789abcdef0',
    device: '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0',
    disk: '/dev/nvme1n1',
    partition: '/dev/nvme1n1p1',
    filesystem: 'xfs',
    selinux: { mode: 'permissive', labelled: true, contextSource: 'default' },
    user: 'ec2-user',
    userSource: 'cloud-init',
    file: '/home/ec2-user/.ssh/authorized_keys',
    added: true,
    users: [{ user: 'ec2-user', file: '/home/ec2-user/.ssh/authorized_keys', added: true }],
    keySource: 'generated',
    parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key',
    keyType: 'ed25519',
    fingerprint: 'SHA256:abc',
    publicKey: 'ssh-ed25519 AAAA reset-access-job-0001',
  };

  it('reads the last JSON object line, after log lines and before trailing blank lines', () => {
    const stdout = `ra: starting\n{"ok":false,"error":"OLD","message":"an earlier line"}\nra: done\n${JSON.stringify(success)}\n\n`;

    expect(parseRescueSummary(stdout)).toEqual(success);
  });

  it('reads a failure', () => {
    expect(parseRescueSummary('{"ok":false,"error":"NO_LOGIN_USER","message":"no login user"}\n')).toEqual({
      ok: false,
      error: 'NO_LOGIN_USER',
      message: 'no login user',
    });
  });

  it('throws a clear error when there is no JSON line', () => {
    expect(() => parseRescueSummary('ra: killed\n')).toThrow(/printed no JSON summary line/);
  });

  it("reads a caller's-key summary, which has no parameter name; a generated one must have it", () => {
    const caller = { ...success, keySource: 'caller', keyType: 'ecdsa', parameterName: undefined };
    const generated = { ...success, keySource: 'generated', parameterName: undefined };

    expect(parseRescueSummary(`${JSON.stringify(caller)}\n`)).toMatchObject({ ok: true, keySource: 'caller', keyType: 'ecdsa' });
    expect(() => parseRescueSummary(`${JSON.stringify(generated)}\n`)).toThrow(/no "parameterName"/);
  });

  it('throws when the last JSON line is not a summary', () => {
    expect(() => parseRescueSummary('{"ok":true,"device":"/dev/sdf"}\n')).toThrow(/summary has no "partition"/);
    expect(() => parseRescueSummary('{"hello":1}\n')).toThrow(/no boolean "ok"/);
  });
});
