import { defaultConfig } from '../../domain/config';
import type { PhaseMessage } from '../../domain/ports';
import { VirtualStack, type VirtualStackOptions } from '../../infra/local/virtual-stack';
import { linuxRescueRunner } from '../../infra/sim/linux-rescue-runner';
import { SAMPLE_KMS_KEY_ID } from '../../infra/sim/samples';
import type { ScriptRunner } from '../../infra/sim/script-runners';
import { mutatingCalls } from '../support/checks';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const HOUR = 3600 * 1000;

async function start(instanceId: string, options: VirtualStackOptions = {}) {
  const stack = new VirtualStack(options);
  const started = await stack.api('POST', '/resets', { instanceId });
  expect(started.statusCode).toBe(202);
  return { stack, jobId: started.json.jobId as string, startedAt: stack.clock.now() };
}

/** Runs `act` once, just before the first delivery of `phase`. */
function beforeFirst(stack: VirtualStack, phase: PhaseMessage['phase'], act: () => void | Promise<void>): void {
  let done = false;
  const deliver = stack.deliver.bind(stack);
  stack.deliver = async (message) => {
    if (!done && message.phase === phase) {
      done = true;
      await act();
    }
    await deliver(message);
  };
}

function rootAttachment(stack: VirtualStack, volumeId: string) {
  return stack.region.getVolume(volumeId)?.attachment;
}

function newInstances(stack: VirtualStack, before: string[]): string[] {
  return Object.keys(stack.region.exportState().instances).filter((id) => !before.includes(id));
}

describe('stop escalation', () => {
  it('stops again when the first stop hangs in stopping, and the reset goes on', async () => {
    // Prepare
    const { stack, jobId } = await start(AL2023);
    stack.region.faults.add({ service: 'ec2', action: 'StopInstances', times: 1, asyncFailure: true });

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    const stops = stack.region.calls.filter((c) => c.action === 'StopInstances' && !c.error);
    expect(job.status).toBe('SUCCEEDED');
    expect(stops.map((c) => (c.input as { Force?: boolean }).Force ?? false)).toEqual([false, false]);
    expect(job.resources.stopEscalation).toBe(1);
  });

  it('force-stops when the second stop hangs too', async () => {
    // Prepare
    const { stack, jobId } = await start(AL2023);
    stack.region.faults.add({ service: 'ec2', action: 'StopInstances', times: 2, asyncFailure: true, match: (input) => input.Force !== true });

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    const stops = stack.region.calls.filter((c) => c.action === 'StopInstances' && !c.error);
    expect(job.status).toBe('SUCCEEDED');
    expect(stops.map((c) => (c.input as { Force?: boolean }).Force ?? false)).toEqual([false, false, true]);
    const stop = job.phases['stop-target']!;
    expect(Date.parse(stop.endedAt!) - Date.parse(stop.startedAt)).toBeGreaterThanOrEqual(stack.ports.config.stopEscalationSeconds[1] * 1000);
  });
});

describe('rollback', () => {
  it('rolls back a helper that died at launch while the stop was still under way', async () => {
    // Prepare
    const { stack, jobId } = await start(AL2023);
    const existing = Object.keys(stack.region.exportState().instances);
    stack.region.faults.add({ service: 'ec2', action: 'RunInstances', times: 1, asyncFailure: true });

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'HELPER_LOST', phase: 'launch-helper' });
    expect(job.instanceRestored).toBe(true);
    expect(stack.region.getInstance(AL2023)?.state).toBe('running');
    expect(newInstances(stack, existing)).toHaveLength(1);
    expect(mutatingCalls(stack).RunInstances).toBe(1);
  });

  it.each([
    ['its state-change event', true],
    ['a look at the helper itself (no AWS events delivered)', false],
  ])('notices a Windows helper that dies while its agent is awaited, by %s, well before the deadline', async (_how, awsEvents) => {
    // Prepare: the helper is terminated five minutes into its fifteen-minute first boot (a Windows
    // helper: the fast path, whose Linux helper boots in a minute, is off)
    const windowsHelper = { windowsFastPath: { ...defaultConfig.windowsFastPath, enabled: false } };
    const { stack, jobId } = await start('i-0a1b2c3d4e5f60007', { awsEvents, config: windowsHelper });
    const existing = Object.keys(stack.region.exportState().instances);
    let killedAt = 0;
    stack.beforeDelivery = () => {
      const helper = Object.values(stack.region.exportState().instances).find((i) => !existing.includes(i.instanceId) && i.state === 'running');
      if (!killedAt && helper && stack.clock.now() - helper.launchTime > 5 * 60_000) {
        killedAt = stack.clock.now();
        stack.region.ec2('TerminateInstances', { InstanceIds: [helper.instanceId] });
      }
    };

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(killedAt).toBeGreaterThan(0);
    expect(job.error).toMatchObject({ code: 'HELPER_LOST', phase: 'launch-helper' });
    expect(job.instanceRestored).toBe(true);
    const noticed = Date.parse(job.phases['launch-helper']!.endedAt!) - killedAt;
    expect(noticed).toBeLessThan((awsEvents ? 10 : 4 * stack.ports.config.pollSeconds.helperAgentMaxGap + 10) * 1000);
  });

  it('escalates a stop that hangs while it rolls back, instead of waiting for it until its deadline', async () => {
    // Prepare: the stop hangs in stopping, and the helper's image cannot be read: the job fails
    // while the stop-target branch is still waiting for the stop.
    const { stack, jobId, startedAt } = await start(AL2023);
    stack.region.faults.add({ service: 'ec2', action: 'StopInstances', times: 1, asyncFailure: true });
    stack.region.faults.add({ service: 'ssm', action: 'GetParameter', times: 1, error: { code: 'AccessDeniedException' } });

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error?.phase).toBe('launch-helper');
    expect(job.instanceRestored).toBe(true);
    expect(stack.region.getInstance(AL2023)?.state).toBe('running');
    expect(Date.parse(job.endedAt!) - startedAt).toBeLessThan(HOUR);
  });

  it('terminates a helper whose id was never recorded (crash right after RunInstances), found by its ClientToken', async () => {
    // Prepare: every write of the delivery that launches the helper fails, and the job is cancelled
    // before that delivery comes back.
    const { stack, jobId } = await start(AL2023);
    const existing = Object.keys(stack.region.exportState().instances);
    const store = stack.ports.store;
    const put = store.put.bind(store);
    let crashing = false;
    store.put = async (job, expected) => {
      if (crashing) throw new Error('handler crashed');
      return put(job, expected);
    };
    const deliver = stack.deliver.bind(stack);
    let cancelled = false;
    stack.deliver = async (message) => {
      crashing = message.phase === 'launch-helper' && !cancelled;
      await deliver(message);
      crashing = false;
      if (message.phase === 'launch-helper' && !cancelled && stack.region.calls.some((c) => c.action === 'RunInstances')) {
        cancelled = true;
        expect((await stack.api('POST', `/resets/${jobId}/cancel`)).statusCode).toBe(202);
      }
    };

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    const helpers = newInstances(stack, existing);
    expect(job.status).toBe('FAILED');
    expect(job.resources.helperInstanceId).toBeUndefined();
    expect(job.instanceRestored).toBe(true);
    expect(helpers).toHaveLength(1);
    expect(['shutting-down', 'terminated']).toContain(stack.region.getInstance(helpers[0]!)?.state);
  });

  it('waits for a volume still attaching to the helper, then brings it back to the target', async () => {
    // Prepare: attaches take longer than rollback's settling time.
    const { stack, jobId } = await start(AL2023, { region: { timings: { attachMs: 5 * 60 * 1000 } } });
    let volumeId = '';
    const deliver = stack.deliver.bind(stack);
    let cancelled = false;
    stack.deliver = async (message) => {
      await deliver(message);
      if (!cancelled && message.phase === 'attach-to-helper' && stack.region.calls.some((c) => c.action === 'AttachVolume')) {
        cancelled = true;
        volumeId = (await stack.job(jobId)).target!.rootVolumeId;
        expect(rootAttachment(stack, volumeId)?.state).toBe('attaching');
        await stack.api('POST', `/resets/${jobId}/cancel`);
      }
    };

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    const attachment = rootAttachment(stack, volumeId);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('CANCELLED');
    expect(job.instanceRestored).toBe(true);
    expect(attachment).toMatchObject({ instanceId: AL2023, device: '/dev/xvda', state: 'attached', deleteOnTermination: true });
    expect(stack.region.getInstance(AL2023)?.state).toBe('running');
  });

  it('rolls back a phase past its deadline (the helper never comes Online)', async () => {
    // Prepare
    const { stack, jobId } = await start(AL2023, { region: { timings: { linuxAgentOnlineMs: 2 * HOUR } } });
    const existing = Object.keys(stack.region.exportState().instances);

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'PHASE_DEADLINE', phase: 'launch-helper' });
    expect(job.instanceRestored).toBe(true);
    expect(newInstances(stack, existing).map((id) => stack.region.getInstance(id)?.state)).toEqual([expect.stringMatching(/^(shutting-down|terminated)$/)]);
  });

  it('ends FAILED, not restored, without starting again and again, when the KMS key is disabled before the target starts', async () => {
    // Prepare
    const { stack, jobId, startedAt } = await start(ENCRYPTED);
    beforeFirst(stack, 'restore-target', () => stack.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled'));

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'START_FAILED', phase: 'restore-target' });
    expect(job.instanceRestored).toBe(false);
    expect(job.rollbackError?.code).toBe('START_FAILED');
    expect(mutatingCalls(stack).StartInstances).toBeLessThanOrEqual(2);
    expect(Date.parse(job.endedAt!) - startedAt).toBeLessThan(HOUR);
    // The volume is back where it belongs all the same.
    expect(rootAttachment(stack, job.target!.rootVolumeId)).toMatchObject({ instanceId: ENCRYPTED, state: 'attached' });
  });

  it('starts the target once in rollback and then gives up, when the KMS key is disabled once the volume is back', async () => {
    // Prepare: the job fails at the rescue command; the key is disabled while the rollback runs,
    // after the root volume is back on the target and before the target is started again.
    const { stack, jobId, startedAt } = await start(ENCRYPTED);
    stack.region.faults.add({ service: 'ssm', action: 'SendCommand', times: 1, error: { code: 'AccessDeniedException' } });
    const deliver = stack.deliver.bind(stack);
    let disabled = false;
    stack.deliver = async (message) => {
      const job = await stack.job(jobId);
      const back = job.target && rootAttachment(stack, job.target.rootVolumeId)?.instanceId === ENCRYPTED;
      if (!disabled && message.phase === 'rollback' && back && stack.region.calls.some((c) => c.action === 'DetachVolume')) {
        disabled = true;
        stack.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled');
      }
      await deliver(message);
    };

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(disabled).toBe(true);
    expect(job.status).toBe('FAILED');
    expect(job.instanceRestored).toBe(false);
    expect(job.rollbackError?.code).toBe('START_FAILED');
    expect(mutatingCalls(stack).StartInstances).toBe(1);
    expect(Date.parse(job.endedAt!) - startedAt).toBeLessThan(HOUR);
  });

  it('ends FAILED, not restored, without attaching again and again, when the KMS key is disabled before the attach', async () => {
    // Prepare
    const { stack, jobId, startedAt } = await start(ENCRYPTED);
    beforeFirst(stack, 'attach-to-helper', () => stack.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled'));

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'ATTACH_FAILED', phase: 'attach-to-helper' });
    expect(job.instanceRestored).toBe(false);
    expect(job.rollbackError?.code).toBe('ATTACH_FAILED');
    expect(mutatingCalls(stack).AttachVolume).toBeLessThanOrEqual(6);
    expect(Date.parse(job.endedAt!) - startedAt).toBeLessThan(HOUR);
  });

  it('retries a rollback step that fails and still restores the instance', async () => {
    // Prepare: the job fails at the rescue command; the rollback's first start is refused once.
    const { stack, jobId } = await start(AL2023);
    stack.region.faults.add({ service: 'ssm', action: 'SendCommand', times: 1, error: { code: 'AccessDeniedException' } });
    beforeFirst(
      stack,
      'rollback',
      () => void stack.region.faults.add({ service: 'ec2', action: 'StartInstances', times: 1, error: { code: 'UnauthorizedOperation', status: 403 } }),
    );

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'AccessDeniedException', phase: 'run-rescue' });
    expect(job.instanceRestored).toBe(true);
    expect(stack.region.calls.filter((c) => c.action === 'StartInstances').map((c) => c.error?.code)).toEqual(['UnauthorizedOperation', undefined]);
    expect(stack.region.getInstance(AL2023)?.state).toBe('running');
  });

  it('reports why a rescue that ended Success printed no summary, and rolls back', async () => {
    // Prepare: the rescue script exits 0 having printed something else than its summary
    const noSummary: ScriptRunner = {
      ...linuxRescueRunner,
      name: 'linux-rescue-no-summary',
      run: () => ({ status: 'Success', stdout: 'mounted /dev/nvme1n1p1\n', stderr: '', responseCode: 0 }),
    };
    const { stack, jobId } = await start(AL2023, { region: { scriptRunners: [noSummary] } });

    // Act
    await stack.run();

    // Assess
    const job = await stack.job(jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatchObject({ code: 'RESCUE_SUMMARY_UNREADABLE', phase: 'run-rescue', message: expect.stringMatching(/printed no JSON summary line/) });
    expect(job.instanceRestored).toBe(true);
  });
});
