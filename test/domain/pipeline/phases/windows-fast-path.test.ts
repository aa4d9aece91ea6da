/**
 * The Windows fast path's steps against typed fakes: the Linux helper for a Windows target, the NTFS
 * rescue's outcome (done, refused, not known to be unmounted, bad input), the windows-fallback
 * phase step by step (pool claim or launch, the move off the Linux helper, the Windows helper, the
 * Windows script), the release of a volume that may still be mounted, and rollback leaving a held
 * volume alone.
 */
import { defaultConfig } from '../../../../domain/config';
import type { Job, WindowsFallback } from '../../../../domain/job/job';
import { clientToken } from '../../../../domain/naming';
import type { PhaseResult } from '../../../../domain/pipeline/phase';
import { launchHelper } from '../../../../domain/pipeline/phases/launch-helper';
import { mayStillBeMountedOn } from '../../../../domain/pipeline/phases/ntfs-release';
import { rollback } from '../../../../domain/pipeline/phases/rollback';
import { runRescue } from '../../../../domain/pipeline/phases/run-rescue';
import { windowsFallback } from '../../../../domain/pipeline/phases/windows-fallback';
import { planFor } from '../../../../domain/pipeline/plan';
import type { AgentStatus, HelperLaunch, RescueParams, RescueResult, RescueRunner } from '../../../../domain/ports';
import { MemoryHelperPool } from '../../../../infra/memory/memory-helper-pool';
import { instanceFacts } from '../../fixtures';
import { fakePorts, HELPER, ROOT, seedSwap, stopBatches, swapJob, TARGET, type FakeCompute } from './fakes';

const WINDOWS_HELPER = 'i-0winhelper0000001';
const BACKUP = 'ami-backup0001';
const network = { kind: 'rescue-vpc' as const, subnetId: 'subnet-rescue', vpcId: 'vpc-rescue', securityGroupIds: ['sg-rescue'] };

/** Run Command as a phase sees it: what was sent (with its params), what `find` and `result` answer. */
class ScriptedRescue implements RescueRunner {
  agent: AgentStatus = 'Online';
  readonly sent: RescueParams[] = [];
  readonly results = new Map<string, RescueResult>();
  async agentStatus(): Promise<AgentStatus> {
    return this.agent;
  }
  async start(params: RescueParams): Promise<string> {
    this.sent.push(params);
    return `cmd-${params.script ?? params.platform}-${this.sent.length}`;
  }
  async find(): Promise<string | undefined> {
    return undefined;
  }
  async result(commandId: string): Promise<RescueResult | undefined> {
    return this.results.get(commandId);
  }
}

/** A Windows target's job on the fast path: its root on the Linux helper (HELPER), in `phase`. */
function windowsJob(phase: Parameters<typeof swapJob>[0], resources: Partial<Job['resources']> = {}, attempt = 0): Job {
  const job = swapJob(phase, {}, attempt);
  return {
    ...job,
    platform: 'windows',
    target: { ...job.target!, platform: 'windows', rootDeviceName: '/dev/sda1' },
    resources: { helperInstanceId: HELPER, helperPlatform: 'linux', rescueNetwork: network, backupImageId: BACKUP, ...resources },
  };
}

function seedWindows(compute: FakeCompute, rootOn: string | '' = HELPER): void {
  seedSwap(compute, { rootOn, target: { platform: 'windows', rootDeviceName: '/dev/sda1' } });
  compute.images.set(BACKUP, { imageId: BACKUP, name: 'backup', state: 'pending' });
}

/** Delivers a step again and again, applying its records, until it is done or `until` holds; what it sent on the way. */
async function deliver(
  job: Job,
  step: (job: Job) => Promise<PhaseResult>,
  between: (job: Job) => void = () => undefined,
  max = 20,
): Promise<{ job: Job; results: PhaseResult[] }> {
  const results: PhaseResult[] = [];
  let current = job;
  for (let i = 0; i < max; i++) {
    const result = await step(current);
    results.push(result);
    const draft = structuredClone(current);
    result.record?.(draft);
    current = { ...draft, phases: { ...draft.phases, [draft.current[0]!]: { ...draft.phases[draft.current[0]!]!, attempt: i + 1 } } };
    if (result.kind === 'done') break;
    between(current);
  }
  return { job: current, results };
}

const fallbackOf = (code: string, extra: Partial<WindowsFallback> = {}): WindowsFallback => ({
  code,
  reason: `${code} (test)`,
  at: '2026-01-01T00:05:00.000Z',
  linuxHelperInstanceId: HELPER,
  ...extra,
});

describe('the Windows plan', () => {
  it('holds windows-fallback between run-rescue and detach-from-helper; the Linux plan does not', () => {
    const windows = planFor('windows');
    expect(windows.find((p) => p.phase === 'windows-fallback')?.after).toEqual(['run-rescue']);
    expect(windows.find((p) => p.phase === 'detach-from-helper')?.after).toEqual(['windows-fallback']);
    expect(planFor('linux').some((p) => p.phase === 'windows-fallback')).toBe(false);
    expect(planFor('linux').find((p) => p.phase === 'detach-from-helper')?.after).toEqual(['run-rescue']);
  });
});

describe('launch-helper on the fast path', () => {
  const launched = async (target: Partial<NonNullable<Job['target']>>, config = {}) => {
    const { ports, compute } = fakePorts({ rescue: new ScriptedRescue() }, { config });
    const job = windowsJob('launch-helper', { helperInstanceId: undefined, helperPlatform: undefined });
    const result = await launchHelper({ ...job, target: { ...job.target!, ...target } }, ports);
    const draft = structuredClone(job);
    result.record?.(draft);
    const parameter = compute.calls.find((c) => c.method === 'resolveImageParameter')?.args[0];
    return { parameter, platform: draft.resources.helperPlatform, launch: compute.calls.find((c) => c.method === 'launchInstance')?.args[0] as HelperLaunch };
  };

  it('launches a Linux helper from the fast path image for a Windows target, and records its platform', async () => {
    const { parameter, platform } = await launched({});
    expect(parameter).toBe(defaultConfig.windowsFastPath.helperImage);
    expect(platform).toBe('linux');
  });

  it('launches the Windows helper when the fast path is off, or for a Marketplace root', async () => {
    const off = await launched({}, { windowsFastPath: { ...defaultConfig.windowsFastPath, enabled: false } });
    const marketplace = await launched({ rootProductCodes: ['prod-1'] });
    for (const { parameter, platform } of [off, marketplace]) {
      expect(parameter).toBe(defaultConfig.helperImageParameter.windows);
      expect(platform).toBeUndefined();
    }
  });

  it('takes an AMI id as it is', async () => {
    const { parameter, launch } = await launched({}, { windowsFastPath: { enabled: true, helperImage: 'ami-0123456789abcdef0' } });
    expect(parameter).toBeUndefined();
    expect(launch.imageId).toBe('ami-0123456789abcdef0');
  });
});

describe('run-rescue on the fast path', () => {
  const ended = async (result: RescueResult) => {
    const rescue = new ScriptedRescue();
    const { ports, compute } = fakePorts({ rescue });
    seedWindows(compute);
    const sent = await runRescue(windowsJob('run-rescue'), ports);
    const draft = structuredClone(windowsJob('run-rescue', {}, 1));
    sent.record?.(draft);
    rescue.results.set(draft.resources.rescueCommandId!, result);
    const outcome = await runRescue(draft, ports);
    const after = structuredClone(draft);
    outcome.record?.(after);
    return { rescue, outcome, after };
  };

  it('sends the NTFS rescue to the Linux helper and gives the Windows outputs when it worked', async () => {
    const agents = [{ agent: 'ec2launch-v2', config: 'C:\\...\\agent-config.yml', generatesPassword: true, changes: [] }];
    const warning = 'EC2Launch v2 runs every task of frequency "once" again at the next boot (setAdminAccount among them, and any once-scripts of yours)';
    const { rescue, outcome, after } = await ended({ status: 'Success', summary: { ok: true, script: 'ntfs-rescue', agents, warnings: [warning] } });
    expect(rescue.sent[0]).toMatchObject({ script: 'ntfs-rescue', helperInstanceId: HELPER, platform: 'windows' });
    expect(outcome.kind).toBe('done');
    expect(after.outputs).toMatchObject({ launchAgents: ['EC2Launch v2'], rescueNotes: expect.arrayContaining([warning]) });
    expect(after.resources.windowsFallback).toBeUndefined();
  });

  it('records a refusal (fallback: true) as the fallback, with its reason, the volume known to be released', async () => {
    const { outcome, after } = await ended({
      status: 'Failed',
      summary: { ok: false, error: 'BITLOCKER', message: 'BitLocker-encrypted', fallback: true, volumeWritten: false },
    });
    expect(outcome.kind).toBe('done');
    expect(after.resources.windowsFallback).toEqual({
      code: 'BITLOCKER',
      reason: 'BitLocker-encrypted',
      at: expect.any(String),
      linuxHelperInstanceId: HELPER,
    });
  });

  it.each<[string, RescueResult, string]>([
    [
      'UNMOUNT_FAILED',
      { status: 'Failed', summary: { ok: false, error: 'UNMOUNT_FAILED', message: 'could not unmount', fallback: false, volumeWritten: true } },
      'UNMOUNT_FAILED',
    ],
    ['a timeout without a summary', { status: 'TimedOut', detail: 'ExecutionTimedOut' }, 'COMMAND_TIMEDOUT'],
  ])('falls back after %s, but only once the volume is released (mayBeMounted)', async (_name, result, code) => {
    const { after } = await ended(result);
    expect(after.resources.windowsFallback).toMatchObject({ code, mayBeMounted: true });
  });

  it('fails the job on INVALID_INPUT: nothing was mounted, the Windows helper would not do better', async () => {
    await expect(
      ended({ status: 'Failed', summary: { ok: false, error: 'INVALID_INPUT', message: "the helper has no 'lsblk' command", fallback: false } }),
    ).rejects.toMatchObject({
      code: 'RESCUE_INVALID_INPUT',
    });
  });
});

describe('windows-fallback', () => {
  it('is done at once, sending nothing, when the fast path worked', async () => {
    const { ports, compute } = fakePorts({ rescue: new ScriptedRescue(), helperPool: new MemoryHelperPool() });
    const result = await windowsFallback(windowsJob('windows-fallback'), ports);
    expect(result.kind).toBe('done');
    expect(compute.calls).toEqual([]);
  });

  it('starts a pooled helper, moves the root to it from the Linux helper, runs the Windows script there, and says why', async () => {
    // Prepare: a ready pool helper in the target's AZ
    const rescue = new ScriptedRescue();
    const pool = new MemoryHelperPool();
    await pool.add({ slotId: 's1', availabilityZone: 'us-east-1a', state: 'ready', instanceId: WINDOWS_HELPER, createdAt: '2026-01-01T00:00:00.000Z' });
    const { ports, compute } = fakePorts({ rescue, helperPool: pool });
    seedWindows(compute);
    compute.instances.set(WINDOWS_HELPER, instanceFacts({ instanceId: WINDOWS_HELPER, state: 'stopped', platform: 'windows', blockDevices: [] }));
    const job = windowsJob('windows-fallback', { windowsFallback: fallbackOf('HIBERNATED') });
    // Act: each delivery after the state the last one left, AWS settling in between
    const { job: end, results } = await deliver(
      job,
      (j) => windowsFallback(j, ports),
      (j) => {
        compute.settleVolume(ROOT);
        if (compute.instances.get(WINDOWS_HELPER)!.state === 'pending') compute.setState(WINDOWS_HELPER, 'running');
        const command = j.resources.windowsFallback?.rescueCommandId;
        if (command)
          rescue.results.set(command, {
            status: 'Success',
            summary: { ok: true, script: 'windows-rescue', agents: [{ agent: 'ec2launch-v2', generatesPassword: true }], warnings: [] },
          });
      },
    );
    // Assess
    expect(results.at(-1)!.kind).toBe('done');
    expect(await pool.list()).toEqual([expect.objectContaining({ state: 'claimed', claimedBy: job.jobId })]);
    expect(compute.sent).toEqual(['startInstance', 'detachVolume', 'terminateInstance', 'attachVolume']);
    expect(compute.calls.find((c) => c.method === 'terminateInstance')!.args).toEqual([HELPER]);
    expect(compute.calls.find((c) => c.method === 'attachVolume')!.args).toEqual([ROOT, WINDOWS_HELPER, 'xvdf']);
    expect(rescue.sent).toEqual([expect.objectContaining({ script: 'windows-rescue', helperInstanceId: WINDOWS_HELPER })]);
    expect(end.resources).toMatchObject({ helperInstanceId: WINDOWS_HELPER, helperPlatform: 'windows' });
    expect(end.resources.windowsFallback?.helper).toMatchObject({ instanceId: WINDOWS_HELPER, source: 'pool' });
    expect(end.outputs.launchAgents).toEqual(['EC2Launch v2']);
    expect(end.outputs.rescueNotes?.[0]).toMatch(
      /^The NTFS rescue on a Linux helper did not make the change \(HIBERNATED: .*\); a Windows helper from the warm pool made it\.$/,
    );
  });

  it('launches a Windows helper (its own ClientToken, tagged for the sweeper) when the pool has none', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ rescue: new ScriptedRescue(), helperPool: new MemoryHelperPool() });
    seedWindows(compute);
    const job = windowsJob('windows-fallback', { windowsFallback: fallbackOf('DYNAMIC_DISK') });
    // Act
    const result = await windowsFallback(job, ports);
    // Assess
    const launch = compute.calls.find((c) => c.method === 'launchInstance')!.args[0] as HelperLaunch;
    expect(launch).toMatchObject({
      clientToken: clientToken(job.jobId, 'windows-fallback'),
      subnetId: 'subnet-rescue',
      tags: expect.objectContaining({ 'reset-access:role': 'helper', 'reset-access:job-id': job.jobId, 'reset-access:target-root-volume-id': ROOT }),
    });
    expect(compute.calls.find((c) => c.method === 'resolveImageParameter')!.args).toEqual([defaultConfig.helperImageParameter.windows]);
    const draft = structuredClone(job);
    result.record?.(draft);
    expect(draft.resources.windowsFallback?.helper).toMatchObject({ source: 'launch' });
  });

  it('does not take a pooled helper for a job outside the rescue network', async () => {
    const pool = new MemoryHelperPool();
    await pool.add({ slotId: 's1', availabilityZone: 'us-east-1a', state: 'ready', instanceId: WINDOWS_HELPER, createdAt: '2026-01-01T00:00:00.000Z' });
    const { ports, compute } = fakePorts({ rescue: new ScriptedRescue(), helperPool: pool });
    seedWindows(compute);
    const job = windowsJob('windows-fallback', { windowsFallback: fallbackOf('BITLOCKER') });
    await windowsFallback({ ...job, request: { ...job.request, subnet: 'SelectedInstanceSubnet' } }, ports);
    expect(compute.sent).toEqual(['launchInstance']);
    expect((await pool.list())[0]!.state).toBe('ready');
  });

  describe('a volume that may still be mounted on the Linux helper', () => {
    it('is released (a second unmount) before anything else, and only then leaves the Linux helper', async () => {
      // Prepare
      const rescue = new ScriptedRescue();
      const { ports, compute } = fakePorts({ rescue, helperPool: new MemoryHelperPool() });
      seedWindows(compute);
      const job = windowsJob('windows-fallback', { windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }) });
      // Act
      const sent = await windowsFallback(job, ports);
      const waiting = structuredClone(job);
      sent.record?.(waiting);
      const stillRunning = await windowsFallback(waiting, ports);
      rescue.results.set(waiting.resources.ntfsRelease!.commandId, { status: 'Success', summary: { ok: true, script: 'ntfs-release', released: true } });
      const released = await windowsFallback(waiting, ports);
      const after = structuredClone(waiting);
      released.record?.(after);
      // Assess
      expect(rescue.sent).toEqual([expect.objectContaining({ script: 'ntfs-release', helperInstanceId: HELPER })]);
      expect(stillRunning.kind).toBe('wait');
      expect(after.resources.ntfsRelease?.state).toBe('released');
      expect(compute.sent).toEqual([]);
      // Then the fallback goes on: a helper is launched.
      await windowsFallback(after, ports);
      expect(compute.sent).toEqual(['launchInstance']);
    });

    it('fails the job when the release fails too, the volume left attached to the Linux helper', async () => {
      // Prepare
      const rescue = new ScriptedRescue();
      const { ports, compute } = fakePorts({ rescue, helperPool: new MemoryHelperPool() });
      seedWindows(compute);
      const job = windowsJob('windows-fallback', {
        windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }),
        ntfsRelease: { state: 'sent', commandId: 'cmd-release' },
      });
      rescue.results.set('cmd-release', {
        status: 'Failed',
        summary: { ok: false, script: 'ntfs-release', error: 'STILL_MOUNTED', message: '/dev/nvme1n1 is still mounted' },
      });
      // Act
      const recorded = await windowsFallback(job, ports);
      const failed = structuredClone(job);
      recorded.record?.(failed);
      const act = windowsFallback(failed, ports);
      // Assess
      expect(failed.resources.ntfsRelease).toEqual({ state: 'failed', commandId: 'cmd-release', detail: '/dev/nvme1n1 is still mounted' });
      await expect(act).rejects.toMatchObject({ code: 'VOLUME_STILL_MOUNTED', message: expect.stringContaining(`stays attached to helper ${HELPER}`) });
      expect(compute.sent).toEqual([]);
    });

    it('counts as released once the Linux helper is stopped (its OS holds no mount)', async () => {
      const rescue = new ScriptedRescue();
      const { ports, compute } = fakePorts({ rescue, helperPool: new MemoryHelperPool() });
      seedWindows(compute);
      compute.setState(HELPER, 'stopped');
      const job = windowsJob('windows-fallback', { windowsFallback: fallbackOf('COMMAND_TIMEDOUT', { mayBeMounted: true }) });
      const result = await windowsFallback(job, ports);
      const after = structuredClone(job);
      result.record?.(after);
      expect(rescue.sent).toEqual([]);
      expect(after.resources.ntfsRelease?.state).toBe('released');
    });
  });
});

describe('rollback of a Windows fast path', () => {
  const rollingBack = (resources: Partial<Job['resources']>) => ({
    ...windowsJob('rollback', resources),
    status: 'ROLLING_BACK' as const,
    undo: [{ kind: 'restore-run-state' as const }, { kind: 'terminate-helper' as const }, { kind: 'return-root-volume' as const }],
  });

  it('leaves a held volume on its helper: no detach, that helper kept, the target not started, and says what to do', async () => {
    // Prepare
    const rescue = new ScriptedRescue();
    const { ports, compute } = fakePorts({ ...stopBatches(), rescue });
    seedWindows(compute);
    const job = rollingBack({
      windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }),
      ntfsRelease: { state: 'failed', commandId: 'cmd-release', detail: 'still mounted' },
    });
    // Act
    const { job: end, results } = await deliver(job, (j) => rollback(j, ports));
    // Assess
    expect(results.at(-1)!.kind).toBe('done');
    expect(compute.sent).toEqual([]);
    expect(end.instanceRestored).toBe(false);
    expect(end.rollbackError).toMatchObject({ code: 'VOLUME_LEFT_ON_HELPER', message: expect.stringContaining(`attach it to ${TARGET} at /dev/sda1`) });
  });

  it('releases a volume the NTFS rescue may have left mounted, then returns it and ends both helpers', async () => {
    // Prepare
    const rescue = new ScriptedRescue();
    const { ports, compute } = fakePorts({ ...stopBatches(), rescue });
    seedWindows(compute);
    compute.instances.set(WINDOWS_HELPER, instanceFacts({ instanceId: WINDOWS_HELPER, state: 'running', platform: 'windows', blockDevices: [] }));
    const job = rollingBack({
      windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true, helper: { instanceId: WINDOWS_HELPER, source: 'launch' } }),
    });
    // Act
    const { results } = await deliver(
      job,
      (j) => rollback(j, ports),
      (j) => {
        const release = j.resources.ntfsRelease;
        if (release) rescue.results.set(release.commandId, { status: 'Success', summary: { ok: true, script: 'ntfs-release', released: true } });
        compute.settleVolume(ROOT);
        if (compute.instances.get(TARGET)!.state === 'pending') compute.setState(TARGET, 'running');
      },
    );
    // Assess
    expect(results.at(-1)!.kind).toBe('done');
    expect(rescue.sent.map((p) => p.script)).toEqual(['ntfs-release']);
    const sent = compute.calls
      .filter((c) => c.method !== 'describeVolume' && c.method !== 'describeInstance' && c.method !== 'findInstanceByClientToken')
      .map((c) => [c.method, c.args[0]]);
    expect(sent.slice(0, 2)).toEqual([
      ['detachVolume', ROOT],
      ['attachVolume', ROOT],
    ]);
    expect(new Set(compute.calls.filter((c) => c.method === 'terminateInstance').map((c) => c.args[0]))).toEqual(new Set([HELPER, WINDOWS_HELPER]));
  });
});

describe('what the sweeper may detach from a Linux helper once the job has ended', () => {
  const ended = (resources: Partial<Job['resources']>, runRescue?: 'done' | 'running') => {
    const job = windowsJob('rollback', resources);
    return {
      ...job,
      status: 'FAILED' as const,
      phases: runRescue
        ? { ...job.phases, 'run-rescue': { status: runRescue === 'done' ? ('done' as const) : ('failed' as const), startedAt: job.createdAt, attempt: 1 } }
        : job.phases,
    };
  };

  it.each<[string, Job, string | undefined]>([
    ['the NTFS rescue worked', ended({}, 'done'), undefined],
    ['a refusal (the volume released by the script)', ended({ windowsFallback: fallbackOf('BITLOCKER') }, 'done'), undefined],
    [
      'UNMOUNT_FAILED, the release never done (its rollback gave up)',
      ended({ windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }) }, 'done'),
      HELPER,
    ],
    [
      'UNMOUNT_FAILED, released',
      ended({ windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }), ntfsRelease: { state: 'released', commandId: 'c' } }, 'done'),
      undefined,
    ],
    [
      'the release failed',
      ended({ windowsFallback: fallbackOf('UNMOUNT_FAILED', { mayBeMounted: true }), ntfsRelease: { state: 'failed', commandId: 'c' } }, 'done'),
      HELPER,
    ],
    ['the NTFS rescue sent, its end never read', ended({ rescueCommandId: 'cmd-ntfs' }, 'running'), HELPER],
    ['a Linux target', { ...ended({ rescueCommandId: 'cmd' }, 'running'), target: { ...swapJob('rollback').target! } }, undefined],
  ])('%s', (_name, job, expected) => {
    expect(mayStillBeMountedOn(job)).toBe(expected);
  });
});
