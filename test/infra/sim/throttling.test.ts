import { ManualClock } from '../../../infra/sim/clock';
import { EC2_BUCKETS, Ec2Throttle } from '../../../infra/sim/throttling';

const describe5 = { InstanceIds: ['i-1'] };

describe('Ec2Throttle scopes', () => {
  it('category (default): the actions of one row share its bucket', () => {
    // Prepare
    const throttle = new Ec2Throttle(new ManualClock(0), EC2_BUCKETS);

    // Act: RunInstances empties the bucket StartInstances draws from too
    const runs = Array.from({ length: EC2_BUCKETS.runStart.capacity }, () => throttle.tryTake('RunInstances', {}));
    const start = throttle.tryTake('StartInstances', {});

    // Assess
    expect(runs.every(Boolean)).toBe(true);
    expect(start).toBe(false);
  });

  it('action: every action has a bucket of its own, of its row size', () => {
    // Prepare
    const clock = new ManualClock(0);
    const throttle = new Ec2Throttle(clock, EC2_BUCKETS, 'action');

    // Act
    const runs = Array.from({ length: EC2_BUCKETS.runStart.capacity + 1 }, () => throttle.tryTake('RunInstances', {}));
    const start = throttle.tryTake('StartInstances', {});
    const volumes = Array.from({ length: EC2_BUCKETS.describe.capacity }, () => throttle.tryTake('DescribeVolumes', { VolumeIds: ['v'] }));
    const instances = throttle.tryTake('DescribeInstances', describe5);
    clock.advance(1000);
    const runAfterRefill = throttle.tryTake('RunInstances', {});

    // Assess
    expect(runs.slice(0, -1).every(Boolean)).toBe(true);
    expect(runs[runs.length - 1]).toBe(false);
    expect(start).toBe(true);
    expect(volumes.every(Boolean)).toBe(true);
    expect(instances).toBe(true);
    expect(runAfterRefill).toBe(true);
  });
});
