/**
 * The local bus's matcher against the examples AWS publishes. Each table names its source page;
 * each row is one of that page's patterns with an event and the outcome the page states. A row
 * marked "(implied)" is the other side of what the page says (a value the pattern must not match).
 * Where AWS is silent, the rows follow Event Ruler, the engine behind EventBridge, or what
 * LocalStack's AWS-validated tests recorded from EventBridge itself; those tables say so.
 */
import { compilePattern, InvalidEventPatternError } from '../../../infra/local/event-pattern';

type Case = [example: string, pattern: unknown, event: unknown, matches: boolean];

function itMatchesAsDocumented(cases: Case[]): void {
  it.each(cases)('%s', (_example, pattern, event, expected) => {
    // Prepare
    const matches = compilePattern(pattern);
    // Act
    const matched = matches(event);
    // Assess
    expect(matched).toBe(expected);
  });
}

/** The error compilePattern throws for `pattern`, or undefined when it accepts it. */
function rejectionOf(pattern: unknown): InvalidEventPatternError | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (error) {
    if (error instanceof InvalidEventPatternError) return error;
    throw error;
  }
}

// The EC2 event of the "exists" example (eb-event-patterns-content-based-filtering.html).
const pendingInstance = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-abcd1111', state: 'pending' },
};

// The event the "exists" and "equals-ignore-case" examples do or do not match (same page).
const eventWithObjectCount = {
  'detail-type': ['EC2 Instance State-change Notification'],
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341'],
  detail: { 'c-count': { c1: 100 } },
};

describe('content filtering, as documented', () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
  // (sections by anchor; the page's text as kept in github.com/awsdocs/amazon-eventbridge-user-guide,
  // doc_source/eb-event-patterns-content-based-filtering.md, plus the sections the live page added:
  // prefix/suffix with equals-ignore-case)
  const numericPattern = {
    detail: {
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ numeric: ['=', 3.018e2] }],
    },
  };
  const complexPattern = {
    time: [{ prefix: '2017-10-02' }],
    detail: {
      state: [{ 'anything-but': 'initializing' }],
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ 'anything-but': [100, 200, 300] }],
    },
  };
  const orPattern = {
    detail: {
      $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }],
    },
  };
  // A key given twice: "the last reference will be the one used" (#eb-filtering-complex-example).
  const repeatedKeyPattern: unknown = JSON.parse('{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}');
  const prefixIgnoreCase = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
  const suffixIgnoreCase = { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } };

  itMatchesAsDocumented([
    // #eb-filtering-prefix-matching
    ['prefix: time 2017-10-02T18:43:48Z starts with 2017-10-02', { time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-02T18:43:48Z' }, true],
    ['prefix (implied): another day', { time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-03T18:43:48Z' }, false],
    ['prefix equals-ignore-case: EventB…', prefixIgnoreCase, { detail: { service: 'EventBridge' } }, true],
    ['prefix equals-ignore-case: EVENTB…', prefixIgnoreCase, { detail: { service: 'EVENTBRIDGE' } }, true],
    ['prefix equals-ignore-case: eventb…', prefixIgnoreCase, { detail: { service: 'eventbus' } }, true],
    ['prefix equals-ignore-case (implied): another start', prefixIgnoreCase, { detail: { service: 'Lambda' } }, false],
    // #eb-filtering-suffix-matching
    ['suffix: FileName ends with .png', { FileName: [{ suffix: '.png' }] }, { FileName: 'photo.png' }, true],
    ['suffix (implied): .jpg', { FileName: [{ suffix: '.png' }] }, { FileName: 'photo.jpg' }, false],
    ['suffix equals-ignore-case: .png', suffixIgnoreCase, { detail: { FileName: 'photo.png' } }, true],
    ['suffix equals-ignore-case: .PNG', suffixIgnoreCase, { detail: { FileName: 'photo.PNG' } }, true],
    ['suffix equals-ignore-case (implied): .jpg', suffixIgnoreCase, { detail: { FileName: 'photo.jpg' } }, false],
    // #eb-filtering-anything-but
    ['anything-but "initializing": running', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'running' } }, true],
    ['anything-but "initializing": initializing', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'initializing' } }, false],
    ['anything-but 123: 456', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 456 } }, true],
    ['anything-but 123: 123', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 123 } }, false],
    [
      'anything-but [stopped, overloaded]: running',
      { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
      { detail: { state: 'running' } },
      true,
    ],
    [
      'anything-but [stopped, overloaded]: overloaded',
      { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
      { detail: { state: 'overloaded' } },
      false,
    ],
    ['anything-but [100, 200, 300]: 150', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, { detail: { 'x-limit': 150 } }, true],
    ['anything-but [100, 200, 300]: 200', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, { detail: { 'x-limit': 200 } }, false],
    ['anything-but prefix "init": running', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, { detail: { state: 'running' } }, true],
    ['anything-but prefix "init": initializing', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, { detail: { state: 'initializing' } }, false],
    // #filtering-numeric-matching: "only matches events that are true for all fields"
    ['numeric: all three fields in range', numericPattern, { detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 } }, true],
    ['numeric: c-count 0 is not > 0', numericPattern, { detail: { 'c-count': 0, 'd-count': 3, 'x-limit': 301.8 } }, false],
    ['numeric: x-limit 300 is not 3.018e2', numericPattern, { detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 300 } }, false],
    // #eb-filtering-ip-matching: "start with 10.0.0 and end with a number between 0 and 255"
    ['cidr 10.0.0.0/24: 10.0.0.0', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.0.0' } }, true],
    ['cidr 10.0.0.0/24: 10.0.0.255', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.0.255' } }, true],
    ['cidr 10.0.0.0/24 (implied): 10.0.1.0', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.1.0' } }, false],
    // #eb-filtering-exists-matching
    ['exists true: the event with detail.state', { detail: { state: [{ exists: true }] } }, pendingInstance, true],
    ['exists true: NOT the event without detail.state', { detail: { state: [{ exists: true }] } }, eventWithObjectCount, false],
    // #eb-filtering-equals-ignore-case-matching (the event's detail-type is an array there)
    [
      'equals-ignore-case: detail-type in another case',
      { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] },
      eventWithObjectCount,
      true,
    ],
    // #eb-filtering-complex-example
    [
      'complex example: every field matches',
      complexPattern,
      { time: '2017-10-02T16:24:49Z', detail: { state: 'running', 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 } },
      true,
    ],
    [
      'complex example (implied): x-limit 300 is excluded',
      complexPattern,
      { time: '2017-10-02T16:24:49Z', detail: { state: 'running', 'c-count': 5, 'd-count': 3, 'x-limit': 300 } },
      false,
    ],
    ['repeated key: only the last (anything-but us-east) counts', repeatedKeyPattern, { detail: { location: 'eu-west-1' } }, true],
    ['repeated key: us-east is excluded although it starts with us-', repeatedKeyPattern, { detail: { location: 'us-east' } }, false],
    // #eb-filtering-complex-example-or: "matches if any of the following conditions are met"
    ['$or: c-count in range only', orPattern, { detail: { 'c-count': 3, 'd-count': 10, 'x-limit': 1 } }, true],
    ['$or: d-count below 10 only', orPattern, { detail: { 'c-count': 0, 'd-count': 9, 'x-limit': 1 } }, true],
    ['$or: x-limit 3.018e2 only', orPattern, { detail: { 'c-count': 0, 'd-count': 10, 'x-limit': 301.8 } }, true],
    ['$or: no condition met', orPattern, { detail: { 'c-count': 0, 'd-count': 10, 'x-limit': 1 } }, false],
  ]);

  it('exists false: matches without the field, and when it holds an object (not a leaf)', () => {
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html#eb-filtering-exists-matching
    // (the 2021 text of the section, doc_source at 4ddcc77; the Event Ruler README keeps the same example)
    // Prepare
    const matches = compilePattern({ detail: { 'c-count': [{ exists: false }] } });
    const base = { 'detail-type': ['EC2 Instance State-change Notification'], resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341'] };
    // Act
    const withoutCount = matches({ ...base, detail: { state: ['initializing', 'running'] } });
    const withObjectCount = matches({ ...base, detail: { state: ['initializing', 'running'], 'c-count': { c1: 100 } } });
    const withCount = matches({ ...base, detail: { state: ['running'], 'c-count': 5 } });
    // Assess
    expect(withoutCount).toBe(true);
    expect(withObjectCount).toBe(true);
    expect(withCount).toBe(false);
  });

  it('rejects a pattern whose $or makes over 1000 rule combinations', () => {
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html#eb-filtering-complex-example-or
    // ("multiply the total number of arguments from each $or array"); 10 × 10 × 10 is allowed, × 2 more is not.
    // Prepare
    const orOfTen = (field: string) => ({ $or: Array.from({ length: 10 }, (_, i) => ({ [field]: [i] })) });
    const thousand = { a: orOfTen('a'), b: orOfTen('b'), c: orOfTen('c') };
    const twoThousand = { ...thousand, d: { $or: [{ d: [1] }, { d: [2] }] } };
    // Act
    const allowed = rejectionOf(thousand);
    const refused = rejectionOf(twoThousand);
    // Assess
    expect(allowed).toBeUndefined();
    expect(refused?.reason).toMatch(/over 1000 rule combinations/);
  });
});

describe('the comparison operators table, as documented', () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
  // One row per operator: the table's rule syntax, an event its "Example" column describes, and
  // (implied) one it excludes. Rows the content filtering table above already covers are left out.
  itMatchesAsDocumented([
    ['And: Location is New York and Day is Monday', { Location: ['New York'], Day: ['Monday'] }, { Location: 'New York', Day: 'Monday' }, true],
    ['And (implied): Monday elsewhere', { Location: ['New York'], Day: ['Monday'] }, { Location: 'Boston', Day: 'Monday' }, false],
    ['Anything-but (begins with): Region not in the US', { Region: [{ 'anything-but': { prefix: 'us-' } }] }, { Region: 'eu-west-1' }, true],
    ['Anything-but (begins with) (implied): us-east-1', { Region: [{ 'anything-but': { prefix: 'us-' } }] }, { Region: 'us-east-1' }, false],
    ['Anything-but (ends with): not .png', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.jpg' }, true],
    ['Anything-but (ends with) (implied): a.png', { FileName: [{ 'anything-but': { suffix: '.png' } }] }, { FileName: 'a.png' }, false],
    ['Anything-but (ignore case): pending', { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] }, { state: 'pending' }, true],
    ['Anything-but (ignore case): INITIALIZING', { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] }, { state: 'INITIALIZING' }, false],
    ['Anything-but using a wildcard: a path without /lib/', { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { FilePath: '/usr/bin/tool' }, true],
    ['Anything-but using a wildcard: a path with /lib/', { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { FilePath: '/usr/lib/libc.so' }, false],
    ['Begins with: Region in the US', { Region: [{ prefix: 'us-' }] }, { Region: 'us-west-2' }, true],
    ['Begins with (implied): eu-west-1', { Region: [{ prefix: 'us-' }] }, { Region: 'eu-west-1' }, false],
    ['Begins with (ignore case): EventBridge', { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] }, { service: 'EventBridge' }, true],
    ['Empty: LastName is ""', { LastName: [''] }, { LastName: '' }, true],
    ['Empty (implied): LastName is Doe', { LastName: [''] }, { LastName: 'Doe' }, false],
    ['Equals: Name is Alice', { Name: ['Alice'] }, { Name: 'Alice' }, true],
    ['Equals (implied): case matters', { Name: ['Alice'] }, { Name: 'alice' }, false],
    ['Equals (ignore case): Name is ALICE', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'ALICE' }, true],
    ['Ends with (ignore case): service ends with TBRIDGE', { service: [{ suffix: { 'equals-ignore-case': 'tBridge' } }] }, { service: 'EVENTBRIDGE' }, true],
    ['Exists: ProductName exists', { ProductName: [{ exists: true }] }, { ProductName: 'Widget' }, true],
    ['Exists (implied): no ProductName', { ProductName: [{ exists: true }] }, { Product: 'Widget' }, false],
    ['Does not exist: no ProductName', { ProductName: [{ exists: false }] }, { Product: 'Widget' }, true],
    ['Does not exist (implied): ProductName present', { ProductName: [{ exists: false }] }, { ProductName: 'Widget' }, false],
    ['Not: Weather is anything but Raining', { Weather: [{ 'anything-but': ['Raining'] }] }, { Weather: 'Sunny' }, true],
    ['Not (implied): Raining', { Weather: [{ 'anything-but': ['Raining'] }] }, { Weather: 'Raining' }, false],
    ['Null: UserID is null', { UserID: [null] }, { UserID: null }, true],
    ['Null (implied): a missing UserID is not null', { UserID: [null] }, { Name: 'Alice' }, false],
    ['Numeric (equals): Price is 100', { Price: [{ numeric: ['=', 100] }] }, { Price: 100 }, true],
    ['Numeric (equals) (implied): Price is 101', { Price: [{ numeric: ['=', 100] }] }, { Price: 101 }, false],
    ['Numeric (range): Price 20 is > 10 and <= 20', { Price: [{ numeric: ['>', 10, '<=', 20] }] }, { Price: 20 }, true],
    ['Numeric (range) (implied): Price 10 is not > 10', { Price: [{ numeric: ['>', 10, '<=', 20] }] }, { Price: 10 }, false],
    ['Or: PaymentType is Debit', { PaymentType: ['Credit', 'Debit'] }, { PaymentType: 'Debit' }, true],
    ['Or (implied): PaymentType is Cash', { PaymentType: ['Credit', 'Debit'] }, { PaymentType: 'Cash' }, false],
    ['Or (multiple fields): Day is Monday elsewhere', { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] }, { Location: 'Boston', Day: 'Monday' }, true],
    ['Or (multiple fields) (implied): neither', { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] }, { Location: 'Boston', Day: 'Friday' }, false],
    // The Wildcard row's example reads "Any file with a .png extension, located within the folder
    // dir"; its rule syntax was not in the copy of the page read for this table: dir/*.png fits it.
    ['Wildcard: a .png file within dir', { FileName: [{ wildcard: 'dir/*.png' }] }, { FileName: 'dir/photos/a.png' }, true],
    ['Wildcard (implied): a .png file elsewhere', { FileName: [{ wildcard: 'dir/*.png' }] }, { FileName: 'other/a.png' }, false],
  ]);
});

describe('arrays, null values, field values, as documented', () => {
  const autoScalingEvent = {
    version: '0',
    id: '3e3c153a-8339-4e30-8c35-687ebef853fe',
    'detail-type': 'EC2 Instance Launch Successful',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2015-11-11T21:31:47Z',
    region: 'us-east-1',
    resources: [],
    detail: { eventVersion: '', responseElements: null },
  };
  const terminatedInstance = {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '111122223333',
    time: '2017-12-22T18:43:48Z',
    region: 'us-west-1',
    resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
    detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
  };
  const terminations = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } };
  const resourcesPattern = {
    resources: [
      'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
      'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
    ],
  };
  const autoScalingGroup = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate';
  const macieFinding = {
    version: '0',
    id: '0948ba87-d3b8-c6d4-f2da-732a1example',
    'detail-type': 'Macie Finding',
    source: 'aws.macie',
    account: '123456789012',
    time: '2021-04-29T23:12:15Z',
    region: 'us-east-1',
    resources: [],
    detail: { schemaVersion: '1.0', type: 'Policy:IAMUser/S3BucketEncryptionDisabled', severity: { score: 1, description: 'Low' }, count: 2 },
  };
  const macieRule = { source: ['aws.macie'], 'detail-type': ['Macie Finding'], detail: { severity: { score: [1] }, count: [2] } };

  itMatchesAsDocumented([
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
    [
      'arrays: the first pattern value is the second event value',
      resourcesPattern,
      { resources: [autoScalingGroup, 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
      true,
    ],
    ['arrays (implied): no common value', resourcesPattern, { resources: [autoScalingGroup] }, false],
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
    ['null values: eventVersion is an empty string', { detail: { eventVersion: [''] } }, autoScalingEvent, true],
    ['null values: responseElements is null', { detail: { responseElements: [null] } }, autoScalingEvent, true],
    ['null values: a pattern for "" does not match null', { detail: { responseElements: [''] } }, autoScalingEvent, false],
    ['null values: a pattern for null does not match ""', { detail: { eventVersion: [null] } }, autoScalingEvent, false],
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
    ['event patterns: EC2 instance-termination events', terminations, terminatedInstance, true],
    [
      'event patterns (implied): a running instance',
      terminations,
      { ...terminatedInstance, detail: { ...terminatedInstance.detail, state: 'running' } },
      false,
    ],
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html ("the same nesting structure"; aws.ec2 or aws.fargate)
    ['create pattern: source aws.ec2 or aws.fargate', { source: ['aws.ec2', 'aws.fargate'] }, { source: 'aws.fargate' }, true],
    ['create pattern: a field at another nesting does not match', terminations, { ...terminatedInstance, state: 'terminated', detail: {} }, false],
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-filtering-data-types.html
    [
      'field values: responseElements null, source and detail-type',
      { source: ['aws.autoscaling'], 'detail-type': ['EC2 Instance Launch Successful'], detail: { responseElements: [null] } },
      autoScalingEvent,
      true,
    ],
    ['value matching: Macie severity score 1 and count 2', macieRule, macieFinding, true],
    ['value matching (implied): count 3', macieRule, { ...macieFinding, detail: { ...macieFinding.detail, count: 3 } }, false],
  ]);
});

describe("Event Ruler's README, where AWS's pages are silent", () => {
  // https://github.com/aws/event-ruler/blob/main/README.md: its sample event, which "the rules in
  // this section all match", and the rules of the sections after it.
  const sampleEvent = {
    version: '0',
    id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '012345679012',
    time: '2017-10-02T16:24:49Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
    detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8, 'source-ip': '10.0.0.33', 'instance-id': 'i-000000aaaaaa00000', state: 'running' },
  };
  const cloudWatch = { source: ['aws.cloudwatch'] };
  const normalOr = { ...cloudWatch, $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }] };
  const parallelOr = {
    $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
  };
  const orWithAnd = {
    ...cloudWatch,
    $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'] }, { scope: ['Service'] }],
  };
  const nestedOr = {
    ...cloudWatch,
    $or: [
      { metricName: ['CPUUtilization', 'ReadLatency'] },
      { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
      { scope: ['Service'] },
    ],
  };
  const employees = [
    { firstName: 'John', lastName: 'Doe' },
    { firstName: 'Anna', lastName: 'Smith' },
    { firstName: 'Peter', lastName: 'Jones' },
  ];

  itMatchesAsDocumented([
    [
      'simple matching: the sample event',
      { 'detail-type': ['EC2 Instance State-change Notification'], resources: sampleEvent.resources, detail: { state: ['initializing', 'running'] } },
      sampleEvent,
      true,
    ],
    ['prefix: the sample event', { time: [{ prefix: '2017-10-02' }] }, sampleEvent, true],
    ['prefix equals-ignore-case "EC2"', { source: [{ prefix: { 'equals-ignore-case': 'EC2' } }] }, { source: 'ec2.amazonaws.com' }, true],
    ['prefix equals-ignore-case: strings only', { code: [{ prefix: { 'equals-ignore-case': '12' } }] }, { code: 123 }, false],
    ['suffix "ec2": aws.ec2', { source: [{ suffix: 'ec2' }] }, sampleEvent, true],
    ['suffix equals-ignore-case "EC2": aws.ec2', { source: [{ suffix: { 'equals-ignore-case': 'EC2' } }] }, sampleEvent, true],
    ['equals-ignore-case "EC2": ec2', { source: [{ 'equals-ignore-case': 'EC2' }] }, { source: 'ec2' }, true],
    ['equals-ignore-case "EC2": not aws.ec2', { source: [{ 'equals-ignore-case': 'EC2' }] }, sampleEvent, false],
    ['wildcard "Simple*Service": SimpleQueueService', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueService' }, true],
    ['wildcard: * also matches no character', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleService' }, true],
    ['wildcard: the whole value must match', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueueServices' }, false],
    ['wildcard: \\* is a literal asterisk', { key: [{ wildcard: 'a\\*b' }] }, { key: 'a*b' }, true],
    ['wildcard: \\* does not match other characters', { key: [{ wildcard: 'a\\*b' }] }, { key: 'axb' }, false],
    ['wildcard: \\\\ is a literal backslash', { key: [{ wildcard: 'C:\\\\*.txt' }] }, { key: 'C:\\notes.txt' }, true],
    ['anything-but prefix list: running', { detail: { state: [{ 'anything-but': { prefix: ['init', 'error'] } }] } }, sampleEvent, true],
    [
      'anything-but prefix list: error-state',
      { detail: { state: [{ 'anything-but': { prefix: ['init', 'error'] } }] } },
      { detail: { state: 'error-state' } },
      false,
    ],
    ['anything-but suffix "1234": i-…00000', { detail: { 'instance-id': [{ 'anything-but': { suffix: '1234' } }] } }, sampleEvent, true],
    [
      'anything-but suffix list: i-…6789',
      { detail: { 'instance-id': [{ 'anything-but': { suffix: ['1234', '6789'] } }] } },
      { detail: { 'instance-id': 'i-000006789' } },
      false,
    ],
    [
      'anything-but ignore-case: STOPPED',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'Stopped' } }] } },
      { detail: { state: 'STOPPED' } },
      false,
    ],
    [
      'anything-but ignore-case list: running',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] } },
      sampleEvent,
      true,
    ],
    [
      'anything-but ignore-case list: overloaded',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] } },
      { detail: { state: 'overloaded' } },
      false,
    ],
    [
      'anything-but wildcard: /opt/bin/app.jar',
      { detail: { state: [{ 'anything-but': { wildcard: '*/bin/*.jar' } }] } },
      { detail: { state: '/opt/bin/app.jar' } },
      false,
    ],
    [
      'anything-but wildcard list: /opt/bin/App.class',
      { detail: { state: [{ 'anything-but': { wildcard: ['*/bin/*.jar', '*/bin/*.class'] } }] } },
      { detail: { state: '/opt/bin/App.class' } },
      false,
    ],
    [
      'anything-but wildcard list: /opt/lib/app.jar',
      { detail: { state: [{ 'anything-but': { wildcard: ['*/bin/*.jar', '*/bin/*.class'] } }] } },
      { detail: { state: '/opt/lib/app.jar' } },
      true,
    ],
    // "Numeric matching supports the same precision and range as Java's double": values compare as numbers.
    [
      'numeric: the sample event',
      { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } },
      sampleEvent,
      true,
    ],
    ['numeric: 3.0e2 is 300', { detail: { 'x-limit': [{ numeric: ['=', 300] }] } }, JSON.parse('{"detail":{"x-limit":3.0e2}}'), true],
    ['IP address: 10.0.0.33 in 10.0.0.0/24', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, sampleEvent, true],
    [
      'IP address: "this also works with IPv6"',
      { detail: { 'source-ip': [{ cidr: '2001:db8::/32' }] } },
      { detail: { 'source-ip': '2001:db8:85a3::8a2e:370:7334' } },
      true,
    ],
    ['IP address: IPv6 outside the block', { detail: { 'source-ip': [{ cidr: '2001:db8::/32' }] } }, { detail: { 'source-ip': '2001:db9::1' } }, false],
    ['exists true: the sample event has c-count', { detail: { 'c-count': [{ exists: true }] } }, sampleEvent, true],
    ['exists false: the sample event has c-count', { detail: { 'c-count': [{ exists: false }] } }, sampleEvent, false],
    [
      'complex example: the sample event',
      {
        time: [{ prefix: '2017-10-02' }],
        detail: {
          state: [{ 'anything-but': 'initializing' }],
          'c-count': [{ numeric: ['>', 0, '<=', 5] }],
          'd-count': [{ numeric: ['<', 10] }],
          'x-limit': [{ 'anything-but': [100, 200, 300] }],
          'source-ip': [{ cidr: '10.0.0.0/8' }],
        },
      },
      sampleEvent,
      true,
    ],
    ['$or normal: source and metricName', normalOr, { source: 'aws.cloudwatch', metricName: 'ReadLatency' }, true],
    ['$or normal: source and namespace', normalOr, { source: 'aws.cloudwatch', namespace: 'AWS/ES' }, true],
    ['$or normal: source alone', normalOr, { source: 'aws.cloudwatch', namespace: 'AWS/S3' }, false],
    ['$or parallel: one of each', parallelOr, { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } }, true],
    ['$or parallel: only the first', parallelOr, { namespace: 'AWS/EC2', detail: { source: 'aws.ec2' } }, false],
    ['$or with an AND inside: metricType and namespace', orWithAnd, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2' }, true],
    ['$or with an AND inside: metricType alone', orWithAnd, { source: 'aws.cloudwatch', metricType: 'MetricType' }, false],
    [
      'nested $or: metricType, namespace and spaceId',
      nestedOr,
      { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/ES', spaceId: 1000 },
      true,
    ],
    ['nested $or: metricType and namespace without an id', nestedOr, { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/ES' }, false],
    ['nested $or: scope', nestedOr, { source: 'aws.cloudwatch', scope: 'Service' }, true],
    // "JSON Array Matching"
    ['arrays: Anna among the employees', { employees: { firstName: ['Anna'] } }, { employees }, true],
    ['arrays: Anna and Jones come from different elements', { employees: { firstName: ['Anna'], lastName: ['Jones'] } }, { employees }, false],
    ['arrays: Anna Smith is one element', { employees: { firstName: ['Anna'], lastName: ['Smith'] } }, { employees }, true],
    ['arrays: multi-level arrays', { employees: { firstName: ['Peter'] } }, { employees: [employees.slice(0, 2), employees.slice(2)] }, true],
    // "Caveat: Compiled rules and JSON keys with dots": these rules match both events.
    ['keys with dots: nested rule, nested event', { detail: { state: { status: ['running'] } } }, { detail: { state: { status: 'running' } } }, true],
    ['keys with dots: nested rule, dotted event', { detail: { state: { status: ['running'] } } }, { detail: { 'state.status': 'running' } }, true],
    ['keys with dots: dotted rule, nested event', { detail: { 'state.status': ['running'] } }, { detail: { state: { status: 'running' } } }, true],
  ]);

  it.each([
    ['consecutive wildcards', 'a**b', 'Consecutive wildcard characters at pos 2'],
    ['a backslash escaping another character', 'a\\b', 'Invalid escape character at pos 2'],
    ['a trailing backslash', 'ab\\', 'Invalid escape character at pos 3'],
  ])('wildcard: rejects %s', (_name, wildcard, reason) => {
    // "consecutive wildcard characters are not allowed"; "A backslash escaping any character other
    // than asterisk or backslash is not allowed" (positions as Ruler's WildcardParser counts them).
    // Prepare
    const pattern = { source: [{ wildcard }] };
    // Act
    const rejection = rejectionOf(pattern);
    // Assess
    expect(rejection?.reason).toBe(reason);
  });
});

describe('what EventBridge itself answered, where the docs are silent', () => {
  // Observed on EventBridge (TestEventPattern) by LocalStack's AWS-validated tests:
  // https://github.com/localstack/localstack/tree/main/tests/aws/services/events/event_pattern_templates
  // (a template's name ends in _NEG when EventBridge answered false, _EXC when it refused the
  // pattern), with AWS's answers in test_events_patterns.snapshot.json next to them.
  const roses = { dynamodb: { NewImage: { homemade: { S: [{ 'anything-but': ['roses'] }, { exists: false }] } } } };
  const numberOrNot101 = { dynamodb: { NewImage: { numericFilter: { N: [{ numeric: ['>', 100] }, { 'anything-but': '101' }] } } } };
  const ipv6Block = { detail: { sourceIPAddress: [{ cidr: '2001:db8:1234:1a00::/64' }] } };

  itMatchesAsDocumented([
    // exists: null is a value, an empty array holds none, an object is not a leaf (above)
    ['exists true on an empty array', { resources: [{ exists: true }] }, { resources: [] }, false],
    ['null on an empty array', { resources: [null] }, { resources: [] }, false],
    [
      'exists true inside an array of objects',
      { detail: { automations: { id: [{ exists: true }] } } },
      { detail: { automations: [{ key1: 'value1' }, { id: 'match-does-exist' }, { key2: 'value2' }] } },
      true,
    ],
    [
      'exists false below a parent that is not there',
      { detail: { level1: { level2: { level3: { level4: [{ exists: false }] } } } } },
      { detail: { level1: { level2: 'l2 value' } } },
      true,
    ],
    [
      'exists false on a deep field that is there',
      { detail: { level1: { level2: { level3: { level4: [{ exists: false }] } } } } },
      { detail: { level1: { level2: { level3: { level4: 'l4 value' } } } } },
      false,
    ],
    ['exists true on an object is not a leaf', { dynamodb: { presentKey: [{ exists: true }] } }, { dynamodb: { presentKey: { S: 'test123' } } }, false],
    // anything-but needs a value, but any value: null, a number against strings
    ['anything-but on null', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: null } }, true],
    ['anything-but on a missing field', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: {} }, false],
    ['anything-but prefix on a number', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, { detail: { state: 12 } }, true],
    ['anything-but prefix list on null', { detail: { state: [{ 'anything-but': { prefix: ['init', 'test'] } }] } }, { detail: { state: null } }, true],
    ['anything-but suffix list on a missing field', { detail: { FileName: [{ 'anything-but': { suffix: ['.txt', '.jpg'] } }] } }, { detail: {} }, false],
    ['anything-but wildcard on a number', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/dir/*' } }] } }, { detail: { FilePath: 123 } }, true],
    ['anything-but wildcard "" on a path', { detail: { FilePath: [{ 'anything-but': { wildcard: '' } }] } }, { detail: { FilePath: 'dir/init/file' } }, true],
    [
      'anything-but equals-ignore-case list on null',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'stopped'] } }] } },
      { detail: { state: null } },
      true,
    ],
    ['anything-but 0 on 789', { detail: { 'x-limit': [{ 'anything-but': 0 }] } }, { detail: { 'x-limit': 789 } }, true],
    ['anything-but or exists false: a value', roses, { dynamodb: { NewImage: { homemade: { S: 'ABCD', N: '1234' } } } }, true],
    ['anything-but or exists false: S missing, N there', roses, { dynamodb: { NewImage: { homemade: { N: '789' } } } }, true],
    ['anything-but or exists false: parent missing', roses, { dynamodb: { NewImage: { purchased: { N: '789' } } } }, true],
    ['numeric or anything-but: the string "42"', numberOrNot101, { dynamodb: { NewImage: { numericFilter: { N: '42' } } } }, true],
    ['numeric or anything-but: the string "101"', numberOrNot101, { dynamodb: { NewImage: { numericFilter: { N: '101' } } } }, false],
    // strings only: prefix, suffix, equals-ignore-case, wildcard, cidr; numbers only: numeric
    ['prefix "" on any string', { source: [{ prefix: '' }] }, { source: 'test-source' }, true],
    ['suffix "" on any string', { source: [{ suffix: '' }] }, { source: 'test-source' }, true],
    ['suffix is case-sensitive', { FileName: [{ suffix: '.PNG' }] }, { FileName: 'image.png' }, false],
    ['equals-ignore-case "" on ""', { detail: { value: [{ 'equals-ignore-case': '' }] } }, { detail: { value: '' } }, true],
    ['equals-ignore-case "" on a value', { detail: { value: [{ 'equals-ignore-case': '' }] } }, { detail: { value: 'test-value' } }, false],
    ['wildcard "" on a value', { EventBusArn: [{ wildcard: '' }] }, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/myEventBus' }, false],
    [
      'wildcard: an event bus ARN in any account',
      { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] },
      { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/myEventBus' },
      true,
    ],
    ['wildcard: * spans slashes', { FileName: [{ wildcard: '/Users/*/doc.txt' }] }, { FileName: '/Users/ls_user/dir/dir/dir/dir/dir/doc.txt' }, true],
    [
      'wildcard: another file name',
      { FileName: [{ wildcard: '/Users/*/doc.txt' }] },
      { FileName: '/Users/ls_user/dir/dir/dir/dir/dir/notmatchingdoc.txt' },
      false,
    ],
    [
      'wildcard: repeated pieces after *',
      { FileName: [{ wildcard: '/Users/*/dir/dir/dir/dir/dir/doc.txt' }] },
      { FileName: '/Users/ls_user/dir/dir/dir/dir/dir/doc.txt' },
      true,
    ],
    [
      'wildcard: one piece differs',
      { FileName: [{ wildcard: '/Users/*/dir/dir/dir/dir/dir/doc.txt' }] },
      { FileName: '/Users/ls_user/dir/dir/dir/dir/otherdir/doc.txt' },
      false,
    ],
    ['cidr on a number', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: 123 } }, false],
    ['cidr on 10.0.0.256, not an address', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.0.256' } }, false],
    ['cidr IPv6 in the block, written in full', ipv6Block, { detail: { sourceIPAddress: '2001:0db8:1234:1a00:0000:0000:0000:0000' } }, true],
    ['cidr IPv6 outside the block', ipv6Block, { detail: { sourceIPAddress: '2001:0db8:123f:1a01:0000:0000:0000:0000' } }, false],
    ['numeric on null', { number: [{ numeric: ['>', 100] }] }, { number: null }, false],
    ['numeric on the string "300"', { number: [{ numeric: ['>', 100] }] }, { number: '300' }, false],
    ['numeric > 100 on 101', { number: [{ numeric: ['>', 100] }] }, { number: 101 }, true],
    ['numeric ranges with both bounds', { n: [{ numeric: ['>=', 200, '<', 500] }] }, { n: 300 }, true],
    // exact values
    ['false matches false', { boolean: [false] }, { boolean: false }, true],
    ['false does not match true', { boolean: [false] }, { boolean: true }, false],
    ['300 matches 300', { number: [300] }, { number: 300 }, true],
    ['null does not match the string "null"', { detail: { responseElements: [null] } }, { detail: { responseElements: 'null' } }, false],
    ['field names are case-sensitive', { MY_KEY: ['my-value'] }, { my_key: 'my-value' }, false],
    ['a JSON string is not an object', { detail: { 'my-key': ['my-value'] } }, { detail: '{"my-key": "my-value"}' }, false],
    ['a list of operators ORs them', { my_key: [{ exists: true }, { prefix: 'IGNORED' }, { suffix: 'IGNORED' }] }, { my_key: 'my-value' }, true],
    [
      'DynamoDB images: one key of the object',
      { dynamodb: { NewImage: { homemade: { N: ['1234'] } } } },
      { dynamodb: { NewImage: { homemade: { S: 'ABCD', N: '1234' } } } },
      true,
    ],
    [
      'keys with dots: the dotted event key holds an object',
      { detail: { state: { status: ['running'] } } },
      { detail: { 'state.status': { status: 'running' } } },
      false,
    ],
  ]);

  it.each<[string, unknown, string]>([
    ['a bare number', { int: 42 }, '"int" must be an object or an array'],
    ['a bare string', { string: 'my-value' }, '"string" must be an object or an array'],
    ['an empty array', { resources: [] }, 'Empty arrays are not allowed'],
    ['an operator in upper case', { detail: { equal: [{ NUMERIC: ['=', 5] }] } }, 'Unrecognized match type NUMERIC'],
    ['EXISTS in upper case', { my_key: [{ EXISTS: true }] }, 'Unrecognized match type EXISTS'],
    ['prefix of a number', { time: [{ prefix: 123 }] }, 'prefix match pattern must be a string'],
    ['prefix of a list', { time: [{ prefix: ['2022-07-13'] }] }, 'prefix match pattern must be a string'],
    ['suffix of a number', { FileName: [{ suffix: 123 }] }, 'suffix match pattern must be a string'],
    ['suffix of a list', { FileName: [{ suffix: ['.png'] }] }, 'suffix match pattern must be a string'],
    ['equals-ignore-case of a list', { 'detail-type': [{ 'equals-ignore-case': ['ec2'] }] }, 'equals-ignore-case match pattern must be a string'],
    ['equals-ignore-case of an object', { 'detail-type': [{ 'equals-ignore-case': { prefix: 'ec2' } }] }, 'equals-ignore-case match pattern must be a string'],
    ['wildcard of a number', { EventBusArn: [{ wildcard: 123 }] }, 'wildcard match pattern must be a string'],
    ['wildcard of a list', { EventBusArn: [{ wildcard: ['arn:aws:events:us-east-1:*:event-bus/*'] }] }, 'wildcard match pattern must be a string'],
    ['consecutive wildcards', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:**:event-bus/*' }] }, 'Consecutive wildcard characters at pos 26'],
    ['numeric of a number', { detail: { 'c-count': [{ numeric: 10 }] } }, 'Value of numeric must be an array.'],
    ['numeric with two lower bounds', { detail: { 'c-count': [{ numeric: ['>', 0, '>', 0] }] } }, 'Bad numeric range operator: >'],
    ['numeric missing its upper bound', { detail: { 'c-count': [{ numeric: ['>', 0, '<'] }] } }, 'Value of < must be numeric'],
    ['cidr without a /', { detail: { ip: [{ cidr: 'bad-filter' }] } }, "Malformed CIDR, one '/' required"],
    ['cidr with a bad mask', { detail: { ip: [{ cidr: 'bad-/64filter' }] } }, 'Malformed CIDR, mask bits must be an integer'],
    ['cidr of a bad IPv4 address', { detail: { ip: [{ cidr: 'xx.11.xx/8' }] } }, 'Nonstandard IP address: xx.11.xx'],
    ['cidr of a bad IPv6 address', { detail: { ip: [{ cidr: 'xxxx:db8:1234:1a00::/64' }] } }, 'Nonstandard IP address: xxxx:db8:1234:1a00::'],
    ['cidr of a list', { detail: { ip: [{ cidr: ['bad-type'] }] } }, 'prefix match pattern must be a string'],
    ['anything-but null', { detail: { state: [{ 'anything-but': null }] } }, 'Value of anything-but must be an array or single string/number value.'],
    [
      'anything-but a list with null',
      { detail: { state: [{ 'anything-but': ['stopped', null] }] } },
      'Inside anything but list, start|null|boolean is not supported.',
    ],
    ['anything-but prefix ""', { detail: { FileName: [{ 'anything-but': { prefix: '' } }] } }, 'Null prefix/suffix not allowed'],
    ['anything-but suffix ""', { detail: { FileName: [{ 'anything-but': { suffix: '' } }] } }, 'Null prefix/suffix not allowed'],
    [
      'anything-but prefix equals-ignore-case',
      { detail: { FileName: [{ 'anything-but': { prefix: { 'equals-ignore-case': 'file' } } }] } },
      'Value of anything-but must be an array or single string/number value.',
    ],
    [
      'anything-but suffix equals-ignore-case',
      { detail: { FileName: [{ 'anything-but': { suffix: { 'equals-ignore-case': '.png' } } }] } },
      'Value of anything-but must be an array or single string/number value.',
    ],
    ['anything-but prefix of a number', { detail: { state: [{ 'anything-but': { prefix: 123 } }] } }, 'prefix/suffix match pattern must be a string'],
    [
      'anything-but prefix list with a number',
      { detail: { state: [{ 'anything-but': { prefix: [123, 'test'] } }] } },
      'prefix/suffix match pattern must be a string',
    ],
    [
      'anything-but suffix list with null',
      { detail: { FileName: [{ 'anything-but': { suffix: [null, '.txt'] } }] } },
      'prefix/suffix match pattern must be a string',
    ],
    [
      'anything-but equals-ignore-case of a number',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 123 } }] } },
      'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
    ],
    [
      'anything-but equals-ignore-case of numbers',
      { detail: { state: [{ 'anything-but': { 'equals-ignore-case': [123, 456] } }] } },
      'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
    ],
    ['anything-but wildcard of a number', { detail: { FilePath: [{ 'anything-but': { wildcard: 123 } }] } }, 'wildcard match pattern must be a string'],
    [
      'anything-but wildcard list with a number',
      { detail: { state: [{ 'anything-but': { wildcard: [123, '*/dir/*'] } }] } },
      'wildcard match pattern must be a string',
    ],
  ])("rejects %s with EventBridge's reason", (_name, pattern, reason) => {
    // Prepare
    const expected = `Event pattern is not valid. Reason: ${reason}`;
    // Act
    const rejection = rejectionOf(pattern);
    // Assess
    expect(rejection?.reason).toBe(reason);
    expect(rejection?.message.startsWith(expected)).toBe(true);
  });
});

describe("Event Ruler's rule compiler, for what neither AWS nor its tests show", () => {
  // https://github.com/aws/event-ruler/blob/main/src/main/software/amazon/event/ruler/JsonRuleCompiler.java
  // and CIDR.java: the checks EventBridge runs on a pattern before it accepts it.
  it.each<[string, unknown, string]>([
    ['a pattern that is not an object', ['aws.ec2'], 'Filter is not an object'],
    ['an empty pattern', {}, 'Empty objects are not allowed'],
    ['an empty object', { detail: {} }, 'Empty objects are not allowed'],
    ['a list inside the values', { source: [['aws.ec2']] }, 'Match value must be String, number, true, false, or null'],
    ['an empty operator', { source: [{}] }, 'Match expression name not found'],
    ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed in match expression'],
    ['$or with one branch', { $or: [{ source: ['a'] }] }, 'There must have at least 2 Objects in $or relationship.'],
    ['$or of an object', { $or: { source: ['a'] } }, 'It must be an Array followed with $or.'],
    ['$or of values', { $or: ['a', 'b'] }, 'Only JSON object is allowed in array of $or relationship.'],
    [
      'an operator name as a field in $or',
      { $or: [{ numeric: [1] }, { prefix: ['a'] }] },
      'numeric is Ruler reserved fieldName which cannot be used inside $or.',
    ],
    ['exists of a string', { source: [{ exists: 'yes' }] }, 'exists match pattern must be either true or false.'],
    ['an unknown numeric operator', { n: [{ numeric: ['!=', 5] }] }, 'Unrecognized numeric range operator: !='],
    ['a numeric bound given as a string', { n: [{ numeric: ['>', '5'] }] }, 'Value of > must be numeric'],
    ['numeric = with a second term', { n: [{ numeric: ['=', 5, '<', 6] }] }, 'Too many elements in numeric expression'],
    ['an empty range', { n: [{ numeric: ['>', 5, '<', 5] }] }, 'Bottom must be less than top'],
    [
      'anything-but of mixed types',
      { s: [{ 'anything-but': ['a', 1] }] },
      'Inside anything but list, either all values are number or string, mixed type is not supported',
    ],
    ['anything-but of an unknown operator', { s: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'Unsupported anything-but pattern: numeric'],
    ['prefix of an unknown operator', { s: [{ prefix: { wildcard: 'a*' } }] }, 'Unsupported prefix pattern: wildcard'],
    ['an IPv4 /32', { ip: [{ cidr: '10.0.0.1/32' }] }, 'IPv4 mask bits must be < 32'],
    ['an IPv6 /128', { ip: [{ cidr: '2001:db8::1/128' }] }, 'IPv6 mask bits must be < 128'],
    ['an address out of range', { ip: [{ cidr: '10.0.0.300/24' }] }, 'Invalid IP address: 10.0.0.300'],
  ])('rejects %s', (_name, pattern, reason) => {
    // Prepare
    const compiled = pattern;
    // Act
    const rejection = rejectionOf(compiled);
    // Assess
    expect(rejection?.reason).toBe(reason);
  });

  itMatchesAsDocumented([
    // A string that is an IP address compiles to that address (CIDR.ipToRangeIfPossible).
    ['an IPv6 address in another notation', { ip: ['2001:db8::1'] }, { ip: '2001:0DB8:0000:0000:0000:0000:0000:0001' }, true],
    ['an IPv4 address', { ip: ['10.0.0.1'] }, { ip: '10.0.0.2' }, false],
    // Case-insensitive matching takes each pattern character's lower or upper case (EqualsIgnoreCaseParser).
    ['equals-ignore-case beyond ASCII', { city: [{ 'equals-ignore-case': 'zürich' }] }, { city: 'ZÜRICH' }, true],
  ]);
});
