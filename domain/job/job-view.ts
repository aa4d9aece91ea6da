import type { Job } from './job';
import { PHASES } from '../pipeline/phases';

/** What the API shows of a job: everything an operator needs, nothing internal or secret. */
export function toJobView(job: Job) {
  return {
    jobId: job.jobId,
    instanceId: job.instanceId,
    platform: job.platform,
    status: job.status,
    currentPhases: job.current,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    endedAt: job.endedAt,
    requestedBy: job.requestedBy,
    /** Who may see and cancel it under the access rule: the instance's value of the rule's tag at the start. */
    access: job.access,
    request: job.request,
    /** Online or the volume swap, and why (a fall-over says why the online attempt failed). */
    mode: job.mode,
    /**
     * Windows offline: the NTFS rescue on a Linux helper refused the volume (or could not say it was
     * unmounted) and a Windows helper took over: why, when, and where that helper came from.
     */
    windowsFallback: windowsFallbackView(job),
    phases: PHASES.filter((p) => job.phases[p]).map((name) => {
      const r = job.phases[name]!;
      return {
        name,
        status: r.status,
        startedAt: r.startedAt,
        endedAt: r.endedAt,
        durationSeconds: r.endedAt ? (Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000 : undefined,
        polls: r.attempt,
        waitingFor: r.waitingFor,
      };
    }),
    outputs: job.outputs,
    error: job.error,
    rollbackError: job.rollbackError,
    instanceRestored: job.instanceRestored,
    helperInstanceId: job.resources.helperInstanceId,
  };
}
export type JobView = ReturnType<typeof toJobView>;

function windowsFallbackView(job: Job) {
  const fallback = job.resources.windowsFallback;
  if (!fallback) return undefined;
  return {
    code: fallback.code,
    reason: fallback.reason,
    at: fallback.at,
    linuxHelperInstanceId: fallback.linuxHelperInstanceId,
    windowsHelper: fallback.helper ? { instanceId: fallback.helper.instanceId, source: fallback.helper.source } : undefined,
    volumeRelease: job.resources.ntfsRelease?.state,
  };
}
