/**
 * `npm run demo`: resets sample instances end to end on the local stack (the same one `npm start`
 * runs, in a fresh temporary state directory), prints each phase timeline and the outputs, and
 * checks what a user would: the instance is back in its run state with its original root volume at
 * its original device, and it accepts the new key. Exits non-zero if any check fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { JobView } from '../../domain/job-view';
import { silentLog } from '../logger';
import { usersAcceptingKey } from '../sim/linux-rescue-model';
import { sampleInstances } from '../sim/samples';
import { publicKeyOfPrivate } from './ssh-public-key';
import { startLocalStack, type LocalStack } from './local-stack';

const TIMEOUT_MS = 120_000;

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-demo-'));
  const speed = Number(process.env.SIM_SPEED ?? 30);
  const stack = await startLocalStack({ port: 0, dataDir, simSpeed: speed, sim: true, fresh: true, stage: 'local', log: silentLog });
  const failures: string[] = [];
  try {
    const target = sampleInstances.find((s) => s.platform === 'linux' && s.resettable && s.state === 'running')!;
    process.stdout.write(`Resetting ${target.instanceId} (${target.name}: ${target.demonstrates})\n`);
    const before = await describe(stack, target.instanceId);
    const realStart = Date.now();
    const started = await call(stack, 'POST', '/resets', { instanceId: target.instanceId });
    if (started.status !== 202) throw new Error(`POST /resets answered ${started.status}: ${JSON.stringify(started.body)}`);
    const view = await waitForEnd(stack, started.body.jobId as string);
    const realSeconds = (Date.now() - realStart) / 1000;
    printTimeline(view, realSeconds);

    const check = (ok: boolean, what: string) => {
      process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
      if (!ok) failures.push(what);
    };
    const after = await describe(stack, target.instanceId);
    const rootBefore = before.BlockDeviceMappings?.find((m) => m.DeviceName === before.RootDeviceName);
    const rootAfter = after.BlockDeviceMappings?.find((m) => m.DeviceName === before.RootDeviceName);
    process.stdout.write('Checks:\n');
    check(view.status === 'SUCCEEDED', `job ${view.jobId} SUCCEEDED (is ${view.status})`);
    check(after.State?.Name === before.State?.Name, `instance is ${before.State?.Name} again (is ${after.State?.Name})`);
    check(rootAfter?.Ebs?.VolumeId === rootBefore?.Ebs?.VolumeId, `original root volume ${rootBefore?.Ebs?.VolumeId} at ${before.RootDeviceName}`);
    check(rootAfter?.Ebs?.DeleteOnTermination === rootBefore?.Ebs?.DeleteOnTermination, `DeleteOnTermination restored (${rootBefore?.Ebs?.DeleteOnTermination})`);
    const parameter = await stack.clients.ssm.send(new GetParameterCommand({ Name: view.outputs.sshKeyParameter, WithDecryption: true }));
    check(parameter.Parameter?.Type === 'SecureString', `private key stored as SecureString at ${view.outputs.sshKeyParameter}`);
    const volume = stack.region!.getVolume(rootBefore!.Ebs!.VolumeId!)!;
    const accepting = usersAcceptingKey(volume.files, publicKeyOfPrivate(parameter.Parameter!.Value!));
    check(accepting.length > 0, `the new key is in authorized_keys of: ${accepting.join(', ') || 'nobody'}`);
    check(realSeconds < 60, `finished in ${realSeconds.toFixed(1)} s of real time (under 60 s)`);
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(failures.length === 0 ? '\ndemo: all checks passed\n' : `\ndemo: ${failures.length} check(s) failed\n`);
  return failures.length === 0 ? 0 : 1;
}

async function call(stack: LocalStack, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function describe(stack: LocalStack, instanceId: string) {
  const out = await stack.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0]!.Instances![0]!;
}

async function waitForEnd(stack: LocalStack, jobId: string): Promise<JobView> {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = '';
  for (;;) {
    const { body } = await call(stack, 'GET', `/resets/${jobId}`);
    const view = body as JobView;
    const now = `${view.status} ${view.currentPhases.join('+')}`;
    if (now !== last) process.stdout.write(`  … ${now}\n`);
    last = now;
    if (view.status === 'SUCCEEDED' || view.status === 'FAILED') return view;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${view.status} after ${TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function printTimeline(view: JobView, realSeconds: number): void {
  const t0 = Date.parse(view.createdAt);
  const end = Date.parse(view.endedAt ?? view.updatedAt);
  process.stdout.write(`\nJob ${view.jobId}: ${view.status} in ${((end - t0) / 1000).toFixed(0)} s simulated (${realSeconds.toFixed(1)} s real)\n`);
  for (const phase of view.phases) {
    const from = (Date.parse(phase.startedAt) - t0) / 1000;
    const to = phase.endedAt ? (Date.parse(phase.endedAt) - t0) / 1000 : NaN;
    process.stdout.write(`  ${phase.name.padEnd(20)} ${from.toFixed(0).padStart(5)} s → ${to.toFixed(0).padStart(5)} s  ${phase.status}${phase.polls ? ` (${phase.polls} polls)` : ''}\n`);
  }
  process.stdout.write('Outputs:\n');
  for (const [key, value] of Object.entries(view.outputs)) process.stdout.write(`  ${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}\n`);
  if (view.error) process.stdout.write(`Error: ${view.error.code} in ${view.error.phase}: ${view.error.message}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
