import { PermanentError } from '../../errors';
import { definePhase, done, firstPollSeconds, wait, waitForEvent, type PhasePorts, type PhaseResult } from '../phase';
import { sshKeyParameterName, type Job, type WindowsFallback } from '../../job/job';
import type { CommandStatus, RescueParams } from '../../ports';
import { pollDelaySeconds } from '../wait-policy';
import { claimPooledHelper } from '../../sweeper/helper-pool';
import { describeHelper, launchHelperInstance, resolveHelperImage } from './launch-helper';
import { releaseNtfsVolume, type ReleaseStep } from './ntfs-release';
import { assertBackupUsable, windowsOutputs } from './run-rescue';
import { helperPlacement, isArrived, moveVolume } from './volume-moves';

type FallbackPorts = PhasePorts<'rescue' | 'helperPool'>;

const RUNNING: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/**
 * The Windows helper, when the fast path could not do a Windows reset: held by Windows plans only,
 * between run-rescue and detach-from-helper. Done at once when the NTFS rescue on the Linux helper
 * worked. Otherwise (the script refused the volume, or ended without saying it was unmounted) it
 * moves the root volume from the Linux helper to a Windows helper and runs windows-rescue.ps1 there,
 * one recorded step a delivery, each looking before it acts:
 *
 * 1. the volume's release from the Linux helper, when it may still be mounted (ntfs-release.ts);
 * 2. a Windows helper: a stopped one of the warm pool, claimed and started (a later boot), or one
 *    launched with a ClientToken of the job (a first boot); its id is recorded before it is awaited;
 * 3. the volume off the Linux helper (while the Windows helper boots), then the Windows helper
 *    becomes the job's helper and the Linux one is terminated;
 * 4. the Windows helper `running` and its SSM agent Online;
 * 5. the volume attached to it at `xvdf`;
 * 6. the Windows rescue command (found by its comment first), and its summary.
 *
 * Rollback from any step returns the root to the target: the volume may be on either helper, both
 * are the job's (volume-moves.ts `jobHelperIds`), and terminate-helper ends both (cleanup.ts).
 */
export async function windowsFallback(job: Job, ports: FallbackPorts): Promise<PhaseResult> {
  const fallback = job.resources.windowsFallback;
  if (!fallback) return done();

  if (fallback.mayBeMounted) {
    const release = await releaseNtfsVolume(job, ports);
    if (release.kind !== 'released' || release.record) return asResult(release);
  }
  if (!fallback.helper) return obtainWindowsHelper(job, fallback, ports);
  const helper = fallback.helper;
  if (helper.source === 'pool' && !helper.startRequestedAt) return startPooledHelper(helper.instanceId, ports);

  if (job.resources.helperInstanceId !== helper.instanceId) {
    // Off the Linux helper while the Windows one boots; then the Windows one is the job's helper.
    const off = await moveVolume(job, undefined, ports);
    if (!isArrived(off)) return wait(off.waitingFor, off.record);
    await ports.compute.terminateInstance(fallback.linuxHelperInstanceId);
    return wait(
      `Windows helper ${helper.instanceId} to be running`,
      (draft) => {
        draft.resources.helperInstanceId = helper.instanceId;
        draft.resources.helperPlatform = 'windows';
      },
      0,
    );
  }

  const up = await windowsHelperUp(job, fallback, helper.instanceId, ports);
  if (up) return up;

  const attached = await moveVolume(job, helperPlacement(job), ports);
  if (!isArrived(attached)) return wait(attached.waitingFor, attached.record);

  return runWindowsRescue(job, fallback, helper.instanceId, ports);
}

/** A release step that is not a plain "released" as the phase's result: a held volume fails the job once its state is recorded. */
function asResult(step: ReleaseStep): PhaseResult {
  if (step.kind === 'wait') return wait(step.waitingFor, step.record);
  if (step.record) return wait(step.kind === 'held' ? 'the job to fail: the volume stays on its helper' : 'a Windows helper', step.record, 0);
  throw new PermanentError('VOLUME_STILL_MOUNTED', step.kind === 'held' ? step.reason : 'the volume release ended in no known state');
}

/**
 * A stopped Windows helper of the warm pool, if one is ready in the target's AZ and the job uses the
 * rescue network the pool lives in; otherwise a new one, launched as launch-helper launches (its own
 * ClientToken, the same tags and network).
 */
async function obtainWindowsHelper(job: Job, fallback: WindowsFallback, ports: FallbackPorts): Promise<PhaseResult> {
  const pooled = await claimPooledHelper(job, ports);
  if (pooled) {
    return wait(
      `pooled Windows helper ${pooled} to be started`,
      (draft) => void (draft.resources.windowsFallback!.helper = { instanceId: pooled, source: 'pool' }),
      0,
    );
  }
  const imageId = await resolveHelperImage(ports.config.helperImageParameter.windows, ports);
  const launched = await launchHelperInstance(job, imageId, 'windows-fallback', ports);
  return waitForEvent(`Windows helper ${launched} to be running (a first boot: the NTFS rescue refused: ${fallback.code})`, (draft) => {
    draft.resources.windowsFallback!.helper = { instanceId: launched, source: 'launch' };
  });
}

/**
 * StartInstances of the claimed pool helper, once: it is stopped (the pool stopped it after its
 * first boot). One that is gone or not stopped any more is left to the pool's sweeper, and a helper
 * is launched instead.
 */
async function startPooledHelper(helperId: string, ports: FallbackPorts): Promise<PhaseResult> {
  const helper = await ports.compute.describeInstance(helperId);
  if (helper?.state === 'pending' || helper?.state === 'running') {
    // Started already (the start's record was lost): go on.
    const at = ports.clock.now().toISOString();
    return wait(`pooled Windows helper ${helperId} to be running`, (draft) => void (draft.resources.windowsFallback!.helper!.startRequestedAt = at), 0);
  }
  if (helper?.state !== 'stopped') {
    const launch = `pooled helper ${helperId} is ${helper?.state ?? 'gone'}: a Windows helper to be launched instead`;
    return wait(launch, (draft) => void delete draft.resources.windowsFallback!.helper, 0);
  }
  await ports.compute.startInstance(helperId);
  const at = ports.clock.now().toISOString();
  return waitForEvent(
    `pooled Windows helper ${helperId} to be running (a start, not a first boot)`,
    (draft) => void (draft.resources.windowsFallback!.helper!.startRequestedAt = at),
  );
}

/** `undefined` once the Windows helper runs and its agent is Online; else what the phase waits for. */
async function windowsHelperUp(job: Job, fallback: WindowsFallback, helperId: string, ports: FallbackPorts): Promise<PhaseResult | undefined> {
  if (!fallback.helper!.runningAt) {
    const helper = await describeHelper(helperId, ports);
    if (!helper || helper.state === 'pending') return waitForEvent(`Windows helper ${helperId} to be running`);
    const at = ports.clock.now().toISOString();
    const firstLook = ports.config.pollSeconds.helperAgentFirstLook;
    return wait(
      `Windows helper's SSM agent to register (first look in ${firstLook} s)`,
      (draft) => void (draft.resources.windowsFallback!.helper!.runningAt = at),
      firstLook,
    );
  }
  const agent = await ports.rescue.agentStatus(helperId);
  if (agent === 'Online') return undefined;
  await describeHelper(helperId, ports);
  const { helperAgentMaxGap } = ports.config.pollSeconds;
  const attempt = job.phases['windows-fallback']?.attempt ?? 0;
  const delay = Math.min(helperAgentMaxGap, pollDelaySeconds(ports.config, firstPollSeconds(windowsFallbackPhase, ports.config), attempt, job.jobId));
  return wait(`Windows helper's SSM agent to come Online (now ${agent})`, undefined, delay);
}

/** windows-rescue.ps1 on the Windows helper, found by its comment before it is sent; its summary ends the phase. */
async function runWindowsRescue(job: Job, fallback: WindowsFallback, helperId: string, ports: FallbackPorts): Promise<PhaseResult> {
  const params: RescueParams = {
    jobId: job.jobId,
    helperInstanceId: helperId,
    targetInstanceId: job.instanceId,
    platform: 'windows',
    volumeId: job.target!.rootVolumeId,
    parameterName: sshKeyParameterName(job.instanceId),
    keyType: job.request.keyType,
    script: 'windows-rescue',
  };
  let commandId = fallback.rescueCommandId ?? (await ports.rescue.find(params));
  if (!commandId) {
    await assertBackupUsable(job, ports);
    commandId = await ports.rescue.start(params);
  }
  if (!fallback.rescueCommandId) {
    const sent = commandId;
    return waitForEvent('Windows rescue script to run', (draft) => void (draft.resources.windowsFallback!.rescueCommandId = sent));
  }
  const result = await ports.rescue.result(commandId, helperId);
  if (!result || RUNNING.has(result.status)) return waitForEvent(`Windows rescue script to finish (${result?.status ?? 'not yet known to SSM'})`);
  const summary = result.summary;
  if (result.status !== 'Success' || !summary?.ok) {
    const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
    throw new PermanentError(`RESCUE_${code}`, summary?.message ?? `Windows rescue script ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`);
  }
  const source = fallback.helper!.source === 'pool' ? 'a Windows helper from the warm pool' : 'a Windows helper';
  const note = `The NTFS rescue on a Linux helper did not make the change (${fallback.code}: ${fallback.reason}); ${source} made it.`;
  return done((draft) => {
    const outputs = windowsOutputs(job, summary, ports.config.region);
    Object.assign(draft.outputs, { ...outputs, rescueNotes: [note, ...(outputs.rescueNotes ?? [])] });
  });
}

declare module '../../job/job' {
  interface PhaseNames {
    'windows-fallback': true;
  }
}

export const windowsFallbackPhase = definePhase({
  name: 'windows-fallback',
  step: windowsFallback,
  paths: ['offline'],
  platforms: ['windows'],
  after: ['run-rescue'],
  before: ['detach-from-helper'],
  ports: ['rescue', 'helperPool'],
  grants: ['run-rescue-command', 'launch-helper', 'stop-start-helper', 'terminate-helper', 'move-volume-between-helpers', 'use-encrypted-volumes'],
  // A Windows helper's first boot (≈ 15 min; a pooled one's start, minutes), two moves, the script.
  deadlineSeconds: 45 * 60,
  slowOnWindows: true,
  firstPollSeconds: 6,
  wokenBy: ['helper', 'root-volume'],
});
