/**
 * `npm run chaos -- --fleet`: the fleet under faults. 500 Linux resets posted within a minute
 * through the API of one VirtualStack (EC2's request buckets enforced, the SDK clients' production
 * retries, deliveries concurrent as Lambda's), 20 of them posted twice at once for the same
 * instance (by two clients), one target in ten given a fault; a client repeats what the API answers
 * 429 or 503 after its `retry-after`. Then, whatever failed: exactly one job per instance (the
 * second client of a doubled instance gets 409 naming its sibling's job, before the start rate is
 * looked at; a second job, even one started after the first ended, is a violation), every
 * instance reset, every job ended with a reason, and for every target what the chaos matrix checks
 * (infra/local/chaos-harness.ts):
 * its root volume back where it was, its run state and DeleteOnTermination restored; no helper
 * left, none of the customer's volumes deleted, at most one helper per job.
 */
import { isActive, type Job } from '../../domain/job/job';
import { TAG } from '../../domain/naming';
import type { FaultHandle, FaultRule } from '../sim/faults';
import { snapshot, targetViolations } from './chaos-harness';
import { clientBackoffSeconds, seededRandom, seedLinuxFleet } from './fleet';
import { VirtualStack } from './virtual-stack';

export interface FleetChaosOptions {
  /** How many instances (default 500). */
  count?: number;
  /** How many of them are posted twice at once (default 20). */
  doubles?: number;
  /** One target in this many is given a fault (default 10). */
  faultEvery?: number;
  /** The first requests are spread over this many simulated seconds (default 60). */
  postWithinSeconds?: number;
  /** Give up on jobs still running after this much simulated time (default 12 h). */
  maxSimSeconds?: number;
  /** The SDK clients' retries (VirtualStack `sdkRetries`); default `none`, see below. */
  sdkRetries?: 'production' | 'none';
  /** Changes the stack before the first request (tests: a service that is broken on purpose). */
  arrange?: (stack: VirtualStack) => void;
}

/** The faults given to the targets, in turn: each fails or slows a different step of its job. */
const FLEET_FAULTS: Array<{ name: string; rule: (target: { instanceId: string; rootVolumeId: string }) => FaultRule }> = [
  {
    name: 'StopInstances refused (access denied)',
    rule: ({ instanceId }) => ({
      service: 'ec2',
      action: 'StopInstances',
      error: { code: 'UnauthorizedOperation', status: 403 },
      match: (i) => (i.InstanceIds ?? []).includes(instanceId),
    }),
  },
  {
    name: 'backup image fails',
    rule: ({ instanceId }) => ({ service: 'ec2', action: 'CreateImage', asyncFailure: true, times: 1, match: (i) => i.InstanceId === instanceId }),
  },
  {
    name: 'attach to the helper fails',
    rule: ({ instanceId, rootVolumeId }) => ({
      service: 'ec2',
      action: 'AttachVolume',
      asyncFailure: true,
      times: 1,
      match: (i) => i.VolumeId === rootVolumeId && i.InstanceId !== instanceId,
    }),
  },
  {
    name: 'DetachVolume took effect, answer lost (500)',
    rule: ({ rootVolumeId }) => ({
      service: 'ec2',
      action: 'DetachVolume',
      when: 'after',
      times: 1,
      error: { code: 'InternalError', status: 500 },
      match: (i) => i.VolumeId === rootVolumeId,
    }),
  },
  {
    name: 'DescribeInstances throttled 6 times in a row',
    rule: ({ instanceId }) => ({
      service: 'ec2',
      action: 'DescribeInstances',
      error: 'throttle',
      times: 6,
      match: (i) => (i.InstanceIds ?? []).includes(instanceId),
    }),
  },
  {
    name: 'stop stuck in stopping',
    rule: ({ instanceId }) => ({
      service: 'ec2',
      action: 'StopInstances',
      asyncFailure: true,
      times: 1,
      match: (i) => (i.InstanceIds ?? []).includes(instanceId),
    }),
  },
];

export interface FleetChaosReport {
  instances: number;
  /** Simulated seconds from the first request to the last instance's first request. */
  postedWithinSeconds: number;
  doubles: number;
  /** Every API answer to the start requests (retries included), by status. */
  answers: Record<string, number>;
  faults: Array<{ name: string; targets: number; fired: number }>;
  jobs: number;
  /** Instances by how many jobs they got. */
  jobsPerInstance: Record<string, number>;
  terminal: number;
  succeeded: number;
  failed: number;
  failedRestored: number;
  failures: Record<string, number>;
  helpersLaunched: number;
  /** Jobs whose backup image failed, and how many of them say so in `backupImageProblem`. */
  backupsFailed: number;
  backupsFailedReported: number;
  makespanSeconds: number;
  violations: string[];
  wallSeconds: number;
}

export async function runFleetChaos(options: FleetChaosOptions = {}): Promise<FleetChaosReport> {
  const wallStart = Date.now();
  const count = options.count ?? 500;
  const doubles = Math.min(count, options.doubles ?? 20);
  const faultEvery = options.faultEvery ?? 10;
  const stack = new VirtualStack({
    samples: false,
    idSeed: 'fc',
    // One attempt per call: a throttle is backed off through a delayed message, on the simulated
    // clock per job. The SDK's own backoff would pass on the one clock every delivery shares, so
    // in a fleet each throttled call would hold up every other job (and the clients' requests).
    sdkRetries: options.sdkRetries ?? 'none',
    concurrentDeliveries: true,
    region: { throttling: true, callLogLimit: 10_000_000, seed: 'fleet-chaos' },
  });
  const targets = seedLinuxFleet(stack.region, { count });
  options.arrange?.(stack);
  const before = new Map(targets.map((id) => [id, snapshot(stack, id)]));
  const initial = stack.region.exportState();
  const launched = new Set<string>();
  stack.region.onEvent((event) => {
    const detail = event.detail as { 'instance-id'?: string; state?: string };
    if (detail.state === 'pending' && detail['instance-id'] && !initial.instances[detail['instance-id']]) launched.add(detail['instance-id']);
  });

  // One target in `faultEvery` gets a fault, the kinds in turn.
  const faulted = targets.map((instanceId, i) => ({ instanceId, i })).filter(({ i }) => i % faultEvery === Math.floor(faultEvery / 2));
  const handles: Array<{ name: string; handle: FaultHandle }> = faulted.map(({ instanceId }, k) => {
    const fault = FLEET_FAULTS[k % FLEET_FAULTS.length]!;
    return { name: fault.name, handle: stack.region.faults.add(fault.rule({ instanceId, rootVolumeId: before.get(instanceId)!.rootVolumeId })) };
  });

  // The requests: one per instance, spread over the window; `doubles` of them sent twice at once.
  const t0 = stack.clock.now();
  const spacingMs = ((options.postWithinSeconds ?? 60) * 1000) / count;
  const doubled = new Set(targets.filter((_, i) => i % Math.max(1, Math.floor(count / Math.max(1, doubles))) === 0).slice(0, doubles));
  // Each client sends its request with an Idempotency-Key of its own and repeats it with the same
  // key, as the CLI does (bin/cli/commands.ts); a doubled instance has two clients.
  type Request = { instanceId: string; key: string; dueAt: number; tries: number; first: boolean };
  const pending: Request[] = targets.flatMap((instanceId, i) => {
    const one = { instanceId, key: `fleet-${i}-a`, dueAt: t0 + Math.round(i * spacingMs), tries: 0, first: true };
    return doubled.has(instanceId) ? [one, { ...one, key: `fleet-${i}-b` }] : [one];
  });
  const random = seededRandom(0x5eed);
  const answers: Record<string, number> = {};
  const jobIds = new Set<string>();
  let lastFirstPost = t0;
  const until = t0 + (options.maxSimSeconds ?? 12 * 3600) * 1000;
  for (;;) {
    const now = stack.clock.now();
    const due = pending.filter((p) => p.dueAt <= now);
    for (const request of due) pending.splice(pending.indexOf(request), 1);
    // Requests due at one moment go at once (the doubles among them race each other).
    const responses = await Promise.all(
      due.map((request) => stack.api('POST', '/resets', { instanceId: request.instanceId }, { 'idempotency-key': request.key })),
    );
    responses.forEach((response, k) => {
      const request = due[k]!;
      if (request.first) lastFirstPost = Math.max(lastFirstPost, now);
      answers[response.statusCode] = (answers[response.statusCode] ?? 0) + 1;
      if (response.statusCode === 202) jobIds.add(response.json.jobId as string);
      if (response.statusCode === 429 || response.statusCode === 503) {
        const delay = clientBackoffSeconds(response.headers?.['retry-after'], request.tries, random);
        pending.push({ ...request, dueAt: now + delay * 1000, tries: request.tries + 1, first: false });
      }
    });
    if (pending.length === 0) {
      await stack.run(Math.max(0, (until - stack.clock.now()) / 1000));
      break;
    }
    const next = Math.min(...pending.map((p) => p.dueAt));
    if (next > until) break;
    await stack.run(Math.max(0, (next - stack.clock.now()) / 1000));
    if (stack.clock.now() < next) stack.clock.set(next);
  }
  // Whatever is still running after the queues went quiet is the sweeper's.
  for (let sweep = 0; sweep < 24 && (await stack.activeJobs()).length > 0; sweep++) {
    stack.clock.set(stack.clock.now() + 5 * 60 * 1000);
    await stack.sweep();
    await stack.run(Math.max(0, (until - stack.clock.now()) / 1000));
  }

  // Backups still pending when their job ended: a later sweeper run records what became of them.
  stack.clock.set(stack.clock.now() + 15 * 60 * 1000);
  await stack.sweep();

  // What must hold.
  const violations: string[] = [];
  const jobsPerInstance: Record<string, number> = {};
  const jobs: Job[] = [];
  for (const instanceId of targets) {
    const { jobs: ofInstance } = await stack.store.listByInstance(instanceId, { limit: 100 });
    jobsPerInstance[ofInstance.length] = (jobsPerInstance[ofInstance.length] ?? 0) + 1;
    if (ofInstance.length === 0) violations.push(`${instanceId}: no job`);
    // Never two jobs at once: each job starts only after the one before it ended.
    const byStart = [...ofInstance].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (let k = 1; k < byStart.length; k++) {
      const [earlier, later] = [byStart[k - 1]!, byStart[k]!];
      if (!earlier.endedAt || earlier.endedAt > later.createdAt) violations.push(`${instanceId}: jobs ${earlier.jobId} and ${later.jobId} ran at once`);
      else violations.push(`${instanceId}: reset again by ${later.jobId} after ${earlier.jobId} ended (one request each, a duplicate's included)`);
    }
    jobs.push(...ofInstance);
    for (const v of targetViolations(stack, before.get(instanceId)!, ofInstance[0])) violations.push(`${instanceId}: ${v}`);
  }
  for (const jobId of jobIds) if (!jobs.some((j) => j.jobId === jobId)) violations.push(`job ${jobId} answered 202 but is not listed for its instance`);
  const state = stack.region.exportState();
  for (const volumeId of Object.keys(initial.volumes)) if (!state.volumes[volumeId]) violations.push(`volume ${volumeId} was deleted`);
  const helpersPerJob = new Map<string, number>();
  for (const instanceId of launched) {
    const helper = state.instances[instanceId]!;
    if (helper.state !== 'terminated' && helper.state !== 'shutting-down') violations.push(`helper ${instanceId} left ${helper.state}`);
    const jobId = helper.tags[TAG.jobId] ?? 'untagged';
    helpersPerJob.set(jobId, (helpersPerJob.get(jobId) ?? 0) + 1);
  }
  for (const [jobId, helpers] of helpersPerJob) if (helpers > 1) violations.push(`job ${jobId} launched ${helpers} helpers`);
  if (jobs.some((j) => /PRIVATE KEY/.test(JSON.stringify(j)))) violations.push('a private key appears in a job record');
  // A backup image that failed is said so on its job (by cleanup, or by the sweeper run after it).
  const backupsFailed = jobs.filter((j) => j.outputs.backupImageId && state.images[j.outputs.backupImageId]?.state === 'failed');
  for (const job of backupsFailed) {
    if (job.status === 'SUCCEEDED' && !job.outputs.backupImageProblem) {
      violations.push(`job ${job.jobId} SUCCEEDED, its backup image failed, and it says ${job.outputs.backupImageState ?? 'nothing'}`);
    }
  }

  const ended = jobs.filter((j) => !isActive(j));
  const failed = ended.filter((j) => j.status === 'FAILED');
  const failures: Record<string, number> = {};
  for (const job of failed) failures[job.error?.code ?? 'no reason'] = (failures[job.error?.code ?? 'no reason'] ?? 0) + 1;
  const faults = FLEET_FAULTS.map(({ name }) => {
    const mine = handles.filter((h) => h.name === name);
    return { name, targets: mine.length, fired: mine.filter((h) => h.handle.hits > 0).length };
  }).filter((f) => f.targets > 0);
  const lastEnd = ended.reduce((max, j) => Math.max(max, Date.parse(j.endedAt!)), t0);
  return {
    instances: count,
    postedWithinSeconds: (lastFirstPost - t0) / 1000,
    doubles: doubled.size,
    answers,
    faults,
    jobs: jobs.length,
    jobsPerInstance,
    terminal: ended.length,
    succeeded: ended.filter((j) => j.status === 'SUCCEEDED').length,
    failed: failed.length,
    failedRestored: failed.filter((j) => j.instanceRestored === true).length,
    failures,
    helpersLaunched: launched.size,
    backupsFailed: backupsFailed.length,
    backupsFailedReported: backupsFailed.filter((j) => j.outputs.backupImageProblem).length,
    makespanSeconds: (lastEnd - t0) / 1000,
    violations,
    wallSeconds: (Date.now() - wallStart) / 1000,
  };
}

export function formatFleetReport(r: FleetChaosReport): string {
  const counts = (record: Record<string, number>, unit = '×') =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${unit} ${v}`)
      .join(', ');
  const lines = [
    `fleet under faults: ${r.instances} instances, every first request posted within ${r.postedWithinSeconds.toFixed(1)} s (simulated), ${r.doubles} of them twice at once`,
    `  API answers (retries of 429/503 included): ${counts(r.answers)}`,
    `  faults (one target in ${Math.round(
      r.instances /
        Math.max(
          1,
          r.faults.reduce((a, f) => a + f.targets, 0),
        ),
    )}): ${r.faults.map((f) => `${f.name} on ${f.targets} (fired on ${f.fired})`).join('; ')}`,
    `  jobs: ${r.jobs}; instances by jobs they got: ${counts(r.jobsPerInstance, '→')} (instances); never two at once`,
    `  ended: ${r.terminal} of ${r.jobs}: SUCCEEDED ${r.succeeded}, FAILED ${r.failed} (instance restored in ${r.failedRestored})${r.failed ? `; reasons: ${counts(r.failures)}` : ''}`,
    `  backup images that failed: ${r.backupsFailed}, said so by their job: ${r.backupsFailedReported}`,
    `  helpers launched ${r.helpersLaunched}; last job ended ${(r.makespanSeconds / 60).toFixed(1)} min (simulated) after the first request; wall ${r.wallSeconds.toFixed(1)} s`,
  ];
  if (r.violations.length > 0) lines.push(`  violations (${r.violations.length}):`, ...r.violations.slice(0, 50).map((v) => `    ${v}`));
  lines.push(`fleet: ${r.instances} instances, ${r.jobs} jobs, ${r.terminal} ended, ${r.violations.length} violated`);
  return lines.join('\n');
}
