/**
 * How long the simulated region takes for each asynchronous thing, in simulated milliseconds.
 * Every default lives here with its source; pass `timings` to `SimulatedRegion` to override any.
 * Sources are AWS pages where AWS publishes a figure, otherwise the user reports gathered in
 * `docs/aws-facts.md#timings`.
 */
export interface SimTimings {
  /** RunInstances: `pending` → `running`. */
  launchMs: number;
  /** StartInstances: `pending` → `running`. */
  startMs: number;
  /** StopInstances: `stopping` → `stopped`. */
  stopMs: number;
  /** StopInstances with `Force` while `stopping`: → `stopped`. */
  forceStopMs: number;
  /** Chance (0..1) that a stop sticks in `stopping` until a second StopInstances or a forced one. */
  stuckStoppingChance: number;
  /** TerminateInstances: `shutting-down` → `terminated`. */
  terminateMs: number;
  /** How long a terminated instance stays visible in DescribeInstances. */
  terminatedRetentionMs: number;
  /** Linux: from `running` until SSM reports the agent `Online`. */
  linuxAgentOnlineMs: number;
  /** Windows first boot: from `running` until the agent is `Online` and the password is generated. */
  windowsFirstBootMs: number;
  /** Windows later boots: from `running` until the agent is `Online`. */
  windowsBootMs: number;
  /** AttachVolume: `attaching` → `attached` (or the failure of an attach). */
  attachMs: number;
  /** DetachVolume: `detaching` → detached. */
  detachMs: number;
  /** DetachVolume with `Force`. */
  forceDetachMs: number;
  /** CreateImage: image `pending` → `available`, its snapshots `pending` → `completed`. */
  imageMs: number;
  /** CreateVpcEndpoint (Interface): `pending` → `available`. */
  vpcEndpointCreateMs: number;
  /** DeleteVpcEndpoints: `deleting` → gone. */
  vpcEndpointDeleteMs: number;
  /** SendCommand: how long GetCommandInvocation answers `InvocationDoesNotExist`. */
  commandVisibleMs: number;
  /** SendCommand: `Pending` → `InProgress` on an online instance. */
  commandStartMs: number;
  /** Run Command: duration of the simulated rescue script. */
  rescueScriptMs: number;
  /** Run Command: duration of any other command. */
  defaultScriptMs: number;
  /**
   * From a change (an instance reaching a state, a command finishing) to its EventBridge event
   * reaching a rule's target. Used by the harnesses that deliver the region's events.
   */
  awsEventDeliveryMs: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export const DEFAULT_TIMINGS: Readonly<SimTimings> = {
  // docs/aws-facts.md#timings: pending → running ≈ 5–17 s (user reports).
  launchMs: 10 * SECOND,
  // No AWS figure for a restart; a stopped EBS-backed instance skips the AMI copy, so shorter.
  startMs: 20 * SECOND,
  // AWS "Troubleshoot Amazon EC2 instance stop issues": a stop takes "a few minutes" at most;
  // typical stops of small Linux instances take about a minute.
  stopMs: 60 * SECOND,
  // Force skips the OS shutdown (StopInstances API reference, `Force`); approximate.
  forceStopMs: 10 * SECOND,
  // Off by default; tests turn it on to exercise "stop again, then force-stop".
  stuckStoppingChance: 0,
  // Approximate; AWS gives no figure. Terminated instances stay visible for about an hour
  // (EC2 User Guide, "Terminate Amazon EC2 instances").
  terminateMs: 30 * SECOND,
  terminatedRetentionMs: 60 * MINUTE,
  // docs/aws-facts.md#ssm-agent: the agent shows Online 30 s to several minutes after boot (user reports).
  linuxAgentOnlineMs: 40 * SECOND,
  // GetPasswordData API reference: "wait up to 15 minutes after launching an instance before
  // trying to retrieve the generated password".
  windowsFirstBootMs: 15 * MINUTE,
  // Approximate: later boots skip sysprep/first-boot tasks.
  windowsBootMs: 3 * MINUTE,
  // docs/aws-facts.md#volumes: attach/detach ≈ 5 s typical (user report).
  attachMs: 5 * SECOND,
  detachMs: 5 * SECOND,
  forceDetachMs: 2 * SECOND,
  // docs/aws-facts.md#createimage: snapshots/AMIs are `pending` for minutes to hours.
  imageMs: 3 * MINUTE,
  // Approximate: interface endpoints take a minute or two to create and to delete.
  vpcEndpointCreateMs: 90 * SECOND,
  vpcEndpointDeleteMs: 60 * SECOND,
  // docs/aws-facts.md#ssm-run-command: GetCommandInvocation right after SendCommand can answer InvocationDoesNotExist.
  commandVisibleMs: 2 * SECOND,
  commandStartMs: 1 * SECOND,
  // Key generation (ed25519 or rsa 4096), mount, edit, PutParameter, unmount.
  rescueScriptMs: 15 * SECOND,
  defaultScriptMs: 1 * SECOND,
  // AWS publishes no latency for its service events, only that they are sent "best effort"
  // (EventBridge User Guide, "Event delivery from AWS services"); seconds is what is observed.
  awsEventDeliveryMs: 2 * SECOND,
};

/** The defaults with `overrides` applied. */
export function resolveTimings(overrides: Partial<SimTimings> = {}): SimTimings {
  return { ...DEFAULT_TIMINGS, ...overrides };
}
