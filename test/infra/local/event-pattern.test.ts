import { InvalidEventPatternError, matchesPattern, UnsupportedPatternError } from '../../../infra/local/event-pattern';

/** An event in EventBridge's envelope, with the fields the operators below look at. */
function envelope(detail: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '111122223333',
    time: '2017-12-22T18:43:48Z',
    region: 'us-west-1',
    resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
    detail,
    ...overrides,
  };
}

/** A CloudWatch "Alarm State Change" event of a metric-math alarm: the instance's metric is the second element. */
function alarmEvent(options: { state?: string; dimensions?: Record<string, string> } = {}) {
  return envelope(
    {
      alarmName: 'StatusCheckFailed-i-0abc',
      state: { value: options.state ?? 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-01-01T00:00:00.000+0000' },
      previousState: { value: 'OK' },
      configuration: {
        metrics: [
          { id: 'e1', expression: 'm1 * 1', label: 'doubled', returnData: true },
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: 'AWS/EC2', name: 'StatusCheckFailed', dimensions: options.dimensions ?? { InstanceId: 'i-0abc' } },
              period: 60,
              stat: 'Maximum',
            },
            returnData: false,
          },
        ],
      },
    },
    {
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      resources: ['arn:aws:cloudwatch:us-east-1:111122223333:alarm:StatusCheckFailed-i-0abc'],
    },
  );
}

/** The alarm rule (serverless.yml, `alarm` function): ALARM of a metric with an InstanceId dimension. */
const alarmRule = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: {
    state: { value: ['ALARM'] },
    configuration: { metrics: { metricStat: { metric: { dimensions: { InstanceId: [{ exists: true }] } } } } },
  },
};

describe('matchesPattern', () => {
  describe('exact values', () => {
    it('matches a string value listed in the pattern and not another one', () => {
      // Prepare
      const pattern = { source: ['aws.ec2'], detail: { state: ['running'] } };
      // Act
      const running = matchesPattern(pattern, envelope({ state: 'running' }));
      const stopped = matchesPattern(pattern, envelope({ state: 'stopped' }));
      // Assess
      expect(running).toBe(true);
      expect(stopped).toBe(false);
    });

    it('ORs the values of one field and ANDs the fields', () => {
      // Prepare
      const pattern = { source: ['aws.ec2'], detail: { state: ['pending', 'running'], 'instance-id': ['i-1'] } };
      // Act
      const both = matchesPattern(pattern, envelope({ state: 'pending', 'instance-id': 'i-1' }));
      const otherInstance = matchesPattern(pattern, envelope({ state: 'pending', 'instance-id': 'i-2' }));
      const otherSource = matchesPattern(pattern, envelope({ state: 'pending', 'instance-id': 'i-1' }, { source: 'aws.ssm' }));
      // Assess
      expect(both).toBe(true);
      expect(otherInstance).toBe(false);
      expect(otherSource).toBe(false);
    });

    it('compares numbers, booleans and null by JSON type', () => {
      // Prepare
      const pattern = { detail: { count: [5], enabled: [true], reason: [null] } };
      // Act
      const typed = matchesPattern(pattern, envelope({ count: 5, enabled: true, reason: null }));
      const numberAsString = matchesPattern(pattern, envelope({ count: '5', enabled: true, reason: null }));
      const booleanAsString = matchesPattern(pattern, envelope({ count: 5, enabled: 'true', reason: null }));
      const missingNull = matchesPattern(pattern, envelope({ count: 5, enabled: true }));
      // Assess
      expect(typed).toBe(true);
      expect(numberAsString).toBe(false);
      expect(booleanAsString).toBe(false);
      expect(missingNull).toBe(false);
    });

    it('needs every field of the pattern to be in the event at the same nesting', () => {
      // Prepare
      const pattern = { detail: { job: { phase: ['validate'] } } };
      // Act
      const nested = matchesPattern(pattern, envelope({ job: { phase: 'validate' } }));
      const flat = matchesPattern(pattern, envelope({ phase: 'validate' }));
      const noDetail = matchesPattern(pattern, { source: 'x' });
      // Assess
      expect(nested).toBe(true);
      expect(flat).toBe(false);
      expect(noDetail).toBe(false);
    });

    it('does not treat an object in the event as a value', () => {
      // Prepare
      const pattern = { detail: { state: ['running'] } };
      // Act
      const matched = matchesPattern(pattern, envelope({ state: { name: 'running' } }));
      // Assess
      expect(matched).toBe(false);
    });
  });

  describe('prefix, suffix, equals-ignore-case', () => {
    it('matches strings by prefix only', () => {
      // Prepare
      const pattern = { time: [{ prefix: '2017-12-22' }], detail: { code: [{ prefix: '12' }] } };
      // Act
      const matched = matchesPattern(pattern, envelope({ code: '1234' }));
      const otherDay = matchesPattern(pattern, envelope({ code: '1234' }, { time: '2017-12-23T00:00:00Z' }));
      const numberValue = matchesPattern(pattern, envelope({ code: 1234 }));
      // Assess
      expect(matched).toBe(true);
      expect(otherDay).toBe(false);
      expect(numberValue).toBe(false);
    });

    it('matches suffixes and case-insensitive equality of strings', () => {
      // Prepare
      const pattern = { detail: { file: [{ suffix: '.png' }], state: [{ 'equals-ignore-case': 'Running' }] } };
      // Act
      const matched = matchesPattern(pattern, envelope({ file: 'a/b.png', state: 'RUNNING' }));
      const otherSuffix = matchesPattern(pattern, envelope({ file: 'a/b.jpg', state: 'RUNNING' }));
      const otherState = matchesPattern(pattern, envelope({ file: 'a/b.png', state: 'stopped' }));
      // Assess
      expect(matched).toBe(true);
      expect(otherSuffix).toBe(false);
      expect(otherState).toBe(false);
    });
  });

  describe('anything-but', () => {
    it('matches any value but the one given, string or number', () => {
      // Prepare
      const byString = { detail: { state: [{ 'anything-but': 'initializing' }] } };
      const byNumber = { detail: { limit: [{ 'anything-but': 123 }] } };
      // Act + Assess
      expect(matchesPattern(byString, envelope({ state: 'running' }))).toBe(true);
      expect(matchesPattern(byString, envelope({ state: 'initializing' }))).toBe(false);
      expect(matchesPattern(byNumber, envelope({ limit: 124 }))).toBe(true);
      expect(matchesPattern(byNumber, envelope({ limit: 123 }))).toBe(false);
      expect(matchesPattern(byNumber, envelope({ limit: '123' }))).toBe(true);
    });

    it('excludes every value of a list', () => {
      // Prepare
      const pattern = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
      // Act
      const running = matchesPattern(pattern, envelope({ state: 'running' }));
      const stopped = matchesPattern(pattern, envelope({ state: 'stopped' }));
      const overloaded = matchesPattern(pattern, envelope({ state: 'overloaded' }));
      // Assess
      expect(running).toBe(true);
      expect(stopped).toBe(false);
      expect(overloaded).toBe(false);
    });

    it('excludes a prefix', () => {
      // Prepare
      const pattern = { region: [{ 'anything-but': { prefix: 'us-' } }] };
      // Act
      const europe = matchesPattern(pattern, envelope({}, { region: 'eu-west-1' }));
      const us = matchesPattern(pattern, envelope({}, { region: 'us-east-1' }));
      // Assess
      expect(europe).toBe(true);
      expect(us).toBe(false);
    });

    it('needs the field to be present', () => {
      // Prepare
      const pattern = { detail: { state: [{ 'anything-but': 'initializing' }] } };
      // Act
      const matched = matchesPattern(pattern, envelope({ other: 'x' }));
      // Assess
      expect(matched).toBe(false);
    });

    it('rejects a list mixing strings and numbers, as EventBridge does', () => {
      // Prepare
      const pattern = { detail: { state: [{ 'anything-but': ['a', 1] }] } };
      // Act
      const act = () => matchesPattern(pattern, envelope({ state: 'b' }));
      // Assess
      expect(act).toThrow(InvalidEventPatternError);
    });
  });

  describe('exists', () => {
    it('matches on the presence or absence of a leaf', () => {
      // Prepare
      const present = { detail: { count: [{ exists: true }] } };
      const absent = { detail: { count: [{ exists: false }] } };
      // Act + Assess
      expect(matchesPattern(present, envelope({ count: 3 }))).toBe(true);
      expect(matchesPattern(present, envelope({ count: null }))).toBe(true);
      expect(matchesPattern(present, envelope({ other: 3 }))).toBe(false);
      expect(matchesPattern(absent, envelope({ other: 3 }))).toBe(true);
      expect(matchesPattern(absent, envelope({ count: 3 }))).toBe(false);
    });

    it('counts only leaves: an object does not exist for `exists`', () => {
      // Prepare
      const present = { detail: { count: [{ exists: true }] } };
      const absent = { detail: { count: [{ exists: false }] } };
      const event = envelope({ count: { c1: 100 } });
      // Act
      const presentMatched = matchesPattern(present, event);
      const absentMatched = matchesPattern(absent, event);
      // Assess
      expect(presentMatched).toBe(false);
      expect(absentMatched).toBe(true);
    });

    it('lets exists: false match below a missing object', () => {
      // Prepare
      const pattern = { detail: { error: { code: [{ exists: false }] } } };
      // Act
      const matched = matchesPattern(pattern, envelope({ state: 'ok' }));
      // Assess
      expect(matched).toBe(true);
    });
  });

  describe('numeric', () => {
    it('matches a range with open and closed bounds', () => {
      // Prepare
      const pattern = { detail: { count: [{ numeric: ['>', 0, '<=', 5] }] } };
      // Act + Assess
      expect(matchesPattern(pattern, envelope({ count: 0 }))).toBe(false);
      expect(matchesPattern(pattern, envelope({ count: 0.5 }))).toBe(true);
      expect(matchesPattern(pattern, envelope({ count: 5 }))).toBe(true);
      expect(matchesPattern(pattern, envelope({ count: 6 }))).toBe(false);
    });

    it('matches equality and single bounds on JSON numbers only', () => {
      // Prepare
      const equals = { detail: { limit: [{ numeric: ['=', 301.8] }] } };
      const below = { detail: { count: [{ numeric: ['<', 10] }] } };
      const atLeast = { detail: { count: [{ numeric: ['>=', 10] }] } };
      // Act + Assess
      expect(matchesPattern(equals, envelope({ limit: 3.018e2 }))).toBe(true);
      expect(matchesPattern(equals, envelope({ limit: 301.9 }))).toBe(false);
      expect(matchesPattern(below, envelope({ count: 9 }))).toBe(true);
      expect(matchesPattern(below, envelope({ count: '9' }))).toBe(false);
      expect(matchesPattern(atLeast, envelope({ count: 10 }))).toBe(true);
      expect(matchesPattern(atLeast, envelope({ count: 9.99 }))).toBe(false);
    });

    it('rejects a malformed range', () => {
      // Prepare
      const pattern = { detail: { count: [{ numeric: ['~', 5] }] } };
      // Act
      const act = () => matchesPattern(pattern, envelope({ count: 5 }));
      // Assess
      expect(act).toThrow(InvalidEventPatternError);
    });
  });

  describe('arrays in the event', () => {
    it('matches a leaf when any element of the event array matches', () => {
      // Prepare
      const pattern = { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] };
      const event = envelope(
        {},
        { resources: ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
      );
      // Act
      const matched = matchesPattern(pattern, event);
      const unmatched = matchesPattern(pattern, envelope({}, { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-other'] }));
      const empty = matchesPattern(pattern, envelope({}, { resources: [] }));
      // Assess
      expect(matched).toBe(true);
      expect(unmatched).toBe(false);
      expect(empty).toBe(false);
    });

    it('matches inside an array of objects (the alarm rule on a metric-math alarm)', () => {
      // Prepare
      const event = alarmEvent();
      // Act
      const matched = matchesPattern(alarmRule, event);
      // Assess
      expect(matched).toBe(true);
    });

    it('does not match an alarm without an InstanceId dimension, or not in ALARM', () => {
      // Prepare
      const queueAlarm = alarmEvent({ dimensions: { QueueName: 'ec2-reset-access-dev-validate-dlq' } });
      const recovered = alarmEvent({ state: 'OK' });
      // Act
      const queueMatched = matchesPattern(alarmRule, queueAlarm);
      const recoveredMatched = matchesPattern(alarmRule, recovered);
      // Assess
      expect(queueMatched).toBe(false);
      expect(recoveredMatched).toBe(false);
    });

    it('never combines fields from different elements of one array', () => {
      // Prepare
      const pattern = { detail: { employees: { firstName: ['Anna'], lastName: ['Jones'] } } };
      const event = envelope({
        employees: [
          { firstName: 'John', lastName: 'Doe' },
          { firstName: 'Anna', lastName: 'Smith' },
          { firstName: 'Peter', lastName: 'Jones' },
        ],
      });
      // Act
      const crossed = matchesPattern(pattern, event);
      const sameElement = matchesPattern({ detail: { employees: { firstName: ['Anna'], lastName: ['Smith'] } } }, event);
      // Assess
      expect(crossed).toBe(false);
      expect(sameElement).toBe(true);
    });

    it('flattens nested arrays', () => {
      // Prepare
      const pattern = { detail: { groups: { name: ['b'] } } };
      // Act
      const matched = matchesPattern(pattern, envelope({ groups: [[{ name: 'a' }], [{ name: 'b' }]] }));
      // Assess
      expect(matched).toBe(true);
    });
  });

  describe('$or, wildcard and cidr', () => {
    it('matches when any branch of $or matches, the other fields still ANDed', () => {
      // Prepare
      const pattern = { source: ['aws.ec2'], detail: { $or: [{ state: ['running'] }, { count: [{ numeric: ['>', 5] }] }] } };
      // Act
      const byState = matchesPattern(pattern, envelope({ state: 'running', count: 1 }));
      const byCount = matchesPattern(pattern, envelope({ state: 'stopped', count: 6 }));
      const neither = matchesPattern(pattern, envelope({ state: 'stopped', count: 1 }));
      const otherSource = matchesPattern(pattern, envelope({ state: 'running' }, { source: 'aws.ssm' }));
      // Assess
      expect(byState).toBe(true);
      expect(byCount).toBe(true);
      expect(neither).toBe(false);
      expect(otherSource).toBe(false);
    });

    it('matches a wildcard against the whole string', () => {
      // Prepare
      const pattern = { source: [{ wildcard: 'aws.*' }] };
      // Act
      const matched = matchesPattern(pattern, envelope({}));
      const inside = matchesPattern(pattern, envelope({}, { source: 'my.aws.ec2' }));
      // Assess
      expect(matched).toBe(true);
      expect(inside).toBe(false);
    });

    it('matches an address inside a CIDR block', () => {
      // Prepare
      const pattern = { detail: { ip: [{ cidr: '10.0.0.0/24' }] } };
      // Act
      const inside = matchesPattern(pattern, envelope({ ip: '10.0.0.1' }));
      const outside = matchesPattern(pattern, envelope({ ip: '10.0.1.1' }));
      // Assess
      expect(inside).toBe(true);
      expect(outside).toBe(false);
    });
  });

  describe('patterns EventBridge rejects', () => {
    it.each([
      ['$or with one branch', { $or: [{ source: ['a'] }] }],
      ['consecutive wildcards', { source: [{ wildcard: 'aws.**' }] }],
      ['a CIDR without mask bits', { detail: { ip: [{ cidr: '10.0.0.0' }] } }],
      ['an unknown operator', { source: [{ contains: 'ec2' }] }],
      ['an empty value list', { source: [] }],
      ['a bare value instead of a list', { source: 'aws.ec2' }],
    ])('throws on %s instead of silently not matching', (_name, pattern) => {
      // Prepare
      const event = envelope({ ip: '10.0.0.1' });
      // Act
      const act = () => matchesPattern(pattern, event);
      // Assess
      expect(act).toThrow(InvalidEventPatternError);
    });

    it('keeps the former error name for existing imports', () => {
      // Prepare
      const pattern = { source: [] };
      // Act
      const act = () => matchesPattern(pattern, envelope({}));
      // Assess
      expect(act).toThrow(UnsupportedPatternError);
    });
  });
});
