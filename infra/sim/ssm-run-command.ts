/**
 * Run Command in the simulated region, and the managed instances it runs on: an instance's SSM
 * agent as DescribeInstanceInformation shows it (Online, ConnectionLost), SendCommand with SSM's
 * checks, each invocation's life (delivered once the agent is Online, run by the script runner
 * that matches its commands, timed out when the agent never comes or goes away mid-run), the
 * EventBridge status events, and GetCommandInvocation / ListCommands / ListCommandInvocations
 * with their output limits. A runner's model changes the region through `scriptHost`.
 * Parameter Store and the paging both use: `ssm-service.ts`.
 */
import type {
  Command,
  CommandInvocation,
  DescribeInstanceInformationRequest,
  DescribeInstanceInformationResult,
  GetCommandInvocationRequest,
  GetCommandInvocationResult,
  InstanceInformation,
  ListCommandInvocationsRequest,
  ListCommandInvocationsResult,
  ListCommandsRequest,
  ListCommandsResult,
  SendCommandRequest,
  SendCommandResult,
} from '@aws-sdk/client-ssm';

import type { CallFaults, RegionContext } from './context';
import { releaseMounts, volumesAttachedTo } from './ec2-volumes';
import { commandInvocationStatusEvent, commandStatusEvent } from './events';
import type { ScriptHost } from './script-runners';
import { fail } from './sim-error';
import { page, storeParameter, validation } from './ssm-service';
import type { CommandRecord, InstanceRecord, InvocationRecord, InvocationStatus } from './state';

/** The Run Command documents the simulator knows and the platform each runs on. */
const DOCUMENTS: Record<string, 'linux' | 'windows'> = {
  'AWS-RunShellScript': 'linux',
  'AWS-RunPowerShellScript': 'windows',
};

const PLUGIN_NAMES: Record<string, string> = {
  'AWS-RunShellScript': 'aws:runShellScript',
  'AWS-RunPowerShellScript': 'aws:runPowerShellScript',
};

/** GetCommandInvocation returns at most this much of each output stream (SSM API reference). */
const OUTPUT_LIMIT = 24000;
/** ListCommandInvocations' plugin `Output` is cut at 2,500 characters (SSM API reference). */
const PLUGIN_OUTPUT_LIMIT = 2500;

/** Marks an invocation that a fault rule made fail (`asyncFailure` on SendCommand). */
const FAULT_RUNNER = 'fault-injection';

const FINISHED: InvocationStatus[] = ['Success', 'Failed', 'TimedOut', 'Cancelled'];

// ---- managed instances ----

function pingStatus(instance: InstanceRecord): 'Online' | 'ConnectionLost' | undefined {
  if (instance.agent.status === 'online') return 'Online';
  return instance.agent.registeredAt !== undefined && instance.state !== 'terminated' ? 'ConnectionLost' : undefined;
}

function platformOf(ctx: RegionContext, instance: InstanceRecord): Pick<InstanceInformation, 'PlatformType' | 'PlatformName' | 'PlatformVersion'> {
  if (instance.platform === 'windows') {
    return { PlatformType: 'Windows', PlatformName: 'Microsoft Windows Server 2022 Datacenter', PlatformVersion: '10.0.20348' };
  }
  const imageName = ctx.state.images[instance.imageId]?.name.toLowerCase() ?? '';
  if (imageName.includes('ubuntu')) return { PlatformType: 'Linux', PlatformName: 'Ubuntu', PlatformVersion: '22.04' };
  return { PlatformType: 'Linux', PlatformName: 'Amazon Linux', PlatformVersion: '2023' };
}

function instanceInformation(ctx: RegionContext, instance: InstanceRecord): InstanceInformation {
  return {
    InstanceId: instance.instanceId,
    PingStatus: pingStatus(instance),
    LastPingDateTime:
      instance.agent.lastPingAt !== undefined ? new Date(instance.agent.status === 'online' ? ctx.now() : instance.agent.lastPingAt) : undefined,
    AgentVersion: '3.3.1142.0',
    IsLatestVersion: true,
    ...platformOf(ctx, instance),
    ResourceType: 'EC2Instance',
    IPAddress: instance.privateIpAddress,
    ComputerName: `ip-${instance.privateIpAddress.replace(/\./g, '-')}.ec2.internal`,
    RegistrationDate: instance.agent.registeredAt !== undefined ? new Date(instance.agent.registeredAt) : undefined,
    SourceId: instance.instanceId,
    SourceType: 'AWS::EC2::Instance',
  };
}

export function describeInstanceInformation(ctx: RegionContext, input: DescribeInstanceInformationRequest): DescribeInstanceInformationResult {
  let instances = Object.values(ctx.state.instances).filter((i) => pingStatus(i) !== undefined);
  const conditions: Array<{ key: string; values: string[] }> = [
    ...(input.InstanceInformationFilterList ?? []).map((f) => ({ key: f.key ?? '', values: f.valueSet ?? [] })),
    ...(input.Filters ?? []).map((f) => ({ key: f.Key ?? '', values: f.Values ?? [] })),
  ];
  for (const { key, values } of conditions) {
    const read: (i: InstanceRecord) => string | undefined =
      key === 'InstanceIds'
        ? (i) => i.instanceId
        : key === 'PingStatus'
          ? (i) => pingStatus(i)
          : key === 'PlatformTypes'
            ? (i) => (i.platform === 'windows' ? 'Windows' : 'Linux')
            : key === 'ResourceType'
              ? () => 'EC2Instance'
              : key.startsWith('tag:')
                ? (i) => i.tags[key.slice(4)]
                : () => fail('InvalidInstanceInformationFilterValue', `The filter key ${key} is not valid.`);
    instances = instances.filter((i) => values.includes(read(i) ?? ''));
  }
  const { items, next } = page(instances, input.MaxResults, input.NextToken, 50);
  return { InstanceInformationList: items.map((i) => instanceInformation(ctx, i)), NextToken: next };
}

// ---- Run Command ----

function aggregateStatus(command: CommandRecord): { status: string; details: string } {
  const statuses = Object.values(command.invocations).map((i) => i.status);
  if (statuses.some((s) => s === 'InProgress')) return { status: 'InProgress', details: 'InProgress' };
  if (statuses.some((s) => !FINISHED.includes(s))) return { status: 'Pending', details: 'Pending' };
  if (statuses.every((s) => s === 'Success')) return { status: 'Success', details: 'Success' };
  if (statuses.some((s) => s === 'TimedOut')) return { status: 'TimedOut', details: 'Incomplete' };
  if (statuses.some((s) => s === 'Cancelled')) return { status: 'Cancelled', details: 'Cancelled' };
  return { status: 'Failed', details: 'Failed' };
}

function commandShape(command: CommandRecord): Command {
  const invocations = Object.values(command.invocations);
  const { status, details } = aggregateStatus(command);
  return {
    CommandId: command.commandId,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    Comment: command.comment,
    ExpiresAfter: new Date(command.requestedAt + command.timeoutSeconds * 1000),
    Parameters: command.parameters,
    InstanceIds: command.instanceIds,
    Targets: [],
    RequestedDateTime: new Date(command.requestedAt),
    Status: status as Command['Status'],
    StatusDetails: details,
    MaxConcurrency: '50',
    MaxErrors: '0',
    TargetCount: invocations.length,
    CompletedCount: invocations.filter((i) => FINISHED.includes(i.status)).length,
    ErrorCount: invocations.filter((i) => i.status === 'Failed' || i.statusDetails === 'ExecutionTimedOut').length,
    DeliveryTimedOutCount: invocations.filter((i) => i.statusDetails === 'DeliveryTimedOut').length,
    TimeoutSeconds: command.timeoutSeconds,
    CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
  };
}

function emitInvocationChange(ctx: RegionContext, command: CommandRecord, invocation: InvocationRecord): void {
  const detail = {
    commandId: command.commandId,
    documentName: command.documentName,
    instanceId: invocation.instanceId,
    requestedAt: command.requestedAt,
    status: invocation.status,
  };
  ctx.emit((origin) => commandInvocationStatusEvent(origin, detail));
  const { status } = aggregateStatus(command);
  if (status !== command.announcedStatus) {
    command.announcedStatus = status;
    const commandDetail = {
      commandId: command.commandId,
      documentName: command.documentName,
      instanceIds: command.instanceIds,
      requestedAt: command.requestedAt,
      expiresAt: command.requestedAt + command.timeoutSeconds * 1000,
      parameters: command.parameters,
      status,
    };
    ctx.emit((origin) => commandStatusEvent(origin, commandDetail));
  }
}

export function sendCommand(ctx: RegionContext, input: SendCommandRequest, faults: CallFaults): SendCommandResult {
  const documentName = input.DocumentName ?? validation('DocumentName is required.');
  const platform = DOCUMENTS[documentName] ?? fail('InvalidDocument', `Document with name ${documentName} does not exist.`);
  if (input.Targets?.length) fail('InvalidParameters', 'The simulated region supports InstanceIds only, not Targets.');
  const instanceIds = input.InstanceIds ?? [];
  if (!instanceIds.length) validation('InstanceIds or Targets must be specified.');
  const commands = input.Parameters?.commands;
  if (!commands?.length) fail('InvalidParameters', 'Parameter "commands" is required.');
  const invalid = instanceIds.filter((id) => {
    const instance = ctx.state.instances[id];
    return !instance || instance.state === 'terminated' || instance.agent.registeredAt === undefined;
  });
  if (invalid.length) {
    fail('InvalidInstanceId', `Instances [[${invalid.join(', ')}]] not in a valid state for account ${ctx.config.accountId}`);
  }
  if (instanceIds.some((id) => ctx.state.instances[id].platform !== platform)) {
    fail('UnsupportedPlatformType', `The document ${documentName} does not support the platform type of the given managed node IDs.`);
  }
  const now = ctx.now();
  const command: CommandRecord = {
    commandId: ctx.ids.uuid(),
    documentName,
    comment: input.Comment,
    parameters: { ...input.Parameters, commands },
    instanceIds: [...new Set(instanceIds)],
    requestedAt: now,
    timeoutSeconds: input.TimeoutSeconds ?? 3600,
    invocations: {},
  };
  for (const instanceId of command.instanceIds) {
    command.invocations[instanceId] = {
      instanceId,
      status: 'Pending',
      statusDetails: 'Pending',
      visibleAt: now + ctx.timings.commandVisibleMs,
      stdout: '',
      stderr: faults.asyncFailure ? `${faults.asyncFailure.message ?? 'simulated failure (fault injection)'}\n` : '',
      responseCode: -1,
      runner: faults.asyncFailure ? FAULT_RUNNER : undefined,
    };
    ctx.schedule(ctx.timings.commandStartMs, { kind: 'command-start', commandId: command.commandId, instanceId });
  }
  ctx.state.commands[command.commandId] = command;
  command.announcedStatus = 'Pending';
  return { Command: commandShape(command) };
}

function scriptHost(ctx: RegionContext): ScriptHost {
  return {
    now: () => ctx.now(),
    findAttachedVolume(instanceId, volumeId) {
      const volume = volumesAttachedTo(ctx, instanceId).find((v) => v.volumeId === volumeId && v.attachment?.state === 'attached');
      if (!volume) return undefined;
      return {
        volumeId: volume.volumeId,
        filesystem: volume.filesystem,
        files: structuredClone(volume.files),
        ...(volume.ntfs ? { ntfs: structuredClone(volume.ntfs) } : {}),
      };
    },
    findRootVolume(instanceId) {
      const instance = ctx.state.instances[instanceId];
      if (!instance) return undefined;
      const bare = (device: string) => device.replace(/^\/dev\//, '');
      const volume = volumesAttachedTo(ctx, instanceId).find(
        (v) => v.attachment?.state === 'attached' && bare(v.attachment.device) === bare(instance.rootDeviceName),
      );
      return volume ? { volumeId: volume.volumeId, filesystem: volume.filesystem, files: structuredClone(volume.files) } : undefined;
    },
    writeVolumeFiles(volumeId, files) {
      const volume = ctx.state.volumes[volumeId] ?? fail('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
      volume.files = structuredClone(files);
    },
    putSecureStringParameter(name, value, kmsKeyId) {
      storeParameter(ctx, { Name: name, Value: value, Type: 'SecureString', Overwrite: true, KeyId: kmsKeyId });
    },
    mount(instanceId, volumeId, change) {
      const volume = ctx.state.volumes[volumeId];
      if (!volume) return false;
      if (change === 'mounted') volume.mountedBy = instanceId;
      if (change === 'unmounted' && volume.mountedBy === instanceId) releaseMounts(ctx, instanceId, volumeId);
      return volume.mountedBy === instanceId;
    },
  };
}

/** The invocation is delivered to the agent and starts running, or waits for an agent that is not online. */
export function startInvocation(ctx: RegionContext, commandId: string, instanceId: string): void {
  const command = ctx.state.commands[commandId];
  const invocation = command?.invocations[instanceId];
  if (!command || !invocation || invocation.status !== 'Pending') return;
  if (ctx.state.instances[instanceId]?.agent.status !== 'online') {
    const deadline = command.requestedAt + command.timeoutSeconds * 1000;
    ctx.schedule(Math.max(0, deadline - ctx.now()), { kind: 'command-timeout', commandId, instanceId });
    return;
  }
  const commands = command.parameters.commands ?? [];
  const runner = invocation.runner === FAULT_RUNNER ? undefined : ctx.scriptRunners.find(command.documentName, commands);
  invocation.runner = invocation.runner ?? runner?.name;
  invocation.status = 'InProgress';
  invocation.statusDetails = 'InProgress';
  invocation.startedAt = ctx.now();
  emitInvocationChange(ctx, command, invocation);
  const duration = runner ? runner.durationMs(ctx.timings) : ctx.timings.defaultScriptMs;
  ctx.schedule(duration, { kind: 'command-finish', commandId, instanceId });
}

/** The script ends: the matching runner's model is applied to the region now. */
export function finishInvocation(ctx: RegionContext, commandId: string, instanceId: string): void {
  const command = ctx.state.commands[commandId];
  const invocation = command?.invocations[instanceId];
  if (!command || !invocation || invocation.status !== 'InProgress') return;
  invocation.endedAt = ctx.now();
  if (ctx.state.instances[instanceId]?.agent.status !== 'online') {
    // The agent went away mid-run (stop, reboot): SSM gives up on the invocation.
    Object.assign(invocation, { status: 'TimedOut', statusDetails: 'ExecutionTimedOut', responseCode: -1 });
  } else if (invocation.runner === FAULT_RUNNER) {
    Object.assign(invocation, { status: 'Failed', statusDetails: 'Failed', responseCode: 1 });
  } else {
    const runner = invocation.runner ? ctx.scriptRunners.byName(invocation.runner) : undefined;
    const outcome = runner
      ? runner.run({
          commandId,
          instanceId,
          documentName: command.documentName,
          commands: command.parameters.commands ?? [],
          host: scriptHost(ctx),
        })
      : { status: 'Success' as const, stdout: '', stderr: '', responseCode: 0 };
    Object.assign(invocation, {
      status: outcome.status,
      statusDetails: outcome.status,
      responseCode: outcome.responseCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
    });
  }
  emitInvocationChange(ctx, command, invocation);
}

/** A command never delivered (agent offline) within its timeout. */
export function timeOutInvocation(ctx: RegionContext, commandId: string, instanceId: string): void {
  const command = ctx.state.commands[commandId];
  const invocation = command?.invocations[instanceId];
  if (!command || !invocation || invocation.status !== 'Pending') return;
  Object.assign(invocation, { status: 'TimedOut', statusDetails: 'DeliveryTimedOut', endedAt: ctx.now() });
  emitInvocationChange(ctx, command, invocation);
}

function elapsed(invocation: InvocationRecord): string {
  if (invocation.startedAt === undefined || invocation.endedAt === undefined) return '';
  return `PT${((invocation.endedAt - invocation.startedAt) / 1000).toFixed(3)}S`;
}

function visibleInvocation(
  ctx: RegionContext,
  commandId: string | undefined,
  instanceId: string | undefined,
): { command: CommandRecord; invocation: InvocationRecord } {
  const command = ctx.state.commands[commandId ?? ''];
  const invocation = command?.invocations[instanceId ?? ''];
  if (!command || !invocation || ctx.now() < invocation.visibleAt) {
    fail('InvocationDoesNotExist', '');
  }
  return { command, invocation };
}

export function getCommandInvocation(ctx: RegionContext, input: GetCommandInvocationRequest): GetCommandInvocationResult {
  const { command, invocation } = visibleInvocation(ctx, input.CommandId, input.InstanceId);
  const plugin = PLUGIN_NAMES[command.documentName];
  if (input.PluginName && input.PluginName !== plugin) fail('InvalidPluginName', `The plugin name ${input.PluginName} is not valid.`);
  return {
    CommandId: command.commandId,
    InstanceId: invocation.instanceId,
    Comment: command.comment,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    PluginName: plugin,
    ResponseCode: invocation.responseCode,
    ExecutionStartDateTime: invocation.startedAt !== undefined ? new Date(invocation.startedAt).toISOString() : '',
    ExecutionElapsedTime: elapsed(invocation),
    ExecutionEndDateTime: invocation.endedAt !== undefined ? new Date(invocation.endedAt).toISOString() : '',
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    StandardOutputContent: invocation.stdout.slice(0, OUTPUT_LIMIT),
    StandardOutputUrl: '',
    StandardErrorContent: invocation.stderr.slice(0, OUTPUT_LIMIT),
    StandardErrorUrl: '',
    CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
  };
}

export function listCommands(ctx: RegionContext, input: ListCommandsRequest): ListCommandsResult {
  let commands = Object.values(ctx.state.commands);
  if (input.CommandId) {
    if (!ctx.state.commands[input.CommandId]) fail('InvalidCommandId', '');
    commands = commands.filter((c) => c.commandId === input.CommandId);
  }
  if (input.InstanceId) commands = commands.filter((c) => c.instanceIds.includes(input.InstanceId ?? ''));
  for (const filter of input.Filters ?? []) {
    if (filter.key === 'Status') commands = commands.filter((c) => aggregateStatus(c).status === filter.value);
    else if (filter.key === 'DocumentName') commands = commands.filter((c) => c.documentName === filter.value);
  }
  commands.sort((a, b) => b.requestedAt - a.requestedAt);
  const { items, next } = page(commands, input.MaxResults, input.NextToken, 50);
  return { Commands: items.map(commandShape), NextToken: next };
}

export function listCommandInvocations(ctx: RegionContext, input: ListCommandInvocationsRequest): ListCommandInvocationsResult {
  if (input.CommandId && !ctx.state.commands[input.CommandId]) fail('InvalidCommandId', '');
  const now = ctx.now();
  const rows: CommandInvocation[] = [];
  const commands = Object.values(ctx.state.commands)
    .filter((c) => !input.CommandId || c.commandId === input.CommandId)
    .sort((a, b) => b.requestedAt - a.requestedAt);
  for (const command of commands) {
    for (const invocation of Object.values(command.invocations)) {
      if (now < invocation.visibleAt || (input.InstanceId && invocation.instanceId !== input.InstanceId)) continue;
      const finished = FINISHED.includes(invocation.status);
      rows.push({
        CommandId: command.commandId,
        InstanceId: invocation.instanceId,
        InstanceName: '',
        Comment: command.comment,
        DocumentName: command.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: new Date(command.requestedAt),
        Status: invocation.status,
        StatusDetails: invocation.statusDetails,
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        CommandPlugins: input.Details
          ? [
              {
                Name: PLUGIN_NAMES[command.documentName],
                Status: invocation.status,
                StatusDetails: invocation.statusDetails,
                ResponseCode: invocation.responseCode,
                ResponseStartDateTime: invocation.startedAt !== undefined ? new Date(invocation.startedAt) : undefined,
                ResponseFinishDateTime: finished && invocation.endedAt !== undefined ? new Date(invocation.endedAt) : undefined,
                Output: (invocation.stdout + invocation.stderr).slice(0, PLUGIN_OUTPUT_LIMIT),
                StandardOutputUrl: '',
                StandardErrorUrl: '',
              },
            ]
          : [],
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: false },
      });
    }
  }
  const { items, next } = page(rows, input.MaxResults, input.NextToken, 50);
  return { CommandInvocations: items, NextToken: next };
}
