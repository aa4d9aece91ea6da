/**
 * Shared stops end to end (domain/pipeline/stop-batches.ts): a fleet on the simulated region whose stops
 * queue behind the mutating bucket, where some jobs fail while their stop waits in a batch. Those
 * targets are never stopped by the batch (the rollback took them out, or the sender left them out
 * because their job no longer waits on it), and end as they were; every other job succeeds.
 */
import { runFleet, type FleetResult } from '../../bench/fleet';
import type { Job } from '../../domain/job/job';
import { TAG } from '../../domain/naming';
import type { VirtualStack } from '../../infra/local/virtual-stack';

describe('a fleet whose stops are shared, with jobs failing while their stop waits in a batch', () => {
  let fleet: FleetResult;
  let jobs: Job[] = [];
  let stack: VirtualStack;
  const failing = new Set<string>();
  /** When answered StopInstances requests named the instance. */
  const stopsNaming = (id: string) =>
    stack.region.calls
      .filter((c) => c.action === 'StopInstances' && !c.error && (c.input as { InstanceIds: string[] }).InstanceIds.includes(id))
      .map((c) => c.at);

  beforeAll(async () => {
    fleet = await runFleet({
      count: 40,
      // Very slow pacing of the mutating bucket (one request every 10 s), so that stops wait long in
      // their batches, and quick launches, so that a helper's refusal comes while its stop waits.
      config: { requestPacing: { scope: 'category', mutating: { ratePerMinute: 6, burst: 3 }, runStart: { ratePerMinute: 300, burst: 10 } } },
      arrange: (region, targets) => {
        // Prepare: the helpers of three targets whose stops will wait in batches cannot be launched
        for (const id of [targets[12]!, targets[20]!, targets[33]!]) failing.add(id);
        region.region.faults.add({
          service: 'ec2',
          action: 'RunInstances',
          error: { code: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.' },
          match: (input) =>
            (input.TagSpecifications ?? []).some((spec) => spec.Tags?.some((tag) => tag.Key === TAG.targetInstanceId && failing.has(tag.Value ?? ''))),
        });
      },
      inspect: (s, j) => {
        stack = s;
        jobs = j;
      },
    });
  }, 120_000);

  it('stopped the fleet in shared requests', () => {
    // Assess
    expect(fleet.stops.largest).toBeGreaterThan(1);
    expect(fleet.stops.requests).toBeLessThan(fleet.stops.instances);
  });

  it("never stopped a failed job's target once its rollback had begun; those jobs end FAILED with their target restored", () => {
    // Assess
    for (const id of failing) {
      const job = jobs.find((j) => j.instanceId === id)!;
      const rollbackAt = Date.parse(job.phases.rollback!.startedAt);
      expect(stopsNaming(id).filter((at) => at >= rollbackAt)).toEqual([]);
      expect({ status: job.status, code: job.error?.code, restored: job.instanceRestored }).toEqual({
        status: 'FAILED',
        code: 'UnauthorizedOperation',
        restored: true,
      });
      expect(stack.region.exportState().instances[id]!.state).toBe('running');
    }
  });

  it("took the failed jobs' targets out of the batches they waited in: they were never stopped at all", () => {
    // Assess: each failed while its stop waited in a batch (the batch's slot was later than the failure)
    for (const id of failing) {
      const job = jobs.find((j) => j.instanceId === id)!;
      expect(job.phases['stop-target']!.throttledSeconds).toBeGreaterThan(0);
      expect(stopsNaming(id)).toEqual([]);
    }
  });

  it('finishes every other job', () => {
    // Assess
    expect({ succeeded: fleet.succeeded, failed: fleet.failed, unfinished: fleet.unfinished }).toEqual({ succeeded: 37, failed: 3, unfinished: 0 });
  });
});
