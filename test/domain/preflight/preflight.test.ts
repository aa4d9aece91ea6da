import type { OnlinePorts } from '../../../domain/online-ports';
import type { AgentStatus, Compute, EncryptionKeys, InstanceFacts, RescueNetworks, VolumeFacts } from '../../../domain/ports';
import {
  freshPreflight,
  gatherPreflightFacts,
  PREFLIGHT_REUSE_SECONDS,
  preflightRecord,
  refreshPreflightFacts,
  watchAgent,
  withAgentStatus,
  type PreflightPorts,
} from '../../../domain/preflight/preflight';
import { instanceFacts, resetRequest, volumeFacts } from '../fixtures';

/** EC2, the rescue network and KMS as the preflight reads them, counting every read. */
function fakePorts(instance: InstanceFacts, volume: VolumeFacts, key = { keyId: 'k1', state: 'Enabled', manager: 'CUSTOMER' as const }) {
  const reads: string[] = [];
  const used: Pick<Compute, 'describeInstance' | 'describeVolume' | 'countVpcs'> = {
    describeInstance: async (id, options) => {
      reads.push(options?.preflight ? `describeInstance ${id} preflight` : `describeInstance ${id}`);
      return structuredClone(instance);
    },
    describeVolume: async (id) => {
      reads.push(`describeVolume ${id}`);
      return structuredClone(volume);
    },
    countVpcs: async () => {
      reads.push('countVpcs');
      return 2;
    },
  };
  const compute = new Proxy(used, {
    get: (target, name) =>
      name in target ? target[name as keyof typeof target] : async () => Promise.reject(new Error(`Compute.${String(name)} is not read by the preflight`)),
  }) as unknown as Compute;
  const networks: RescueNetworks = {
    vpcExists: async () => {
      reads.push('vpcExists');
      return true;
    },
    ensure: async () => Promise.reject(new Error('not used')),
  };
  const keys: EncryptionKeys = {
    describeKey: async (id) => {
      reads.push(`describeKey ${id}`);
      return key;
    },
  };
  const ports: PreflightPorts = { compute, networks, keys };
  return { ports, reads, setInstance: (next: InstanceFacts) => void (instance = next), setKey: (next: typeof key) => void (key = next) };
}

const AT = new Date('2026-01-05T09:00:00.000Z');
const seconds = (n: number) => new Date(AT.getTime() + n * 1000);

describe('the preflight record the API keeps for validate', () => {
  it('is fresh for PREFLIGHT_REUSE_SECONDS after the reads began, and never when it claims to come from the future', async () => {
    // Prepare
    const { ports } = fakePorts(instanceFacts(), volumeFacts());
    const record = preflightRecord((await gatherPreflightFacts(resetRequest(), ports))!, AT, 'absent');

    // Act / Assess
    expect(freshPreflight(record, seconds(PREFLIGHT_REUSE_SECONDS - 1))).toBe(record);
    expect(freshPreflight(record, seconds(PREFLIGHT_REUSE_SECONDS))).toBeUndefined();
    expect(freshPreflight(record, seconds(-5))).toBeUndefined();
    expect(freshPreflight(undefined, AT)).toBeUndefined();
  });

  it('is refreshed with one plain DescribeInstances, keeping the facts only the preflight reads', async () => {
    // Prepare: stop protection and Standby were read by the API; the instance has stopped since
    const { ports, reads, setInstance } = fakePorts(
      instanceFacts({ disableApiStop: true, autoScaling: { groupName: 'web', lifecycleState: 'Standby' } }),
      volumeFacts(),
    );
    const record = preflightRecord((await gatherPreflightFacts(resetRequest(), ports))!, AT, 'absent');
    reads.length = 0;
    // A plain describe leaves the preflight-only facts at their defaults (ports.ts, Compute.describeInstance).
    setInstance(instanceFacts({ state: 'stopped', autoScaling: { groupName: 'web', lifecycleState: undefined } }));

    // Act
    const facts = await refreshPreflightFacts(resetRequest(), record, ports);

    // Assess
    expect(reads).toEqual(['describeInstance i-0123456789abcdef0']);
    expect(facts?.instance).toMatchObject({ state: 'stopped', disableApiStop: true, autoScaling: { groupName: 'web', lifecycleState: 'Standby' } });
    expect(facts?.rescueNetworkExists).toBe(true);
    expect(facts?.rootVolume?.volumeId).toBe('vol-0123456789abcdef0');
  });

  it('takes the group the instance is tagged with now, not a Standby recorded for another one', async () => {
    // Prepare
    const { ports, setInstance } = fakePorts(instanceFacts({ autoScaling: { groupName: 'old', lifecycleState: 'Standby' } }), volumeFacts());
    const record = preflightRecord((await gatherPreflightFacts(resetRequest(), ports))!, AT, undefined);
    setInstance(instanceFacts({ autoScaling: { groupName: 'new', lifecycleState: undefined } }));

    // Act
    const facts = await refreshPreflightFacts(resetRequest(), record, ports);

    // Assess
    expect(facts?.instance.autoScaling).toEqual({ groupName: 'new', lifecycleState: undefined });
  });

  it("asks KMS again about an encrypted root's key: one disabled meanwhile must be refused", async () => {
    // Prepare
    const encrypted = volumeFacts({ encrypted: true, kmsKeyId: 'k1' });
    const { ports, reads, setKey } = fakePorts(instanceFacts(), encrypted);
    const record = preflightRecord((await gatherPreflightFacts(resetRequest(), ports))!, AT, undefined);
    reads.length = 0;
    setKey({ keyId: 'k1', state: 'Disabled', manager: 'CUSTOMER' });

    // Act
    const facts = await refreshPreflightFacts(resetRequest(), record, ports);

    // Assess
    expect(reads).toEqual(['describeInstance i-0123456789abcdef0', 'describeKey k1']);
    expect(facts?.rootKey).toMatchObject({ state: 'Disabled' });
  });

  it('reads everything again when the root volume is no longer the one recorded', async () => {
    // Prepare
    const { ports, reads, setInstance } = fakePorts(instanceFacts(), volumeFacts());
    const record = preflightRecord((await gatherPreflightFacts(resetRequest(), ports))!, AT, undefined);
    reads.length = 0;
    setInstance(instanceFacts({ blockDevices: [{ deviceName: '/dev/xvda', volumeId: 'vol-0replaced00000000', deleteOnTermination: true }] }));

    // Act
    await refreshPreflightFacts(resetRequest(), record, ports);

    // Assess
    expect(reads).toEqual([
      'describeInstance i-0123456789abcdef0',
      'describeInstance i-0123456789abcdef0 preflight',
      'describeVolume vol-0replaced00000000',
      'vpcExists',
    ]);
  });
});

describe("the target's agent, seen by the API and told to validate", () => {
  function online(answer: AgentStatus) {
    const asked: string[] = [];
    const commands: OnlinePorts['commands'] = {
      agentStatus: async (id) => {
        asked.push(id);
        return answer;
      },
      send: async () => 'cmd-1',
      find: async () => undefined,
      result: async () => undefined,
    };
    return { ports: { commands }, asked };
  }

  it('is remembered as SSM answered it', async () => {
    // Prepare
    const { ports, asked } = online('Online');
    const watched = watchAgent(ports);

    // Act
    const answer = await watched.online!.commands.agentStatus('i-1');

    // Assess
    expect(answer).toBe('Online');
    expect(watched.seen()).toBe('Online');
    expect(asked).toEqual(['i-1']);
  });

  it('is answered without asking SSM again, and asked when it was never seen', async () => {
    // Prepare
    const { ports, asked } = online('Online');

    // Act
    const told = await withAgentStatus(ports, 'ConnectionLost')!.commands.agentStatus('i-1');
    const unseen = await withAgentStatus(ports, undefined)!.commands.agentStatus('i-1');

    // Assess
    expect(told).toBe('ConnectionLost');
    expect(unseen).toBe('Online');
    expect(asked).toEqual(['i-1']);
  });
});
