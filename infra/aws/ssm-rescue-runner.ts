/**
 * `RescueRunner` over SSM Run Command: whether the helper's agent is Online, sending the rescue
 * script, finding it again, and reading its result. The private key never passes through here: the
 * script makes it on the helper and puts it to Parameter Store itself; only the summary line
 * (public key, fingerprint, users) comes back. The Windows script handles no secret at all: its
 * summary lists the launch agents and the files it changed.
 */
import { DescribeInstanceInformationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { PermanentError } from '../../domain/errors';
import { HELPER_DEVICE, rescueCommandComment } from '../../domain/naming';
import type { AgentStatus, RescueParams, RescueResult, RescueRunner, RescueSummary } from '../../domain/ports';
import { buildLinuxRescueCommands, parseRescueSummary } from '../scripts/linux-rescue';
import { buildWindowsRescueCommands, parseWindowsRescueSummary } from '../scripts/windows-rescue';
import { translateAwsError } from './errors';
import { findCommandByComment, readInvocation } from './ssm-commands';

export interface SsmRescueRunnerSettings extends Pick<ServiceConfig, 'region' | 'rescueTimeoutSeconds'> {
  /**
   * How long SSM may take to deliver the command before it gives up (`TimeoutSeconds`, 30 s at
   * least). The agent is Online when the command is sent, so delivery is quick; the default keeps a
   * command that cannot be delivered from using the phase's whole deadline.
   */
  deliveryTimeoutSeconds?: number;
}

const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 120;
/** SSM's own floor for `TimeoutSeconds`. */
const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

export class SsmRescueRunner implements RescueRunner {
  private readonly deliveryTimeoutSeconds: number;

  constructor(
    private readonly ssm: SSMClient,
    private readonly settings: SsmRescueRunnerSettings,
  ) {
    this.deliveryTimeoutSeconds = Math.max(MIN_DELIVERY_TIMEOUT_SECONDS, settings.deliveryTimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS);
  }

  /** The agent's PingStatus; `absent` while the instance has not registered with SSM yet. */
  async agentStatus(instanceId: string): Promise<AgentStatus> {
    const out = await this.call(`DescribeInstanceInformation ${instanceId}`, () =>
      this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] })),
    );
    const status = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus;
    return status === 'Online' || status === 'ConnectionLost' || status === 'Inactive' ? status : 'absent';
  }

  /**
   * SendCommand takes no idempotency token; the comment names the job so that `find` sees a command
   * already sent. Linux helpers run the shell script (`AWS-RunShellScript`), Windows helpers the
   * PowerShell one (`AWS-RunPowerShellScript`) for the volume attached at `xvdf`.
   */
  async start(params: RescueParams): Promise<string> {
    const windows = params.platform === 'windows';
    const documentName = windows ? 'AWS-RunPowerShellScript' : 'AWS-RunShellScript';
    let commands: string[];
    try {
      commands = windows
        ? buildWindowsRescueCommands({
            jobId: params.jobId,
            targetInstanceId: params.targetInstanceId,
            volumeId: params.volumeId,
            device: HELPER_DEVICE.windows,
          })
        : buildLinuxRescueCommands({
            jobId: params.jobId,
            targetInstanceId: params.targetInstanceId,
            volumeId: params.volumeId,
            parameterName: params.parameterName,
            keyType: params.keyType,
            region: this.settings.region,
          });
    } catch (error) {
      // Inputs the script refuses will not get better on a retry.
      throw new PermanentError('RESCUE_INVALID_INPUT', error instanceof Error ? error.message : String(error), { cause: error });
    }
    const out = await this.call(`SendCommand ${documentName} to ${params.helperInstanceId}`, () =>
      this.ssm.send(
        new SendCommandCommand({
          DocumentName: documentName,
          InstanceIds: [params.helperInstanceId],
          Comment: rescueCommandComment(params.jobId),
          TimeoutSeconds: this.deliveryTimeoutSeconds,
          Parameters: { commands, executionTimeout: [String(this.settings.rescueTimeoutSeconds)] },
        }),
      ),
    );
    const commandId = out.Command?.CommandId;
    if (!commandId) throw new PermanentError('SEND_COMMAND_EMPTY', `SendCommand to ${params.helperInstanceId} answered no command id`);
    return commandId;
  }

  /** The command already sent to the helper for this job, if any. */
  async find(params: RescueParams): Promise<string | undefined> {
    return findCommandByComment(this.ssm, params.helperInstanceId, rescueCommandComment(params.jobId));
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

/** The Linux or the Windows script's summary (the Windows one says `"script":"windows-rescue"`). */
function readSummary(stdout: string | undefined): RescueSummary | undefined {
  if (!stdout) return undefined;
  try {
    return /"script"\s*:\s*"windows-rescue"/.test(stdout) ? { ...parseWindowsRescueSummary(stdout) } : { ...parseRescueSummary(stdout) };
  } catch {
    return undefined;
  }
}
