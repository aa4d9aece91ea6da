/**
 * The simulated region's instance lifecycle: EC2's state machine (pending, running, stopping,
 * stopped, shutting-down, terminated) and what moves an instance along it. StopInstances,
 * StartInstances, TerminateInstances and RebootInstances check and start a change; the timed
 * transitions (`completeInstanceState`, `completeBoot`, `purgeInstance`, applied by
 * `transitions.ts`) finish it: public IPs, instance store, mounts and the SSM agent follow the
 * state, and a Windows boot runs the launch agents on the root volume. Launching is in
 * `ec2-instances.ts`, the shapes EC2 answers in `ec2-instance-describe.ts`.
 */
import type {
  InstanceStateChange,
  RebootInstancesRequest,
  StartInstancesRequest,
  StartInstancesResult,
  StopInstancesRequest,
  StopInstancesResult,
  TerminateInstancesRequest,
  TerminateInstancesResult,
} from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';

import type { CallFaults, RegionContext } from './context';
import { releaseMounts, sameDevice, volumesAttachedTo } from './ec2-volumes';
import { instanceStateChangeEvent } from './events';
import { kmsKeyProblem } from './kms';
import { requireInstances } from './lookup';
import { fail } from './sim-error';
import { INSTANCE_STATE_CODES, type InstanceRecord, type InstanceStateName, type StateReasonRecord } from './state';
import { bootWindows } from './windows-rescue-model';

export const USER_SHUTDOWN: StateReasonRecord = {
  code: 'Client.UserInitiatedShutdown',
  message: 'Client.UserInitiatedShutdown: User initiated shutdown',
};
const USER_HIBERNATE: StateReasonRecord = {
  code: 'Client.UserInitiatedHibernate',
  message: 'Client.UserInitiatedHibernate: User initiated hibernate',
};
/** What EC2 reports when an encrypted volume's KMS key cannot be used at launch or start. */
export const CLIENT_LAUNCH_ERROR: StateReasonRecord = {
  code: 'Client.InternalError',
  message: 'Client.InternalError: Client error on launch',
};
export const SERVER_LAUNCH_ERROR: StateReasonRecord = {
  code: 'Server.InternalError',
  message: 'Server.InternalError: Internal error on launch',
};

export function gmt(time: number): string {
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}

/** Changes the state, invalidates transitions scheduled for the old one and emits the event. */
function setState(ctx: RegionContext, instance: InstanceRecord, to: InstanceStateName): void {
  instance.state = to;
  instance.stateEpoch += 1;
  const instanceId = instance.instanceId;
  ctx.emit((origin) => instanceStateChangeEvent(origin, instanceId, to));
}

export function scheduleState(ctx: RegionContext, instance: InstanceRecord, delayMs: number, to: InstanceStateName, reason?: StateReasonRecord): void {
  ctx.schedule(delayMs, { kind: 'instance-state', instanceId: instance.instanceId, epoch: instance.stateEpoch, to, reason });
}

function agentGoesOffline(instance: InstanceRecord): void {
  if (instance.agent.status !== 'absent') instance.agent.status = instance.agent.registeredAt ? 'offline' : 'absent';
}

function stateChange(instance: InstanceRecord, previous: InstanceStateName): InstanceStateChange {
  return {
    InstanceId: instance.instanceId,
    CurrentState: { Code: INSTANCE_STATE_CODES[instance.state], Name: instance.state },
    PreviousState: { Code: INSTANCE_STATE_CODES[previous], Name: previous },
  };
}

/** An encrypted attached volume whose key EBS cannot use blocks a start. */
export function startBlockedByKms(ctx: RegionContext, instance: InstanceRecord): boolean {
  return volumesAttachedTo(ctx, instance.instanceId).some((v) => kmsKeyProblem(ctx, v) !== undefined);
}

// ---- Stop / Start / Terminate / Reboot ----

export function stopInstances(ctx: RegionContext, input: StopInstancesRequest, faults: CallFaults): StopInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    const id = instance.instanceId;
    if (instance.disableApiStop) {
      fail('OperationNotPermitted', `The instance '${id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
    }
    if (instance.rootDeviceType !== 'ebs') {
      fail('UnsupportedOperation', `The instance '${id}' does not have an 'ebs' root device type and cannot be stopped.`);
    }
    if (instance.lifecycle === 'spot') {
      fail(
        'UnsupportedOperation',
        `You can't stop the Spot Instance '${id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.`,
      );
    }
    if (input.Hibernate && !instance.hibernationConfigured) {
      fail('UnsupportedHibernationConfiguration', `The instance '${id}' does not have hibernation configured.`);
    }
    if (instance.state === 'pending' || instance.state === 'shutting-down' || instance.state === 'terminated') {
      fail('IncorrectInstanceState', `This instance '${id}' is not in a state from which it can be stopped.`);
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous === 'running') {
      setState(ctx, instance, 'stopping');
      instance.stateTransitionReason = `User initiated (${gmt(ctx.now())})`;
      instance.stateReason = input.Hibernate ? USER_HIBERNATE : USER_SHUTDOWN;
      agentGoesOffline(instance);
      instance.stopStuck = !input.Force && (faults.asyncFailure !== undefined || ctx.ids.random() < ctx.timings.stuckStoppingChance);
      if (!instance.stopStuck) scheduleState(ctx, instance, input.Force ? ctx.timings.forceStopMs : ctx.timings.stopMs, 'stopped');
    } else if (previous === 'stopping' && (input.Force || (instance.stopStuck && faults.asyncFailure === undefined))) {
      // A second stop gets a stuck instance going again (unless a fault says it hangs on); a forced
      // one always ends it, and sooner.
      scheduleState(ctx, instance, input.Force ? ctx.timings.forceStopMs : ctx.timings.stopMs, 'stopped');
      instance.stopStuck = false;
    }
    return stateChange(instance, previous);
  });
  return { StoppingInstances: changes };
}

export function startInstances(ctx: RegionContext, input: StartInstancesRequest): StartInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    const id = instance.instanceId;
    if (instance.lifecycle === 'spot') {
      fail('UnsupportedOperation', `You can't start the Spot Instance '${id}' because it is associated with a one-time Spot Instance request.`);
    }
    if (instance.state === 'stopping' || instance.state === 'shutting-down' || instance.state === 'terminated') {
      fail('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be started.`);
    }
    if (instance.state !== 'stopped') continue;
    const attached = volumesAttachedTo(ctx, id);
    const root = attached.find((v) => sameDevice(v.attachment!.device, instance.rootDeviceName));
    if (!root) {
      fail('IncorrectInstanceState', `Invalid value '${id}' for instanceId. Instance does not have a volume attached at root (${instance.rootDeviceName})`);
    }
    if (attached.some((v) => v.attachment!.state !== 'attached')) {
      fail('IncorrectInstanceState', `The instance '${id}' has a volume that is still attaching or detaching.`);
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous === 'stopped') {
      setState(ctx, instance, 'pending');
      instance.stateReason = undefined;
      instance.stateTransitionReason = '';
      if (startBlockedByKms(ctx, instance)) scheduleState(ctx, instance, ctx.timings.startMs, 'stopped', CLIENT_LAUNCH_ERROR);
      else scheduleState(ctx, instance, ctx.timings.startMs, 'running');
    }
    return stateChange(instance, previous);
  });
  return { StartingInstances: changes };
}

export function terminateInstances(ctx: RegionContext, input: TerminateInstancesRequest): TerminateInstancesResult {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    if (instance.disableApiTermination && instance.state !== 'terminated') {
      fail(
        'OperationNotPermitted',
        `The instance '${instance.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
  }
  const changes = instances.map((instance) => {
    const previous = instance.state;
    if (previous !== 'terminated' && previous !== 'shutting-down') {
      setState(ctx, instance, 'shutting-down');
      instance.stateTransitionReason = `User initiated (${gmt(ctx.now())})`;
      instance.stateReason = USER_SHUTDOWN;
      agentGoesOffline(instance);
      scheduleState(ctx, instance, ctx.timings.terminateMs, 'terminated', USER_SHUTDOWN);
    }
    return stateChange(instance, previous);
  });
  return { TerminatingInstances: changes };
}

export function rebootInstances(ctx: RegionContext, input: RebootInstancesRequest): Record<string, never> {
  const instances = requireInstances(ctx, input.InstanceIds);
  for (const instance of instances) {
    if (instance.state !== 'running') {
      fail('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in the 'running' state.`);
    }
  }
  for (const instance of instances) {
    // The OS restarts: the agent drops off until it is back.
    agentGoesOffline(instance);
    instance.stateEpoch += 1;
    scheduleBootComplete(ctx, instance);
  }
  return {};
}

function scheduleBootComplete(ctx: RegionContext, instance: InstanceRecord): void {
  const delay =
    instance.platform === 'windows' ? (instance.bootedOnce ? ctx.timings.windowsBootMs : ctx.timings.windowsFirstBootMs) : ctx.timings.linuxAgentOnlineMs;
  if (instance.iamInstanceProfile && instance.ssmAgent && instance.agent.status === 'absent') instance.agent.status = 'booting';
  ctx.schedule(delay, { kind: 'boot-complete', instanceId: instance.instanceId, epoch: instance.stateEpoch });
}

/** Applies a timed instance state change (launch/start/stop/terminate finished). */
export function completeInstanceState(
  ctx: RegionContext,
  instanceId: string,
  epoch: number,
  to: InstanceStateName,
  reason: StateReasonRecord | undefined,
): void {
  const instance = ctx.state.instances[instanceId];
  if (!instance || instance.stateEpoch !== epoch) return;
  if (to === 'running') {
    setState(ctx, instance, 'running');
    instance.stateReason = undefined;
    if (instance.assignsPublicIp && !instance.publicIpAddress) instance.publicIpAddress = ctx.ids.publicIp();
    scheduleBootComplete(ctx, instance);
    return;
  }
  if (to === 'stopped') {
    setState(ctx, instance, 'stopped');
    if (reason) {
      instance.stateReason = reason;
      instance.stateTransitionReason = reason.message;
    }
    instance.stopStuck = false;
    // An auto-assigned public IPv4 is released on stop; instance-store data is lost.
    instance.publicIpAddress = undefined;
    agentGoesOffline(instance);
    for (const store of instance.instanceStore) store.files = {};
    // The OS shut down: nothing of it holds a mount any more.
    releaseMounts(ctx, instanceId);
    return;
  }
  if (to === 'terminated') {
    setState(ctx, instance, 'terminated');
    releaseMounts(ctx, instanceId);
    instance.stateReason = reason ?? instance.stateReason;
    instance.stateTransitionReason = instance.stateTransitionReason || (reason?.message ?? '');
    instance.publicIpAddress = undefined;
    instance.agent = { status: 'absent' };
    for (const volume of volumesAttachedTo(ctx, instanceId)) {
      if (volume.attachment?.deleteOnTermination) {
        delete ctx.state.volumes[volume.volumeId];
      } else {
        volume.attachment = undefined;
        volume.state = 'available';
      }
    }
    ctx.schedule(ctx.timings.terminatedRetentionMs, { kind: 'instance-purge', instanceId, epoch: instance.stateEpoch });
  }
}

/**
 * The OS finished booting: the SSM agent is online; on Windows the launch agents on the root volume
 * ran (`bootWindows`), and one that set a new random password made it available to GetPasswordData.
 */
export function completeBoot(ctx: RegionContext, instanceId: string, epoch: number): void {
  const instance = ctx.state.instances[instanceId];
  if (!instance || instance.stateEpoch !== epoch || instance.state !== 'running') return;
  if (instance.platform === 'windows') {
    const root = volumesAttachedTo(ctx, instanceId).find((v) => sameDevice(v.attachment!.device, instance.rootDeviceName));
    if (root) {
      const boot = bootWindows(root.files);
      // The agents write their state (`.run-once`, a disabled plugin or task) whether or not they made a password.
      root.files = boot.files;
      if (boot.passwordBy) {
        instance.passwordData = createHash('sha256').update(`${instanceId}/${ctx.now()}`).digest('base64').repeat(8);
        instance.passwordDataTime = ctx.now();
      }
    }
  }
  instance.bootedOnce = true;
  if (instance.iamInstanceProfile && instance.ssmAgent) {
    instance.agent.status = 'online';
    instance.agent.registeredAt ??= ctx.now();
    instance.agent.lastPingAt = ctx.now();
  }
}

export function purgeInstance(ctx: RegionContext, instanceId: string, epoch: number): void {
  const instance = ctx.state.instances[instanceId];
  if (instance && instance.stateEpoch === epoch && instance.state === 'terminated') delete ctx.state.instances[instanceId];
}
