/**
 * Waking a waiting job on AWS's own events. A phase that waits for AWS (a stop, a launch, the rescue
 * command) sends itself a delayed re-check; when AWS reports the change first (an EventBridge
 * event on the account's default bus), the job's current delivery of that phase is published at
 * once instead. The runner drops stale attempts, so an early or duplicate wake costs one look and
 * nothing else; the delayed re-check stays for events that never come (AWS sends them best effort).
 */
import { isActive, type Job, type PhaseName } from '../job/job';
import { phaseDefinition } from './phases';
import type { JobStore, Log, PhaseBus, PhaseMessage, ResourceLink, ResourceRole } from '../ports';

/** What an AWS event says about one resource, in the domain's words. */
export type ResourceEvent =
  | { kind: 'instance-state'; instanceId: string; state: string }
  | { kind: 'command-status'; instanceId: string; commandId: string; status: string }
  | { kind: 'volume'; volumeId: string; event: string; result: string };

/** Whether an event about a job's resource of this role can end the phase's wait (its declared `wokenBy`). */
function wokenBy(phase: PhaseName, role: ResourceRole): boolean {
  return phaseDefinition(phase).wokenBy.includes(role);
}

/** Instance states nobody waits for: each is on the way to one of the others. */
const PASSING_STATES: ReadonlySet<string> = new Set(['pending', 'stopping']);
/** Run Command statuses of an invocation still under way. */
const RUNNING_COMMAND: ReadonlySet<string> = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

/** The resource an event is about; `undefined` when it cannot end any wait. */
export function resourceOf(event: ResourceEvent): string | undefined {
  switch (event.kind) {
    case 'instance-state':
      return PASSING_STATES.has(event.state) ? undefined : event.instanceId;
    case 'command-status':
      return RUNNING_COMMAND.has(event.status) ? undefined : event.instanceId;
    case 'volume':
      // EBS reports attach failures (a KMS key that cannot be used) and, per its events page, detaches.
      return event.volumeId;
  }
}

/**
 * Publishes the current delivery of every phase of the resource's job that waits for something an
 * event like this reports. Answers the messages published (none for resources no job holds).
 */
export async function wakeJobsFor(event: ResourceEvent, ports: { store: JobStore; bus: PhaseBus; log: Log }): Promise<PhaseMessage[]> {
  const resourceId = resourceOf(event);
  if (!resourceId) return [];
  const link = await ports.store.resourceLink(resourceId);
  if (!link) return [];
  const job = await ports.store.get(link.jobId);
  if (!job || !isActive(job)) return [];
  const wake = job.current
    .filter((phase) => wokenBy(phase, link.role) && isWaiting(job, phase))
    .map((phase) => ({ jobId: job.jobId, phase, attempt: job.phases[phase]!.attempt }));
  if (wake.length === 0) return [];
  await ports.bus.publish(wake);
  ports.log.info('woken by an AWS event', { jobId: job.jobId, resourceId, role: link.role, event: event.kind, phases: wake.map((m) => m.phase) });
  return wake;
}

/**
 * Waiting for AWS: not backing off after an error (a wake would defeat the backoff), and not
 * waiting for an EC2 request slot (no event ends that wait; a woken delivery would only wait again,
 * and run alongside the one due at the slot).
 */
function isWaiting(job: Job, phase: PhaseName): boolean {
  const record = job.phases[phase];
  return (
    record?.status === 'running' &&
    record.waitingFor !== undefined &&
    record.retries === undefined &&
    record.throttles === undefined &&
    record.pacedSlot === undefined
  );
}

/**
 * The resources `job` knows that events can be about, with their roles, that it has not linked
 * yet. The phase runner writes these links after the job write that recorded them.
 */
export function unlinkedResources(job: Job): ResourceLink[] {
  const links: ResourceLink[] = [{ resourceId: job.instanceId, jobId: job.jobId, role: 'target' }];
  if (job.target?.rootVolumeId) links.push({ resourceId: job.target.rootVolumeId, jobId: job.jobId, role: 'root-volume' });
  if (job.resources.helperInstanceId) links.push({ resourceId: job.resources.helperInstanceId, jobId: job.jobId, role: 'helper' });
  // The Windows fast path's fallback helper, from its launch or claim on (domain/pipeline/phases/windows-fallback.ts).
  const fallbackHelper = job.resources.windowsFallback?.helper?.instanceId;
  if (fallbackHelper && fallbackHelper !== job.resources.helperInstanceId) links.push({ resourceId: fallbackHelper, jobId: job.jobId, role: 'helper' });
  const linked = new Set(job.resources.linkedResources ?? []);
  return links.filter((link) => !linked.has(link.resourceId));
}
