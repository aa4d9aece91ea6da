import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  LINUX_RESCUE_SCRIPT,
  buildLinuxRescueCommands,
  parseRescueSummary,
  shellQuote,
  type LinuxRescueParams,
} from '../../infra/scripts/linux-rescue';
import { LINUX_RESCUE_SCRIPT_SOURCE } from '../../infra/scripts/linux-rescue.generated';
import { generatedModule } from '../../infra/scripts/generate';

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');
const SCRIPT_ON_DISK = fs.readFileSync(path.join(SCRIPTS_DIR, 'linux-rescue.sh'), 'utf8');

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
    expect(LINUX_RESCUE_SCRIPT_SOURCE).toBe(SCRIPT_ON_DISK);
    expect(fs.readFileSync(path.join(SCRIPTS_DIR, 'linux-rescue.generated.ts'), 'utf8')).toBe(
      generatedModule(SCRIPT_ON_DISK, 'linux-rescue.sh', 'LINUX_RESCUE_SCRIPT_SOURCE'),
    );
    expect(LINUX_RESCUE_SCRIPT).toBe(SCRIPT_ON_DISK);
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
    const start = commands.indexOf("cat >\"$RA_SCRIPT_FILE\" <<'RA_LINUX_RESCUE_SCRIPT_END'");
    const end = commands.indexOf('RA_LINUX_RESCUE_SCRIPT_END');
    expect(`${commands.slice(start + 1, end).join('\n')}\n`).toBe(SCRIPT_ON_DISK);
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
  ] as Array<[string, Partial<LinuxRescueParams>]>)('refuses a bad %s', (field, bad) => {
    expect(() => buildLinuxRescueCommands({ ...PARAMS, ...bad })).toThrow(new RegExp(`invalid Linux rescue parameters: .*${field}`));
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
    selinux: { mode: 'permissive', labelled: true },
    users: [{ user: 'ec2-user', file: '/home/ec2-user/.ssh/authorized_keys', added: true }],
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

  it('throws when the last JSON line is not a summary', () => {
    expect(() => parseRescueSummary('{"ok":true,"device":"/dev/sdf"}\n')).toThrow(/summary has no "partition"/);
    expect(() => parseRescueSummary('{"hello":1}\n')).toThrow(/no boolean "ok"/);
  });
});
