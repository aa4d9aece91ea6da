/**
 * The sweeper's pass over helpers: a helper (tagged by the service at launch) older than the grace
 * period whose job has ended or does not exist is terminated, but never while it holds a customer's
 * volume. That volume goes back to its target first: to the target the job recorded (the job's own
 * rollback gave up), or, with no job, to the instance the helper's tags name, at that instance's
 * root device, and only while that instance is stopped with nothing at its root. Otherwise the helper
 * is left as it is and reported.
 *
 * Tags are not evidence enough (whoever may call CreateTags could have any instance terminated): a
 * helper must also run with this deployment's helper instance profile, which only a launch with
 * `iam:PassRole` on the helper role gives, and must not be another helper than the one its job
 * recorded. The deployed role asks for the same profile (infra/deploy/grants.ts).
 *
 * The return converges like the phases' volume moves: each step looks at where the volume is and
 * takes the next one, so a run that ends half-way (a slow detach) is taken up by the next. The
 * helper keeps the volume's id in its launch tags, so nothing needs remembering between runs.
 */
import { isActive, type Job } from '../job/job';
import { mayStillBeMountedOn } from '../pipeline/phases/ntfs-release';
import { isOwnResource, TAG } from '../naming';
import type { InstanceFacts, ManagedHelper } from '../ports';
import { WaitBudget, type SweepReport } from './sweep-report';
import type { SweeperPorts } from './sweep-ports';

export async function sweepHelpers(report: SweepReport, budget: WaitBudget, ports: SweeperPorts): Promise<void> {
  const now = ports.clock.now().getTime();
  const helpers = await ports.reclaimer.listHelpers();
  report.helpersSeen(runningHelpers(helpers));
  for (const helper of helpers) {
    // Already going; and the listing's tags are checked again, whatever the adapter filtered on.
    if (helper.state === 'shutting-down' || !isOwnResource(helper.tags, 'helper', ports.config.deployment)) continue;
    if (!helper.launchTime || now - Date.parse(helper.launchTime) < ports.config.sweeper.graceSeconds * 1000) continue;
    const jobId = helper.tags[TAG.jobId];
    const job = jobId ? await ports.store.get(jobId) : undefined;
    // A running job (or its rollback) owns its helper; one past its deadline is rolled back by sweepJobs.
    if (job && isActive(job)) continue;
    // An NTFS volume nothing showed unmounted stays where it is (domain/pipeline/phases/ntfs-release.ts).
    if (job && mayStillBeMountedOn(job) === helper.instanceId) {
      report.found();
      report.record(
        'helper',
        helper.instanceId,
        'held',
        `holds ${job.target?.rootVolumeId ?? 'the root volume'} of job ${job.jobId}, which may still be mounted: left for an operator`,
      );
      continue;
    }
    report.found();
    const forged = notLaunchedAsHelper(helper, job, ports.config.helperInstanceProfile);
    if (forged) {
      report.record('helper', helper.instanceId, 'held', `carries this deployment's helper tags, but ${forged}: left alone`);
      ports.log.warn('sweeper: an instance tagged as a helper is not one', { instanceId: helper.instanceId, why: forged });
      continue;
    }
    try {
      await reclaimHelper(helper, job, report, budget, ports);
    } catch (error) {
      report.record('helper', helper.instanceId, 'deferred', `error: ${(error as Error).message}`);
      ports.log.warn('sweeper: helper not reclaimed', { instanceId: helper.instanceId, error: (error as Error).message });
    }
  }
}

/** Why `helper` is not one this deployment launched (undefined: it is). */
function notLaunchedAsHelper(helper: ManagedHelper, job: Job | undefined, helperInstanceProfile: string): string | undefined {
  // `arn:aws:iam::<account>:instance-profile/<path/>name`: the name is what the launch passed.
  const profile = helper.instanceProfileArn?.slice(helper.instanceProfileArn.lastIndexOf('/') + 1);
  if (profile !== helperInstanceProfile) return `runs with ${profile ? `instance profile ${profile}` : 'no instance profile'}, not ${helperInstanceProfile}`;
  const recorded = job?.resources.helperInstanceId;
  if (recorded && recorded !== helper.instanceId) return `its job ${job!.jobId} recorded helper ${recorded}`;
  return undefined;
}

/** How many of the listed instances are the service's helpers that EC2 runs now (pending or running). */
export function runningHelpers(helpers: readonly ManagedHelper[]): number {
  return helpers.filter((h) => (h.state === 'pending' || h.state === 'running') && h.tags[TAG.managed] === 'true' && h.tags[TAG.role] === 'helper').length;
}

/** Where a customer's volume on a helper belongs, and what to restore when it is back. */
interface Destination {
  volumeId: string;
  targetInstanceId: string;
  /** The device the job recorded; without a job, the target's root device (read each time). */
  device?: string;
  deleteOnTermination?: boolean;
  state?: 'running' | 'stopped';
}

/**
 * `back`: at its target's root device (`moved`: by this sweeper, so the run state and
 * DeleteOnTermination are to be restored); `not-ours`: the helper does not hold it and it is not on
 * its way back; `would`: the dry run's answer instead of the first change.
 */
type Step =
  | { kind: 'back'; moved: boolean }
  | { kind: 'not-ours' }
  | { kind: 'wait'; what: string }
  | { kind: 'held'; reason: string }
  | { kind: 'would'; what: string };

async function reclaimHelper(helper: ManagedHelper, job: Job | undefined, report: SweepReport, budget: WaitBudget, ports: SweeperPorts): Promise<void> {
  const id = helper.instanceId;
  const foreign = helper.volumes.filter((v) => !v.own && v.state !== 'detached' && !sameDevice(v.device, helper.rootDeviceName ?? ''));
  const destination = destinationOf(helper, job);
  if (foreign.length > 0 && !destination) {
    report.record('helper', id, 'held', `holds ${foreign.map((v) => v.volumeId).join(', ')} but names no target to return it to: left attached`);
    return;
  }
  const strangers = foreign.filter((v) => v.volumeId !== destination?.volumeId);
  if (strangers.length > 0) {
    report.record(
      'helper',
      id,
      'held',
      `holds ${strangers.map((v) => `${v.volumeId} at ${v.device}`).join(', ')}, which is not its target's root volume: left attached`,
    );
    return;
  }

  // Whether this sweeper has the volume on its way back (seen detached or moving in this run).
  let moving = false;
  if (destination) {
    for (;;) {
      const step = await returnStep(helper, destination, moving, report.dryRun, ports);
      if (step.kind === 'wait') {
        moving = true;
        if (await budget.wait()) continue;
        report.record('helper', id, 'deferred', step.what);
        return;
      }
      if (step.kind === 'held') {
        report.record('helper', id, 'held', step.reason);
        return;
      }
      if (step.kind === 'would') report.record('volume', destination.volumeId, 'volume-returned', `would ${step.what}`);
      if (step.kind === 'back' && step.moved) {
        await restoreTarget(destination, ports);
        report.record('volume', destination.volumeId, 'volume-returned', `back on ${destination.targetInstanceId} at its root device, from helper ${id}`);
      }
      break;
    }
  }
  await terminate(helper, report, ports);
}

function destinationOf(helper: ManagedHelper, job: Job | undefined): Destination | undefined {
  if (job?.target) {
    return {
      volumeId: job.target.rootVolumeId,
      targetInstanceId: job.instanceId,
      device: job.target.rootDeviceName,
      deleteOnTermination: job.target.rootDeleteOnTermination,
      state: job.target.state,
    };
  }
  const volumeId = helper.tags[TAG.targetRootVolumeId];
  const targetInstanceId = helper.tags[TAG.targetInstanceId];
  if (!volumeId || !targetInstanceId) return undefined;
  const state = helper.tags[TAG.targetState];
  const deleteOnTermination = helper.tags[TAG.targetRootDeleteOnTermination];
  return {
    volumeId,
    targetInstanceId,
    ...(state === 'running' || state === 'stopped' ? { state } : {}),
    ...(deleteOnTermination === 'true' || deleteOnTermination === 'false' ? { deleteOnTermination: deleteOnTermination === 'true' } : {}),
  };
}

/** One step of the volume's way back, from where it is now. */
async function returnStep(helper: ManagedHelper, to: Destination, moving: boolean, dryRun: boolean, ports: SweeperPorts): Promise<Step> {
  const volume = await ports.compute.describeVolume(to.volumeId);
  if (!volume) return { kind: 'not-ours' };
  const attachment = volume.attachments.find((a) => a.state !== 'detached');
  const target = await ports.compute.describeInstance(to.targetInstanceId);
  const device = to.device ?? target?.rootDeviceName;
  const refusal = notReady(target, device);
  const plan = `detach ${to.volumeId} from ${helper.instanceId}, attach it to ${to.targetInstanceId} at ${device}, then terminate the helper`;

  if (attachment?.instanceId === helper.instanceId) {
    if (attachment.state !== 'attached') return { kind: 'wait', what: `volume ${to.volumeId} is ${attachment.state} on the helper` };
    if (refusal) return { kind: 'held', reason: `holds ${to.volumeId} of ${to.targetInstanceId}, left attached: ${refusal}` };
    if (dryRun) return { kind: 'would', what: plan };
    await ports.compute.detachVolume(to.volumeId, helper.instanceId);
    return { kind: 'wait', what: `volume ${to.volumeId} detaching from the helper` };
  }
  if (attachment) {
    const home = attachment.instanceId === to.targetInstanceId && device !== undefined && sameDevice(attachment.device, device);
    // Anywhere but the target's root: someone else moved it; the helper no longer holds it.
    if (!home) return { kind: 'not-ours' };
    if (attachment.state === 'attached') return { kind: 'back', moved: moving };
    return { kind: 'wait', what: `volume ${to.volumeId} ${attachment.state} on ${to.targetInstanceId}` };
  }
  // Detached, with the helper still alive: an earlier run (or this one) took it off and did not
  // finish, or the job's rollback gave up half-way. Only a target ready for it takes it back.
  if (refusal) {
    return moving ? { kind: 'held', reason: `${to.volumeId} is detached and cannot go back to ${to.targetInstanceId}: ${refusal}` } : { kind: 'not-ours' };
  }
  if (volume.state !== 'available') return { kind: 'wait', what: `volume ${to.volumeId} is ${volume.state}` };
  if (dryRun) return { kind: 'would', what: `attach ${to.volumeId} to ${to.targetInstanceId} at ${device}, then terminate the helper` };
  await ports.compute.attachVolume(to.volumeId, to.targetInstanceId, device!);
  return { kind: 'wait', what: `volume ${to.volumeId} attaching to ${to.targetInstanceId} at ${device}` };
}

/** Only a stopped target with nothing at its root device takes its root back. */
function notReady(target: InstanceFacts | undefined, device: string | undefined): string | undefined {
  if (!target) return 'the target does not exist';
  if (!device) return 'the target has no root device name';
  if (target.state !== 'stopped') return `the target is ${target.state}`;
  const atRoot = target.blockDevices.find((d) => sameDevice(d.deviceName, device));
  if (atRoot) return `the target has ${atRoot.volumeId} at ${device}`;
  return undefined;
}

/** What the job had restored on its way back: DeleteOnTermination, then the run state. */
async function restoreTarget(to: Destination, ports: SweeperPorts): Promise<void> {
  const target = await ports.compute.describeInstance(to.targetInstanceId);
  if (!target) return;
  const mapping = target.blockDevices.find((d) => d.volumeId === to.volumeId);
  if (mapping && to.deleteOnTermination !== undefined && mapping.deleteOnTermination !== to.deleteOnTermination) {
    await ports.compute.setDeleteOnTermination(to.targetInstanceId, mapping.deviceName, to.deleteOnTermination);
  }
  if (to.state === 'running' && target.state === 'stopped') await ports.compute.startInstance(to.targetInstanceId);
}

async function terminate(helper: ManagedHelper, report: SweepReport, ports: SweeperPorts): Promise<void> {
  if (report.dryRun) {
    report.record('helper', helper.instanceId, 'terminated', 'would terminate');
    return;
  }
  if (await ports.reclaimer.terminateHelper(helper.instanceId)) report.record('helper', helper.instanceId, 'terminated');
}

/** EC2 reports `/dev/sdf` as attached at `/dev/sdf` but Windows names like `xvdf` as given. */
function sameDevice(a: string, b: string): boolean {
  const norm = (d: string) => d.replace(/^\/dev\//, '').replace(/^xvd/, 'sd');
  return norm(a) === norm(b);
}
