import { DescribeInstancesCommand, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';

import { ManualClock } from '../../../infra/sim/clock';
import { PUBLIC_IMAGE_IDS, SimulatedRegion } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { simulatedRegion } from './sim-harness';

describe('events and time', () => {
  test('one clock jump past several transitions emits each state change in order, stamped with its own time', async () => {
    // Prepare
    const { ec2, clock, events, advance } = simulatedRegion();
    const start = clock.now();
    const instanceId = (await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }))).Instances![0]
      .InstanceId!;
    advance(DEFAULT_TIMINGS.launchMs);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    // Act
    advance(DEFAULT_TIMINGS.stopMs * 3);

    // Assess
    const changes = events.filter((e) => e['detail-type'] === 'EC2 Instance State-change Notification');
    expect(changes.map((e) => [e.detail.state, Date.parse(e.time) - start])).toEqual([
      ['pending', 0],
      ['running', DEFAULT_TIMINGS.launchMs],
      ['stopping', DEFAULT_TIMINGS.launchMs],
      ['stopped', DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.stopMs],
    ]);
    expect(changes[0]).toEqual(
      expect.objectContaining({
        version: '0',
        source: 'aws.ec2',
        account: '123456789012',
        region: 'us-east-1',
        resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
        detail: { 'instance-id': instanceId, state: 'pending' },
      }),
    );
  });

  test('a virtual-time driver jumps from one transition to the next with nextTransitionAt and tick', () => {
    // Prepare
    const clock = new ManualClock();
    const region = new SimulatedRegion({ clock });
    const seen: string[] = [];
    region.onEvent((e) => seen.push(String(e.detail.state)));
    region.ec2('RunInstances', { ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 });

    // Act
    const first = region.nextTransitionAt();
    for (let next = first; next !== undefined && next <= clock.now() + DEFAULT_TIMINGS.launchMs; next = region.nextTransitionAt()) {
      clock.set(next);
      region.tick();
    }

    // Assess
    expect(first).toBe(clock.now());
    expect(seen).toEqual(['pending', 'running']);
  });

  test('a listener may call the region while it is being told about an event', async () => {
    // Prepare
    const { ec2, region, advance } = simulatedRegion();
    const statesSeenByListener: string[] = [];
    region.onEvent((e) => {
      if (e['detail-type'] !== 'EC2 Instance State-change Notification') return;
      const out = region.ec2('DescribeInstances', { InstanceIds: [String(e.detail['instance-id'])] });
      statesSeenByListener.push(out.Reservations![0].Instances![0].State!.Name!);
    });

    // Act
    await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }));
    advance(DEFAULT_TIMINGS.launchMs);

    // Assess
    expect(statesSeenByListener).toEqual(['pending', 'running']);
  });

  test('an exported state resumes in a new region: same instances, same pending transitions, no id collisions', async () => {
    // Prepare
    const { ec2, region, clock } = simulatedRegion();
    const first = (await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
    const saved = JSON.parse(JSON.stringify(region.exportState()));

    // Act
    const resumed = new SimulatedRegion({ clock, state: saved });
    clock.advance(DEFAULT_TIMINGS.launchMs);
    const second = resumed.ec2('RunInstances', { ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }).Instances![0].InstanceId!;

    // Assess
    expect(resumed.getInstance(first)?.state).toBe('running');
    expect(second).not.toBe(first);
    expect(resumed.ec2('DescribeInstances', {}).Reservations).toHaveLength(2);
    expect(await ec2.send(new DescribeInstancesCommand({}))).toEqual(expect.objectContaining({ Reservations: [expect.anything()] }));
  });
});
