/**
 * The release of a Windows volume on the Linux helper of the fast path. ntfs-3g may still hold the
 * volume mounted when the NTFS rescue could not confirm its unmount (`UNMOUNT_FAILED`), or ended
 * without a summary (failed, timed out, cut short); detaching a mounted volume can leave it stuck
 * `busy` or its file system corrupt (docs/aws-facts.md#volumes). Such a volume leaves that helper
 * only once this says it is released: a second unmount through Run Command (the `ntfs-release`
 * command: unmount, wait for ntfs-3g to exit, check), or a helper whose OS no longer runs. If the
 * second unmount fails too, the volume is held: it stays attached, the job fails saying what an
 * operator must do, rollback and the sweeper leave it and its helper alone
 * (docs/architecture.md#an-ntfs-volume-held-on-its-helper).
 *
 * Used by windows-fallback.ts before it detaches the volume, and by rollback.ts before it returns it.
 */
import type { PhasePorts } from '../phase';
import type { Job } from '../../job/job';
import { sshKeyParameterName } from '../../job/job';
import type { CommandStatus, RescueParams, RescueSummary } from '../../ports';

const RUNNING: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/** Where the release stands; `record` is what to remember before anything else is done. */
export type ReleaseStep =
  | { kind: 'released'; record?: (job: Job) => void }
  | { kind: 'wait'; waitingFor: string; record?: (job: Job) => void }
  | { kind: 'held'; reason: string; record?: (job: Job) => void };

/** The Linux helper of a Windows job on the fast path (the one the NTFS rescue ran on), if any. */
export function linuxHelperOf(job: Job): string | undefined {
  if (job.target?.platform !== 'windows') return undefined;
  if (job.resources.windowsFallback) return job.resources.windowsFallback.linuxHelperInstanceId;
  return job.resources.helperPlatform === 'linux' ? job.resources.helperInstanceId : undefined;
}

/** The helper that holds the job's volume for good (its release failed), if any. */
export function heldOnHelper(job: Job): string | undefined {
  return job.resources.ntfsRelease?.state === 'failed' ? linuxHelperOf(job) : undefined;
}

/**
 * For the sweeper, once the job has ended: the Linux helper on which the job's volume may still be
 * mounted because nothing showed it released (the release failed, or the job ended, its rollback
 * given up, before it could look). Its volume must not be detached from there.
 */
export function mayStillBeMountedOn(job: Job): string | undefined {
  const helperId = linuxHelperOf(job);
  const release = job.resources.ntfsRelease?.state;
  if (!helperId || release === 'released') return undefined;
  if (release === 'failed') return helperId;
  if (job.resources.windowsFallback) return job.resources.windowsFallback.mayBeMounted ? helperId : undefined;
  if (job.phases['run-rescue']?.status === 'done') return undefined;
  // The NTFS rescue was sent and its end never read.
  return job.resources.rescueCommandId ? helperId : undefined;
}

/**
 * Whether the volume may leave its Linux helper now; sends and reads the release when it must.
 * Each call takes at most one step and says what to record.
 */
export async function releaseNtfsVolume(job: Job, ports: PhasePorts<'rescue'>): Promise<ReleaseStep> {
  const helperId = linuxHelperOf(job);
  const release = job.resources.ntfsRelease;
  if (!helperId || release?.state === 'released') return { kind: 'released' };
  if (release?.state === 'failed') return { kind: 'held', reason: heldReason(job, helperId, release.detail) };
  const volumeId = job.target!.rootVolumeId;
  const volume = await ports.compute.describeVolume(volumeId);
  if (!volume?.attachments.some((a) => a.instanceId === helperId && a.state !== 'detached')) return { kind: 'released' };
  if (!release) {
    const mounted = await mayBeMounted(job, helperId, ports);
    if (mounted !== true) return mounted;
  }

  // The OS that mounted it is gone: a stopped or terminated instance holds no mount.
  const helper = await ports.compute.describeInstance(helperId);
  if (!helper || helper.state === 'stopped' || helper.state === 'terminated') {
    return {
      kind: 'released',
      record: (draft) =>
        void (draft.resources.ntfsRelease = {
          state: 'released',
          commandId: release?.commandId ?? '',
          detail: `helper ${helperId} is ${helper?.state ?? 'gone'}`,
        }),
    };
  }
  if (helper.state !== 'running') return { kind: 'wait', waitingFor: `helper ${helperId} to settle (now ${helper.state}) before its volume is released` };

  const params = releaseParams(job, helperId);
  const commandId = release?.commandId ?? (await ports.rescue.find(params)) ?? (await ports.rescue.start(params));
  if (!release) {
    return {
      kind: 'wait',
      waitingFor: `the release of ${volumeId} on ${helperId} (a second unmount)`,
      record: (draft) => void (draft.resources.ntfsRelease = { state: 'sent', commandId }),
    };
  }
  const result = await ports.rescue.result(commandId, helperId);
  if (!result || RUNNING.has(result.status))
    return { kind: 'wait', waitingFor: `the release of ${volumeId} to finish (${result?.status ?? 'not yet known to SSM'})` };
  const summary = result.summary as (RescueSummary & { released?: unknown }) | undefined;
  if (result.status === 'Success' && summary?.ok && summary.released === true) {
    return { kind: 'released', record: (draft) => void (draft.resources.ntfsRelease = { state: 'released', commandId }) };
  }
  const detail = summary?.message ?? `the release command ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`;
  return {
    kind: 'held',
    reason: heldReason(job, helperId, detail),
    record: (draft) => void (draft.resources.ntfsRelease = { state: 'failed', commandId, detail }),
  };
}

/**
 * Whether the NTFS rescue left the volume possibly mounted: `true`, or the step that answers it.
 * After run-rescue: what it recorded. In its middle (a rollback): the command's own end, waited for.
 */
async function mayBeMounted(job: Job, helperId: string, ports: PhasePorts<'rescue'>): Promise<true | ReleaseStep> {
  // run-rescue records its outcome with its end: the fallback (which says), or nothing (it worked).
  if (job.resources.windowsFallback) return job.resources.windowsFallback.mayBeMounted ? true : { kind: 'released' };
  if (job.phases['run-rescue']?.status === 'done') return { kind: 'released' };
  const params: RescueParams = { ...releaseParams(job, helperId), script: 'ntfs-rescue' };
  const commandId = job.resources.rescueCommandId ?? (await ports.rescue.find(params));
  if (!commandId) return { kind: 'released' }; // never sent: never mounted
  const result = await ports.rescue.result(commandId, helperId);
  if (!result || RUNNING.has(result.status))
    return { kind: 'wait', waitingFor: `the NTFS rescue to end before its volume is moved (${result?.status ?? 'not yet known to SSM'})` };
  const summary = result.summary;
  const released = summary?.ok === true || summary?.fallback === true || summary?.error === 'INVALID_INPUT';
  return released ? { kind: 'released' } : true;
}

function releaseParams(job: Job, helperId: string): RescueParams {
  return {
    jobId: job.jobId,
    helperInstanceId: helperId,
    targetInstanceId: job.instanceId,
    platform: 'windows',
    volumeId: job.target!.rootVolumeId,
    parameterName: sshKeyParameterName(job.instanceId),
    keyType: job.request.keyType,
    script: 'ntfs-release',
  };
}

/** What an operator reads when the volume is held: why, and how to finish by hand. */
function heldReason(job: Job, helperId: string, detail: string | undefined): string {
  const target = job.target!;
  const steps = [
    `open a Session Manager session on ${helperId}`,
    `unmount the volume's NTFS partition (findmnt; umount)`,
    'wait until no ntfs-3g process serves it (pgrep -a ntfs-3g)',
    `detach ${target.rootVolumeId}`,
    `attach it to ${job.instanceId} at ${target.rootDeviceName}`,
    ...(target.rootDeleteOnTermination ? ['set its DeleteOnTermination back to true'] : []),
    ...(target.state === 'running' ? [`start ${job.instanceId}`] : []),
    `terminate ${helperId}`,
  ];
  return (
    `root volume ${target.rootVolumeId} stays attached to helper ${helperId}: ntfs-3g may still have it mounted${detail ? ` (${detail})` : ''}, ` +
    `and detaching it now could corrupt it. The helper is kept and the sweeper leaves it alone. To finish by hand: ${steps.join(', ')}.`
  );
}
