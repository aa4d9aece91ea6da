/** What one sweeper run found and did (or, in a dry run, would do), for the log and the metrics. */

export type SweepActionKind =
  | 'redriven'
  | 'rolled-back'
  | 'terminated'
  | 'deleted'
  | 'deferred'
  | 'volume-returned'
  | 'held'
  | 'lease-dropped'
  | 'reclaim-started'
  /** A job's backup image that was pending when the job ended, and has failed or completed since. */
  | 'backup-checked'
  /** The warm pool of Windows helpers (helper-pool.ts): launched, stopped after its first boot, ready. */
  | 'pool-launched'
  | 'pool-stopped'
  | 'pool-ready';

/** One thing the run did or would do, to one resource. */
export interface SweepAction {
  /** `job`, `helper`, `pool-helper`, `lease`, `rescue-network` or a NetworkPart kind (`subnet`, `vpc`…). */
  resource: string;
  id: string;
  action: SweepActionKind;
  reason?: string;
}

export interface SweepSummary {
  dryRun: boolean;
  /** Jobs, helpers, leases and network parts that needed something done. */
  found: number;
  /** Helpers terminated and network parts deleted. */
  deleted: number;
  /** What is left for the next run (not deletable yet, still detaching or deleting…). */
  deferred: number;
  /** Phase events published again for stalled jobs. */
  redriven: number;
  /** Jobs past their deadline turned into rollbacks. */
  rolledBack: number;
  /** Customer volumes given back to their target from an orphaned helper. */
  volumesReturned: number;
  /** Helpers left running because a customer volume they hold cannot go back yet (reported). */
  held: number;
  /** Helpers EC2 runs now, the run's own jobs' included (`runningHelpers`); absent when the listing failed. */
  helpersRunning?: number;
  actions: SweepAction[];
}

const COUNTED: Partial<Record<SweepActionKind, keyof Omit<SweepSummary, 'dryRun' | 'found' | 'actions' | 'helpersRunning'>>> = {
  redriven: 'redriven',
  'rolled-back': 'rolledBack',
  terminated: 'deleted',
  deleted: 'deleted',
  deferred: 'deferred',
  'volume-returned': 'volumesReturned',
  held: 'held',
};

export class SweepReport {
  private readonly summary: SweepSummary;

  constructor(readonly dryRun: boolean) {
    this.summary = { dryRun, found: 0, deleted: 0, deferred: 0, redriven: 0, rolledBack: 0, volumesReturned: 0, held: 0, actions: [] };
  }

  found(count = 1): void {
    this.summary.found += count;
  }

  helpersSeen(running: number): void {
    this.summary.helpersRunning = running;
  }

  record(resource: string, id: string, action: SweepActionKind, reason?: string, count = 1): void {
    this.summary.actions.push({ resource, id, action, ...(reason ? { reason } : {}) });
    const counter = COUNTED[action];
    if (counter) this.summary[counter] += count;
  }

  result(): SweepSummary {
    return { ...this.summary, actions: [...this.summary.actions] };
  }
}

/** The waiting one run may do in all (detaches, attaches, endpoint deletions); then the next run. */
export class WaitBudget {
  private left: number;

  constructor(
    seconds: number,
    private readonly sleeper: { sleep(seconds: number): Promise<void> },
    private readonly pollSeconds: number,
  ) {
    this.left = seconds;
  }

  /** Sleeps one poll interval if the budget allows; answers whether it did. */
  async wait(): Promise<boolean> {
    if (this.left < this.pollSeconds || this.pollSeconds <= 0) return false;
    this.left -= this.pollSeconds;
    await this.sleeper.sleep(this.pollSeconds);
    return true;
  }
}
