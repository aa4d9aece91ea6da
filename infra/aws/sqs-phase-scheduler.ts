/** Sends a phase's message back to its own queue after a delay (a phase waiting for AWS). */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PhaseName } from '../../domain/job/job';
import type { PhaseMessage, PhaseScheduler } from '../../domain/ports';
import { phaseMessageJson } from '../messages/events';
import { translateAwsError } from './errors';

/**
 * The longest per-message delay SQS accepts: "Valid values: 0 to 900. Maximum: 15 minutes."
 * (SendMessage `DelaySeconds`; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html).
 * A longer wait is cut to this: the phase wakes early, finds AWS not done yet and waits again.
 */
export const MAX_SQS_DELAY_SECONDS = 900;

export interface SqsPhaseSchedulerOptions {
  queueUrlFor(phase: PhaseName): string;
  /**
   * How much faster than real time the caller's clock runs (the local runtime's simulated region):
   * delays are divided by it. Default 1.
   */
  timeScale?: number;
}

export class SqsPhaseScheduler implements PhaseScheduler {
  private readonly timeScale: number;

  constructor(
    private readonly sqs: SQSClient,
    private readonly options: SqsPhaseSchedulerOptions,
  ) {
    const timeScale = options.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`timeScale must be a positive number, not ${timeScale}`);
    this.timeScale = timeScale;
  }

  async later(message: PhaseMessage, delaySeconds: number): Promise<void> {
    const queueUrl = this.options.queueUrlFor(message.phase);
    try {
      await this.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: phaseMessageJson(message), DelaySeconds: sqsDelaySeconds(delaySeconds, this.timeScale) }),
      );
    } catch (error) {
      throw translateAwsError(error, `SQS SendMessage ${message.phase} for job ${message.jobId}`);
    }
  }
}

/**
 * The `DelaySeconds` for a wanted delay: scaled, whole seconds rounded up (a wait is never cut to
 * nothing: a positive delay stays at least 1 s), within SQS's 0..900.
 */
export function sqsDelaySeconds(delaySeconds: number, timeScale = 1): number {
  if (!Number.isFinite(delaySeconds) || delaySeconds <= 0) return delaySeconds === Infinity ? MAX_SQS_DELAY_SECONDS : 0;
  const scaled = Math.max(1, Math.ceil(delaySeconds / timeScale));
  return Math.min(MAX_SQS_DELAY_SECONDS, scaled);
}
