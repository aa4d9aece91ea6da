/**
 * Windows resets on the fast path, whole jobs on the simulated region: the NTFS rescue on a Linux
 * helper, each kind of refusal falling back to a Windows helper, the warm pool used and
 * replenished, a rollback from the fallback's middle, and a volume whose unmount fails (released
 * by a second unmount, or left on its helper and never detached).
 */
import { defaultConfig } from '../../domain/config';
import type { Job } from '../../domain/job/job';
import { TAG } from '../../domain/naming';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { file } from '../../infra/sim/base-images';
import { HIBERFIL_PATH } from '../../infra/sim/ntfs-rescue-model';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import type { NtfsVolumeFlags } from '../../infra/sim/state';
import { DEFAULT_TIMINGS } from '../../infra/sim/timings';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { passwordGenerationEnabled } from '../../infra/sim/windows-rescue-model';
import { ec2ConfigVolume, ec2LaunchV1Volume, ec2LaunchV2Volume, V2_DO_NOTHING, V2_JSON } from '../fixtures/windows-volumes';
import { mutatingCalls } from '../support/checks';

const WIN2022 = 'i-0a1b2c3d4e5f60007';
const ZONE = 'us-east-1a';
const POOL = { windowsHelperPool: { size: 1, availabilityZones: [ZONE], instanceType: 't3.small' } };
const MINUTE = 60_000;

/** A running Windows target, password generation used up, with `files` (default: EC2Launch v2 "doNothing") and NTFS flags. */
function seedWindows(stack: VirtualStack, ntfs: NtfsVolumeFlags = {}, files: VolumeFiles = ec2LaunchV2Volume(V2_DO_NOTHING)): string {
  return stack.region.seedInstance({
    imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
    state: 'running',
    availabilityZone: ZONE,
    keyName: 'win-ops',
    tags: { 'reset-access:allowed': 'true' },
    root: { files, deleteOnTermination: true, ntfs },
  }).instanceId;
}

function rootOf(stack: VirtualStack, instanceId: string) {
  const instance = stack.region.getInstance(instanceId)!;
  const volume = Object.values(stack.region.exportState().volumes).find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName,
  );
  return { instance, volume };
}

async function reset(stack: VirtualStack, instanceId: string) {
  const started = await stack.api('POST', '/resets', { instanceId });
  expect(started.statusCode).toBe(202);
  const ran = await stack.run();
  const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;
  return { ran, view, job: await stack.job(started.json.jobId) };
}

/** The helpers the job launched or took, by platform, with the runner of each command sent to them. */
function helpersOf(stack: VirtualStack, job: Job) {
  const state = stack.region.exportState();
  const ids = [job.resources.windowsFallback?.linuxHelperInstanceId, job.resources.windowsFallback?.helper?.instanceId, job.resources.helperInstanceId].filter(
    (id): id is string => !!id,
  );
  return [...new Set(ids)].map((id) => ({
    id,
    platform: state.instances[id]?.platform,
    state: state.instances[id]?.state,
    runners: Object.values(state.commands).flatMap((c) => (c.invocations[id] ? [c.invocations[id]!.runner] : [])),
  }));
}

/** Sweeper runs, `every` apart, until the pool's helpers are ready (or `runs` ran). */
async function fillPool(stack: VirtualStack, runs = 8, every = 10 * MINUTE): Promise<void> {
  for (let i = 0; i < runs; i++) {
    await stack.sweep();
    if ((await stack.helperPool.list()).every((s) => s.state === 'ready') && (await stack.helperPool.list()).length > 0) return;
    stack.clock.advance(every);
    stack.region.tick();
  }
}

describe('the fast path: a Windows reset from a Linux helper', () => {
  it('re-enables EC2Launch v2 from a Linux helper, never launches a Windows helper, and says every once-task runs again', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const { ran, view, job } = await reset(stack, WIN2022);
    const after = rootOf(stack, WIN2022);
    stack.clock.advance(DEFAULT_TIMINGS.windowsBootMs);
    stack.region.tick();
    // Assess
    expect(ran).toBe('idle');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.windowsFallback).toBeUndefined();
    expect(view.phases.find((p: { name: string }) => p.name === 'windows-fallback')).toMatchObject({ status: 'done', durationSeconds: 0, polls: 0 });
    expect(helpersOf(stack, job)).toEqual([
      { id: view.helperInstanceId, platform: 'linux', state: expect.stringMatching(/shutting-down|terminated/), runners: ['ntfs-rescue'] },
    ]);
    expect(stack.region.getInstance(view.helperInstanceId)!.imageId).toBe(PUBLIC_IMAGE_IDS.ubuntu2404);
    expect(mutatingCalls(stack).RunInstances).toBe(1);
    expect(view.outputs.launchAgents).toEqual(['EC2Launch v2']);
    expect(view.outputs.rescueNotes.join(' ')).toMatch(/runs every task of frequency "once" again at the next boot/);
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
    expect(view.outputs.passwordRetrieval).toContain(`--instance-id ${WIN2022}`);
    expect(passwordGenerationEnabled(after.volume!.files)).toBe(true);
    expect(after.instance.state).toBe('running');
    expect(stack.region.ec2('GetPasswordData', { InstanceId: WIN2022 }).PasswordData).not.toBe('');
  });

  it('re-enables EC2Config on a stopped Windows Server 2012 R2 from a Linux helper', async () => {
    const stack = new VirtualStack();
    const { view, job } = await reset(stack, 'i-0a1b2c3d4e5f60008');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs.launchAgents).toEqual(['EC2Config']);
    expect(helpersOf(stack, job).map((h) => h.platform)).toEqual(['linux']);
  });
});

describe('a refusal falls back to a Windows helper, with the reason in the job', () => {
  it.each<[string, NtfsVolumeFlags, VolumeFiles | undefined, string]>([
    ['BitLocker', { bitlocker: true }, undefined, 'BITLOCKER'],
    ['a dynamic disk', { dynamicDisk: true }, undefined, 'DYNAMIC_DISK'],
    ['a hibernated Windows', {}, { ...ec2LaunchV2Volume(V2_DO_NOTHING), [HIBERFIL_PATH]: file('hibr', 0o644) }, 'HIBERNATED'],
    ['a volume marked dirty', { dirty: true }, undefined, 'UNCLEAN_VOLUME'],
    ['an unclean journal', { uncleanJournal: true }, undefined, 'UNCLEAN_VOLUME'],
    ['agent-config.yml written as JSON', {}, ec2LaunchV2Volume(V2_JSON), 'CONFIG_NOT_UNDERSTOOD'],
    [
      'two agents, none set to start',
      { serviceStart: { EC2Launch: 4, Ec2Config: 4 } },
      { ...ec2LaunchV2Volume(V2_DO_NOTHING), ...ec2ConfigVolume() },
      'NO_ACTIVE_AGENT',
    ],
  ])('%s: %s', async (_name, flags, files, code) => {
    // Prepare
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, flags, files);
    const before = rootOf(stack, target);
    // Act
    const { view, job } = await reset(stack, target);
    const after = rootOf(stack, target);
    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.windowsFallback).toMatchObject({ code, reason: expect.any(String), windowsHelper: { source: 'launch' } });
    expect(view.outputs.rescueNotes[0]).toContain(`did not make the change (${code}:`);
    const helpers = helpersOf(stack, job);
    expect(helpers.map((h) => [h.platform, h.runners])).toEqual([
      ['linux', ['ntfs-rescue']],
      ['windows', ['windows-rescue']],
    ]);
    expect(helpers.every((h) => h.state === 'shutting-down' || h.state === 'terminated')).toBe(true);
    expect(passwordGenerationEnabled(after.volume!.files)).toBe(true);
    expect(after.volume!.volumeId).toBe(before.volume!.volumeId);
    expect(after.volume!.attachment).toMatchObject({ device: before.instance.rootDeviceName, deleteOnTermination: true, state: 'attached' });
    expect(after.instance.state).toBe('running');
  });

  it("keeps today's outcome for EC2Launch v1 without its task: the Windows helper cannot either, the job fails, the instance restored", async () => {
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, {}, ec2LaunchV1Volume(false));
    const { view } = await reset(stack, target);
    expect(view.windowsFallback).toMatchObject({ code: 'AGENT_NOT_RESETTABLE_OFFLINE' });
    expect(view.error).toMatchObject({ code: 'RESCUE_AGENT_NOT_RESETTABLE_OFFLINE', phase: 'windows-fallback' });
    expect(view.instanceRestored).toBe(true);
  });
});

describe('the warm pool of Windows helpers', () => {
  it('gives the fallback a stopped helper to start (no first boot), and the sweeper replenishes it', async () => {
    // Prepare: the pool filled by the sweeper (launch, first boot, stop)
    const stack = new VirtualStack({ samples: false, config: POOL });
    await fillPool(stack);
    const [slot] = await stack.helperPool.list();
    expect(slot).toMatchObject({ state: 'ready', availabilityZone: ZONE });
    const pooled = slot!.instanceId!;
    expect(stack.region.getInstance(pooled)).toMatchObject({
      state: 'stopped',
      platform: 'windows',
      tags: expect.objectContaining({ [TAG.role]: 'pool-helper' }),
    });
    const target = seedWindows(stack, { bitlocker: true });
    const launchesBefore = mutatingCalls(stack).RunInstances ?? 0;
    // Act
    const { view } = await reset(stack, target);
    const launchesByJob = (mutatingCalls(stack).RunInstances ?? 0) - launchesBefore;
    const afterJob = await stack.helperPool.list();
    await fillPool(stack);
    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.windowsFallback.windowsHelper).toEqual({ instanceId: pooled, source: 'pool' });
    expect(view.outputs.rescueNotes[0]).toContain('a Windows helper from the warm pool made it');
    expect(launchesByJob).toBe(1); // the Linux helper only
    expect(
      stack.region.exportState().commands && Object.values(stack.region.exportState().commands).some((c) => c.invocations[pooled]?.runner === 'windows-rescue'),
    ).toBe(true);
    expect(['shutting-down', 'terminated']).toContain(stack.region.getInstance(pooled)!.state);
    expect(afterJob).toEqual([expect.objectContaining({ instanceId: pooled, state: 'claimed', claimedBy: view.jobId })]);
    const replenished = await stack.helperPool.list();
    expect(replenished).toEqual([expect.objectContaining({ state: 'ready' })]);
    expect(replenished[0]!.instanceId).not.toBe(pooled);
  });

  it('is reclaimed by the sweeper when it shrinks', async () => {
    // Prepare
    const stack = new VirtualStack({ samples: false, config: POOL });
    await fillPool(stack);
    const pooled = (await stack.helperPool.list())[0]!.instanceId!;
    // Act: the pool goes to size 0
    stack.ports.config.windowsHelperPool = { ...POOL.windowsHelperPool, size: 0 };
    const summary = await stack.sweep();
    // Assess
    expect(summary.actions).toContainEqual(expect.objectContaining({ resource: 'pool-helper', id: pooled, action: 'terminated' }));
    expect(['shutting-down', 'terminated']).toContain(stack.region.getInstance(pooled)!.state);
    expect(await stack.helperPool.list()).toEqual([]);
  });
});

describe('rollback from the middle of the fallback', () => {
  it('returns the root from the Windows helper to the target when the Windows script cannot be sent', async () => {
    // Prepare
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, { hibernated: true });
    const before = rootOf(stack, target);
    stack.region.faults.add({
      service: 'ssm',
      action: 'SendCommand',
      match: (input) => input.DocumentName === 'AWS-RunPowerShellScript',
      error: { code: 'AccessDeniedException' },
    });
    // Act
    const { view, job } = await reset(stack, target);
    const after = rootOf(stack, target);
    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error.phase).toBe('windows-fallback');
    expect(view.instanceRestored).toBe(true);
    expect(after.volume!.volumeId).toBe(before.volume!.volumeId);
    expect(after.volume!.attachment).toMatchObject({ device: before.instance.rootDeviceName, deleteOnTermination: true, state: 'attached' });
    expect(after.instance.state).toBe('running');
    expect(helpersOf(stack, job).every((h) => h.state === 'shutting-down' || h.state === 'terminated')).toBe(true);
    expect(helpersOf(stack, job)).toHaveLength(2);
  });

  it('returns the root from wherever it is when the job is cancelled while the Windows helper boots', async () => {
    // Prepare
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, { dynamicDisk: true });
    const before = rootOf(stack, target);
    const started = await stack.api('POST', '/resets', { instanceId: target });
    // Act: run until the fallback waits for the Windows helper's first boot, then cancel
    for (let i = 0; i < 500; i++) {
      const job = await stack.job(started.json.jobId);
      if (job.resources.windowsFallback?.helper && job.resources.helperPlatform === 'windows') break;
      stack.clock.set(Math.max(stack.queue.nextDueAt() ?? stack.clock.now(), stack.clock.now()));
      stack.region.tick();
      await stack.run(0);
    }
    const midway = await stack.job(started.json.jobId);
    const cancelled = await stack.api('POST', `/resets/${started.json.jobId}/cancel`);
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;
    const after = rootOf(stack, target);
    // Assess
    expect(midway.current).toEqual(['windows-fallback']);
    expect(cancelled.statusCode).toBe(202);
    expect(view.status).toBe('FAILED');
    expect(view.instanceRestored).toBe(true);
    expect(after.volume!.volumeId).toBe(before.volume!.volumeId);
    expect(after.instance.state).toBe('running');
    expect(helpersOf(stack, midway).every((h) => ['shutting-down', 'terminated'].includes(stack.region.getInstance(h.id)!.state))).toBe(true);
  });
});

describe('a volume the NTFS rescue could not unmount', () => {
  it('is released by a second unmount, then falls back to a Windows helper', async () => {
    // Prepare
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, { unmountFails: 'once' });
    // Act
    const { view, job } = await reset(stack, target);
    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.windowsFallback).toMatchObject({ code: 'UNMOUNT_FAILED', volumeRelease: 'released' });
    expect(helpersOf(stack, job)[0]!.runners).toEqual(['ntfs-rescue', 'ntfs-release']);
    expect(passwordGenerationEnabled(rootOf(stack, target).volume!.files)).toBe(true);
  });

  it('is never detached while it may be mounted: the job fails, the volume and its helper stay, the sweeper leaves them', async () => {
    // Prepare
    const stack = new VirtualStack({ samples: false });
    const target = seedWindows(stack, { unmountFails: 'always' });
    const volumeId = rootOf(stack, target).volume!.volumeId;
    // Act
    const { view, job } = await reset(stack, target);
    stack.clock.advance((defaultConfig.sweeper.graceSeconds + 60) * 1000);
    const sweep = await stack.sweep();
    // Assess
    const linuxHelper = job.resources.windowsFallback!.linuxHelperInstanceId;
    const volume = stack.region.exportState().volumes[volumeId]!;
    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ code: 'VOLUME_STILL_MOUNTED', phase: 'windows-fallback' });
    expect(view.instanceRestored).toBe(false);
    expect(view.rollbackError).toMatchObject({ code: 'VOLUME_LEFT_ON_HELPER', message: expect.stringContaining(`terminate ${linuxHelper}`) });
    expect(view.windowsFallback).toMatchObject({ code: 'UNMOUNT_FAILED', volumeRelease: 'failed' });
    expect(volume.attachment).toMatchObject({ instanceId: linuxHelper, state: 'attached' });
    expect(stack.region.calls.filter((c) => c.action === 'DetachVolume' && (c.input as { InstanceId?: string }).InstanceId === linuxHelper)).toEqual([]);
    expect(stack.region.getInstance(linuxHelper)!.state).toBe('running');
    expect(stack.region.getInstance(target)!.state).toBe('stopped');
    expect(sweep.actions).toContainEqual(expect.objectContaining({ resource: 'helper', id: linuxHelper, action: 'held' }));
    expect(volume.attachment?.state).toBe('attached');
  });
});
