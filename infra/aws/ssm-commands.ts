/**
 * Run Command as both command adapters use it (the rescue script on a helper, the online script on
 * a target): find a command already sent by its comment (SendCommand takes no idempotency token),
 * and read one invocation's status, summary and last stderr line.
 */
import { GetCommandInvocationCommand, ListCommandsCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { CommandStatus, RescueResult, RescueSummary } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

/** How much of stderr's last line a result carries. */
const DETAIL_MAX_CHARS = 300;
/** An instance runs one or two of our commands in its life; more pages means something else is wrong. */
const MAX_LIST_PAGES = 10;

const COMMAND_STATUSES: ReadonlySet<string> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Success', 'Failed', 'TimedOut', 'Cancelled', 'Cancelling']);

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
