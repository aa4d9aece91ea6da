import { PermanentError, RetryableError } from '../../../domain/errors';
import type { OnlinePorts, TargetCommands } from '../../../domain/online-ports';
import type { AgentStatus, InstanceFacts } from '../../../domain/ports';
import { chooseMode, decideMode, onlineRefusals, type ResetMode } from '../../../domain/preflight/reset-mode';
import type { PreflightFacts } from '../../../domain/preflight/validation';
import { config, instanceFacts, resetRequest, volumeFacts } from '../fixtures';

/** An agent that answers `status` and counts how often it was asked (with the Windows ports unless told otherwise). */
function agentSaying(status: AgentStatus, windowsPorts = true): Pick<OnlinePorts, 'commands' | 'instances'> & { asked: number } {
  const fake = {
    asked: 0,
    ...(windowsPorts ? { instances: { reboot: async () => undefined, passwordData: async () => ({ available: false }) } } : {}),
    commands: {
      agentStatus: async () => {
        fake.asked++;
        return status;
      },
      send: async () => 'cmd',
      find: async () => undefined,
      result: async () => undefined,
    } satisfies TargetCommands,
  };
  return fake;
}

function facts(instance: Partial<InstanceFacts> = {}): PreflightFacts {
  return { instance: instanceFacts(instance), rootVolume: volumeFacts(), rescueNetworkExists: true, vpcCount: 1 };
}

async function decide(mode: ResetMode | undefined, instance: Partial<InstanceFacts>, agent: AgentStatus | 'no online ports' | 'no Windows ports') {
  const online = agent === 'no online ports' ? undefined : agent === 'no Windows ports' ? agentSaying('Online', false) : agentSaying(agent);
  const request = { ...resetRequest(), ...(mode ? { mode } : {}) };
  const decision = await decideMode(request, facts(instance), { config, ...(online ? { online } : {}) });
  return { decision, asked: online?.asked ?? 0 };
}

describe('auto chooses', () => {
  it.each([
    ['Linux', { platform: 'linux' as const }],
    ['Windows (launched with a key pair)', { platform: 'windows' as const, keyName: 'ops' }],
  ])('online for a running %s instance whose agent is Online, and says why', async (_what, instance) => {
    const { decision, asked } = await decide(undefined, instance, 'Online');

    expect(decision.mode).toEqual({ requested: 'auto', chosen: 'online', reason: expect.stringMatching(/SSM agent Online.*no stop/) });
    expect(asked).toBe(1);
  });

  it.each([
    ['stopped', { state: 'stopped' as const }, 'Online' as const, /is stopped/, 0],
    ['agent ConnectionLost', {}, 'ConnectionLost' as const, /agent is ConnectionLost/, 1],
    ['agent absent (no profile, not registered)', {}, 'absent' as const, /not registered with Systems Manager/, 1],
    ['Windows, stopped', { platform: 'windows' as const, keyName: 'ops', state: 'stopped' as const }, 'Online' as const, /is stopped/, 0],
    ['Windows, agent ConnectionLost', { platform: 'windows' as const, keyName: 'ops' }, 'ConnectionLost' as const, /agent is ConnectionLost/, 1],
    ['Windows launched without a key pair', { platform: 'windows' as const }, 'Online' as const, /without a key pair/, 0],
    [
      'Windows in a deployment without the reboot and GetPasswordData ports',
      { platform: 'windows' as const, keyName: 'ops' },
      'no Windows ports' as const,
      /online resets of Windows are not set up/,
      0,
    ],
  ])('offline for %s, with the reason, asking the agent only when it matters', async (_what, instance, agent, reason, asks) => {
    const { decision, asked } = await decide('auto', instance, agent);

    expect(decision.mode).toMatchObject({ requested: 'auto', chosen: 'offline', reason: expect.stringMatching(reason) });
    expect(asked).toBe(asks);
  });

  it('offline when the deployment has no online ports', async () => {
    const { decision } = await decide('auto', {}, 'no online ports');

    expect(decision.mode).toMatchObject({ chosen: 'offline', reason: expect.stringMatching(/not set up/) });
  });

  it('online for a Spot instance (the swap is refused) and records that there is no fall-over', async () => {
    const { decision } = await decide('auto', { spot: true }, 'Online');

    expect(decision.mode).toMatchObject({ chosen: 'online', offlineRefused: { code: 'SPOT_INSTANCE' } });
  });

  it('refuses with the offline reason (and the online one) when neither path is possible', async () => {
    const { decision } = await decide('auto', { spot: true }, 'ConnectionLost');

    expect(decision.refusal).toEqual({
      code: 'SPOT_INSTANCE',
      message: expect.stringMatching(/Spot.*\(and no online reset: the instance's SSM agent is ConnectionLost\)/),
    });
  });
});

describe('an agent that cannot be looked up', () => {
  function refusingAgent(error: Error): Pick<OnlinePorts, 'commands'> {
    const fake = agentSaying('Online');
    fake.commands.agentStatus = async () => {
      throw error;
    };
    return fake;
  }

  it('rules online out, not the request: auto swaps, online is refused with the reason', async () => {
    const online = refusingAgent(new PermanentError('AccessDeniedException', 'not authorized to perform ssm:DescribeInstanceInformation'));

    const auto = await decideMode(resetRequest(), facts(), { config, online });
    const explicit = await decideMode({ ...resetRequest(), mode: 'online' }, facts(), { config, online });

    expect(auto.mode).toMatchObject({ chosen: 'offline', reason: expect.stringMatching(/could not be looked up: not authorized/) });
    expect(explicit.refusal?.code).toBe('ONLINE_AGENT_UNKNOWN');
  });

  it('a throttled look is retried by the caller, not taken for an answer', async () => {
    const online = refusingAgent(new RetryableError('ThrottlingException', 'Rate exceeded'));

    await expect(decideMode(resetRequest(), facts(), { config, online })).rejects.toBeInstanceOf(RetryableError);
  });
});

describe('explicit modes', () => {
  it('offline is offline even with an Online agent, which is not asked', async () => {
    const { decision, asked } = await decide('offline', {}, 'Online');

    expect(decision.mode).toMatchObject({ requested: 'offline', chosen: 'offline' });
    expect(asked).toBe(0);
  });

  it('offline keeps the offline refusals', async () => {
    const { decision } = await decide('offline', { spot: true }, 'Online');

    expect(decision.refusal?.code).toBe('SPOT_INSTANCE');
  });

  it('online on a stopped instance is refused: ONLINE_NOT_RUNNING', async () => {
    const { decision } = await decide('online', { state: 'stopped' }, 'Online');

    expect(decision.refusal).toEqual({ code: 'ONLINE_NOT_RUNNING', message: expect.stringMatching(/is stopped; an online reset needs it running/) });
  });

  it('online with a lost agent is refused: ONLINE_AGENT_NOT_ONLINE', async () => {
    const { decision } = await decide('online', {}, 'ConnectionLost');

    expect(decision.refusal?.code).toBe('ONLINE_AGENT_NOT_ONLINE');
  });

  it('online ignores what would refuse the swap (instance-store data is not lost without a stop)', async () => {
    const { decision } = await decide('online', { instanceStoreVolumeCount: 1, disableApiStop: true }, 'Online');

    expect(decision.mode).toMatchObject({ requested: 'online', chosen: 'online' });
    expect(decision.mode?.offlineRefused).toBeUndefined();
  });
});

describe('onlineRefusals and chooseMode', () => {
  it('lists every reason online is impossible, the agent only when nothing else rules it out', () => {
    expect(onlineRefusals(instanceFacts({ state: 'stopped', platform: 'windows' }), undefined, false).map((r) => r.code)).toEqual([
      'ONLINE_UNAVAILABLE',
      'ONLINE_NOT_RUNNING',
      'ONLINE_NO_KEY_PAIR',
    ]);
    expect(onlineRefusals(instanceFacts(), 'Inactive', true).map((r) => r.code)).toEqual(['ONLINE_AGENT_NOT_ONLINE']);
    expect(onlineRefusals(instanceFacts(), 'Online', true)).toEqual([]);
  });

  it('auto with both paths open goes online', () => {
    expect(chooseMode('auto', [], []).mode?.chosen).toBe('online');
  });
});
