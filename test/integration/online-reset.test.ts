/**
 * The online reset end to end on the simulated region: the API, the real phase runner and
 * adapters, the SSM-managed sample. Online never stops, detaches or launches anything; `auto`
 * chooses the path by the instance's state and agent; a failed online attempt falls over to the
 * volume swap (auto) or fails changing nothing (online).
 */
import { VirtualStack } from '../../infra/local/virtual-stack';
import { linuxOnlineRunner } from '../../infra/sim/linux-online-runner';
import type { ScriptRunner } from '../../infra/sim/script-runners';
import { mutatingCalls, usersAcceptingStoredKey } from '../support/checks';
import { callsOn, phasesOf, resetThroughApi, rootVolumeOf } from '../support/online-resets';

const MANAGED = 'i-0a1b2c3d4e5f60009';
const UNMANAGED = 'i-0a1b2c3d4e5f60001';
const STOPPED = 'i-0a1b2c3d4e5f60002';
const KEY_PARAMETER = `/ec2rl/openssh/${MANAGED}/key`;

/** Whether a command of the online mode (rather than the offline rescue) was the one sent. */
const isOnlineCommand = (input: { Parameters?: Record<string, string[]> }) =>
  (input.Parameters?.commands ?? []).some((c) => c.startsWith('export RA_TARGET_ROOT='));

const reset = resetThroughApi;

describe('online reset of an SSM-managed Linux instance (auto)', () => {
  it('puts a new key on the running instance in seconds, without ever stopping it', async () => {
    // Prepare
    const stack0 = new VirtualStack();
    const before = stack0.region.getInstance(MANAGED)!;

    // Act
    const { stack, started, view } = await reset({ instanceId: MANAGED });

    // Assess
    expect(started.statusCode).toBe(202);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toEqual({ requested: 'auto', chosen: 'online', reason: expect.stringMatching(/SSM agent Online/) });
    expect(phasesOf(view)).toEqual(['validate', 'online-reset']);
    expect(callsOn(stack, MANAGED)).toEqual([]);
    expect(mutatingCalls(stack)).toEqual({ PutParameter: 1, SendCommand: 1 });
    const after = stack.region.getInstance(MANAGED)!;
    expect([after.state, after.publicIpAddress]).toEqual(['running', before.publicIpAddress]);
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
    expect(stack.region.getParameter(KEY_PARAMETER)?.type).toBe('SecureString');
    expect(view.outputs).toMatchObject({
      sshKeyParameter: KEY_PARAMETER,
      usersWithNewKey: ['ec2-user'],
      publicIpWillChange: false,
      sshKeyFingerprint: expect.stringMatching(/^SHA256:/),
    });
    expect((Date.parse(view.endedAt) - Date.parse(view.createdAt)) / 1000).toBeLessThan(30);
  });

  it('never writes the private key to the job, the view or the phase messages', async () => {
    const { stack, view } = await reset({ instanceId: MANAGED });

    const privateKey = stack.region.getParameter(KEY_PARAMETER)!.value;
    const body = privateKey.split('\n')[1]!;
    const stored = JSON.stringify(await stack.job(view.jobId));
    expect(stored).not.toContain(body);
    expect(stored).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(view)).not.toContain(body);
    expect(JSON.stringify(stack.deliveries)).not.toContain(body);
    const sent = stack.region.calls.find((c) => c.action === 'SendCommand')!;
    expect(JSON.stringify(sent.input)).not.toContain(body);
  });

  it('every online-reset message delivered twice makes one key and sends one command', async () => {
    const { stack, view } = await reset({ instanceId: MANAGED }, { queueFault: (send) => (send.message.phase === 'online-reset' ? 'duplicate' : 'deliver') });

    expect(view.status).toBe('SUCCEEDED');
    expect(stack.deliveries.filter((d) => d.message.phase === 'online-reset').length).toBeGreaterThan(3);
    expect(mutatingCalls(stack)).toEqual({ PutParameter: 1, SendCommand: 1 });
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
  });
});

describe('auto chooses offline, and says why', () => {
  it.each([
    ['a stopped instance', STOPPED, undefined, /is stopped/],
    ['an instance SSM does not manage', UNMANAGED, undefined, /not registered with Systems Manager/],
    ['an agent that lost its connection', MANAGED, (stack: VirtualStack) => stack.region.setAgentConnected(MANAGED, false), /agent is ConnectionLost/],
  ])('%s: the volume swap', async (_what, instanceId, prepare, reason) => {
    const { stack, view } = await reset({ instanceId }, {}, prepare);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toEqual({ requested: 'auto', chosen: 'offline', reason: expect.stringMatching(reason) });
    expect(phasesOf(view)).not.toContain('online-reset');
    expect(mutatingCalls(stack).RunInstances).toBe(1);
  });

  it('explicit offline on the SSM-managed instance: the swap, not online', async () => {
    const { stack, view } = await reset({ instanceId: MANAGED, mode: 'offline' });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ requested: 'offline', chosen: 'offline' });
    expect(callsOn(stack, MANAGED)).toContain('StopInstances');
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
  });
});

describe('explicit online', () => {
  it('on a stopped instance: 422 ONLINE_NOT_RUNNING, no job, nothing changed', async () => {
    const { stack, started } = await reset({ instanceId: STOPPED, mode: 'online' });

    expect(started.statusCode).toBe(422);
    expect(started.json.code).toBe('ONLINE_NOT_RUNNING');
    expect(mutatingCalls(stack)).toEqual({});
    expect(await stack.store.listActive()).toEqual([]);
  });

  it('an unknown mode is a 400 naming the field', async () => {
    const { started } = await reset({ instanceId: MANAGED, mode: 'fast' });

    expect(started.statusCode).toBe(400);
    expect(started.json.message).toMatch(/^mode: /);
  });

  it('a command that fails: the job fails with the reason and nothing else is changed', async () => {
    // Prepare: the command is accepted, then its run fails on the instance
    const fail = (stack: VirtualStack) => void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', asyncFailure: { message: 'bash: disk full' } });

    // Act
    const { stack, view } = await reset({ instanceId: MANAGED, mode: 'online' }, {}, fail);

    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({
      phase: 'online-reset',
      code: 'ONLINE_COMMAND_FAILED',
      message: expect.stringMatching(/^online reset failed: .*disk full/),
    });
    expect(view.instanceRestored).toBe(true);
    expect(callsOn(stack, MANAGED)).toEqual([]);
    expect(mutatingCalls(stack)).toEqual({ PutParameter: 1, SendCommand: 1 });
    expect(stack.region.getInstance(MANAGED)!.state).toBe('running');
  });
});

/** The online script's model, reporting another key than the one it was sent (as a stale or foreign script would). */
const otherKeyReported: ScriptRunner = {
  ...linuxOnlineRunner,
  name: 'linux-online-other-key',
  run: (run) => {
    const outcome = linuxOnlineRunner.run(run);
    const summary = JSON.parse(outcome.stdout) as Record<string, unknown>;
    return { ...outcome, stdout: `${JSON.stringify({ ...summary, fingerprint: 'SHA256:someone-elses-key' })}\n` };
  },
};

describe('an online command that reports another key than the one sent', () => {
  it('online: the job fails naming both keys', async () => {
    // Act
    const { view } = await reset({ instanceId: MANAGED, mode: 'online' }, { region: { scriptRunners: [otherKeyReported] } });

    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({
      phase: 'online-reset',
      code: 'ONLINE_KEY_MISMATCH',
      message: expect.stringMatching(/SHA256:someone-elses-key.*not the key SHA256:/),
    });
    expect(view.outputs.sshKeyFingerprint).toBeUndefined();
  });

  it('auto: the job falls over to the swap, which succeeds', async () => {
    // Act
    const { stack, view } = await reset({ instanceId: MANAGED }, { region: { scriptRunners: [otherKeyReported] } });

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ chosen: 'offline', fellOver: { code: 'ONLINE_KEY_MISMATCH' } });
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
  });
});

describe('fall-over from a failed online attempt to the volume swap (auto)', () => {
  it('the command fails on the instance: the swap runs and succeeds, the reason recorded', async () => {
    // Prepare: only the online command fails; the helper's rescue command later runs
    const fail = (stack: VirtualStack) =>
      void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', match: isOnlineCommand, asyncFailure: { message: 'bash: disk full' } });

    // Act
    const { stack, view } = await reset({ instanceId: MANAGED }, {}, fail);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({
      requested: 'auto',
      chosen: 'offline',
      fellOver: { code: 'ONLINE_COMMAND_FAILED', reason: expect.stringMatching(/disk full/) },
    });
    expect(phasesOf(view)).toEqual(expect.arrayContaining(['validate', 'online-reset', 'stop-target', 'run-rescue', 'cleanup']));
    expect(callsOn(stack, MANAGED)).toContain('StopInstances');
    expect(mutatingCalls(stack).SendCommand).toBe(2);
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
    expect(view.outputs.publicIpWillChange).toBe(true);
    expect(stack.region.getInstance(MANAGED)!.state).toBe('running');
  });

  it('the agent goes away after validate: no command is sent, the swap succeeds', async () => {
    // Prepare
    const stack0 = (stack: VirtualStack) => {
      stack.beforeDelivery = (message) => {
        if (message.phase === 'online-reset' && stack.region.getInstance(MANAGED)!.agent.status === 'online') stack.region.setAgentConnected(MANAGED, false);
      };
    };

    // Act
    const { stack, view } = await reset({ instanceId: MANAGED }, {}, stack0);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode.fellOver).toMatchObject({ code: 'ONLINE_AGENT_NOT_ONLINE', reason: expect.stringMatching(/ConnectionLost/) });
    expect(mutatingCalls(stack).SendCommand).toBe(1);
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
  });

  it('the agent goes away after the command was sent: the command times out undelivered, the swap succeeds', async () => {
    // Prepare: the agent drops right after SendCommand (the message that records the command id)
    const prepare = (stack: VirtualStack) => {
      stack.beforeDelivery = () => {
        const sent = stack.region.calls.some((c) => c.action === 'SendCommand');
        if (
          sent &&
          stack.region.getInstance(MANAGED)!.state === 'running' &&
          stack.region.getInstance(MANAGED)!.agent.status === 'online' &&
          !stack.region.calls.some((c) => c.action === 'StopInstances')
        ) {
          stack.region.setAgentConnected(MANAGED, false);
        }
      };
    };

    // Act: delivery to the agent takes 5 s here, so the agent is gone before the command reaches it
    const { stack, view } = await reset({ instanceId: MANAGED }, { region: { timings: { commandStartMs: 5000 } } }, prepare);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode.fellOver).toMatchObject({ code: 'ONLINE_COMMAND_TIMEDOUT' });
    const online = view.phases.find((p: { name: string }) => p.name === 'online-reset');
    expect(online.durationSeconds).toBeGreaterThanOrEqual(60);
    expect(usersAcceptingStoredKey(stack, MANAGED, rootVolumeOf(stack, MANAGED))).toEqual(['ec2-user']);
  });

  it('no fall-over when the swap is refused (a Spot instance): the job fails, saying both reasons', async () => {
    // Prepare
    let spot = '';
    const prepare = (stack: VirtualStack) => {
      const template = stack.region.getInstance(MANAGED)!;
      spot = stack.region.seedInstance({
        imageId: template.imageId,
        state: 'running',
        lifecycle: 'spot',
        iamInstanceProfileName: 'app',
        tags: { Name: 'spot-managed', 'reset-access:allowed': 'true' },
      }).instanceId;
      stack.region.faults.add({ service: 'ssm', action: 'SendCommand', asyncFailure: { message: 'bash: disk full' } });
    };
    const stack = new VirtualStack();
    prepare(stack);

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: spot });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(started.statusCode).toBe(202);
    expect(view.status).toBe('FAILED');
    expect(view.mode).toMatchObject({ chosen: 'online', offlineRefused: { code: 'SPOT_INSTANCE' } });
    expect(view.error.message).toMatch(/online reset failed: .*the volume swap is not possible either: Spot/);
    expect(callsOn(stack, spot)).toEqual([]);
  });
});
