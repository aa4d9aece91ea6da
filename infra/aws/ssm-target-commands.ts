/**
 * `TargetCommands` over SSM Run Command on the target itself (the online reset): whether its agent
 * is Online, sending the rescue script in online mode with the public half of the new key, finding
 * that command again after a crash, and reading its one-line summary. No private key passes here.
 */
import { DescribeInstanceInformationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { PermanentError } from '../../domain/errors';
import { onlineCommandComment, type OnlineCommandParams, type TargetCommands } from '../../domain/online-ports';
import type { AgentStatus, RescueResult, RescueSummary } from '../../domain/ports';
import { buildLinuxOnlineCommands, parseOnlineSummary } from '../scripts/linux-rescue';
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
    if (params.platform !== 'linux') throw new PermanentError('PLATFORM_NOT_SUPPORTED', `there is no online reset for ${params.platform} yet`);
    let commands: string[];
    try {
      commands = buildLinuxOnlineCommands({ jobId: params.jobId, targetInstanceId: params.instanceId, publicKey: params.publicKey ?? '' });
    } catch (error) {
      throw new PermanentError('ONLINE_INVALID_INPUT', error instanceof Error ? error.message : String(error), { cause: error });
    }
    const { deliveryTimeoutSeconds, executionTimeoutSeconds } = this.settings.online;
    const out = await this.call(`SendCommand AWS-RunShellScript to ${params.instanceId}`, () =>
      this.ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
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

function readSummary(stdout: string | undefined): RescueSummary | undefined {
  if (!stdout) return undefined;
  try {
    return { ...parseOnlineSummary(stdout) };
  } catch {
    return undefined;
  }
}
