/** Sends a deferred start back to the alarm function's own queue, due when its admission slot comes. */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeferredStart, StartDeferral } from '../../domain/ports';
import { deferredStartJson } from '../messages/trigger-messages';
import { translateAwsError } from './errors';
import { sqsDelaySeconds } from './sqs-phase-scheduler';

export interface SqsStartDeferralOptions {
  queueUrl: string;
  /** How much faster than real time the caller's clock runs (the local simulated region). Default 1. */
  timeScale?: number;
}

export class SqsStartDeferral implements StartDeferral {
  constructor(
    private readonly sqs: SQSClient,
    private readonly options: SqsStartDeferralOptions,
  ) {}

  async later(start: DeferredStart, delaySeconds: number): Promise<void> {
    try {
      // A slot further than SQS's 15 min away comes back early and is deferred again (resumeDeferredStart).
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.options.queueUrl,
          MessageBody: deferredStartJson(start),
          DelaySeconds: sqsDelaySeconds(delaySeconds, this.options.timeScale ?? 1),
        }),
      );
    } catch (error) {
      throw translateAwsError(error, `SQS SendMessage deferred start of ${start.request.instanceId}`);
    }
  }
}
