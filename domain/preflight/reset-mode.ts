/**
 * Online or offline: which path a reset takes. Online resets a running instance in place through
 * its own SSM agent (no stop, no swap: seconds instead of minutes, and the public IP and
 * instance-store data stay); offline is the volume swap. In `auto` the service chooses, and the job
 * records what it chose and why. Used by the API (a refused request answers 422) and again by the
 * validate phase, whose decision is the one the job follows.
 */
import type { ServiceConfig } from '../config';
import { PermanentError } from '../errors';
import type { JobMode, Platform, ResetRequest } from '../job/job';
export type { JobMode } from '../job/job';
import type { OnlinePorts } from '../online-ports';
import type { AgentStatus, InstanceFacts } from '../ports';
import type { ResetMode } from '../api/request';
import { refusals, type PreflightFacts, type Refusal } from './validation';

/** The modes are declared with the start request they are asked in. */
export { RESET_MODES, type ResetMode } from '../api/request';

/** The mode a request asks for; requests from before the field existed are `auto`. */
export function requestedMode(request: ResetRequest & { mode?: ResetMode }): ResetMode {
  return request.mode ?? 'auto';
}

/**
 * Why the online path cannot take this instance now, first reason first; empty when it can.
 * `agent` is the target's SSM agent as DescribeInstanceInformation reports it (`undefined`: not
 * asked, because an earlier reason already rules online out), or why it could not be looked up.
 */
export function onlineRefusals(instance: InstanceFacts, agent: AgentStatus | { unknown: string } | undefined, available: boolean): Refusal[] {
  const out: Refusal[] = [];
  if (!available)
    out.push({ code: 'ONLINE_UNAVAILABLE', message: `online resets${instance.platform === 'windows' ? ' of Windows' : ''} are not set up in this deployment` });
  if (instance.state !== 'running') {
    out.push({ code: 'ONLINE_NOT_RUNNING', message: `instance ${instance.instanceId} is ${instance.state}; an online reset needs it running` });
  }
  if (instance.platform === 'windows' && !instance.keyName) {
    // The new password is encrypted with the launch key pair; without one, only the swap's
    // password-enabled image (launched with a key pair of the owner's) gives a way in.
    out.push({
      code: 'ONLINE_NO_KEY_PAIR',
      message: `instance ${instance.instanceId} was launched without a key pair: GetPasswordData could not give its new password to anyone`,
    });
  }
  if (out.length === 0 && typeof agent === 'object') {
    out.push({ code: 'ONLINE_AGENT_UNKNOWN', message: `the instance's SSM agent could not be looked up: ${agent.unknown}` });
  } else if (out.length === 0 && agent !== 'Online') {
    const state =
      agent === 'absent' || agent === undefined
        ? 'not registered with Systems Manager (no agent, no instance profile with SSM permissions, or no route to SSM)'
        : agent;
    out.push({ code: 'ONLINE_AGENT_NOT_ONLINE', message: `the instance's SSM agent is ${state}` });
  }
  return out;
}

export type ModeDecision = { mode: JobMode; refusal?: undefined } | { refusal: Refusal; mode?: undefined };

/**
 * The choice, from why each path cannot be taken. `online` and `offline` take their path or are
 * refused with its reason; `auto` goes online when it can (noting whether the swap remains as a
 * fall-over), otherwise offline, and is refused only when neither path is possible.
 */
export function chooseMode(requested: ResetMode, online: Refusal[], offline: Refusal[]): ModeDecision {
  const [onlineNo] = online;
  const [offlineNo] = offline;
  switch (requested) {
    case 'offline':
      return offlineNo ? { refusal: offlineNo } : { mode: { requested, chosen: 'offline', reason: 'offline requested: the volume swap' } };
    case 'online':
      return onlineNo ? { refusal: onlineNo } : { mode: { requested, chosen: 'online', reason: 'online requested: the SSM agent is Online' } };
    case 'auto':
      if (!onlineNo) {
        const reason = 'running with its SSM agent Online: reset in place, no stop';
        return { mode: { requested, chosen: 'online', reason, ...(offlineNo ? { offlineRefused: offlineNo } : {}) } };
      }
      if (offlineNo) return { refusal: { code: offlineNo.code, message: `${offlineNo.message} (and no online reset: ${onlineNo.message})` } };
      return { mode: { requested, chosen: 'offline', reason: `volume swap: ${onlineNo.message}` } };
  }
}

/**
 * Judges a target for a request: the offline rules (validation.ts), the online ones, and the
 * choice. The SSM agent is asked only when the answer can matter. Reads only.
 */
export async function decideMode(
  request: ResetRequest & { mode?: ResetMode },
  facts: PreflightFacts,
  ports: { config: ServiceConfig; online?: Pick<OnlinePorts, 'commands' | 'instances'> },
): Promise<ModeDecision> {
  const requested = requestedMode(request);
  const offline = refusals(request, facts, ports.config);
  if (requested === 'offline') return chooseMode(requested, [], offline);
  const { instance } = facts;
  const available = onlineAvailable(instance.platform, ports.online);
  // Asked only when nothing else rules online out (as if the agent were Online).
  const mayAsk = available && onlineRefusals(instance, 'Online', true).length === 0;
  const agent = mayAsk ? await agentOf(instance.instanceId, ports.online!) : undefined;
  return chooseMode(requested, onlineRefusals(instance, agent, available), offline);
}

/**
 * Whether this deployment has the online ports a platform needs: Linux a key vault and Run
 * Command; Windows also the reboot and GetPasswordData.
 */
export function onlineAvailable(platform: Platform, online: Pick<OnlinePorts, 'instances'> | undefined): boolean {
  if (!online) return false;
  return platform !== 'windows' || online.instances !== undefined;
}

/**
 * A refusal to look (no `ssm:DescribeInstanceInformation`, say) rules online out rather than the
 * request: `auto` still has the swap. Retryable errors (throttling) are the caller's to retry.
 */
async function agentOf(instanceId: string, online: Pick<OnlinePorts, 'commands'>): Promise<AgentStatus | { unknown: string }> {
  try {
    return await online.commands.agentStatus(instanceId);
  } catch (error) {
    if (error instanceof PermanentError) return { unknown: error.message };
    throw error;
  }
}
