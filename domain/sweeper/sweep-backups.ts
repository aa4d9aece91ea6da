/**
 * Backup images still pending when their job ended. run-rescue goes on while the backup AMI is
 * pending, and cleanup reports the state it saw (domain/pipeline/phases/cleanup.ts): each run looks
 * again at the pending backups of jobs that succeeded within the last day and writes what became of
 * them to the job, so that a backup that failed after its job ended is said on the job.
 */
import { updateJob } from '../job/update-job';
import { backupOutcome } from '../pipeline/phases/cleanup';
import type { SweepReport } from './sweep-report';
import type { SweeperPorts } from './sweep-ports';

/** How far back a job's pending backup is looked at again (an AMI of a large volume can take hours). */
export const BACKUP_FOLLOW_UP_SECONDS = 24 * 3600;
/** Jobs read per run at most, newest first: pages of the job table, each one DescribeImages. */
const PAGES = 10;
const PAGE_SIZE = 100;

export async function sweepBackups(report: SweepReport, ports: SweeperPorts): Promise<void> {
  const now = ports.clock.now();
  const since = now.getTime() - BACKUP_FOLLOW_UP_SECONDS * 1000;
  let cursor: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const listed = await ports.store.list({ status: 'SUCCEEDED', limit: PAGE_SIZE, cursor });
    const recent = listed.jobs.filter((job) => Date.parse(job.createdAt) >= since);
    const pending = recent.filter((job) => job.outputs.backupImageId && job.outputs.backupImageState === 'pending');
    const images = pending.length ? await ports.compute.describeImages(pending.map((job) => job.outputs.backupImageId!)) : [];
    for (const job of pending) {
      const imageId = job.outputs.backupImageId!;
      const outcome = backupOutcome(
        imageId,
        images.find((image) => image.imageId === imageId),
      );
      if (outcome.backupImageState === 'pending') continue;
      report.found();
      const reason = `backup image ${imageId} is ${outcome.backupImageState}`;
      if (report.dryRun) {
        report.record('job', job.jobId, 'backup-checked', `would record: ${reason}`);
        continue;
      }
      await updateJob(ports.store, job.jobId, now, (draft) => {
        if (draft.outputs.backupImageState !== 'pending') return undefined;
        Object.assign(draft.outputs, outcome);
        return draft;
      });
      report.record('job', job.jobId, 'backup-checked', reason);
    }
    // Newest first by creation: a job created before the window ended before it too.
    if (recent.length < listed.jobs.length) return;
    cursor = listed.cursor;
    if (!cursor) return;
  }
}
