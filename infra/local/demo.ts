/**
 * `npm run demo`: resets a Linux and a Windows sample instance at once, end to end on the local
 * stack (the same one `npm start` runs, in a fresh temporary state directory), prints each phase
 * timeline and the outputs, and checks what a user would: each instance is back in its run state
 * with its original root volume at its original device; the Linux one accepts the new key; the
 * Windows one kept both AMIs and GetPasswordData answers once it has booted. A third sample, whose
 * SSM agent is Online, is reset online at the same time (never stopped) and its time is printed
 * next to the offline one. Exits non-zero if any check fails. `--serve` keeps the stack up
 * afterwards, to look at its page (`GET /`: the jobs' phase timelines and the fleet's figures).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeInstancesCommand, GetPasswordDataCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { JobView } from '../../domain/job/job-view';
import { silentLog } from '../observability/logger';
import { usersAcceptingKey } from '../sim/linux-rescue-model';
import { sampleInstances } from '../sim/samples';
import { publicKeyOfPrivate } from './ssh-public-key';
import { startLocalStack, type LocalStack } from './local-stack';

const TIMEOUT_MS = 120_000;
/** The SSM-managed Linux sample: `auto` resets it online. */
const ONLINE_SAMPLE = 'i-0a1b2c3d4e5f60009';
/** The SSM-managed Windows sample: `auto` resets it online (password generation on, then a reboot). */
const WINDOWS_ONLINE_SAMPLE = 'i-0a1b2c3d4e5f6000a';
const PASSWORD_TIMEOUT_MS = 30_000;

async function main(): Promise<number> {
  const demoStart = Date.now();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  // The jobs' CloudWatch metric lines (EMF on stdout) would bury the demo's own lines.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-demo-'));
  // A Windows helper's first boot takes 15 simulated minutes (timings.ts): 60x keeps the demo short.
  const speed = Number(process.env.SIM_SPEED ?? 60);
  const stack = await startLocalStack({ port: 0, dataDir, simSpeed: speed, sim: true, fresh: true, stage: 'local', log: silentLog });
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
    if (!ok) failures.push(what);
  };
  try {
    const linux = sampleInstances.find((s) => s.platform === 'linux' && s.resettable && s.state === 'running')!;
    const windows = sampleInstances.find((s) => s.platform === 'windows' && s.resettable && s.state === 'running')!;
    const managed = sampleInstances.find((s) => s.instanceId === ONLINE_SAMPLE)!;
    const windowsManaged = sampleInstances.find((s) => s.instanceId === WINDOWS_ONLINE_SAMPLE)!;
    const targets = [linux, windows, managed, windowsManaged];
    for (const t of targets) process.stdout.write(`Resetting ${t.instanceId} (${t.name}: ${t.demonstrates})\n`);
    const before = await Promise.all(targets.map((t) => describe(stack, t.instanceId)));
    const passwordBefore = await passwordDataOf(stack, windows.instanceId);
    const realStart = Date.now();
    // Both jobs at once, as the service runs them.
    const views = await Promise.all(
      targets.map(async (t) => {
        const started = await call(stack, 'POST', '/resets', { instanceId: t.instanceId });
        if (started.status !== 202) throw new Error(`POST /resets answered ${started.status}: ${JSON.stringify(started.body)}`);
        return waitForEnd(
          stack,
          started.body.jobId as string,
          t === managed || t === windowsManaged ? `${t.platform === 'windows' ? 'win' : 'linux'}-on` : t.platform,
        );
      }),
    );
    const realSeconds = (Date.now() - realStart) / 1000;
    for (const view of views) printTimeline(view, realSeconds);

    const [linuxView, windowsView] = views;
    process.stdout.write(`\nChecks (${linux.instanceId}, Linux):\n`);
    await checkRestored(stack, linuxView!, before[0]!, check);
    const parameter = await stack.clients.ssm.send(new GetParameterCommand({ Name: linuxView!.outputs.sshKeyParameter, WithDecryption: true }));
    check(parameter.Parameter?.Type === 'SecureString', `private key stored as SecureString at ${linuxView!.outputs.sshKeyParameter}`);
    const rootVolumeId = before[0]!.BlockDeviceMappings!.find((m) => m.DeviceName === before[0]!.RootDeviceName)!.Ebs!.VolumeId!;
    const accepting = usersAcceptingKey(stack.region!.getVolume(rootVolumeId)!.files, publicKeyOfPrivate(parameter.Parameter!.Value!));
    check(accepting.length > 0, `the new key is in authorized_keys of: ${accepting.join(', ') || 'nobody'}`);

    process.stdout.write(`\nChecks (${windows.instanceId}, Windows):\n`);
    await checkRestored(stack, windowsView!, before[1]!, check);
    const images = await stack.clients.ec2.send(
      new DescribeImagesCommand({ ImageIds: [windowsView!.outputs.backupImageId!, windowsView!.outputs.passwordEnabledImageId!].filter(Boolean) }),
    );
    const imageName = (id: string | undefined) => images.Images?.find((i) => i.ImageId === id)?.Name;
    check(
      imageName(windowsView!.outputs.backupImageId) === `ResetAccess-backup-${windows.instanceId}-${windowsView!.jobId}`,
      `backup AMI ${windowsView!.outputs.backupImageId} kept`,
    );
    check(
      imageName(windowsView!.outputs.passwordEnabledImageId) === `ResetAccess-password-enabled-${windows.instanceId}-${windowsView!.jobId}`,
      `password-enabled AMI ${windowsView!.outputs.passwordEnabledImageId} kept`,
    );
    check(passwordBefore === '', 'GetPasswordData answered nothing before the reset');
    const password = await waitForPasswordData(stack, windows.instanceId);
    check(password.length > 0, `GetPasswordData answers after the instance booted (${password.length} characters of encrypted password data)`);

    const onlineView = views[2]!;
    process.stdout.write(`\nChecks (${managed.instanceId}, Linux, SSM agent Online):\n`);
    await checkRestored(stack, onlineView, before[2]!, check);
    check(onlineView.mode?.chosen === 'online', `mode: ${onlineView.mode?.chosen} (${onlineView.mode?.reason})`);
    const stops = stack.region!.calls.filter((c) => c.action === 'StopInstances' && JSON.stringify(c.input).includes(managed.instanceId)).length;
    const ipAfter = (await describe(stack, managed.instanceId)).PublicIpAddress;
    check(stops === 0 && ipAfter === before[2]!.PublicIpAddress, `never stopped (${stops} StopInstances), public IP ${ipAfter} kept`);
    const onlineKey = await stack.clients.ssm.send(new GetParameterCommand({ Name: onlineView.outputs.sshKeyParameter, WithDecryption: true }));
    const onlineRoot = before[2]!.BlockDeviceMappings!.find((m) => m.DeviceName === before[2]!.RootDeviceName)!.Ebs!.VolumeId!;
    const onlineAccepting = usersAcceptingKey(stack.region!.getVolume(onlineRoot)!.files, publicKeyOfPrivate(onlineKey.Parameter!.Value!));
    check(onlineAccepting.length > 0, `the new key is in authorized_keys of: ${onlineAccepting.join(', ') || 'nobody'}`);

    const windowsOnlineView = views[3]!;
    process.stdout.write(`\nChecks (${windowsManaged.instanceId}, Windows, SSM agent Online):\n`);
    await checkRestored(stack, windowsOnlineView, before[3]!, check);
    check(windowsOnlineView.mode?.chosen === 'online', `mode: ${windowsOnlineView.mode?.chosen} (${windowsOnlineView.mode?.reason})`);
    const changes = stack
      .region!.calls.filter((c) => /^(Stop|Start|Reboot)Instances$/.test(c.action) && JSON.stringify(c.input).includes(windowsManaged.instanceId))
      .map((c) => c.action);
    const windowsIpAfter = (await describe(stack, windowsManaged.instanceId)).PublicIpAddress;
    check(
      changes.join() === 'RebootInstances' && windowsIpAfter === before[3]!.PublicIpAddress,
      `rebooted, never stopped (${changes.join(', ')}), public IP ${windowsIpAfter} kept`,
    );
    const onlinePassword = await passwordDataOf(stack, windowsManaged.instanceId);
    check(onlinePassword.length > 0, `GetPasswordData answers when the job ends (password made at ${windowsOnlineView.outputs.passwordReadyAt})`);
    for (const [label, pair] of [
      ['Linux', [linuxView!, onlineView]],
      ['Windows', [windowsView!, windowsOnlineView]],
    ] as const) {
      process.stdout.write(`\n${label}, the same reset two ways (simulated time):\n`);
      for (const view of pair)
        process.stdout.write(`  mode: ${(view.mode?.chosen ?? '?').padEnd(8)} ${simulatedSeconds(view).toFixed(0).padStart(5)} s  ${view.instanceId}\n`);
    }
    const demoSeconds = (Date.now() - demoStart) / 1000;
    check(demoSeconds < 60, `the jobs ran in ${realSeconds.toFixed(1)} s, the whole demo so far in ${demoSeconds.toFixed(1)} s of real time (under 60 s)`);
    if (process.argv.includes('--serve')) await serveUntilStopped(stack, failures.length);
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(failures.length === 0 ? '\ndemo: all checks passed\n' : `\ndemo: ${failures.length} check(s) failed\n`);
  return failures.length === 0 ? 0 : 1;
}

/** `--serve`: the stack stays up after the checks, for its page at `GET /`, until SIGINT or SIGTERM. */
async function serveUntilStopped(stack: LocalStack, failed: number): Promise<void> {
  process.stdout.write(
    `\ndemo: ${failed === 0 ? 'all checks passed' : `${failed} check(s) failed`}; the jobs and the fleet's figures: ${stack.apiUrl}/ (Ctrl-C stops)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

type Instance = Awaited<ReturnType<typeof describe>>;

/** What a user checks of any reset: the job succeeded and the instance is back as it was. */
async function checkRestored(stack: LocalStack, view: JobView, before: Instance, check: (ok: boolean, what: string) => void): Promise<void> {
  const after = await describe(stack, view.instanceId);
  const rootBefore = before.BlockDeviceMappings?.find((m) => m.DeviceName === before.RootDeviceName);
  const rootAfter = after.BlockDeviceMappings?.find((m) => m.DeviceName === before.RootDeviceName);
  check(view.status === 'SUCCEEDED', `job ${view.jobId} SUCCEEDED (is ${view.status})`);
  check(after.State?.Name === before.State?.Name, `instance is ${before.State?.Name} again (is ${after.State?.Name})`);
  check(rootAfter?.Ebs?.VolumeId === rootBefore?.Ebs?.VolumeId, `original root volume ${rootBefore?.Ebs?.VolumeId} at ${before.RootDeviceName}`);
  check(rootAfter?.Ebs?.DeleteOnTermination === rootBefore?.Ebs?.DeleteOnTermination, `DeleteOnTermination restored (${rootBefore?.Ebs?.DeleteOnTermination})`);
}

async function passwordDataOf(stack: LocalStack, instanceId: string): Promise<string> {
  const out = await stack.clients.ec2.send(new GetPasswordDataCommand({ InstanceId: instanceId }));
  return out.PasswordData ?? '';
}

/** The Windows target makes its password when it has booted, after the job: poll as a user would. */
async function waitForPasswordData(stack: LocalStack, instanceId: string): Promise<string> {
  const deadline = Date.now() + PASSWORD_TIMEOUT_MS;
  for (;;) {
    const data = await passwordDataOf(stack, instanceId);
    if (data || Date.now() > deadline) return data;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function call(stack: LocalStack, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function describe(stack: LocalStack, instanceId: string) {
  const out = await stack.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0]!.Instances![0]!;
}

async function waitForEnd(stack: LocalStack, jobId: string, label: string): Promise<JobView> {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = '';
  for (;;) {
    const { body } = await call(stack, 'GET', `/resets/${jobId}`);
    const view = body as unknown as JobView;
    const now = `${view.status} ${view.currentPhases.join('+')}`;
    if (now !== last) process.stdout.write(`  … ${label.padEnd(7)} ${now}\n`);
    last = now;
    if (view.status === 'SUCCEEDED' || view.status === 'FAILED') return view;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${view.status} after ${TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function simulatedSeconds(view: JobView): number {
  return (Date.parse(view.endedAt ?? view.updatedAt) - Date.parse(view.createdAt)) / 1000;
}

function printTimeline(view: JobView, realSeconds: number): void {
  const t0 = Date.parse(view.createdAt);
  const mode = view.mode ? `, mode: ${view.mode.chosen}` : '';
  process.stdout.write(
    `\nJob ${view.jobId} (${view.instanceId}, ${view.platform}${mode}): ${view.status} in ${simulatedSeconds(view).toFixed(0)} s simulated (${realSeconds.toFixed(1)} s real)\n`,
  );
  for (const phase of view.phases) {
    const from = (Date.parse(phase.startedAt) - t0) / 1000;
    const to = phase.endedAt ? (Date.parse(phase.endedAt) - t0) / 1000 : NaN;
    process.stdout.write(
      `  ${phase.name.padEnd(20)} ${from.toFixed(0).padStart(5)} s → ${to.toFixed(0).padStart(5)} s  ${phase.status}${phase.polls ? ` (${phase.polls} polls)` : ''}\n`,
    );
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
