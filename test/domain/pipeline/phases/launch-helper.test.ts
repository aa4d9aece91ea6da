import { clientToken } from '../../../../domain/naming';
import { launchHelper } from '../../../../domain/pipeline/phases/launch-helper';
import type { Job } from '../../../../domain/job/job';
import type { HelperLaunch } from '../../../../domain/ports';
import { FakeRescue, fakePorts, HELPER, seedSwap, swapJob } from './fakes';

const network = { kind: 'rescue-vpc' as const, subnetId: 'subnet-rescue', vpcId: 'vpc-rescue', securityGroupIds: ['sg-rescue'] };
const launching = (overrides: Partial<Job['resources']> = {}, attempt = 0) =>
  swapJob('launch-helper', { resources: { rescueNetwork: network, ...overrides } }, attempt);

describe('launch-helper', () => {
  it('launches the helper once per job (ClientToken from the job), tagged with what the sweeper needs, and waits for it to run', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ rescue: new FakeRescue() });
    const job = launching();
    // Act
    const result = await launchHelper(job, ports);
    await launchHelper(job, ports);
    // Assess
    const launches = compute.calls.filter((c) => c.method === 'launchInstance').map((c) => c.args[0] as HelperLaunch);
    expect(new Set(launches.map((l) => l.clientToken))).toEqual(new Set([clientToken(job.jobId, 'launch-helper')]));
    expect(compute.launched.size).toBe(1);
    expect(launches[0]).toMatchObject({
      subnetId: 'subnet-rescue',
      securityGroupIds: ['sg-rescue'],
      instanceProfile: ports.config.helperInstanceProfile,
      tags: expect.objectContaining({ 'reset-access:managed': 'true', 'reset-access:role': 'helper', 'reset-access:job-id': job.jobId }),
    });
    expect(result).toMatchObject({ kind: 'wait', onEvent: true });
  });

  it('first looks at the agent some time after the helper runs, then is done when it is Online', async () => {
    // Prepare
    const rescue = new FakeRescue();
    const { ports, compute } = fakePorts({ rescue });
    seedSwap(compute);
    // Act
    const seenRunning = await launchHelper(launching({ helperInstanceId: HELPER }, 1), ports);
    const online = await launchHelper(launching({ helperInstanceId: HELPER, helperRunningAt: '2026-01-01T00:09:00.000Z' }, 2), ports);
    // Assess
    expect(seenRunning).toMatchObject({ kind: 'wait', delaySeconds: ports.config.pollSeconds.helperAgentFirstLook });
    expect(online.kind).toBe('done');
  });

  it('notices a helper that died while its agent was awaited', async () => {
    // Prepare
    const rescue = new FakeRescue();
    rescue.agent = 'absent';
    const { ports, compute } = fakePorts({ rescue });
    seedSwap(compute);
    compute.setState(HELPER, 'terminated');
    // Act
    const act = launchHelper(launching({ helperInstanceId: HELPER, helperRunningAt: '2026-01-01T00:09:00.000Z' }, 2), ports);
    // Assess
    await expect(act).rejects.toMatchObject({ code: 'HELPER_LOST' });
  });
});
