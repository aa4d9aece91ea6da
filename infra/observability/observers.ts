import type { Job, PhaseName } from '../../domain/job/job';
import type { JobObserver } from '../../domain/ports';

/** Several observers as one: each is told, whatever the others do; the first failure is rethrown after all ran. */
export function combineObservers(...observers: JobObserver[]): JobObserver {
  const all = async (call: (observer: JobObserver) => Promise<void>) => {
    const results = await Promise.allSettled(observers.map(call));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  return {
    jobStarted: (job: Job) => all((o) => o.jobStarted(job)),
    phaseFinished: (job: Job, phase: PhaseName, seconds: number) => all((o) => o.phaseFinished(job, phase, seconds)),
    jobFinished: (job: Job) => all((o) => o.jobFinished(job)),
  };
}
