import type { Job, PhaseName } from '../../../domain/job/job';
import { nextPhases, planFor } from '../../../domain/pipeline/plan';
import type { JobMode } from '../../../domain/preflight/reset-mode';
import { job } from '../fixtures';

const ONLINE: JobMode = { requested: 'auto', chosen: 'online', reason: 'agent Online' };
const FELL_OVER: JobMode = {
  requested: 'auto',
  chosen: 'offline',
  reason: 'swap',
  fellOver: { code: 'ONLINE_COMMAND_FAILED', reason: 'x', at: '2026-01-01T00:00:00.000Z' },
};

function jobIn(mode: JobMode | undefined, platform: 'linux' | 'windows', donePhases: PhaseName[]): Job {
  const now = '2026-01-01T00:00:00.000Z';
  return job({ platform, ...(mode ? { mode } : {}), phases: Object.fromEntries(donePhases.map((p) => [p, { status: 'done', startedAt: now, attempt: 0 }])) });
}

describe('the online plan', () => {
  it('is validate then online-reset, and ends there', () => {
    expect(planFor('linux', ONLINE).map((p) => p.phase)).toEqual(['validate', 'online-reset']);
    expect(nextPhases(jobIn(ONLINE, 'linux', []), 'validate')).toEqual(['online-reset']);
    expect(nextPhases(jobIn(ONLINE, 'linux', ['validate']), 'online-reset')).toBe('SUCCEEDED');
  });

  it('offline jobs (and jobs from before modes existed) never run online-reset', () => {
    for (const mode of [undefined, { ...ONLINE, chosen: 'offline' as const }]) {
      expect(planFor('linux', mode).some((p) => p.phase === 'online-reset')).toBe(false);
      expect(nextPhases(jobIn(mode, 'linux', []), 'validate')).toEqual(['prepare-network', 'stop-target']);
    }
  });
});

describe('after a fall-over', () => {
  it('the swap starts where the online attempt ended: network and stop in parallel', () => {
    expect(nextPhases(jobIn(FELL_OVER, 'linux', ['validate']), 'online-reset')).toEqual(['prepare-network', 'stop-target']);
  });

  it('then runs the whole swap to cleanup, on Linux and on Windows', () => {
    expect(nextPhases(jobIn(FELL_OVER, 'linux', ['validate', 'online-reset']), 'cleanup')).toBe('SUCCEEDED');
    expect(nextPhases(jobIn(FELL_OVER, 'windows', ['validate', 'online-reset']), 'reattach-root')).toEqual(['create-password-image']);
    const offline = planFor('linux').map((p) => p.phase);
    expect(planFor('linux', FELL_OVER).map((p) => p.phase)).toEqual(['validate', 'online-reset', ...offline.filter((p) => p !== 'validate')]);
  });
});
