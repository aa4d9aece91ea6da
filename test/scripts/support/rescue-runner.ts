/**
 * Runs the Linux rescue command the way SSM does (the `commands` lines written to a file and run
 * with `sh`), with a stub `aws` first on PATH and a fake device tree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildLinuxRescueCommands, parseRescueSummary, type LinuxRescueParams, type RescueSummary } from '../../../infra/scripts/linux-rescue';
import type { DiskLab } from './disk-lab';

export const SCRIPT_PATH = path.join(__dirname, '../../../infra/scripts/linux-rescue.sh');

const AWS_STUB = `#!/bin/bash
# Stub of the AWS CLI: records the call and keeps a copy of the key file it was given.
set -eu
dir=\${STUB_AWS_DIR:?}
printf '%s\\n' "$@" >"$dir/args"
for a in "$@"; do
  case $a in
    file://*)
      printf '%s\\n' "\${a#file://}" >"$dir/keypath"
      cp "\${a#file://}" "$dir/key"
      ;;
  esac
done
if [ -n "\${STUB_AWS_FAIL:-}" ]; then
  echo >&2
  echo "An error occurred (AccessDeniedException) when calling the PutParameter operation: User is not authorized to perform: ssm:PutParameter" >&2
  exit 254
fi
echo '{"Version": 1, "Tier": "Standard"}'
`;

const FAILING_SSH_KEYGEN = `#!/bin/sh
echo "ssh-keygen: stub refuses to make keys" >&2
exit 1
`;

export interface RescueRun {
  status: number;
  stdout: string;
  stderr: string;
  summary: RescueSummary;
  aws: { called: boolean; args: string[]; privateKey?: string; keyPath?: string };
  /** Each call of a `tracedCommands` command: its name and arguments. */
  traces: string[];
  mountBase: string;
  jobId: string;
}

export interface RunOptions {
  jobId: string;
  volumeId: string;
  devRoot: string;
  params?: Partial<LinuxRescueParams>;
  env?: Record<string, string>;
  /** Refuse the put-parameter call like an IAM denial. */
  awsFails?: boolean;
  /** Put an ssh-keygen that fails first on PATH. */
  keygenFails?: boolean;
  /** Other commands to replace with ones that fail (e.g. setfattr, chcon). */
  failingCommands?: string[];
  /** Commands that print to stdout, then run the real one. */
  noisyCommands?: string[];
  /** Commands whose calls are recorded in `traces`, then run the real one. */
  tracedCommands?: string[];
  /** Run linux-rescue.sh directly with these RA_* variables instead of the built command. */
  direct?: Record<string, string>;
}

/** Where a command is on this machine's PATH (not the run's stub directory). */
function realCommand(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
}

/** Wrappers that write a line (JSON-looking, to fool a careless reader) to stdout before the real command. */
export function writeNoisyCommands(bin: string, names: string[]): void {
  for (const name of names) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho 'noise from ${name}: {"ok":true,"noise":1}'\nexec ${realCommand(name)} "$@"\n`, { mode: 0o755 });
  }
}

/**
 * A key pair made by ssh-keygen in `dir`: the public line without a comment and its fingerprint.
 * The private half is deleted at once: the tests need only the public key.
 */
export function callerKey(dir: string, type: 'ed25519' | 'ecdsa' | 'rsa', bits?: number): { line: string; fingerprint: string } {
  const file = path.join(dir, `caller-${type}-${bits ?? 0}-${++keys}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', '', '-f', file], { stdio: 'ignore' });
  fs.rmSync(file);
  const line = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
  return { line, fingerprint };
}
let keys = 0;

let runs = 0;

export function runRescue(lab: DiskLab, opts: RunOptions): RescueRun {
  const id = ++runs;
  const bin = lab.path(`bin-${id}`);
  const awsDir = lab.path(`aws-${id}`);
  const mountBase = lab.path(`mnt-base-${id}`);
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(awsDir, { recursive: true });
  fs.mkdirSync(mountBase, { recursive: true });
  fs.writeFileSync(path.join(bin, 'aws'), AWS_STUB, { mode: 0o755 });
  if (opts.keygenFails) fs.writeFileSync(path.join(bin, 'ssh-keygen'), FAILING_SSH_KEYGEN, { mode: 0o755 });
  for (const name of opts.failingCommands ?? []) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name}: stub failure" >&2\nexit 1\n`, { mode: 0o755 });
  }
  writeNoisyCommands(bin, opts.noisyCommands ?? []);
  const traceFile = lab.path(`trace-${id}`);
  for (const name of opts.tracedCommands ?? []) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >>'${traceFile}'\nexec ${realCommand(name)} "$@"\n`, { mode: 0o755 });
  }

  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    STUB_AWS_DIR: awsDir,
    RA_DEV_ROOT: opts.devRoot,
    RA_MOUNT_BASE: mountBase,
    RA_DEVICE_WAIT_SECONDS: '0',
    ...(opts.awsFails ? { STUB_AWS_FAIL: '1' } : {}),
    ...opts.env,
  };
  let result;
  if (opts.direct) {
    result = spawnSync('bash', [SCRIPT_PATH], { env: { ...env, ...opts.direct }, encoding: 'utf8' });
  } else {
    const params: LinuxRescueParams = {
      jobId: opts.jobId,
      targetInstanceId: 'i-0123456789abcdef0',
      volumeId: opts.volumeId,
      ...(opts.params?.publicKey === undefined ? { parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key', keyType: 'ed25519' as const } : {}),
      region: 'eu-west-1',
      ...opts.params,
    };
    const commandFile = lab.path(`command-${id}.sh`);
    fs.writeFileSync(commandFile, `${buildLinuxRescueCommands(params).join('\n')}\n`);
    result = spawnSync('sh', [commandFile], { env, encoding: 'utf8' });
  }
  const read = (name: string): string | undefined => {
    const p = path.join(awsDir, name);
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined;
  };
  const args = read('args');
  return {
    status: result.status ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    summary: parseRescueSummary(result.stdout),
    aws: {
      called: args !== undefined,
      args: args ? args.replace(/\n$/, '').split('\n') : [],
      privateKey: read('key'),
      keyPath: read('keypath')?.trim(),
    },
    traces: fs.existsSync(traceFile)
      ? fs
          .readFileSync(traceFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [],
    mountBase,
    jobId: opts.jobId,
  };
}

/** A fake /dev for a Nitro helper: the volume's NVMe by-id links, plus another volume's. */
export function nitroDevRoot(lab: DiskLab, volumeId: string, loop: string, partitions: string[], decoy?: { volumeId: string; loop: string }): string {
  const root = fs.mkdtempSync(lab.path('dev-nitro-'));
  const byId = path.join(root, 'disk/by-id');
  fs.mkdirSync(byId, { recursive: true });
  const link = (serial: string, target: string, suffix = ''): void =>
    fs.symlinkSync(target, path.join(byId, `nvme-Amazon_Elastic_Block_Store_${serial.replace('-', '')}${suffix}`));
  link(volumeId, loop);
  partitions.forEach((p, i) => link(volumeId, p, `-part${i + 1}`));
  if (decoy) link(decoy.volumeId, decoy.loop);
  return root;
}

/** A fake /dev for a Xen helper: the volume under `name` (sdf or xvdf), another volume elsewhere. */
export function xenDevRoot(lab: DiskLab, name: string, loop: string, decoy?: { name: string; loop: string }): string {
  const root = fs.mkdtempSync(lab.path('dev-xen-'));
  fs.symlinkSync(loop, path.join(root, name));
  if (decoy) fs.symlinkSync(decoy.loop, path.join(root, decoy.name));
  return root;
}
