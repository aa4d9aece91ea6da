/**
 * The sweeper, a scheduled use case (docs/architecture.md#sweeper): moves stalled jobs on, rolls back
 * jobs past their deadline, gives customer volumes back from orphaned helpers and terminates those
 * helpers, reclaims the rescue network once it has been idle, and records on the job what became of
 * a backup image that was still pending when its job ended. It only ever touches what carries
 * the service's tags, never deletes a volume, an image, a snapshot or an instance it did not launch
 * as a helper, and with `dryRun` reports what it would do without changing anything. Each run ends
 * with one summary (logged here; the handler also emits it as metrics).
 */
import type { SweeperPorts } from './sweep-ports';
export type { SweeperPorts } from './sweep-ports';
import { sweepBackups } from './sweep-backups';
import { sweepHelperPool } from './helper-pool';
import { sweepHelpers } from './sweep-helpers';
import { sweepJobs } from './sweep-jobs';
import { sweepNetworks } from './sweep-networks';
import { SweepReport, WaitBudget, type SweepSummary } from './sweep-report';

export type { SweepAction, SweepSummary } from './sweep-report';

/**
 * One run. Jobs first (a job rolled back now keeps its helper out of the helper pass), then
 * helpers (a terminated helper no longer keeps its network), then the network. A failure in one
 * pass is logged and does not stop the others.
 */
export async function sweep(ports: SweeperPorts, options: { dryRun?: boolean } = {}): Promise<SweepSummary> {
  const dryRun = options.dryRun ?? ports.config.sweeper.dryRun;
  const report = new SweepReport(dryRun);
  const budget = new WaitBudget(dryRun ? 0 : ports.config.sweeper.maxWaitSeconds, ports.sleeper, ports.config.sweeper.pollSeconds);
  const passes: Array<[string, () => Promise<void>]> = [
    ['jobs', () => sweepJobs(report, ports)],
    ['helpers', () => sweepHelpers(report, budget, ports)],
    // Before the networks: the pool's lease keeps the network it lives in.
    ['pool', () => sweepHelperPool(report, ports)],
    ['networks', () => sweepNetworks(report, budget, ports)],
    ['backups', () => sweepBackups(report, ports)],
  ];
  const failed: string[] = [];
  for (const [name, pass] of passes) {
    try {
      await pass();
    } catch (error) {
      failed.push(name);
      ports.log.error('sweeper pass failed', { pass: name, error: (error as Error).message });
    }
  }
  const summary = report.result();
  const { actions, ...counts } = summary;
  ports.log.info('sweep summary', { ...counts, ...(failed.length ? { failedPasses: failed } : {}), actions });
  return summary;
}
