import { PHASE_DEFINITIONS } from '../../../domain/pipeline/phases';
import { consumers } from '../../../infra/deploy/topology';

describe('phase deadlines against the deployed queues', () => {
  it('leave every phase room for one redelivery of a delivery that crashed or timed out', () => {
    // Prepare: SQS redelivers an unacknowledged message after its queue's visibility timeout, and
    // that delivery may run for the function's timeout.
    const queues = new Map(consumers({ service: 'ec2-reset-access', stage: 'test' }).map((c) => [c.key, c]));

    // Act
    const tooShort = PHASE_DEFINITIONS.filter((definition) => {
      const consumer = queues.get(definition.name)!;
      return definition.deadlineSeconds < consumer.queue.visibilityTimeoutSeconds + consumer.timeoutSeconds;
    }).map((definition) => `${definition.name} ${definition.deadlineSeconds} s`);

    // Assess
    expect(tooShort).toEqual([]);
  });
});
