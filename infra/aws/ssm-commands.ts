/**
 * Run Command as both command adapters use it (the rescue script on a helper, the online script on
 * a target): the instance's agent, sending a script, finding a command already sent by its comment
 * (SendCommand takes no idempotency token), and reading one invocation's status, summary and last
 * stderr line.
 */
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { PermanentError } from '../../domain/errors';
import type { Platform } from '../../domain/job';
import type { AgentStatus, CommandStatus, RescueResult, RescueSummary } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

/** SSM's own floor for SendCommand `TimeoutSeconds`. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

/** How much of stderr's last line a result carries. */
const DETAIL_MAX_CHARS = 300;
/** An instance runs one or two of our commands in its life; more pages means something else is wrong. */
const MAX_LIST_PAGES = 10;

const COMMAND_STATUSES: ReadonlySet<string> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Success', 'Failed', 'TimedOut', 'Cancelled', 'Cancelling']);

/** The agent's PingStatus (DescribeInstanceInformation); `absent` while the instance is not registered with SSM. */
export async function agentStatusOf(ssm: SSMClient, instanceId: string): Promise<AgentStatus> {
  let out;
  try {
    out = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
  } catch (error) {
    throw translateAwsError(error, `DescribeInstanceInformation ${instanceId}`);
  }
  const status = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus;
  return status === 'Online' || status === 'ConnectionLost' || status === 'Inactive' ? status : 'absent';
}

/** A script's command lines; a builder's refusal becomes a permanent `code` (the inputs will not get better). */
export function scriptLines(code: string, build: () => string[]): string[] {
  try {
    return build();
  } catch (error) {
    throw new PermanentError(code, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

export interface ScriptCommand {
  /** Linux runs `AWS-RunShellScript`, Windows `AWS-RunPowerShellScript`. */
  platform: Platform;
  instanceId: string;
  /** Names the job, so that `findCommandByComment` sees the command after a crash. */
  comment: string;
  commands: string[];
  /** SendCommand `TimeoutSeconds` (raised to SSM's floor). */
  deliveryTimeoutSeconds: number;
  /** The document's `executionTimeout`. */
  executionTimeoutSeconds: number;
}

/** Sends a script through Run Command to one instance; answers the command id. */
export async function sendScript(ssm: SSMClient, command: ScriptCommand): Promise<string> {
  const documentName = command.platform === 'windows' ? 'AWS-RunPowerShellScript' : 'AWS-RunShellScript';
  let out;
  try {
    out = await ssm.send(
      new SendCommandCommand({
        DocumentName: documentName,
        InstanceIds: [command.instanceId],
        Comment: command.comment,
        TimeoutSeconds: Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, command.deliveryTimeoutSeconds),
        Parameters: { commands: command.commands, executionTimeout: [String(command.executionTimeoutSeconds)] },
      }),
    );
  } catch (error) {
    throw translateAwsError(error, `SendCommand ${documentName} to ${command.instanceId}`);
  }
  const commandId = out.Command?.CommandId;
  if (!commandId) throw new PermanentError('SEND_COMMAND_EMPTY', `SendCommand to ${command.instanceId} answered no command id`);
  return commandId;
}

/**
 * Reads a summary with the Windows script's parser when the output is the Windows script's
 * (`"script":"windows-rescue"`), otherwise with the Linux one's; `undefined` when it cannot be read.
 */
export function summaryReader(parseLinux: (stdout: string) => object, parseWindows: (stdout: string) => object): (stdout: string | undefined) => RescueSummary | undefined {
  return (stdout) => {
    if (!stdout) return undefined;
    try {
      return { ...(/"script"\s*:\s*"windows-rescue"/.test(stdout) ? parseWindows(stdout) : parseLinux(stdout)) } as RescueSummary;
    } catch {
      return undefined;
    }
  };
}

/** The newest command sent to `instanceId` with this comment (ListCommands lists newest first). */
export async function findCommandByComment(ssm: SSMClient, instanceId: string, comment: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    let out;
    try {
      out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId, MaxResults: 50, NextToken: nextToken }));
    } catch (error) {
      throw translateAwsError(error, `ListCommands ${instanceId}`);
    }
    const match = out.Commands?.find((c) => c.Comment === comment && c.CommandId);
    if (match) return match.CommandId;
    nextToken = out.NextToken || undefined;
    if (!nextToken) return undefined;
  }
  return undefined;
}

/**
 * `undefined` while SSM does not know the invocation (`InvocationDoesNotExist` can follow a
 * SendCommand for a moment, REFERENCE.md). A summary that cannot be read (the script was killed,
 * or stdout passed the 24,000 characters GetCommandInvocation returns) is left out; the status
 * and the last stderr line still explain the failure.
 */
export async function readInvocation(
  ssm: SSMClient,
  commandId: string,
  instanceId: string,
  readSummary: (stdout: string | undefined) => RescueSummary | undefined,
): Promise<RescueResult | undefined> {
  let out;
  try {
    out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
  } catch (error) {
    if (isAwsError(error, 'InvocationDoesNotExist')) return undefined;
    throw translateAwsError(error, `GetCommandInvocation ${commandId} on ${instanceId}`);
  }
  // A status SSM may add later is read as still running: the phase deadline bounds the wait.
  const status = (out.Status && COMMAND_STATUSES.has(out.Status) ? out.Status : 'InProgress') as CommandStatus;
  const summary = readSummary(out.StandardOutputContent);
  const detail = lastLine(out.StandardErrorContent);
  return { status, ...(summary ? { summary } : {}), ...(detail ? { detail } : {}) };
}

function lastLine(stderr: string | undefined): string | undefined {
  const line = (stderr ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .pop();
  if (!line) return undefined;
  if (/PRIVATE KEY/.test(line)) return '[stderr line withheld: it looked like key material]';
  return line.length > DETAIL_MAX_CHARS ? `${line.slice(0, DETAIL_MAX_CHARS - 1)}…` : line;
}
