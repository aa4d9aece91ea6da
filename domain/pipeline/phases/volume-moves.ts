/**
 * What the volume moves share (root off the target, onto the helper, off the helper, back onto the
 * target: detach-root.ts, attach-to-helper.ts, detach-from-helper.ts, reattach-root.ts).
 * Each looks at where the volume is now and takes the next step towards where it must be, so a
 * retry, a duplicate message or a crash anywhere converges instead of repeating a call.
 */
import { PermanentError } from '../../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase';
import { isFirstDelivery, type Job, type PhaseName, type Platform } from '../../job/job';
import { HELPER_DEVICE } from '../../naming';
import type { VolumeAttachment } from '../../ports';

export type Placement = { instanceId: string; device: string };

/** A step that is not there yet: what it waits for, and what to remember with the wait. */
export type MoveStep = { waitingFor: string; record?: (job: Job) => void };

/** The volume is where it must be: its attachment there (none when the goal is detached). */
export type Arrived = { arrived: true; attachment?: VolumeAttachment };

export function isArrived(step: Arrived | MoveStep): step is Arrived {
  return 'arrived' in step;
}

/**
 * Attaches sent to one place before the move counts as failed. EBS fails an attach after the call
 * (an encrypted volume whose KMS key cannot be used; docs/aws-facts.md#aws-events):
 * the volume goes back to `available` and sending the same attach again would never end.
 */
export const MAX_ATTACHES = 3;

/**
 * One step towards `goal` (a placement, or `undefined` for detached), looking where the volume is
 * first. The volume may only ever be found on the target or the job's helper: anywhere else, stop.
 */
export async function moveVolume(job: Job, goal: Placement | undefined, ports: PhasePorts): Promise<Arrived | MoveStep> {
  const volumeId = job.target!.rootVolumeId;
  const volume = await ports.compute.describeVolume(volumeId);
  if (!volume) throw new PermanentError('VOLUME_NOT_FOUND', `volume ${volumeId} does not exist`);
  const attachment = volume.attachments.find((a) => a.state !== 'detached');
  if (attachment && attachment.instanceId !== job.instanceId && !jobHelperIds(job).includes(attachment.instanceId)) {
    throw new PermanentError('VOLUME_ATTACHED_ELSEWHERE', `root volume is attached to ${attachment.instanceId}, which this job does not own`);
  }
  if (attachment) {
    const atGoal = goal && attachment.instanceId === goal.instanceId && sameDevice(attachment.device, goal.device);
    if (atGoal) return attachment.state === 'attached' ? { arrived: true, attachment } : { waitingFor: `volume to attach to ${goal.instanceId}` };
    if (attachment.state === 'detaching') return { waitingFor: `volume to detach from ${attachment.instanceId}` };
    if (attachment.state === 'attaching') return { waitingFor: `volume to finish attaching to ${attachment.instanceId} before it can move` };
    await ports.compute.detachVolume(volumeId, attachment.instanceId);
    return { waitingFor: `volume to detach from ${attachment.instanceId}` };
  }
  if (!goal) return volume.state === 'available' ? { arrived: true } : { waitingFor: `volume to become available (now ${volume.state})` };
  if (volume.state !== 'available') return { waitingFor: `volume to become available (now ${volume.state})` };
  return sendAttach(job, goal, ports);
}

/** AttachVolume to `goal`, counted per place (see `MAX_ATTACHES`). */
async function sendAttach(job: Job, goal: Placement, ports: PhasePorts): Promise<MoveStep> {
  const { rootVolumeId: volumeId, rootEncrypted, rootKmsKeyId } = job.target!;
  const last = job.resources.volumeAttach;
  const sent = last && last.instanceId === goal.instanceId && sameDevice(last.device, goal.device) ? last.sent : 0;
  if (sent >= MAX_ATTACHES) {
    throw new PermanentError(
      'ATTACH_FAILED',
      `EBS did not attach ${volumeId} to ${goal.instanceId} at ${goal.device} after ${sent} attempts${rootEncrypted ? ` (is its KMS key ${rootKmsKeyId ?? ''} usable?)` : ''}`,
    );
  }
  await ports.compute.attachVolume(volumeId, goal.instanceId, goal.device);
  return {
    waitingFor: `volume to attach to ${goal.instanceId}`,
    record: (draft) => void (draft.resources.volumeAttach = { instanceId: goal.instanceId, device: goal.device, sent: sent + 1 }),
  };
}

/**
 * A move phase's step. Its first delivery (`isFirstDelivery`: attempt 0, or the delivery at its
 * request slot when it only waited for that) sends the call without looking first: the
 * phase before it has just seen the volume where this move starts (on the stopped target for
 * detach-root, `available` for the attaches, on the helper after the rescue). The call refuses a
 * volume that is elsewhere (DetachVolume names the instance, AttachVolume takes only an `available`
 * volume) and the adapter tells a repeat from a refusal (ec2-compute.ts); what the call started
 * (`detaching`, `attaching`) is seen by the one look after the first-look delay
 * (`pollSeconds.first`). Every later delivery looks first (`moveVolume`).
 */
export async function moveStep(
  job: Job,
  phase: PhaseName,
  move: { attachTo: Placement } | { detachFrom: string },
  ports: PhasePorts,
): Promise<Arrived | MoveStep> {
  const first = isFirstDelivery(job.phases[phase]);
  if ('attachTo' in move) return first ? sendAttach(job, move.attachTo, ports) : moveVolume(job, move.attachTo, ports);
  if (!first) return moveVolume(job, undefined, ports);
  await ports.compute.detachVolume(job.target!.rootVolumeId, move.detachFrom);
  return { waitingFor: `volume to detach from ${move.detachFrom}` };
}

/** A move's result as a phase result. */
export function asPhaseResult(step: Arrived | MoveStep): PhaseResult {
  return isArrived(step) ? done() : wait(step.waitingFor, step.record);
}

/** EC2 reports `/dev/sdf` as attached at `/dev/sdf` but Windows names like `xvdf` as given. */
function sameDevice(a: string, b: string): boolean {
  const norm = (d: string) => d.replace(/^\/dev\//, '').replace(/^xvd/, 'sd');
  return norm(a) === norm(b);
}

export function helperPlacement(job: Job): Placement {
  return { instanceId: job.resources.helperInstanceId!, device: HELPER_DEVICE[helperPlatformOf(job)] };
}

/** The platform of the job's helper: the target's, unless the Windows fast path chose a Linux one. */
export function helperPlatformOf(job: Job): Platform {
  return job.resources.helperPlatform ?? job.target!.platform;
}

/**
 * Every helper the job holds the volume on, or may: its current one, and on the Windows fast path
 * the Linux helper it started with and the Windows helper it fell back to.
 */
export function jobHelperIds(job: Job): string[] {
  const fallback = job.resources.windowsFallback;
  const ids = [job.resources.helperInstanceId, fallback?.linuxHelperInstanceId, fallback?.helper?.instanceId];
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

export function targetPlacement(job: Job): Placement {
  return { instanceId: job.instanceId, device: job.target!.rootDeviceName };
}

/**
 * Sets the root's DeleteOnTermination back to the original. The volume's attachment to the target,
 * when the caller has just described it, carries the same flag as the instance's block device
 * mapping (EC2 API Reference, VolumeAttachment `deleteOnTermination`): then no DescribeInstances.
 */
export async function restoreDeleteOnTermination(job: Job, ports: PhasePorts, attachment?: VolumeAttachment): Promise<void> {
  const target = job.target!;
  const current =
    attachment && attachment.instanceId === job.instanceId
      ? attachment.deleteOnTermination
      : (await ports.compute.describeInstance(job.instanceId))?.blockDevices.find((d) => d.volumeId === target.rootVolumeId)?.deleteOnTermination;
  if (current !== undefined && current !== target.rootDeleteOnTermination) {
    await ports.compute.setDeleteOnTermination(job.instanceId, target.rootDeviceName, target.rootDeleteOnTermination);
  }
}
