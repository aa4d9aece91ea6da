/**
 * The local runtime's phase scheduler: simulated time runs `timeScale` times faster than real
 * time, but an SQS delay is whole real seconds — at 60× the shortest wait would become a simulated
 * minute, and a reset that takes seconds on AWS would print minutes. So the fraction of a second is
 * waited out here, on a timer, and the rest is left to SQS. A message whose timer is pending when
 * the process stops is lost; the sweeper re-drives its job (a stalled phase), as it would on AWS.
 */
import type { Log, PhaseMessage, PhaseScheduler } from '../../domain/ports';

export class ScaledPhaseScheduler implements PhaseScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `sqs` must not scale delays itself (its timeScale is 1). */
  constructor(
    private readonly sqs: PhaseScheduler,
    private readonly timeScale: number,
    private readonly log: Log,
  ) {
    if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`timeScale must be a positive number, not ${timeScale}`);
  }

  async later(message: PhaseMessage, delaySeconds: number): Promise<void> {
    const real = Math.max(0, delaySeconds) / this.timeScale;
    const whole = Math.floor(real);
    const fractionMs = Math.round((real - whole) * 1000);
    if (fractionMs === 0 || !Number.isFinite(real)) return this.sqs.later(message, Number.isFinite(real) ? whole : delaySeconds);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.sqs.later(message, whole).catch((error: unknown) => {
        this.log.warn('a delayed phase message could not be sent; the sweeper will re-drive the job', {
          jobId: message.jobId,
          phase: message.phase,
          error: String(error),
        });
      });
    }, fractionMs);
    this.timers.add(timer);
  }

  /** Stops the pending timers (the runtime is shutting down). */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
