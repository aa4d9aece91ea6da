/**
 * `RescueRunner` over SSM Run Command: whether the helper's agent is Online, sending the rescue
 * script, finding it again, and reading its result. The private key never passes through here: the
 * script makes it on the helper and puts it to Parameter Store itself (or, with the caller's own
 * public key, makes none); only the summary line (public key, fingerprint, account, file) comes back. The Windows script handles no secret at all: its
 * summary lists the launch agents and the files it changed.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ServiceConfig } from '../../domain/config';
import { HELPER_DEVICE, releaseCommandComment, rescueCommandComment } from '../../domain/naming';
import type { AgentStatus, RescueParams, RescueResult, RescueRunner, RescueScript } from '../../domain/ports';
import { buildLinuxRescueCommands, parseRescueSummary } from '../scripts/linux-rescue';
import { buildNtfsReleaseCommands, NTFS_RELEASE_SCRIPT_NAME, parseNtfsReleaseSummary } from '../scripts/ntfs-release';
import { buildNtfsRescueCommands, NTFS_RESCUE_SCRIPT_NAME, parseNtfsRescueSummary } from '../scripts/ntfs-rescue';
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
   * already sent. Linux helpers run the shell scripts (`AWS-RunShellScript`: the Linux rescue, and
   * for a Windows volume the NTFS rescue and its release), Windows helpers the PowerShell one
   * (`AWS-RunPowerShellScript`) for the volume attached at `xvdf`.
   */
  async start(params: RescueParams): Promise<string> {
    const { jobId, targetInstanceId, volumeId } = params;
    const script = scriptOf(params);
    const commands = scriptLines('RESCUE_INVALID_INPUT', () => {
      switch (script) {
        case 'windows-rescue':
          return buildWindowsRescueCommands({ jobId, targetInstanceId, volumeId, device: HELPER_DEVICE.windows });
        case 'ntfs-rescue':
          return buildNtfsRescueCommands({ jobId, targetInstanceId, volumeId, deviceHints: LINUX_DEVICE_HINTS });
        case 'ntfs-release':
          return buildNtfsReleaseCommands({ jobId, volumeId, deviceHints: LINUX_DEVICE_HINTS });
        case 'linux-rescue':
          return buildLinuxRescueCommands({
            jobId,
            targetInstanceId,
            volumeId,
            parameterName: params.parameterName,
            keyType: params.keyType,
            region: this.settings.region,
            ...(params.user !== undefined ? { user: params.user } : {}),
            ...(params.publicKey !== undefined ? { publicKey: params.publicKey } : {}),
            ...(params.kmsKeyId !== undefined ? { kmsKeyId: params.kmsKeyId } : {}),
          });
      }
    });
    return sendScript(this.ssm, {
      // The NTFS scripts run on a Linux helper whatever the target's platform.
      platform: script === 'windows-rescue' ? 'windows' : 'linux',
      instanceId: params.helperInstanceId,
      comment: commentOf(params),
      commands,
      deliveryTimeoutSeconds: this.deliveryTimeoutSeconds,
      executionTimeoutSeconds: this.settings.rescueTimeoutSeconds,
    });
  }

  /** The command already sent to the helper for this job, if any. */
  async find(params: RescueParams): Promise<string | undefined> {
    return findCommandByComment(this.ssm, params.helperInstanceId, commentOf(params));
  }

  async result(commandId: string, instanceId: string): Promise<RescueResult | undefined> {
    return readInvocation(this.ssm, commandId, instanceId, readSummary);
  }
}

/** The Linux-helper device names the NTFS scripts look for on Xen (Nitro: the NVMe serial): where attach-to-helper attaches. */
const LINUX_DEVICE_HINTS = [HELPER_DEVICE.linux, '/dev/xvdf'];

/** The script a command runs: as asked, else the rescue script of the target's platform. */
function scriptOf(params: RescueParams): RescueScript {
  return params.script ?? (params.platform === 'windows' ? 'windows-rescue' : 'linux-rescue');
}

/** The release has a comment of its own: the rescue command on the same helper is a different command. */
function commentOf(params: RescueParams): string {
  return scriptOf(params) === 'ntfs-release' ? releaseCommandComment(params.jobId) : rescueCommandComment(params.jobId);
}

/** Each script's summary, told apart by its `"script"` field (the Linux script's has none of these). */
const readSummary = summaryReader(parseRescueSummary, parseWindowsRescueSummary, {
  [NTFS_RESCUE_SCRIPT_NAME]: parseNtfsRescueSummary,
  [NTFS_RELEASE_SCRIPT_NAME]: parseNtfsReleaseSummary,
});
