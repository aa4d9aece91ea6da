import type { PhaseName } from '../../../domain/job/job';
import { nextPhases, planFor } from '../../../domain/pipeline/plan';
import { job } from '../fixtures';

function doneJob(platform: 'linux' | 'windows', donePhases: PhaseName[]) {
  const now = '2026-01-01T00:00:00.000Z';
  return job({ platform, phases: Object.fromEntries(donePhases.map((p) => [p, { status: 'done', startedAt: now, attempt: 0 }])) });
}

describe('phase plan', () => {
  it('starts the helper launch and the target stop in parallel after validate/network', () => {
    // Prepare
    const afterValidate = doneJob('linux', []);
    // Act
    const next = nextPhases(afterValidate, 'validate');
    // Assess
    expect(next).toEqual(['prepare-network', 'stop-target']);
    expect(nextPhases(doneJob('linux', ['validate', 'stop-target']), 'prepare-network')).toEqual(['launch-helper']);
  });

  it('joins helper launch and backup before the volume moves, whichever finishes last', () => {
    const helperFirst = doneJob('linux', ['validate', 'prepare-network', 'stop-target']);
    expect(nextPhases(helperFirst, 'launch-helper')).toEqual([]);
    const backupLast = doneJob('linux', ['validate', 'prepare-network', 'stop-target', 'launch-helper']);
    expect(nextPhases(backupLast, 'create-backup')).toEqual(['detach-root']);
  });

  it('ends Linux jobs after cleanup and puts the password image before restore on Windows', () => {
    expect(nextPhases(doneJob('linux', []), 'cleanup')).toBe('SUCCEEDED');
    expect(nextPhases(doneJob('linux', []), 'reattach-root')).toEqual(['restore-target']);
    expect(nextPhases(doneJob('windows', []), 'reattach-root')).toEqual(['create-password-image']);
    expect(planFor('linux').some((p) => p.phase === 'create-password-image')).toBe(false);
  });

  it('never starts a phase twice', () => {
    const started = doneJob('linux', ['validate']);
    started.phases['stop-target'] = { status: 'running', startedAt: started.createdAt, attempt: 0 };
    expect(nextPhases(started, 'validate')).toEqual(['prepare-network']);
  });
});
