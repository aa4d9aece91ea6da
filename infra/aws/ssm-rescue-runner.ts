/**
 * `RescueRunner` over SSM Run Command: whether the helper's agent is Online, sending the rescue
 * script, finding it again, and reading its result. The private key never passes through here: the
 * script makes it on the helper and puts it to Parameter Store itself (or, with the caller's own
 * public key, makes none); only the summary line (public key, fingerprint, account, file) comes back. The Windows script handles no secret at all: its
 * summary lists the launch agents and the files it changed.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { HELPER_DEVICE, rescueCommandComment } from '../../domain/naming';
import type { AgentStatus, RescueParams, RescueResult, RescueRunner } from '../../domain/ports';
import { buildLinuxRescueCommands, parseRescueSummary } from '../scripts/linux-rescue';
import { buildWindowsRescueCommands, parseWindowsRescueSummary } from '../scripts/windows-rescue';
import { agentStatusOf, findCommandByComment, readInvocation, scriptLines, sendScript, summaryReader } from './ssm-commands';

export interface SsmRescueRunnerSettings extends Pick<ServiceConfig, 'region' | 'rescueTimeoutSeconds'> {
  /**
   * How long SSM may take to deliver the command before it gives up (`TimeoutSeconds`, 30 s at
   * least). The agent is Online when the command is sent, so delivery is quick; the default keeps a
   * command that cannot be delivered from using the phase's whole deadline.
   */
  deliveryTimeoutSeconds?: number;
}

const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 120;

export class SsmRescueRunner implements RescueRunner {
  private readonly deliveryTimeoutSeconds: number;

  constructor(
    private readonly ssm: SSMClient,
    private readonly settings: SsmRescueRunnerSettings,
  ) {
    this.deliveryTimeoutSeconds = settings.deliveryTimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS;
  }

  /** The agent's PingStatus; `absent` while the instance has not registered with SSM yet. */
  async agentStatus(instanceId: string): Promise<AgentStatus> {
    return agentStatusOf(this.ssm, instanceId);
  }

  /**
   * SendCommand takes no idempotency token; the comment names the job so that `find` sees a command
   * already sent. Linux helpers run the shell script (`AWS-RunShellScript`), Windows helpers the
   * PowerShell one (`AWS-RunPowerShellScript`) for the volume attached at `xvdf`.
   */
  async start(params: RescueParams): Promise<string> {
    const windows = params.platform === 'windows';
    const { jobId, targetInstanceId, volumeId } = params;
    const commands = scriptLines('RESCUE_INVALID_INPUT', () =>
      windows
        ? buildWindowsRescueCommands({ jobId, targetInstanceId, volumeId, device: HELPER_DEVICE.windows })
        : buildLinuxRescueCommands({
            jobId,
            targetInstanceId,
            volumeId,
            parameterName: params.parameterName,
            keyType: params.keyType,
            region: this.settings.region,
            ...(params.user !== undefined ? { user: params.user } : {}),
            ...(params.publicKey !== undefined ? { publicKey: params.publicKey } : {}),
            ...(params.kmsKeyId !== undefined ? { kmsKeyId: params.kmsKeyId } : {}),
          }),
    );
    return sendScript(this.ssm, {
      platform: params.platform,
      instanceId: params.helperInstanceId,
      comment: rescueCommandComment(jobId),
      commands,
      deliveryTimeoutSeconds: this.deliveryTimeoutSeconds,
      executionTimeoutSeconds: this.settings.rescueTimeoutSeconds,
    });
  }

  /** The command already sent to the helper for this job, if any. */
  async find(params: RescueParams): Promise<string | undefined> {
    return findCommandByComment(this.ssm, params.helperInstanceId, rescueCommandComment(params.jobId));
  }

  async result(commandId: string, instanceId: string): Promise<RescueResult | undefined> {
    return readInvocation(this.ssm, commandId, instanceId, readSummary);
  }
}

/** The Linux or the Windows script's summary (the Windows one says `"script":"windows-rescue"`). */
const readSummary = summaryReader(parseRescueSummary, parseWindowsRescueSummary);
