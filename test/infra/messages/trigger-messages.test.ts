import { defaultConfig } from '../../../domain/config';
import { alarmInstanceIds, deferredStartJson, parseTriggerMessage } from '../../../infra/messages/trigger-messages';
import { alarmEvent, resetRequestedEvent } from '../../support/events';

const ID = 'i-0a1b2c3d4e5f60001';

describe('parseTriggerMessage', () => {
  it('reads the instances of an alarm in ALARM from the metrics array (the documented shape)', () => {
    // Act
    const message = parseTriggerMessage(JSON.stringify(alarmEvent([ID, 'i-0123456789abcdef0'], { id: 'e1', alarmName: 'web' })), defaultConfig);
    // Assess
    expect(message).toEqual({
      kind: 'alarm',
      eventId: 'e1',
      alarmName: 'web',
      alarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:web',
      instanceIds: [ID, 'i-0123456789abcdef0'],
    });
  });

  it('reads the older single-metric shape, as an object or a name/value list', () => {
    // Prepare
    const legacy = alarmEvent(ID, { shape: 'legacy' });
    // Act
    const fromObject = parseTriggerMessage(JSON.stringify(legacy), defaultConfig);
    const fromList = alarmInstanceIds({
      configuration: {
        dimensions: [
          { name: 'AutoScalingGroupName', value: 'web' },
          { name: 'InstanceId', value: ID },
        ],
      },
    });
    // Assess
    expect(fromObject).toEqual(expect.objectContaining({ kind: 'alarm', instanceIds: [ID] }));
    expect(fromList).toEqual([ID]);
  });

  it('ignores alarms not in ALARM and alarms that name no instance', () => {
    // Act
    const ok = parseTriggerMessage(JSON.stringify(alarmEvent(ID, { state: 'OK' })), defaultConfig);
    const noInstance = parseTriggerMessage(JSON.stringify(alarmEvent([])), defaultConfig);
    const malformedId = alarmInstanceIds({ configuration: { metrics: [{ metricStat: { metric: { dimensions: { InstanceId: 'i-$(reboot)' } } } }] } });
    // Assess
    expect(ok).toEqual({ kind: 'ignored', reason: expect.stringMatching(/OK/) });
    expect(noInstance).toEqual({ kind: 'ignored', reason: expect.stringMatching(/InstanceId/) });
    expect(malformedId).toEqual([]);
  });

  it('reads a Reset Access Requested event with the API body, defaults filled in', () => {
    // Act
    const message = parseTriggerMessage(JSON.stringify(resetRequestedEvent({ instanceId: ID, subnet: 'SelectedInstanceSubnet' }, { id: 'r1' })), defaultConfig);
    // Assess
    expect(message).toEqual({
      kind: 'request',
      eventId: 'r1',
      source: 'reset-access.requests',
      account: '123456789012',
      request: { instanceId: ID, subnet: 'SelectedInstanceSubnet', helperInstanceType: 't3.small', allowInstanceStoreLoss: false, keyType: 'ed25519' },
    });
  });

  it('reads back a deferred start it wrote', () => {
    // Prepare
    const start = {
      kind: 'alarm' as const,
      request: { instanceId: ID, subnet: 'CreateNewVPC' as const, helperInstanceType: 't3.small', allowInstanceStoreLoss: false, keyType: 'ed25519' as const },
      eventId: 'e1',
      requestedBy: 'alarm:x',
      admitAt: '2026-01-05T09:00:03.000Z',
    };
    // Act
    const message = parseTriggerMessage(deferredStartJson(start), defaultConfig);
    // Assess
    expect(message).toEqual({ kind: 'deferred', start });
  });

  it.each([
    ['not JSON', 'nope', 'INVALID_JSON'],
    ['an array', '[]', 'INVALID_MESSAGE'],
    ['an event without an id', JSON.stringify({ ...alarmEvent(ID), id: undefined }), 'INVALID_MESSAGE'],
    ['another kind of event', JSON.stringify({ ...alarmEvent(ID), 'detail-type': 'EC2 Instance State-change Notification' }), 'INVALID_MESSAGE'],
    ['a request with an unknown field', JSON.stringify(resetRequestedEvent({ instanceId: ID, now: true })), 'INVALID_REQUEST'],
    ['a malformed deferred start', JSON.stringify({ type: 'reset-access.deferred-start', kind: 'alarm' }), 'INVALID_MESSAGE'],
  ])('refuses %s with a 400-class refusal (dropped, not retried)', (_what, body, code) => {
    // Act
    const parse = () => parseTriggerMessage(body, defaultConfig);
    // Assess
    expect(parse).toThrow(expect.objectContaining({ code, status: 400 }));
  });
});

describe('what a refused trigger message says (logged when it is dropped)', () => {
  it.each([
    ['not JSON', 'nope', 'message: is not JSON'],
    ['an array', '[]', 'message: must be a JSON object'],
    [
      'an event without an id',
      JSON.stringify({ ...alarmEvent(ID), id: undefined }),
      'id: is missing: the message is neither an EventBridge event nor a deferred start',
    ],
    [
      'an alarm whose state is not an object',
      JSON.stringify({ ...alarmEvent(ID), detail: { state: 'ALARM' } }),
      'alarm event: detail.state: Invalid input: expected object, received string',
    ],
    ['a request with an unknown field', JSON.stringify(resetRequestedEvent({ instanceId: ID, now: true })), 'detail.now: unknown field'],
    ['a request with a bad key type', JSON.stringify(resetRequestedEvent({ instanceId: ID, keyType: 'dsa' })), 'detail.keyType: must be "ed25519" or "rsa"'],
    ['a request without a detail', JSON.stringify({ ...resetRequestedEvent({}), detail: undefined }), 'detail: must be a JSON object'],
    [
      'a deferred start of a bad request',
      deferredStartJson({
        kind: 'alarm',
        request: { instanceId: 'i-xyz' } as never,
        eventId: 'e1',
        requestedBy: 'alarm:x',
        admitAt: '2026-01-05T09:00:03.000Z',
      }),
      'deferred start is malformed: request.instanceId: must be an instance id like i-0123456789abcdef0',
    ],
  ])('%s', (_what, body, message) => {
    // Act
    const parse = () => parseTriggerMessage(body, defaultConfig);
    // Assess
    expect(parse).toThrow(message);
  });

  it('names the slot time of a deferred start that has none', () => {
    // Act
    const parse = () =>
      parseTriggerMessage(
        deferredStartJson({
          kind: 'alarm',
          request: { instanceId: ID, subnet: 'CreateNewVPC', helperInstanceType: 't3.small', allowInstanceStoreLoss: false, keyType: 'ed25519' },
          eventId: 'e1',
          requestedBy: 'alarm:x',
          admitAt: 'soon',
        }),
        defaultConfig,
      );
    // Assess
    expect(parse).toThrow(/^deferred start is malformed: admitAt: /);
  });
});
