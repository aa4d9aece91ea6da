/**
 * A fleet big enough to drain EC2's mutating and RunInstances/StartInstances buckets (120 resets at
 * once; sent as they come, about 400 of those calls are throttled): every job succeeds, and with the
 * service's pacing EC2 throttles none of the calls it paces. Simulated time only: no wall-clock
 * thresholds.
 */
import { runFleet, type FleetResult } from '../../bench/fleet';
import { fleetReport } from '../../bench/report';
import { PACED_CALLS } from '../../domain/admission/request-pacing';

describe('a fleet under EC2 request throttling', () => {
  let fleet: FleetResult;

  beforeAll(async () => {
    // Act
    fleet = await runFleet({ count: 120 });
  }, 120_000);

  it('finishes every job, none failed from throttling or quota', () => {
    // Assess
    expect({ succeeded: fleet.succeeded, failed: fleet.failed, unfinished: fleet.unfinished, failedFromLimits: fleet.failedFromLimits }).toEqual({
      succeeded: 120,
      failed: 0,
      unfinished: 0,
      failedFromLimits: 0,
    });
  });

  it('is never throttled on a call it paces', () => {
    // Assess
    const paced = new Set<string>(Object.values(PACED_CALLS).map((c) => c.action));
    expect(Object.keys(fleet.throttled).filter((action) => paced.has(action))).toEqual([]);
    // Each target named in exactly one answered StopInstances (some may have been shared), one helper each.
    expect(fleet.stops.instances).toBe(120);
    expect(fleet.answered.StopInstances).toBeLessThanOrEqual(120);
    expect(fleet.answered.RunInstances).toBe(120);
  });

  it('answers starts over the API rate with 429, and every request is accepted in the end', () => {
    // Assess
    expect(fleet.apiAnswers['202']).toBe(120);
    expect(fleet.apiAnswers['429']).toBeGreaterThan(0);
    expect(fleet.apiRetries).toBe((fleet.apiAnswers['429'] ?? 0) + (fleet.apiAnswers['503'] ?? 0));
  });

  it('reports what operators need: API answers, the busiest bucket, the wait for slots, downtime', () => {
    // Act
    const report = fleetReport(fleet).join('\n');
    // Assess
    expect(report).toMatch(/start requests: 120 accepted; \d+ answered 429/);
    expect(report).toMatch(/busiest bucket \w+: answered \d+ %/);
    expect(report).toMatch(/waiting for EC2 request slots .*: p50 \d+\.\d s, p95 \d+\.\d s/);
    expect(report).toMatch(/down from its stop until restored: p50 \d+\.\d s, p95 \d+\.\d s; at most \d+ down at once/);
    expect(fleet.bottleneck.utilization).toBeGreaterThan(0);
    expect(fleet.bottleneck.utilization).toBeLessThanOrEqual(1);
    expect(fleet.targetDowntime.maxAtOnce).toBeGreaterThan(0);
    expect(fleet.targetDowntime.p95Seconds).toBeLessThanOrEqual(fleet.p95Seconds);
  });
});

describe('a fleet whose stops queue behind the mutating bucket', () => {
  let fleet: FleetResult;

  beforeAll(async () => {
    // Act: the service paces the mutating bucket at 1 a second (an account that leaves most of it to
    // others) and admits the whole fleet at once, so that stops wait for their slots and share
    // StopInstances requests (stop-batches.ts)
    fleet = await runFleet({
      count: 60,
      config: {
        apiAdmission: { ratePerMinute: 600, burst: 60 },
        requestPacing: { scope: 'category', mutating: { ratePerMinute: 60, burst: 5 }, runStart: { ratePerMinute: 120, burst: 3 } },
      },
    });
  }, 120_000);

  it('finishes every job, each target named in exactly one StopInstances that EC2 answered', () => {
    // Assess
    expect({ succeeded: fleet.succeeded, failed: fleet.failed, unfinished: fleet.unfinished }).toEqual({ succeeded: 60, failed: 0, unfinished: 0 });
    expect(fleet.stops.instances).toBe(60);
    expect(fleet.throttled.StopInstances).toBeUndefined();
  });

  it('stops the targets in fewer requests than targets', () => {
    // Assess
    expect(fleet.stops.requests).toBeLessThan(45); // 60 without batching (one per target)
    expect(fleet.stops.largest).toBeGreaterThan(1);
    expect(fleetReport(fleet).join('\n')).toMatch(/stops: 60 instances in \d+ StopInstances requests \(at most \d+ in one/);
  });
});
