import { PermanentError, errorCode } from '../../errors';
import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import { sshKeyParameterName, type Job } from '../../job/job';
import { inspectPublicKeyLine, lineFingerprint } from '../../key-placement';
import type { LinuxOnlineAttempt, OnlineCommandParams, OnlinePorts, WindowsOnlineAttempt } from '../../online-ports';
import type { CommandStatus, RescueSummary } from '../../ports';
import { agentNames, passwordRetrievalCommand } from './windows-outputs';

const RUNNING: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/** The attempt's own end (no fall-over): passes the step's error handling unchanged. */
class OnlineResetFailed extends PermanentError {}

/**
 * Online reset. Linux: a key pair made here (in the Lambda: docs/architecture.md#the-online-reset
 * says why not on the instance), its private half put straight to Parameter Store, its public half
 * appended to one account's authorized_keys by the rescue script in online mode through Run Command
 * on the running target; with the caller's own public key no pair is made and nothing is stored,
 * that line is appended. Nothing is stopped, detached or launched.
 *
 * Windows: the rescue script in online mode turns password generation back on for the next boot
 * on the running system's own `C:`, then the instance is rebooted (RebootInstances keeps its public
 * IP and instance-store data) and the phase waits until GetPasswordData has data made after the
 * reboot. The service never makes, sets or stores a password.
 *
 * Each delivery takes one step and records it: the key pair (its public half and the parameter's
 * version), then the command (found by its comment first: SendCommand has no idempotency token),
 * then its result; on Windows then the reboot, then the password. An attempt that cannot succeed (the agent is gone, the command failed or timed
 * out, the attempt took too long) falls over to the volume swap in `auto` (the job switches to
 * the offline plan, phase.ts `planFor`), and fails the job, changing nothing else, in `online`.
 */
export async function onlineReset(job: Job, ports: PhasePorts<'online'>): Promise<PhaseResult> {
  const online = ports.online;
  const overdue = overdueReason(job, ports);
  if (overdue) return giveUp(job, ports, 'ONLINE_TIMED_OUT', overdue);
  try {
    return job.platform === 'windows' ? await windowsStep(job, online, ports) : await linuxStep(job, online, ports);
  } catch (error) {
    // Retryable errors go back to the runner (retry with backoff, bounded by the limit above).
    if (error instanceof PermanentError && !(error instanceof OnlineResetFailed)) return giveUp(job, ports, `ONLINE_${errorCode(error)}`, error.message);
    throw error;
  }
}

/**
 * The attempt's time is up: the command part within `online.attemptSeconds` of the phase's start;
 * on Windows, once the reboot was asked for, the password within `online.windowsPasswordSeconds`
 * of it (a reboot with the launch agent's first-boot work takes minutes).
 */
function overdueReason(job: Job, ports: PhasePorts): string | undefined {
  const now = ports.clock.now().getTime();
  const attempt = job.resources.online;
  if (attempt?.platform === 'windows' && attempt.rebootRequestedAt) {
    const limit = ports.config.online.windowsPasswordSeconds;
    if ((now - Date.parse(attempt.rebootRequestedAt)) / 1000 <= limit) return undefined;
    return `GetPasswordData had no password made after the reboot within ${limit} s`;
  }
  const limit = ports.config.online.attemptSeconds;
  if ((now - Date.parse(job.phases['online-reset']!.startedAt)) / 1000 <= limit) return undefined;
  return `the online attempt did not finish within ${limit} s`;
}

async function linuxStep(job: Job, online: OnlinePorts, ports: PhasePorts): Promise<PhaseResult> {
  const parameterName = sshKeyParameterName(job.instanceId);
  const { user, publicKey: callerKey, kmsKeyId } = job.request;
  const attempt = job.resources.online as LinuxOnlineAttempt | undefined;
  if (!attempt) {
    let recorded: LinuxOnlineAttempt;
    if (callerKey !== undefined) {
      // The caller's own key: no pair is made and nothing is put to Parameter Store.
      const inspected = inspectPublicKeyLine(callerKey);
      if (!inspected.ok) throw new OnlineResetFailed('ONLINE_INVALID_PUBLIC_KEY', `online reset failed: publicKey: ${inspected.reason}`);
      recorded = { keySource: 'caller', keyType: inspected.keyType, publicKey: callerKey, fingerprint: inspected.fingerprint };
    } else {
      const key = await online.keys.createKeyPair({
        parameterName,
        keyType: job.request.keyType,
        comment: `reset-access-${job.jobId}`,
        description: `SSH private key made by reset-access job ${job.jobId} for ${job.instanceId} (online reset)`,
        ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
      });
      recorded = { keyType: key.keyType, publicKey: key.publicKey, fingerprint: key.fingerprint, parameterVersion: key.parameterVersion };
    }
    // No delay: the next delivery sends the command at once; the record first makes a crash here harmless.
    return wait(
      `online command to be sent (${callerKey !== undefined ? "the caller's public key" : 'key pair stored'})`,
      (draft) => void (draft.resources.online = recorded),
      0,
    );
  }

  const caller = attempt.keySource === 'caller';
  const params: OnlineCommandParams = {
    jobId: job.jobId,
    instanceId: job.instanceId,
    platform: job.platform ?? 'linux',
    publicKey: attempt.publicKey,
    ...(caller ? { keySource: 'caller' as const } : {}),
    ...(user !== undefined ? { user } : {}),
  };
  let commandId = attempt.commandId ?? (await online.commands.find(params));
  if (!commandId && !caller) {
    // The key in Parameter Store must be the one whose public half is sent; a duplicate delivery
    // racing this one may have put another. Then make a new pair rather than send a stranger's.
    const version = await online.keys.parameterVersion(parameterName);
    if (version !== attempt.parameterVersion) {
      return wait(
        `a new key pair (${parameterName} is at version ${version ?? 'none'}, not ${attempt.parameterVersion})`,
        (draft) => void delete draft.resources.online,
        0,
      );
    }
  }
  if (!commandId) {
    const sent = await sendCommand(job, online, ports, params);
    if (typeof sent !== 'string') return sent;
    commandId = sent;
  }
  if (!attempt.commandId) {
    const sent = commandId;
    return wait('online command to run', (draft) => void (draft.resources.online!.commandId = sent));
  }

  const finished = await commandSummary(job, online, ports, commandId);
  if (!('summary' in finished)) return finished;
  const { summary } = finished;
  // `ok` alone does not say which key the account now accepts: only the key sent (whose private
  // half is in Parameter Store, or with the caller) gives the owner access back. The script's
  // fingerprint is empty on an instance without ssh-keygen: the line it wrote tells then.
  const reported = summary.fingerprint || lineFingerprint(summary.publicKey);
  if (reported !== attempt.fingerprint) {
    return giveUp(
      job,
      ports,
      'ONLINE_KEY_MISMATCH',
      `the instance reports the key ${reported || '(none)'} added, not the key ${attempt.fingerprint} that was sent`,
    );
  }
  return done((draft) => {
    if (!caller) draft.outputs.sshKeyParameter = parameterName;
    draft.outputs.sshKeyFingerprint = attempt.fingerprint;
    if (summary.user) draft.outputs.sshUser = summary.user;
    if (summary.file) draft.outputs.authorizedKeysFile = summary.file;
    draft.outputs.usersWithNewKey = summary.users?.map((u) => u.user);
    draft.outputs.publicIpWillChange = false;
  });
}

/** SendCommand once the target's agent is Online: the command's id, or the attempt's end. */
async function sendCommand(job: Job, online: OnlinePorts, ports: PhasePorts, params: OnlineCommandParams): Promise<string | PhaseResult> {
  const agent = await online.commands.agentStatus(job.instanceId);
  if (agent !== 'Online') return giveUp(job, ports, 'ONLINE_AGENT_NOT_ONLINE', `the instance's SSM agent is ${agent}`);
  return online.commands.send(params);
}

/** The summary of a command that succeeded; a wait while it runs; the attempt's end when it failed. */
async function commandSummary(job: Job, online: OnlinePorts, ports: PhasePorts, commandId: string): Promise<{ summary: RescueSummary } | PhaseResult> {
  const result = await online.commands.result(commandId, job.instanceId);
  if (!result || RUNNING.has(result.status)) return wait(`online command to finish (${result?.status ?? 'not yet known to SSM'})`);
  const summary = result.summary;
  if (result.status !== 'Success' || !summary?.ok) {
    const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
    const why = summary?.message ?? `the command ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`;
    if (sameBySwap(job, code))
      throw new OnlineResetFailed(
        `ONLINE_${code}`,
        `online reset failed: ${why} (the volume swap would find the same, so it was not tried: nothing was changed)`,
      );
    return giveUp(job, ports, `ONLINE_${code}`, why);
  }
  return { summary };
}

/**
 * Failures about the request that the swap's script would meet on the same volume: falling over
 * would only stop and start the instance (losing an auto-assigned public IP) to fail again. The
 * account asked for does not exist; the caller's key is refused or too new for the instance's
 * OpenSSH (a generated key is not: offline, the helper falls back to RSA for an old OpenSSH).
 */
function sameBySwap(job: Job, code: string): boolean {
  if (code === 'USER_NOT_FOUND') return true;
  return job.request.publicKey !== undefined && (code === 'INVALID_PUBLIC_KEY' || code === 'KEY_TYPE_UNSUPPORTED');
}

/**
 * Windows: send the command (or find the one sent), read its result, reboot, wait for the password.
 * The reboot is asked for once its time is recorded in memory and recorded right after the call: a
 * crash in between reboots again, which restarts a boot that is not yet past its agent's work.
 */
async function windowsStep(job: Job, online: OnlinePorts, ports: PhasePorts): Promise<PhaseResult> {
  const instances = online.instances;
  if (!instances) throw new OnlineResetFailed('ONLINE_UNAVAILABLE', 'online reset failed: Windows online resets are not set up in this deployment');
  const attempt = job.resources.online as WindowsOnlineAttempt | undefined;
  const params: OnlineCommandParams = { jobId: job.jobId, instanceId: job.instanceId, platform: 'windows' };
  if (!attempt) {
    let commandId = await online.commands.find(params);
    if (!commandId) {
      const sent = await sendCommand(job, online, ports, params);
      if (typeof sent !== 'string') return sent;
      commandId = sent;
    }
    const recorded: WindowsOnlineAttempt = { platform: 'windows', commandId };
    return wait('online command to run', (draft) => void (draft.resources.online = recorded));
  }

  if (!attempt.launchAgents) {
    const finished = await commandSummary(job, online, ports, attempt.commandId);
    if (!('summary' in finished)) return finished;
    const { summary } = finished;
    const launchAgents = agentNames(summary);
    if (launchAgents.length === 0)
      return giveUp(job, ports, 'ONLINE_NO_PASSWORD_AGENT', 'no launch agent on the instance will make a password at the next boot');
    const warnings = Array.isArray(summary.warnings) ? summary.warnings.filter((w): w is string => typeof w === 'string') : [];
    // Recorded before the reboot: a duplicate delivery then reboots at most once more (see above).
    return wait('the reboot', (draft) => void Object.assign(draft.resources.online!, { launchAgents, warnings }), 0);
  }

  if (!attempt.rebootRequestedAt) {
    // The time and the password there now are recorded before the reboot is asked for: a crash
    // after the call then changes neither what counts as new nor when the limit runs out.
    const before = await instances.passwordData(job.instanceId);
    const at = ports.clock.now().toISOString();
    return wait(
      'the reboot',
      (draft) => void Object.assign(draft.resources.online!, { rebootRequestedAt: at, ...(before.digest ? { passwordBefore: before.digest } : {}) }),
      0,
    );
  }

  if (!attempt.rebooted) {
    // A delivery that comes back here after a crash past the call reboots once more (RebootInstances
    // has no idempotency token); the password of either boot is newer than the recorded time.
    await instances.reboot(job.instanceId);
    return wait(
      'the password after the reboot',
      (draft) => void ((draft.resources.online as WindowsOnlineAttempt).rebooted = true),
      ports.config.online.windowsPasswordPollSeconds,
    );
  }

  const password = await instances.passwordData(job.instanceId);
  // A password from before (the first boot, an earlier reset) is still there until the agent makes a
  // new one: the new one is newer than the reboot and is not the same data. No tolerance for clock
  // skew is needed: a reboot and the agent's work take minutes.
  const fresh =
    password.available &&
    password.timestamp !== undefined &&
    password.timestamp.getTime() > Date.parse(attempt.rebootRequestedAt) &&
    password.digest !== attempt.passwordBefore;
  if (!fresh) return wait('the launch agent to make a password after the reboot', undefined, ports.config.online.windowsPasswordPollSeconds);
  return done((draft) => {
    draft.outputs.launchAgents = attempt.launchAgents;
    draft.outputs.passwordRetrieval = passwordRetrievalCommand(job.instanceId, ports.config.region);
    draft.outputs.passwordReadyAt = password.timestamp!.toISOString();
    draft.outputs.rescueNotes = [...(attempt.warnings ?? []), 'The instance was rebooted, not stopped: its public IP and instance-store data stayed.'];
    draft.outputs.publicIpWillChange = false;
  });
}

/**
 * The online attempt is over. In `auto`, with the swap allowed, the job falls over to it: the phase
 * is done and the mode switch makes the offline phases follow. Otherwise the job fails with the
 * reason; nothing was stopped or moved, so there is nothing to roll back (a Windows attempt past
 * its command says what it leaves turned on).
 */
function giveUp(job: Job, ports: PhasePorts, code: string, reason: string): PhaseResult {
  const mode = job.mode;
  const left = leftChanged(job);
  if (mode?.requested !== 'auto') throw new OnlineResetFailed(code, `online reset failed: ${reason}${left}`);
  if (mode.offlineRefused || !job.target) {
    const why = mode.offlineRefused?.message ?? 'the root volume was not recorded';
    throw new OnlineResetFailed(code, `online reset failed: ${reason}; the volume swap is not possible either: ${why}${left}`);
  }
  const at = ports.clock.now().toISOString();
  ports.log.warn('online reset failed, falling over to the volume swap', { jobId: job.jobId, code, reason });
  return done((draft) => {
    draft.mode = { ...draft.mode!, chosen: 'offline', reason: `volume swap after the online attempt failed: ${reason}`, fellOver: { code, reason, at } };
    draft.outputs.publicIpWillChange = draft.target!.publicIpWillChange;
    delete draft.outputs.usersWithNewKey;
    delete draft.outputs.sshKeyFingerprint;
    delete draft.outputs.sshUser;
    delete draft.outputs.authorizedKeysFile;
    delete draft.outputs.passwordReadyAt;
  });
}

/**
 * What a failed Windows attempt leaves on the instance once its command has succeeded: the edits
 * cannot be taken back (the agents' state is not kept), so the failure says so.
 */
function leftChanged(job: Job): string {
  const attempt = job.resources.online;
  if (attempt?.platform !== 'windows' || !attempt.launchAgents) return '';
  return `; password generation stays turned on (${attempt.launchAgents.join(', ')}): the instance's next boot makes a new Administrator password, readable with GetPasswordData`;
}

declare module '../../job/job' {
  interface PhaseNames {
    'online-reset': true;
  }
}

export const onlineResetPhase = definePhase({
  name: 'online-reset',
  step: onlineReset,
  paths: ['online'],
  after: ['validate'],
  ports: ['online'],
  grants: ['reset-online'],
  // A backstop only: the attempt gives up after online.attemptSeconds (Windows: the command's part
  // plus online.windowsPasswordSeconds after the reboot) and falls over itself.
  deadlineSeconds: 30 * 60,
  firstPollSeconds: 2,
  wokenBy: [],
});
