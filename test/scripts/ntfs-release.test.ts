/**
 * The release command without disk images: its generated copy, the command that carries it (clean
 * as the POSIX sh the SSM agent runs it with), its input checks, and the summary parser.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatedModule } from '../../infra/scripts/generate';
import { buildNtfsReleaseCommands, parseNtfsReleaseSummary } from '../../infra/scripts/ntfs-release';
import { hasCommand } from './support/disk-lab';
import { shippedBash } from '../../infra/scripts/shipped-text';

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');

describe('the generated copy of ntfs-release.sh', () => {
  it('is the script as it is on disk, as shipped', () => {
    const source = fs.readFileSync(path.join(SCRIPTS_DIR, 'ntfs-release.sh'), 'utf8');
    expect(fs.readFileSync(path.join(SCRIPTS_DIR, 'ntfs-release.generated.ts'), 'utf8')).toBe(
      generatedModule(shippedBash(source), 'ntfs-release.sh', 'NTFS_RELEASE_SCRIPT_SOURCE'),
    );
  });
});

describe('buildNtfsReleaseCommands', () => {
  it('exports the inputs, quoted, and hands the script to bash', () => {
    // Act
    const commands = buildNtfsReleaseCommands({ jobId: 'job-1', volumeId: 'vol-0123456789abcdef0', deviceHints: ['/dev/sdf'] });
    // Assess
    expect(commands.slice(0, 4)).toEqual([
      "export RA_SCRIPT='ntfs-release'",
      "export RA_JOB_ID='job-1'",
      "export RA_VOLUME_ID='vol-0123456789abcdef0'",
      "export RA_DEVICE_HINTS='/dev/sdf'",
    ]);
    expect(commands.at(-3)).toBe('bash "$RA_SCRIPT_FILE" || RA_STATUS=$?');
  });

  it('refuses inputs that are not ids, naming them', () => {
    expect(() => buildNtfsReleaseCommands({ jobId: "x'; rm -rf /", volumeId: 'vol-1' })).toThrow('invalid NTFS release parameters: jobId, volumeId');
  });

  (hasCommand('shellcheck') ? it : it.skip)('is clean as the POSIX sh script the SSM agent runs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-release-'));
    const file = path.join(dir, 'command.sh');
    fs.writeFileSync(
      file,
      `${buildNtfsReleaseCommands({ jobId: 'job-1', volumeId: 'vol-0123456789abcdef0', deviceHints: ['/dev/sdf', '/dev/xvdf'] }).join('\n')}\n`,
    );
    const r = spawnSync('shellcheck', ['--shell=sh', file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.stdout + r.stderr).toBe('');
  });

  it('answers INVALID_INPUT, releasing nothing, for a volume id that is not one', () => {
    // Act: the script itself, run as the agent would (nothing is looked up before the inputs are checked)
    const r = spawnSync('bash', ['-c', fs.readFileSync(path.join(SCRIPTS_DIR, 'ntfs-release.sh'), 'utf8')], {
      env: { ...process.env, RA_JOB_ID: 'job-1', RA_VOLUME_ID: 'vol-nope' },
      encoding: 'utf8',
    });
    // Assess
    expect(r.status).toBe(1);
    expect(parseNtfsReleaseSummary(r.stdout)).toMatchObject({ ok: false, released: false, error: 'INVALID_INPUT' });
  });
});

describe('parseNtfsReleaseSummary', () => {
  it('reads the last summary line of the release, whatever comes before it', () => {
    const line = JSON.stringify({
      ok: true,
      script: 'ntfs-release',
      helper: 'linux',
      released: true,
      volumeId: 'vol-0123456789abcdef0',
      unmounted: ['/mnt/x'],
    });
    expect(parseNtfsReleaseSummary(`noise\n${line}\n`)).toMatchObject({ released: true, unmounted: ['/mnt/x'] });
  });

  it('refuses a summary of another script, or a malformed one', () => {
    expect(() => parseNtfsReleaseSummary('{"ok":true,"script":"ntfs-rescue"}\n')).toThrow('no JSON summary line');
    expect(() => parseNtfsReleaseSummary('{"ok":true,"script":"ntfs-release"}\n')).toThrow('malformed');
  });
});
