import { RefusedError } from '../errors';
import { beginRollback } from '../pipeline/phase-runner';
import type { CorePorts } from '../pipeline/phase';
import type { Job } from '../job/job';

/** Cancel: a running job rolls back; one already rolling back or finished answers 409. */
export async function cancelReset(jobId: string, ports: Pick<CorePorts, 'store' | 'bus' | 'clock' | 'log'>): Promise<Job> {
  const job = await ports.store.get(jobId);
  if (!job) throw new RefusedError('JOB_NOT_FOUND', `job ${jobId} does not exist`, 404);
  if (job.status !== 'RUNNING') throw new RefusedError('JOB_NOT_RUNNING', `job ${jobId} is ${job.status} and cannot be cancelled`, 409);
  const phase = job.current[0] ?? 'validate';
  const outcome = await beginRollback(jobId, { code: 'CANCELLED', message: 'cancelled by request', phase }, ports);
  if (outcome === 'ignored') throw new RefusedError('JOB_NOT_RUNNING', `job ${jobId} finished before it could be cancelled`, 409);
  return (await ports.store.get(jobId))!;
}
