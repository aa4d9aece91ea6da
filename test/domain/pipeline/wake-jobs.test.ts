import type { Job } from '../../../domain/job/job';
import type { PhaseMessage } from '../../../domain/ports';
import { resourceOf, unlinkedResources, wakeJobsFor, type ResourceEvent } from '../../../domain/pipeline/wake-jobs';
import { silentLog } from '../../../infra/observability/logger';
import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { job as jobFixture } from '../fixtures';

const TARGET = 'i-0123456789abcdef0';
const HELPER = 'i-0helper000000000';
const VOLUME = 'vol-0123456789abcdef0';
const started = '2026-01-01T00:00:00.000Z';

/** A job in the overlap of the helper launch and the stop, both waiting for AWS. */
function overlapping(overrides: Partial<Job> = {}): Job {
  return jobFixture({
    current: ['launch-helper', 'stop-target'],
    phases: {
      validate: { status: 'done', startedAt: started, endedAt: started, attempt: 0 },
      'launch-helper': { status: 'running', startedAt: started, attempt: 2, waitingFor: 'helper instance to be running' },
      'stop-target': { status: 'running', startedAt: started, attempt: 3, waitingFor: 'target to stop' },
    },
    resources: { helperInstanceId: HELPER },
    ...overrides,
  });
}

async function setup(job: Job) {
  const store = new MemoryJobStore();
  await store.put(job, undefined);
  await store.linkResources(unlinkedResources({ ...job, target: { rootVolumeId: VOLUME } as Job['target'] }));
  const published: PhaseMessage[] = [];
  const ports = { store, bus: { publish: async (messages: PhaseMessage[]) => void published.push(...messages) }, log: silentLog };
  return { store, published, ports };
}

describe('wakeJobsFor', () => {
  it('publishes the current attempt of the phase waiting on the target when it stops', async () => {
    // Prepare
    const t = await setup(overlapping());

    // Act
    const woken = await wakeJobsFor({ kind: 'instance-state', instanceId: TARGET, state: 'stopped' }, t.ports);

    // Assess
    expect(woken).toEqual([{ jobId: 'r-test000001', phase: 'stop-target', attempt: 3 }]);
    expect(t.published).toEqual(woken);
  });

  it('wakes the launch, not the stop, when the helper is running', async () => {
    const t = await setup(overlapping());
    const woken = await wakeJobsFor({ kind: 'instance-state', instanceId: HELPER, state: 'running' }, t.ports);
    expect(woken.map((m) => m.phase)).toEqual(['launch-helper']);
  });

  it('wakes the rescue command phase when its invocation ends', async () => {
    // Prepare
    const t = await setup(
      jobFixture({
        current: ['run-rescue'],
        phases: { 'run-rescue': { status: 'running', startedAt: started, attempt: 1, waitingFor: 'rescue script to run' } },
        resources: { helperInstanceId: HELPER, rescueCommandId: 'cmd-1' },
      }),
    );

    // Act
    const running = await wakeJobsFor({ kind: 'command-status', instanceId: HELPER, commandId: 'cmd-1', status: 'InProgress' }, t.ports);
    const ended = await wakeJobsFor({ kind: 'command-status', instanceId: HELPER, commandId: 'cmd-1', status: 'Success' }, t.ports);

    // Assess
    expect(running).toEqual([]);
    expect(ended).toEqual([{ jobId: 'r-test000001', phase: 'run-rescue', attempt: 1 }]);
  });

  it('treats an EBS volume notification as a fast failure signal for the volume moves', async () => {
    const t = await setup(
      jobFixture({
        current: ['attach-to-helper'],
        phases: { 'attach-to-helper': { status: 'running', startedAt: started, attempt: 1, waitingFor: 'volume to attach' } },
      }),
    );
    const woken = await wakeJobsFor({ kind: 'volume', volumeId: VOLUME, event: 'attachVolume', result: 'failed' }, t.ports);
    expect(woken.map((m) => m.phase)).toEqual(['attach-to-helper']);
  });

  it.each<[string, ResourceEvent]>([
    ['a state on the way (stopping)', { kind: 'instance-state', instanceId: TARGET, state: 'stopping' }],
    ['a state on the way (pending)', { kind: 'instance-state', instanceId: HELPER, state: 'pending' }],
    ['an instance no job holds', { kind: 'instance-state', instanceId: 'i-0someoneelse0000', state: 'stopped' }],
  ])('ignores %s', async (_name, event) => {
    const t = await setup(overlapping());
    expect(await wakeJobsFor(event, t.ports)).toEqual([]);
    expect(t.published).toEqual([]);
  });

  it('ignores a job that has ended', async () => {
    const t = await setup(overlapping({ status: 'SUCCEEDED', current: [] }));
    expect(await wakeJobsFor({ kind: 'instance-state', instanceId: TARGET, state: 'stopped' }, t.ports)).toEqual([]);
  });

  it('leaves alone a phase that has not started waiting, or backs off after an error', async () => {
    // Prepare: the stop's first delivery is still on its way; the launch backs off after throttling
    const t = await setup(
      overlapping({
        phases: {
          'launch-helper': { status: 'running', startedAt: started, attempt: 4, throttles: 2, waitingFor: 'AWS throttled RequestLimitExceeded; trying again' },
          'stop-target': { status: 'running', startedAt: started, attempt: 0 },
        },
      }),
    );

    // Act
    const target = await wakeJobsFor({ kind: 'instance-state', instanceId: TARGET, state: 'stopped' }, t.ports);
    const helper = await wakeJobsFor({ kind: 'instance-state', instanceId: HELPER, state: 'running' }, t.ports);

    // Assess
    expect([...target, ...helper]).toEqual([]);
  });
});

describe('wakes and request slots', () => {
  it('leaves alone a phase that waits for its EC2 request slot (no event ends that wait)', async () => {
    // Prepare: the stop waits for its slot of the mutating bucket
    const t = await setup(
      overlapping({
        phases: {
          'launch-helper': { status: 'running', startedAt: started, attempt: 2, waitingFor: 'helper instance to be running' },
          'stop-target': {
            status: 'running',
            startedAt: started,
            attempt: 1,
            slotWaits: 1,
            pacedSlot: { bucket: 'ec2-mutating', at: '2026-01-01T00:05:00.000Z' },
            waitingFor: "its turn at EC2's request bucket ec2-mutating",
          },
        },
      }),
    );

    // Act
    const target = await wakeJobsFor({ kind: 'instance-state', instanceId: TARGET, state: 'stopped' }, t.ports);
    const helper = await wakeJobsFor({ kind: 'instance-state', instanceId: HELPER, state: 'running' }, t.ports);

    // Assess: the helper's wait is woken, the stop's slot wait is not
    expect(target).toEqual([]);
    expect(helper.map((m) => m.phase)).toEqual(['launch-helper']);
  });
});

describe('resourceOf', () => {
  it('names the resource of events that can end a wait, and none for the others', () => {
    expect(resourceOf({ kind: 'instance-state', instanceId: TARGET, state: 'terminated' })).toBe(TARGET);
    expect(resourceOf({ kind: 'instance-state', instanceId: TARGET, state: 'stopping' })).toBeUndefined();
    expect(resourceOf({ kind: 'command-status', instanceId: HELPER, commandId: 'c', status: 'Failed' })).toBe(HELPER);
    expect(resourceOf({ kind: 'command-status', instanceId: HELPER, commandId: 'c', status: 'Pending' })).toBeUndefined();
  });
});

describe('unlinkedResources', () => {
  it('lists what the job knows and has not linked yet', () => {
    // Prepare
    const known = jobFixture({ target: { rootVolumeId: VOLUME } as Job['target'], resources: { helperInstanceId: HELPER, linkedResources: [TARGET, VOLUME] } });

    // Act
    const links = unlinkedResources(known);

    // Assess
    expect(links).toEqual([{ resourceId: HELPER, jobId: 'r-test000001', role: 'helper' }]);
  });
});
