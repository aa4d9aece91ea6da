import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildLinuxRescueCommands } from '../../infra/scripts/linux-rescue';
import { hasCommand } from './support/disk-lab';

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');
const shellScripts = fs.readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith('.sh'));

const unavailable = hasCommand('shellcheck') ? undefined : 'shellcheck is not installed (apt-get install shellcheck)';
if (unavailable) console.warn(`shellcheck.test.ts skipped: ${unavailable}`);
const describeWithShellcheck = unavailable ? describe.skip : describe;

describeWithShellcheck('shellcheck', () => {
  it('finds the helper scripts', () => {
    expect(shellScripts).toContain('linux-rescue.sh');
  });

  for (const script of shellScripts) {
    it(`${script} is clean`, () => {
      const r = spawnSync('shellcheck', ['--severity=style', '--external-sources', script], {
        cwd: SCRIPTS_DIR,
        encoding: 'utf8',
      });

      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('the AWS-RunShellScript command (run by sh) is clean as a POSIX sh script', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-shellcheck-'));
    const file = path.join(dir, 'command.sh');
    const commands = buildLinuxRescueCommands({
      jobId: 'job-1',
      targetInstanceId: 'i-0123456789abcdef0',
      volumeId: 'vol-0123456789abcdef0',
      parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key',
      keyType: 'ed25519',
      kmsKeyId: 'alias/reset-access',
      region: 'us-east-1',
      deviceHints: ['/dev/sdf', '/dev/xvdf'],
    });
    fs.writeFileSync(file, `${commands.join('\n')}\n`);

    const r = spawnSync('shellcheck', ['--shell=sh', file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });

    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
