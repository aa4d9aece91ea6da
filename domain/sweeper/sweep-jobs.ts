/**
 * The sweeper's pass over running jobs: a phase that has stopped moving (its event was lost after
 * the state write, docs/architecture.md#phase-contract) is published again at its current attempt; a job past its deadline,
 * or in a phase past its deadline, is rolled back.
 */
import { isActive, type Job, type PhaseName } from '../job/job';
import { phaseDeadlineSeconds } from '../pipeline/phase';
import { beginRollback } from '../pipeline/phase-runner';
import { phaseDefinition } from '../pipeline/phases';
import type { SweepReport } from './sweep-report';
import type { SweeperPorts } from './sweep-ports';

export async function sweepJobs(report: SweepReport, ports: SweeperPorts): Promise<void> {
  const now = ports.clock.now().getTime();
  for (const job of await ports.store.listActive()) {
    if (!isActive(job)) continue; // the index is eventually consistent
    const overdue = job.status === 'RUNNING' ? overdueReason(job, now, ports) : undefined;
    if (overdue) {
      report.found();
      await rollBack(job, overdue, report, ports);
      continue;
    }
    const stalled = job.current.filter((phase) => {
      const record = job.phases[phase];
      return record !== undefined && now - Date.parse(record.movedAt ?? record.startedAt) > ports.config.sweeper.stalledAfterSeconds * 1000;
    });
    if (stalled.length === 0) continue;
    report.found();
    await redrive(job, stalled, report, ports);
  }
}

function overdueReason(job: Job, now: number, ports: SweeperPorts): { code: string; message: string; phase: PhaseName } | undefined {
  const jobDeadline = ports.config.sweeper.jobDeadlineSeconds;
  if (now - Date.parse(job.createdAt) > jobDeadline * 1000) {
    return { code: 'JOB_DEADLINE', message: `job did not finish within ${jobDeadline} s`, phase: job.current[0] ?? 'validate' };
  }
  for (const phase of job.current) {
    const record = job.phases[phase];
    const deadline = phaseDeadlineSeconds(job, phaseDefinition(phase), ports.config);
    // As the runner judges it: time spent backing off from AWS throttling does not count.
    if (record && now - Date.parse(record.startedAt) - (record.throttledSeconds ?? 0) * 1000 > deadline * 1000) {
      return { code: 'PHASE_DEADLINE', message: `phase ${phase} did not finish within ${deadline} s (waiting for ${record.waitingFor ?? 'AWS'})`, phase };
    }
  }
  return undefined;
}

async function rollBack(job: Job, reason: { code: string; message: string; phase: PhaseName }, report: SweepReport, ports: SweeperPorts): Promise<void> {
  if (report.dryRun) {
    report.record('job', job.jobId, 'rolled-back', `would roll back: ${reason.message}`);
    return;
  }
  // Declines (`ignored`) when the job moved on or ended since it was listed.
  const outcome = await beginRollback(job.jobId, reason, ports);
  if (outcome === 'rolling-back') report.record('job', job.jobId, 'rolled-back', reason.message);
}

/**
 * Handlers are idempotent and the runner drops a message whose attempt is no longer the recorded
 * one, so a re-drive of a phase that was only slow costs one ignored delivery.
 */
async function redrive(job: Job, phases: PhaseName[], report: SweepReport, ports: SweeperPorts): Promise<void> {
  const messages = phases.map((phase) => ({ jobId: job.jobId, phase, attempt: job.phases[phase]!.attempt }));
  const reason = `no progress since ${phases.map((p) => job.phases[p]!.movedAt ?? job.phases[p]!.startedAt).join(', ')} in ${phases.join(', ')}`;
  if (!report.dryRun) await ports.bus.publish(messages);
  report.record('job', job.jobId, 'redriven', report.dryRun ? `would re-drive: ${reason}` : reason, messages.length);
}
