/**
 * The deployment's rules for (infra/deploy/topology.ts) AWS's own events, run on the events the simulated region emits (the
 * shapes AWS documents): what can end a job's wait reaches the aws-events queue, the rest does not.
 */
import { rulesOf } from '../../../infra/local/event-bus';
import { compilePattern } from '../../../infra/local/event-pattern';
import { commandInvocationStatusEvent, instanceStateChangeEvent, volumeAttachFailedEvent, type EventOrigin } from '../../../infra/sim/events';

const DEPLOYMENT = { service: 'ec2-reset-access', stage: 'test' };
const origin: EventOrigin = { id: 'e-1', account: '123456789012', region: 'us-east-1', time: Date.UTC(2026, 0, 1) };

/** The queues the default bus's rules send `event` to. */
function queuesFor(event: object): string[] {
  return rulesOf(DEPLOYMENT)
    .filter((rule) => rule.eventBusName === 'default' && compilePattern(rule.pattern)(event))
    .flatMap((rule) => rule.targets.map((t) => t.queueName));
}

const AWS_EVENTS_QUEUE = 'ec2-reset-access-test-aws-events';
const command = (status: string) =>
  commandInvocationStatusEvent(origin, {
    commandId: 'c-1',
    documentName: 'AWS-RunShellScript',
    instanceId: 'i-0helper000000000',
    requestedAt: origin.time,
    status,
  });

describe('the aws-events rules on the default bus', () => {
  it.each([
    ['an instance that stopped', instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'stopped')],
    ['an instance that runs', instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'running')],
    ['an instance being terminated', instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'shutting-down')],
    ['a rescue command that succeeded', command('Success')],
    ['a rescue command that failed', command('Failed')],
    ['an attach EBS could not do', volumeAttachFailedEvent(origin, 'vol-0123456789abcdef0', 'attachVolume', 'The KMS key is disabled')],
  ])('route %s to the aws-events queue', (_name, event) => {
    expect(queuesFor(event)).toEqual([AWS_EVENTS_QUEUE]);
  });

  it.each([
    ['an instance on its way (pending)', instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'pending')],
    ['an instance on its way (stopping)', instanceStateChangeEvent(origin, 'i-0123456789abcdef0', 'stopping')],
    ['a command still running', command('InProgress')],
  ])('leave out %s', (_name, event) => {
    expect(queuesFor(event)).toEqual([]);
  });
});
