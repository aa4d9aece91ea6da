import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { shippedBash } from '../../infra/scripts/shipped-text';
import { buildLinuxRescueCommands } from '../../infra/scripts/linux-rescue';
import { buildNtfsRescueCommands } from '../../infra/scripts/ntfs-rescue';
import { buildNtfsReleaseCommands } from '../../infra/scripts/ntfs-release';
import { buildWindowsRescueCommands } from '../../infra/scripts/windows-rescue';

const SCRIPTS = ['linux-rescue.sh', 'ntfs-rescue.sh', 'ntfs-release.sh'].map((name) => ({
  name,
  source: fs.readFileSync(path.join(__dirname, '../../infra/scripts', name), 'utf8'),
}));

/**
 * The script as bash parses it, comments gone: its whole text as the body of a function that is
 * never called, printed back by `declare -f` (nothing of it runs).
 */
function parsed(text: string): string {
  const result = spawnSync('bash', ['-c', 'eval "__script() {\n$1\n}" && declare -f __script', 'parse', text], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bash could not parse it: ${result.stderr}`);
  return result.stdout;
}

describe('the scripts as shipped', () => {
  it.each(SCRIPTS)('$name: bash parses the shipped text exactly as the source, on the same lines', ({ source }) => {
    // Act
    const shipped = shippedBash(source);

    // Assess
    expect(parsed(shipped)).toBe(parsed(source));
    expect(shipped.split('\n')).toHaveLength(source.split('\n').length);
    expect(shipped.length).toBeLessThan(source.length);
  });

  it('keeps here-document bodies, the #! line and comments inside strings', () => {
    // Prepare
    const source = ['#!/bin/bash', '# a comment', 'cat <<-EOF', '# kept: data', '\tEOF', "echo '#x'", '  # indented comment', 'x=1 # trailing'].join('\n');

    // Act
    const shipped = shippedBash(source).split('\n');

    // Assess
    expect(shipped).toEqual(['#!/bin/bash', '', 'cat <<-EOF', '# kept: data', '\tEOF', "echo '#x'", '', 'x=1 # trailing']);
  });

  it('fits every Run Command into SSM 64 KB for a document with its runtime parameters, with room for the document', () => {
    // Prepare: the largest inputs each builder takes
    const ids = { jobId: 'r-0123456789abcdef', targetInstanceId: 'i-0123456789abcdef0', volumeId: 'vol-0123456789abcdef0' };
    const commands = {
      linux: buildLinuxRescueCommands({ ...ids, region: 'ap-southeast-2', parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key', kmsKeyId: 'x'.repeat(256) }),
      ntfs: buildNtfsRescueCommands(ids),
      release: buildNtfsReleaseCommands({ jobId: ids.jobId, volumeId: ids.volumeId }),
      windows: buildWindowsRescueCommands({ ...ids, device: 'xvdf' }),
    };

    // Act
    const sizes = Object.fromEntries(
      Object.entries(commands).map(([name, lines]) => [name, Buffer.byteLength(JSON.stringify({ commands: lines, executionTimeout: ['3600'] }))]),
    );

    // Assess: AWS-RunShellScript / AWS-RunPowerShellScript themselves take ≈ 1 KB
    for (const size of Object.values(sizes)) expect(size).toBeLessThan(60 * 1024);
  });
});
