import { PermanentError, errorCode } from '../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase-runner';
import { sshKeyParameterName, type Job } from '../job';
import type { OnlineAttempt, OnlineCommandParams, OnlinePorts } from '../online-ports';
import type { CommandStatus } from '../ports';

const RUNNING: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/** The attempt's own end (no fall-over): passes the step's error handling unchanged. */
class OnlineResetFailed extends PermanentError {}

/**
 * Online reset (Linux): a key pair made here, its private half put straight to Parameter Store,
 * its public half appended to the login users' authorized_keys by the rescue script in online mode
 * through Run Command on the running target. Nothing is stopped, detached or launched.
 *
 * Each delivery takes one step and records it: the key pair (its public half and the parameter's
 * version), then the command (found by its comment first: SendCommand has no idempotency token),
 * then its result. An attempt that cannot succeed (the agent is gone, the command failed or timed
 * out, the attempt took too long) falls over to the volume swap in `auto` (the job switches to
 * the offline plan, phase.ts `planFor`), and fails the job, changing nothing else, in `online`.
 */
export async function onlineReset(job: Job, ports: PhasePorts & { online?: OnlinePorts }): Promise<PhaseResult> {
  const online = ports.online;
  if (!online) return giveUp(job, ports, 'ONLINE_UNAVAILABLE', 'online resets are not set up in this deployment');
  const startedAt = Date.parse(job.phases['online-reset']!.startedAt);
  const limit = ports.config.online.attemptSeconds;
  if ((ports.clock.now().getTime() - startedAt) / 1000 > limit) {
    return giveUp(job, ports, 'ONLINE_TIMED_OUT', `the online attempt did not finish within ${limit} s`);
  }
  try {
    return await step(job, online, ports);
  } catch (error) {
    // Retryable errors go back to the runner (retry with backoff, bounded by the limit above).
    if (error instanceof PermanentError && !(error instanceof OnlineResetFailed)) return giveUp(job, ports, `ONLINE_${errorCode(error)}`, error.message);
    throw error;
  }
}

async function step(job: Job, online: OnlinePorts, ports: PhasePorts): Promise<PhaseResult> {
  const parameterName = sshKeyParameterName(job.instanceId);
  const attempt = job.resources.online;
  if (!attempt) {
    const key = await online.keys.createKeyPair({
      parameterName,
      keyType: job.request.keyType,
      comment: `reset-access-${job.jobId}`,
      description: `SSH private key made by reset-access job ${job.jobId} for ${job.instanceId} (online reset)`,
    });
    const recorded: OnlineAttempt = { keyType: key.keyType, publicKey: key.publicKey, fingerprint: key.fingerprint, parameterVersion: key.parameterVersion };
    // No delay: the next delivery sends the command at once; the record first makes a crash here harmless.
    return wait('online command to be sent (key pair stored)', (draft) => void (draft.resources.online = recorded), 0);
  }

  const params: OnlineCommandParams = { jobId: job.jobId, instanceId: job.instanceId, platform: job.platform ?? 'linux', publicKey: attempt.publicKey };
  let commandId = attempt.commandId ?? (await online.commands.find(params));
  if (!commandId) {
    // The key in Parameter Store must be the one whose public half is sent; a duplicate delivery
    // racing this one may have put another. Then make a new pair rather than send a stranger's.
    const version = await online.keys.parameterVersion(parameterName);
    if (version !== attempt.parameterVersion) {
      return wait(`a new key pair (${parameterName} is at version ${version ?? 'none'}, not ${attempt.parameterVersion})`, (draft) => void delete draft.resources.online, 0);
    }
    const agent = await online.commands.agentStatus(job.instanceId);
    if (agent !== 'Online') return giveUp(job, ports, 'ONLINE_AGENT_NOT_ONLINE', `the instance's SSM agent is ${agent}`);
    commandId = await online.commands.send(params);
  }
  if (!attempt.commandId) {
    const sent = commandId;
    return wait('online command to run', (draft) => void (draft.resources.online!.commandId = sent));
  }

  const result = await online.commands.result(commandId, job.instanceId);
  if (!result || RUNNING.has(result.status)) return wait(`online command to finish (${result?.status ?? 'not yet known to SSM'})`);
  const summary = result.summary;
  if (result.status !== 'Success' || !summary?.ok) {
    const code = summary?.error ?? `COMMAND_${result.status.toUpperCase()}`;
    const why = summary?.message ?? `the command ended ${result.status}${result.detail ? `: ${result.detail}` : ''}`;
    return giveUp(job, ports, `ONLINE_${code}`, why);
  }
  return done((draft) => {
    draft.outputs.sshKeyParameter = parameterName;
    draft.outputs.sshKeyFingerprint = attempt.fingerprint;
    draft.outputs.usersWithNewKey = summary.users?.map((u) => u.user);
    draft.outputs.publicIpWillChange = false;
  });
}

/**
 * The online attempt is over. In `auto`, with the swap allowed, the job falls over to it: the phase
 * is done and the mode switch makes the offline phases follow. Otherwise the job fails with the
 * reason; nothing was stopped or moved, so there is nothing to roll back.
 */
function giveUp(job: Job, ports: PhasePorts, code: string, reason: string): PhaseResult {
  const mode = job.mode;
  if (mode?.requested !== 'auto') throw new OnlineResetFailed(code, `online reset failed: ${reason}`);
  if (mode.offlineRefused || !job.target) {
    const why = mode.offlineRefused?.message ?? 'the root volume was not recorded';
    throw new OnlineResetFailed(code, `online reset failed: ${reason}; the volume swap is not possible either: ${why}`);
  }
  const at = ports.clock.now().toISOString();
  ports.log.warn('online reset failed, falling over to the volume swap', { jobId: job.jobId, code, reason });
  return done((draft) => {
    draft.mode = { ...draft.mode!, chosen: 'offline', reason: `volume swap after the online attempt failed: ${reason}`, fellOver: { code, reason, at } };
    draft.outputs.publicIpWillChange = draft.target!.publicIpWillChange;
    delete draft.outputs.usersWithNewKey;
    delete draft.outputs.sshKeyFingerprint;
  });
}
