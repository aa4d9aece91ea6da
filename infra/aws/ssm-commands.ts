/**
 * Run Command as both command adapters use it (the rescue script on a helper, the online script on
 * a target): the instance's agent, sending a script, finding a command already sent by its comment
 * (SendCommand takes no idempotency token), and reading one invocation's status, summary and last
 * stderr line.
 */
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { PermanentError } from '../../domain/errors';
import type { Platform } from '../../domain/job/job';
import type { AgentStatus, CommandStatus, RescueResult, RescueSummary } from '../../domain/ports';
import { isAwsError, translateAwsError } from './errors';

/** SSM's own floor for SendCommand `TimeoutSeconds`. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

/** How much of stderr's last line a result carries. */
const DETAIL_MAX_CHARS = 300;
/** An instance runs one or two of our commands in its life; more pages means something else is wrong. */
const MAX_LIST_PAGES = 10;

const COMMAND_STATUSES: ReadonlySet<string> = new Set<CommandStatus>([
  'Pending',
  'InProgress',
  'Delayed',
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Cancelling',
]);
const FINISHED: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['Success', 'Failed', 'TimedOut', 'Cancelled']);

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
 * GetCommandInvocation's `StandardOutputContent` holds the first 24,000 characters of stdout
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html).
 */
export const STDOUT_CONTENT_LIMIT = 24_000;
/** How many places in one line are tried as the start of a summary glued to other output. */
const MAX_STARTS_PER_LINE = 20;

/** What a command's stdout says: the script's summary, or why none could be read (`code`: what kind of failure that is). */
export type SummaryReading = { summary: RescueSummary } | { code: 'SUMMARY_UNREADABLE' | 'OUTPUT_TRUNCATED'; problem: string };

/**
 * Reads a summary with the Windows script's parser when its line is the Windows script's
 * (`"script":"windows-rescue"`), with the parser `others` gives for its script when it names one of
 * those (`"script":"ntfs-rescue"`: the NTFS rescue on a Linux helper, whose failure summaries carry
 * `fallback`), otherwise with the Linux one's. The summary is the script's last
 * line, but other output may follow it or lead it on its line: the last line (or the last part of
 * one from `{"ok"`) that parses as a summary is the one, wherever it is in stdout. When none does,
 * the answer says why: the parser's reason, or that stdout was cut at the 24,000 characters SSM
 * keeps before the summary.
 */
export function summaryReader(
  parseLinux: (stdout: string) => object,
  parseWindows: (stdout: string) => object,
  others: Readonly<Record<string, (stdout: string) => object>> = {},
): (stdout: string | undefined) => SummaryReading {
  const parserOf = (text: string) => {
    const script = /"script"\s*:\s*"([a-z-]+)"/.exec(text)?.[1];
    if (script === 'windows-rescue') return parseWindows;
    return (script !== undefined && Object.hasOwn(others, script) ? others[script] : undefined) ?? parseLinux;
  };
  const parse = (text: string) => ({ ...parserOf(text)(text) }) as RescueSummary;
  return (stdout) => {
    if (!stdout || stdout.trim() === '') return { code: 'SUMMARY_UNREADABLE', problem: 'the script printed nothing to stdout' };
    let lastProblem: string | undefined;
    for (const candidate of summaryCandidates(stdout)) {
      try {
        return { summary: parse(candidate) };
      } catch (error) {
        lastProblem ??= messageOf(error);
      }
    }
    if (stdout.length >= STDOUT_CONTENT_LIMIT) {
      return {
        code: 'OUTPUT_TRUNCATED',
        problem: `the output was truncated: SSM keeps the first ${STDOUT_CONTENT_LIMIT} characters of stdout, and no summary line was among them`,
      };
    }
    if (lastProblem === undefined) {
      try {
        parse(stdout);
      } catch (error) {
        // The parser's own reason, e.g. "printed no JSON summary line (stdout: …)".
        lastProblem = messageOf(error);
      }
    }
    return { code: 'SUMMARY_UNREADABLE', problem: lastProblem ?? 'no summary line could be read' };
  };
}

/** Lines that may be a summary, from the last: the whole line, then each part of it from `{"ok"`. */
function* summaryCandidates(stdout: string): Generator<string> {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trim().replace(/^\uFEFF/, '');
    if (!line.endsWith('}')) continue;
    if (line.startsWith('{')) yield line;
    let at = line.indexOf('{"ok"', 1);
    for (let n = 0; at !== -1 && n < MAX_STARTS_PER_LINE; n++, at = line.indexOf('{"ok"', at + 1)) yield line.slice(at);
  }
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // The parsers quote stdout; no key material is meant to be there, and none is passed on if it were.
  return /PRIVATE KEY/.test(message) ? 'the summary could not be read (its text is withheld: it looked like key material)' : message;
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
 * SendCommand for a moment, docs/aws-facts.md#ssm-run-command). When no summary can be read, the reason is kept: a
 * command that ended `Success` without one is answered as the failure `SUMMARY_UNREADABLE` (or
 * `OUTPUT_TRUNCATED`) with it, since only the summary says the script did its work; a command that
 * failed keeps its status and the last stderr line, or the reason when stderr has none.
 */
export async function readInvocation(
  ssm: SSMClient,
  commandId: string,
  instanceId: string,
  readSummary: (stdout: string | undefined) => SummaryReading,
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
  const stderrLine = lastLine(out.StandardErrorContent);
  // Stdout is empty until the command has finished (GetCommandInvocation, StandardOutputContent).
  if (!FINISHED.has(status)) return { status, ...(stderrLine ? { detail: stderrLine } : {}) };
  const reading = readSummary(out.StandardOutputContent);
  if ('summary' in reading) return { status, summary: reading.summary, ...(stderrLine ? { detail: stderrLine } : {}) };
  if (status === 'Success') {
    const message = `the command ended Success, but ${reading.problem}${stderrLine ? ` (last stderr line: ${stderrLine})` : ''}`;
    return { status, summary: { ok: false, error: reading.code, message }, ...(stderrLine ? { detail: stderrLine } : {}) };
  }
  const detail = stderrLine ?? reading.problem;
  return { status, detail };
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
