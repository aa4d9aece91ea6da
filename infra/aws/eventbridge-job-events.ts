/**
 * Publishes `Reset Access Job Succeeded` / `Reset Access Job Failed` on the service's bus when a
 * job ends, for notifications (a rule of the customer's to SNS, Slack, a ticket). `detail` is the
 * job view the API answers (outputs: key parameter name, backup AMI…; never a secret, and redacted
 * on the way out should one ever slip in).
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { PermanentError, RetryableError } from '../../domain/errors';
import type { Job, PhaseName } from '../../domain/job/job';
import { toJobView } from '../../domain/job/job-view';
import type { JobObserver } from '../../domain/ports';
import { EVENT_SOURCE, JOB_FAILED_DETAIL_TYPE, JOB_SUCCEEDED_DETAIL_TYPE } from '../messages/events';
import { redactSecrets } from '../observability/redact';
import { translateAwsError } from './errors';

/** EventBridge's limit for one entry (the whole entry, detail included): 256 KB. */
const MAX_ENTRY_BYTES = 256 * 1024;

/** The `detail` of a job-ended event. */
export function jobEndedDetail(job: Job): Record<string, unknown> {
  return redactSecrets(toJobView(job)) as unknown as Record<string, unknown>;
}

export class EventBridgeJobEvents implements JobObserver {
  constructor(
    private readonly events: EventBridgeClient,
    private readonly options: { eventBusName: string },
  ) {}

  async jobStarted(_job: Job): Promise<void> {}

  async phaseFinished(_job: Job, _phase: PhaseName, _durationSeconds: number): Promise<void> {}

  async jobFinished(job: Job): Promise<void> {
    const entry: PutEventsRequestEntry = {
      EventBusName: this.options.eventBusName,
      Source: EVENT_SOURCE,
      DetailType: job.status === 'SUCCEEDED' ? JOB_SUCCEEDED_DETAIL_TYPE : JOB_FAILED_DETAIL_TYPE,
      Resources: [],
      Detail: JSON.stringify(jobEndedDetail(job)),
    };
    if (Buffer.byteLength(entry.Detail!) > MAX_ENTRY_BYTES - 1024) {
      // A job's view is a few KB; should one ever grow past the limit, say what ended anyway.
      const view = jobEndedDetail(job);
      entry.Detail = JSON.stringify({
        jobId: view.jobId,
        instanceId: view.instanceId,
        status: view.status,
        outputs: view.outputs,
        error: view.error,
        truncated: true,
      });
    }
    // One resend of a throttled or internally failed entry; the phase runner logs what still fails.
    for (let attempt = 1; attempt <= 2; attempt++) {
      let failure: { code: string; message: string } | undefined;
      try {
        const out = await this.events.send(new PutEventsCommand({ Entries: [entry] }));
        if (!out.FailedEntryCount) return;
        const result = out.Entries?.[0];
        failure = { code: result?.ErrorCode ?? 'PutEventsEntryFailed', message: result?.ErrorMessage ?? 'no message' };
      } catch (error) {
        throw translateAwsError(error, `EventBridge PutEvents job ${job.jobId} ended`);
      }
      if (failure.code !== 'ThrottlingException' && failure.code !== 'InternalFailure') {
        throw new PermanentError(failure.code, `EventBridge refused the job-ended event of ${job.jobId}: ${failure.message}`);
      }
      if (attempt === 2) throw new RetryableError(failure.code, `EventBridge did not take the job-ended event of ${job.jobId}: ${failure.message}`);
    }
  }
}
