import { runFleetChaos } from '../../../infra/local/chaos-fleet';

describe('the fleet under faults (a small `npm run chaos -- --fleet`)', () => {
  it('starts exactly one job per instance, ends every job, and holds every invariant', async () => {
    // Act
    const report = await runFleetChaos({ count: 40, doubles: 4 });

    // Assess
    expect(report.violations).toEqual([]);
    expect(report.doubles).toBe(4);
    expect(report.answers['409']).toBeGreaterThan(0);
    expect(report.jobs).toBe(40);
    expect(report.terminal).toBe(report.jobs);
    expect(report.faults.reduce((sum, f) => sum + f.fired, 0)).toBe(4);
    expect(report.failed).toBe(report.failedRestored);
  }, 600_000);

  it('reports two jobs at once when the instance lock does not hold', async () => {
    // Act: a service whose lock lets every taker in.
    const report = await runFleetChaos({ count: 40, doubles: 4, arrange: (stack) => void (stack.store.acquireLock = async () => true) });

    // Assess
    expect(report.violations).toEqual(expect.arrayContaining([expect.stringMatching(/^i-[0-9a-f]+: jobs r-\w+ and r-\w+ ran at once$/)]));
  }, 600_000);
});
