/**
 * `TargetCommands` over SSM Run Command on the target itself (the online reset): whether its agent
 * is Online, sending the rescue script in online mode (Linux: with the public half of the new key
 * or the caller's own public key line, and the account asked for;
 * Windows: the PowerShell script turning password generation on for the next boot), finding that
 * command again after a crash, and reading its one-line summary. No private key passes here.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { onlineCommandComment, type OnlineCommandParams, type TargetCommands } from '../../domain/online-ports';
import type { AgentStatus, RescueResult } from '../../domain/ports';
import { buildLinuxOnlineCommands, parseOnlineSummary } from '../scripts/linux-rescue';
import { buildWindowsOnlineCommands, parseWindowsRescueSummary } from '../scripts/windows-rescue';
import { agentStatusOf, findCommandByComment, readInvocation, scriptLines, sendScript, summaryReader } from './ssm-commands';

export type SsmTargetCommandsSettings = Pick<ServiceConfig, 'online'>;

export class SsmTargetCommands implements TargetCommands {
  constructor(
    private readonly ssm: SSMClient,
    private readonly settings: SsmTargetCommandsSettings,
  ) {}

  async agentStatus(instanceId: string): Promise<AgentStatus> {
    return agentStatusOf(this.ssm, instanceId);
  }

  /**
   * The delivery timeout is short on purpose: the agent was Online a moment ago, so a command it
   * does not pick up within it means the agent is gone, and the job should fall over, not wait.
   */
  async send(params: OnlineCommandParams): Promise<string> {
    const { jobId, instanceId } = params;
    const commands = scriptLines('ONLINE_INVALID_INPUT', () =>
      params.platform === 'windows'
        ? buildWindowsOnlineCommands({ jobId, targetInstanceId: instanceId })
        : buildLinuxOnlineCommands({
            jobId,
            targetInstanceId: instanceId,
            publicKey: params.publicKey ?? '',
            ...(params.keySource ? { keySource: params.keySource } : {}),
            ...(params.user !== undefined ? { user: params.user } : {}),
          }),
    );
    return sendScript(this.ssm, {
      platform: params.platform,
      instanceId,
      comment: onlineCommandComment(jobId),
      commands,
      deliveryTimeoutSeconds: this.settings.online.deliveryTimeoutSeconds,
      executionTimeoutSeconds: this.settings.online.executionTimeoutSeconds,
    });
  }

  /** The command already sent to the target for this job, if any. */
  async find(params: OnlineCommandParams): Promise<string | undefined> {
    return findCommandByComment(this.ssm, params.instanceId, onlineCommandComment(params.jobId));
  }

  async result(commandId: string, instanceId: string): Promise<RescueResult | undefined> {
    return readInvocation(this.ssm, commandId, instanceId, readSummary);
  }
}

/** The Linux script's online summary, or the Windows script's (its lines carry `"script":"windows-rescue"`). */
const readSummary = summaryReader(parseOnlineSummary, parseWindowsRescueSummary);
