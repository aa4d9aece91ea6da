/**
 * The Windows online reset end to end on the simulated region: the API, the real phase runner and
 * adapters, the SSM-managed Windows sample. Password generation is turned back on on the running
 * system's C: through Run Command, the instance is rebooted (never stopped) and the job ends when
 * GetPasswordData has a password made after that reboot. A failed attempt falls over to the swap
 * (auto) or fails (online).
 */
import { VirtualStack, type VirtualStackOptions } from '../../infra/local/virtual-stack';
import { passwordGenerationEnabled } from '../../infra/sim/windows-rescue-model';
import { mutatingCalls } from '../support/checks';
import { callsOn, phasesOf, resetThroughApi, rootVolumeOf } from '../support/online-resets';

const WIN_MANAGED = 'i-0a1b2c3d4e5f6000a';
const WIN_UNMANAGED = 'i-0a1b2c3d4e5f60007';

function passwordDataOf(stack: VirtualStack, instanceId: string): { data: string; timestamp?: Date } {
  const out = stack.region.ec2('GetPasswordData', { InstanceId: instanceId }) as { PasswordData?: string; Timestamp?: Date };
  return { data: out.PasswordData ?? '', timestamp: out.Timestamp };
}

/** Whether a command of the online mode (rather than the helper's offline rescue) was the one sent. */
const isOnlineCommand = (input: { Parameters?: Record<string, string[]> }) => (input.Parameters?.commands ?? []).includes("$env:RA_MODE = 'online'");

const reset = resetThroughApi;

describe('online reset of an SSM-managed Windows instance (auto)', () => {
  it('turns password generation on, reboots instead of stopping, and ends when GetPasswordData has the new password', async () => {
    // Prepare
    const before = new VirtualStack().region.getInstance(WIN_MANAGED)!;

    // Act
    const { stack, started, view } = await reset({ instanceId: WIN_MANAGED });

    // Assess
    expect(started.statusCode).toBe(202);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toEqual({ requested: 'auto', chosen: 'online', reason: expect.stringMatching(/SSM agent Online/) });
    expect(phasesOf(view)).toEqual(['validate', 'online-reset']);
    expect(callsOn(stack, WIN_MANAGED)).toEqual(['RebootInstances']);
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1, RebootInstances: 1 });
    const after = stack.region.getInstance(WIN_MANAGED)!;
    expect([after.state, after.publicIpAddress]).toEqual(['running', before.publicIpAddress]);
    const password = passwordDataOf(stack, WIN_MANAGED);
    expect(password.data).not.toBe('');
    const reboot = stack.region.calls.find((c) => c.action === 'RebootInstances')!;
    expect(password.timestamp!.getTime()).toBeGreaterThan(reboot.at);
    expect(view.outputs).toMatchObject({
      launchAgents: ['EC2Launch v2'],
      passwordRetrieval: expect.stringContaining(`get-password-data --region ${stack.ports.config.region} --instance-id ${WIN_MANAGED}`),
      passwordReadyAt: password.timestamp!.toISOString(),
      publicIpWillChange: false,
    });
    expect(view.outputs.passwordEnabledImageId).toBeUndefined();
    expect(view.outputs.sshKeyParameter).toBeUndefined();
    // The boot ran the agent: generation is off again, as after any first boot.
    expect(passwordGenerationEnabled(stack.region.getVolume(rootVolumeOf(stack, WIN_MANAGED))!.files)).toBe(false);
    const minutes = (Date.parse(view.endedAt) - Date.parse(view.createdAt)) / 60_000;
    expect(minutes).toBeLessThan(10);
  });

  it('the instance is never stopped on the way: it reports no state change at all', async () => {
    const states: unknown[] = [];
    const listen = (stack: VirtualStack) =>
      void stack.region.onEvent((e) => {
        if (e['detail-type'] === 'EC2 Instance State-change Notification' && e.detail['instance-id'] === WIN_MANAGED) states.push(e.detail.state);
      });

    const { view } = await reset({ instanceId: WIN_MANAGED }, {}, listen);

    expect(view.status).toBe('SUCCEEDED');
    expect(states).toEqual([]);
  });

  it('every online-reset message delivered twice sends one command and reboots once', async () => {
    const { stack, view } = await reset(
      { instanceId: WIN_MANAGED },
      { queueFault: (send) => (send.message.phase === 'online-reset' ? 'duplicate' : 'deliver') },
    );

    expect(view.status).toBe('SUCCEEDED');
    expect(stack.deliveries.filter((d) => d.message.phase === 'online-reset').length).toBeGreaterThan(4);
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1, RebootInstances: 1 });
  });

  it('a second reset waits for a password newer than its own reboot, not the one the first reset left', async () => {
    // Prepare: a first online reset leaves a password behind
    const { stack, view: first } = await reset({ instanceId: WIN_MANAGED });
    expect(first.status).toBe('SUCCEEDED');
    const old = passwordDataOf(stack, WIN_MANAGED);

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: WIN_MANAGED });
    await stack.run();
    const second = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(second.status).toBe('SUCCEEDED');
    const reboots = stack.region.calls.filter((c) => c.action === 'RebootInstances');
    expect(reboots).toHaveLength(2);
    expect(Date.parse(second.outputs.passwordReadyAt)).toBeGreaterThan(reboots[1]!.at);
    expect(Date.parse(second.outputs.passwordReadyAt)).toBeGreaterThan(old.timestamp!.getTime());
  });
});

describe('the reboot and the password, when things go wrong', () => {
  it('a reboot whose answer is lost is sent again; the password of the first boot still counts, the job stays online', async () => {
    // Prepare: the first RebootInstances takes effect, then its answer is lost (a retryable 500)
    const lose = (stack: VirtualStack) =>
      void stack.region.faults.add({
        service: 'ec2',
        action: 'RebootInstances',
        times: 1,
        when: 'after',
        error: { code: 'InternalError', message: 'lost answer', status: 500 },
      });

    // Act
    const { stack, view } = await reset({ instanceId: WIN_MANAGED }, {}, lose);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ chosen: 'online' });
    expect(view.mode.fellOver).toBeUndefined();
    expect(stack.region.calls.filter((c) => c.action === 'RebootInstances')).toHaveLength(2);
    expect(passwordDataOf(stack, WIN_MANAGED).data).not.toBe('');
  });

  it('a timestamp that moves without new password data does not end the job', async () => {
    // Prepare: a first reset leaves a password; afterwards GetPasswordData keeps that data but reports a fresh time
    const { stack, view: first } = await reset({ instanceId: WIN_MANAGED });
    expect(first.status).toBe('SUCCEEDED');
    const instances = stack.ports.online!.instances!;
    const real = instances.passwordData.bind(instances);
    const old = await real(WIN_MANAGED);
    instances.passwordData = async () => ({ ...old, timestamp: new Date(stack.clock.now()) });

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: WIN_MANAGED, mode: 'online' });
    await stack.run();
    const second = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(second.status).toBe('FAILED');
    expect(second.error).toMatchObject({ code: 'ONLINE_TIMED_OUT', message: expect.stringMatching(/no password made after the reboot/) });
  });

  it('online: a failure after the command says that password generation stays turned on', async () => {
    // Prepare: this reboot takes an hour; the attempt waits 10 minutes for the password
    const options: VirtualStackOptions = {
      region: { timings: { windowsBootMs: 60 * 60_000 } },
      config: {
        online: { deliveryTimeoutSeconds: 60, executionTimeoutSeconds: 120, attemptSeconds: 240, windowsPasswordSeconds: 600, windowsPasswordPollSeconds: 30 },
      },
    };

    // Act
    const { view } = await reset({ instanceId: WIN_MANAGED, mode: 'online' }, options);

    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error.message).toMatch(/password generation stays turned on \(EC2Launch v2\): the instance's next boot makes a new Administrator password/);
  });
});

describe('auto chooses for Windows', () => {
  it.each([
    ['an instance SSM does not manage', WIN_UNMANAGED, undefined, /not registered with Systems Manager/],
    ['an agent that lost its connection', WIN_MANAGED, (stack: VirtualStack) => stack.region.setAgentConnected(WIN_MANAGED, false), /agent is ConnectionLost/],
  ])('%s: the volume swap', async (_what, instanceId, prepare, reason) => {
    const { stack, view } = await reset({ instanceId }, {}, prepare);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toEqual({ requested: 'auto', chosen: 'offline', reason: expect.stringMatching(reason) });
    expect(phasesOf(view)).not.toContain('online-reset');
    expect(mutatingCalls(stack).RebootInstances).toBeUndefined();
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
  });

  it('an SSM-managed instance launched without a key pair: the swap, whose password-enabled image can be launched with one', async () => {
    // Prepare
    let keyless = '';
    const seed = (stack: VirtualStack) => {
      const template = stack.region.getInstance(WIN_MANAGED)!;
      keyless = stack.region.seedInstance({
        imageId: template.imageId,
        state: 'running',
        instanceType: 't3.medium',
        iamInstanceProfileName: 'app',
        tags: { Name: 'keyless', 'reset-access:allowed': 'true' },
      }).instanceId;
    };
    const stack = new VirtualStack();
    seed(stack);
    expect(stack.region.getInstance(keyless)!.agent.status).toBe('online');

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: keyless });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ chosen: 'offline', reason: expect.stringMatching(/without a key pair/) });
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
    expect(stack.region.calls.filter((c) => c.action === 'DescribeInstanceInformation' && JSON.stringify(c.input).includes(keyless))).toEqual([]);
  });

  it('explicit offline on the SSM-managed Windows instance: the swap', async () => {
    const { stack, view } = await reset({ instanceId: WIN_MANAGED, mode: 'offline' });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ requested: 'offline', chosen: 'offline' });
    expect(callsOn(stack, WIN_MANAGED)).toContain('StopInstances');
  });
});

describe('a failed Windows online attempt', () => {
  const failOnlineCommand = (stack: VirtualStack) =>
    void stack.region.faults.add({ service: 'ssm', action: 'SendCommand', match: isOnlineCommand, asyncFailure: { message: 'Access to the path is denied' } });

  it('auto: the script fails on the instance, the swap runs and succeeds, the reason recorded', async () => {
    const { stack, view } = await reset({ instanceId: WIN_MANAGED }, {}, failOnlineCommand);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({
      requested: 'auto',
      chosen: 'offline',
      fellOver: { code: 'ONLINE_COMMAND_FAILED', reason: expect.stringMatching(/Access to the path is denied/) },
    });
    expect(phasesOf(view)).toEqual(expect.arrayContaining(['online-reset', 'stop-target', 'run-rescue', 'create-password-image', 'cleanup']));
    expect(mutatingCalls(stack).RebootInstances).toBeUndefined();
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
    expect(view.outputs.passwordReadyAt).toBeUndefined();
    expect(stack.region.getInstance(WIN_MANAGED)!.state).toBe('running');
  });

  it('online: the script fails, the job fails with the reason, nothing is rebooted or stopped', async () => {
    const { stack, view } = await reset({ instanceId: WIN_MANAGED, mode: 'online' }, {}, failOnlineCommand);

    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ phase: 'online-reset', code: 'ONLINE_COMMAND_FAILED', message: expect.stringMatching(/^online reset failed: /) });
    expect(callsOn(stack, WIN_MANAGED)).toEqual([]);
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1 });
  });

  it('auto: no password within the limit after the reboot, the swap runs and succeeds', async () => {
    // Prepare: this reboot takes an hour; the attempt waits 10 minutes for the password
    const options: VirtualStackOptions = {
      region: { timings: { windowsBootMs: 60 * 60_000 } },
      config: {
        online: { deliveryTimeoutSeconds: 60, executionTimeoutSeconds: 120, attemptSeconds: 240, windowsPasswordSeconds: 600, windowsPasswordPollSeconds: 30 },
      },
    };

    // Act
    const { stack, view } = await reset({ instanceId: WIN_MANAGED }, options);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode.fellOver).toMatchObject({ code: 'ONLINE_TIMED_OUT', reason: expect.stringMatching(/no password made after the reboot within 600 s/) });
    expect(callsOn(stack, WIN_MANAGED)).toEqual(expect.arrayContaining(['RebootInstances', 'StopInstances', 'StartInstances']));
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
    expect(stack.region.getInstance(WIN_MANAGED)!.state).toBe('running');
  });

  it('auto: RebootInstances refused, the swap runs and succeeds', async () => {
    const refuse = (stack: VirtualStack) =>
      void stack.region.faults.add({
        service: 'ec2',
        action: 'RebootInstances',
        error: { code: 'UnauthorizedOperation', message: 'not authorized to perform ec2:RebootInstances' },
      });

    const { view } = await reset({ instanceId: WIN_MANAGED }, {}, refuse);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode.fellOver).toMatchObject({ code: expect.stringMatching(/^ONLINE_/), reason: expect.stringMatching(/RebootInstances/) });
    expect(view.outputs.passwordEnabledImageId).toMatch(/^ami-/);
  });
});
