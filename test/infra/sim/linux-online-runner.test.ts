import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { RebootInstancesCommand } from '@aws-sdk/client-ec2';

import { buildLinuxOnlineCommands, parseOnlineSummary } from '../../../infra/scripts/linux-rescue';
import { usersAcceptingKey } from '../../../infra/sim/linux-rescue-model';
import { sampleInstances, seedSampleRegion } from '../../../infra/sim/samples';
import { generateSshKeyPair } from '../../../infra/aws/ssh-key-pair';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { simulatedRegion } from './sim-harness';

const MANAGED = 'i-0a1b2c3d4e5f60009';
const UNMANAGED = 'i-0a1b2c3d4e5f60001';

function seeded() {
  const sim = simulatedRegion();
  seedSampleRegion(sim.region);
  const rootOf = (id: string) => {
    const instance = sim.region.getInstance(id)!;
    return Object.values(sim.region.exportState().volumes).find((v) => v.attachment?.instanceId === id && v.attachment.device === instance.rootDeviceName)!;
  };
  return { ...sim, rootOf };
}

async function ping(ssm: ReturnType<typeof seeded>['ssm'], id: string) {
  const out = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] }));
  return out.InstanceInformationList?.[0]?.PingStatus;
}

describe('SSM-managed targets in the simulated region', () => {
  it('the managed sample is Online; the other samples are not managed', async () => {
    const { ssm } = seeded();

    expect(sampleInstances.find((s) => s.instanceId === MANAGED)).toMatchObject({ platform: 'linux', state: 'running', resettable: true });
    expect(await ping(ssm, MANAGED)).toBe('Online');
    expect(await ping(ssm, UNMANAGED)).toBeUndefined();
  });

  it('an agent that loses its connection shows ConnectionLost, and Online again when it is back', async () => {
    const { ssm, region } = seeded();

    region.setAgentConnected(MANAGED, false);
    const lost = await ping(ssm, MANAGED);
    region.setAgentConnected(MANAGED, true);

    expect(lost).toBe('ConnectionLost');
    expect(await ping(ssm, MANAGED)).toBe('Online');
  });

  it('a reboot drops the agent until the OS is back, and keeps the public IP', async () => {
    const { ec2, ssm, region, advance } = seeded();
    const ip = region.getInstance(MANAGED)!.publicIpAddress;

    await ec2.send(new RebootInstancesCommand({ InstanceIds: [MANAGED] }));
    const during = await ping(ssm, MANAGED);
    advance(DEFAULT_TIMINGS.linuxAgentOnlineMs);

    expect(during).toBe('ConnectionLost');
    expect(await ping(ssm, MANAGED)).toBe('Online');
    expect(region.getInstance(MANAGED)!.publicIpAddress).toBe(ip);
  });
});

describe('the rescue script in online mode, run on the target', () => {
  it("adds the public key to the running instance's own root volume (the model's rules) and reports it", async () => {
    // Prepare
    const { ssm, advance, rootOf } = seeded();
    const key = generateSshKeyPair('ed25519', 'service');
    const before = rootOf(MANAGED);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [MANAGED],
        Parameters: { commands: buildLinuxOnlineCommands({ jobId: 'r-online1', targetInstanceId: MANAGED, publicKey: key.publicKey }) },
      }),
    );
    advance(DEFAULT_TIMINGS.commandVisibleMs + DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.defaultScriptMs);
    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: MANAGED }));

    // Assess
    expect(invocation.Status).toBe('Success');
    const summary = parseOnlineSummary(invocation.StandardOutputContent!);
    const line = `${key.publicKey.split(' ').slice(0, 2).join(' ')} reset-access-r-online1`;
    expect(summary).toMatchObject({ ok: true, mode: 'online', root: '/', keyType: 'ed25519', fingerprint: key.fingerprint, publicKey: line });
    const after = rootOf(MANAGED);
    expect(after.volumeId).toBe(before.volumeId);
    expect(usersAcceptingKey(before.files, line)).toEqual([]);
    expect(usersAcceptingKey(after.files, line)).toEqual(['ec2-user']);
  });

  it('a command to an agent that lost its connection stays Pending, then times out undelivered, changing nothing', async () => {
    // Prepare
    const { ssm, region, advance, rootOf } = seeded();
    const before = rootOf(MANAGED).files;
    const key = generateSshKeyPair('ed25519', 'service');
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [MANAGED],
        TimeoutSeconds: 60,
        Parameters: { commands: buildLinuxOnlineCommands({ jobId: 'r-online2', targetInstanceId: MANAGED, publicKey: key.publicKey }) },
      }),
    );
    region.setAgentConnected(MANAGED, false);

    // Act
    advance(DEFAULT_TIMINGS.commandVisibleMs + DEFAULT_TIMINGS.commandStartMs);
    const pending = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: MANAGED }));
    advance(60_000);
    const ended = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: MANAGED }));

    // Assess
    expect(pending.Status).toBe('Pending');
    expect([ended.Status, ended.StatusDetails]).toEqual(['TimedOut', 'DeliveryTimedOut']);
    expect(rootOf(MANAGED).files).toEqual(before);
  });

  it('an ed25519 key on an OpenSSH older than 6.5 fails KEY_TYPE_UNSUPPORTED', async () => {
    // Prepare
    const { region, ssm, advance, rootOf } = seeded();
    const old = region.seedInstance({
      imageId: region.getInstance(MANAGED)!.imageId,
      state: 'running',
      iamInstanceProfileName: 'app',
      root: { files: { ...rootOf(MANAGED).files, '/usr/sbin/sshd': { type: 'file', content: 'OpenSSH_5.3p1', mode: 0o755, uid: 0, gid: 0 } } },
    });

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [old.instanceId],
        Parameters: {
          commands: buildLinuxOnlineCommands({ jobId: 'r-online3', targetInstanceId: old.instanceId, publicKey: generateSshKeyPair('ed25519', 'x').publicKey }),
        },
      }),
    );
    advance(10_000);
    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: old.instanceId }));

    // Assess
    expect(invocation.Status).toBe('Failed');
    expect(parseOnlineSummary(invocation.StandardOutputContent!)).toMatchObject({ ok: false, error: 'KEY_TYPE_UNSUPPORTED' });
  });
});
