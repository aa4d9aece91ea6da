/**
 * `TargetCommands` over SSM Run Command on the target itself (the online reset): whether its agent
 * is Online, sending the rescue script in online mode (Linux: with the public half of the new key;
 * Windows: the PowerShell script turning password generation on for the next boot), finding that
 * command again after a crash, and reading its one-line summary. No private key passes here.
 */
import { DescribeInstanceInformationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { PermanentError } from '../../domain/errors';
import { onlineCommandComment, type OnlineCommandParams, type TargetCommands } from '../../domain/online-ports';
import type { AgentStatus, RescueResult, RescueSummary } from '../../domain/ports';
import { buildLinuxOnlineCommands, parseOnlineSummary } from '../scripts/linux-rescue';
import { buildWindowsOnlineCommands, parseWindowsRescueSummary } from '../scripts/windows-rescue';
import { translateAwsError } from './errors';
import { findCommandByComment, readInvocation } from './ssm-commands';

/** SSM's own floor for SendCommand `TimeoutSeconds`. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

export type SsmTargetCommandsSettings = Pick<ServiceConfig, 'online'>;

export class SsmTargetCommands implements TargetCommands {
  constructor(
    private readonly ssm: SSMClient,
    private readonly settings: SsmTargetCommandsSettings,
  ) {}

  async agentStatus(instanceId: string): Promise<AgentStatus> {
    const out = await this.call(`DescribeInstanceInformation ${instanceId}`, () =>
      this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] })),
    );
    const status = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus;
    return status === 'Online' || status === 'ConnectionLost' || status === 'Inactive' ? status : 'absent';
  }

  /**
   * The delivery timeout is short on purpose: the agent was Online a moment ago, so a command it
   * does not pick up within it means the agent is gone, and the job should fall over, not wait.
   */
  async send(params: OnlineCommandParams): Promise<string> {
    const windows = params.platform === 'windows';
    const documentName = windows ? 'AWS-RunPowerShellScript' : 'AWS-RunShellScript';
    let commands: string[];
    try {
      commands = windows
        ? buildWindowsOnlineCommands({ jobId: params.jobId, targetInstanceId: params.instanceId })
        : buildLinuxOnlineCommands({ jobId: params.jobId, targetInstanceId: params.instanceId, publicKey: params.publicKey ?? '' });
    } catch (error) {
      throw new PermanentError('ONLINE_INVALID_INPUT', error instanceof Error ? error.message : String(error), { cause: error });
    }
    const { deliveryTimeoutSeconds, executionTimeoutSeconds } = this.settings.online;
    const out = await this.call(`SendCommand ${documentName} to ${params.instanceId}`, () =>
      this.ssm.send(
        new SendCommandCommand({
          DocumentName: documentName,
          InstanceIds: [params.instanceId],
          Comment: onlineCommandComment(params.jobId),
          TimeoutSeconds: Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, deliveryTimeoutSeconds),
          Parameters: { commands, executionTimeout: [String(executionTimeoutSeconds)] },
        }),
      ),
    );
    const commandId = out.Command?.CommandId;
    if (!commandId) throw new PermanentError('SEND_COMMAND_EMPTY', `SendCommand to ${params.instanceId} answered no command id`);
    return commandId;
  }

  /** The command already sent to the target for this job, if any. */
  async find(params: OnlineCommandParams): Promise<string | undefined> {
    return findCommandByComment(this.ssm, params.instanceId, onlineCommandComment(params.jobId));
  }

  async result(commandId: string, instanceId: string): Promise<RescueResult | undefined> {
    return readInvocation(this.ssm, commandId, instanceId, readSummary);
  }

  private async call<T>(context: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateAwsError(error, context);
    }
  }
}

/** The Linux script's online summary, or the Windows script's (its lines carry `"script":"windows-rescue"`). */
function readSummary(stdout: string | undefined): RescueSummary | undefined {
  if (!stdout) return undefined;
  for (const parse of [parseOnlineSummary, parseWindowsRescueSummary]) {
    try {
      return { ...parse(stdout) };
    } catch {
      // not this script's summary
    }
  }
  return undefined;
}
