/**
 * The HTTP API through the in-process stack (the real routes, use cases, adapters and simulated
 * region): every route, every documented error, Idempotency-Key semantics, the caller's identity,
 * listings and their pagination, the opt-in guard.
 */
import { apiIdempotencyKey, MAX_BODY_BYTES } from '../../handlers/api-routes';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { instanceFacts } from '../domain/fixtures';

const sampleFacts = (instanceId: string) =>
  instanceFacts({ instanceId, blockDevices: [{ deviceName: '/dev/xvda', volumeId: 'vol-0123456789abcdef0', deleteOnTermination: true }] });

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const SPOT = 'i-0a1b2c3d4e5f60005';
const MISSING = 'i-0fffffffffffffff0';
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/ops/bob';

function expectError(
  response: { statusCode: number; json: { code?: string; message?: string; requestId?: string }; headers?: Record<string, unknown> },
  status: number,
  code: string,
): void {
  expect({ status: response.statusCode, code: response.json.code }).toEqual({ status, code });
  expect(response.json).toEqual(expect.objectContaining({ message: expect.any(String), requestId: expect.stringMatching(/^req-\d+$/) }));
  expect(response.json.message!.length).toBeGreaterThan(5);
  expect(response.headers?.['x-request-id']).toBe(response.json.requestId);
}

describe('POST /resets', () => {
  it('starts a job, answers 202 with its location, and records the caller', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const started = await stack.api('POST', '/resets', { instanceId: AL2023 }, {}, { caller: ALICE });
    const view = await stack.api('GET', `/resets/${started.json.jobId}`);
    // Assess
    expect(started.statusCode).toBe(202);
    expect(started.headers?.location).toBe(`/resets/${started.json.jobId}`);
    expect(started.json).toEqual({
      jobId: expect.stringMatching(/^r-/),
      status: 'RUNNING',
      instanceId: AL2023,
      links: { self: `/resets/${started.json.jobId}` },
    });
    expect(view.json.requestedBy).toBe(ALICE);
    expect(view.json.request).toEqual({
      instanceId: AL2023,
      subnet: 'CreateNewVPC',
      helperInstanceType: 't3.small',
      allowInstanceStoreLoss: false,
      keyType: 'ed25519',
    });
  });

  it.each([
    ['an unknown field', { instanceId: AL2023, force: true }, 'INVALID_REQUEST', /force: unknown field/],
    ['a malformed instance id', { instanceId: 'i-nothex' }, 'INVALID_REQUEST', /instanceId/],
    ['a body that is not an object', [AL2023], 'INVALID_REQUEST', /body/],
    ['a wrong type', { instanceId: AL2023, allowInstanceStoreLoss: 'yes' }, 'INVALID_REQUEST', /allowInstanceStoreLoss/],
    ['a subnet that is no subnet id', { instanceId: AL2023, subnet: 'vpc-123' }, 'INVALID_REQUEST', /subnet/],
    ['invalid JSON', '{"instanceId": ', 'INVALID_JSON', /JSON/],
    ['an empty body', '', 'INVALID_REQUEST', /empty/],
  ])('refuses %s with 400 and changes nothing', async (_what, body, code, message) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', body);
    // Assess
    expectError(response, 400, code);
    expect(response.json.message).toMatch(message);
    expect((await stack.store.list({})).jobs).toEqual([]);
  });

  it('refuses a body over the limit with 413', async () => {
    // Prepare
    const stack = new VirtualStack();
    const body = JSON.stringify({ instanceId: AL2023, padding: 'x'.repeat(MAX_BODY_BYTES) });
    // Act
    const response = await stack.api('POST', '/resets', body);
    // Assess
    expectError(response, 413, 'BODY_TOO_LARGE');
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['application/jsonp']])('refuses content-type %s with 415', async (contentType) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'content-type': contentType });
    // Assess
    expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts application/json with a charset', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'content-type': 'application/json; charset=utf-8' });
    // Assess
    expect(response.statusCode).toBe(202);
  });

  it('answers 404 for an instance the region does not have', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: MISSING });
    // Assess
    expectError(response, 404, 'INSTANCE_NOT_FOUND');
  });

  it('answers 422 with the reason for an instance it must not reset', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: SPOT });
    // Assess
    expectError(response, 422, 'SPOT_INSTANCE');
    expect(stack.region.calls.filter((c) => !/^(Describe|Get)/.test(c.action))).toEqual([]);
  });

  it('answers 409 naming the active job when the instance has one', async () => {
    // Prepare
    const stack = new VirtualStack();
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Act
    const second = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Assess
    expectError(second, 409, 'ACTIVE_JOB');
    expect(second.json.activeJobId).toBe(first.json.jobId);
  });

  it('answers 409 naming the active job, not the state that job put the instance in', async () => {
    // Prepare: the first job is stopping the instance, which the preflight alone would refuse (422)
    const stack = new VirtualStack();
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 });
    for (let s = 0; s < 600 && stack.region.getInstance(AL2023)!.state !== 'stopping'; s++) await stack.run(1);
    const callsBefore = stack.region.calls.length;
    // Act
    const duplicate = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Assess: refused before the preflight read anything
    expect(stack.region.calls.length).toBe(callsBefore);
    expect(stack.region.getInstance(AL2023)!.state).toBe('stopping');
    expectError(duplicate, 409, 'ACTIVE_JOB');
    expect(duplicate.json.activeJobId).toBe(first.json.jobId);
  });

  it('answers 503 with retry-after when AWS throttles', async () => {
    // Prepare
    const stack = new VirtualStack();
    stack.region.faults.add({ service: 'ec2', action: 'DescribeInstances', error: 'throttle' });
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Assess
    expectError(response, 503, 'RequestLimitExceeded');
    expect(response.headers?.['retry-after']).toBe('5');
  });

  it('answers 429 with retry-after over its start rate, before reading anything, and starts the request when it comes back', async () => {
    // Prepare: a burst of 2, then one start every 10 s
    const stack = new VirtualStack({ config: { apiAdmission: { ratePerMinute: 6, burst: 2 } } });
    const ids = [AL2023, UBUNTU, 'i-0a1b2c3d4e5f60004'];
    await stack.api('POST', '/resets', { instanceId: ids[0] });
    await stack.api('POST', '/resets', { instanceId: ids[1] });
    const callsBefore = stack.region.calls.length;
    // Act
    const over = await stack.api('POST', '/resets', { instanceId: ids[2] });
    const readsForOver = stack.region.calls.length - callsBefore;
    stack.clock.advance(Number(over.headers?.['retry-after']) * 1000);
    const back = await stack.api('POST', '/resets', { instanceId: ids[2] });
    // Assess
    expectError(over, 429, 'TOO_MANY_STARTS');
    expect(over.headers?.['retry-after']).toBe('10');
    expect(readsForOver).toBe(0);
    expect(back.statusCode).toBe(202);
  });

  it('gives the start slot back when a request starts nothing: refusals and repeats do not use up the start rate', async () => {
    // Prepare: two starts at once, then one every 10 s
    const stack = new VirtualStack({ config: { apiAdmission: { ratePerMinute: 6, burst: 2 } } });
    // Act
    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await stack.api('POST', '/resets', { instanceId: MISSING }));
    refused.push(await stack.api('POST', '/resets', { instanceId: SPOT }));
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k1' });
    const duplicate = await stack.api('POST', '/resets', { instanceId: AL2023 });
    const replay = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k1' });
    const second = await stack.api('POST', '/resets', { instanceId: UBUNTU });
    const third = await stack.api('POST', '/resets', { instanceId: ENCRYPTED });
    // Assess
    expect(refused.map((r) => r.statusCode)).toEqual([404, 404, 404, 422]);
    expect([first.statusCode, duplicate.statusCode, replay.statusCode, second.statusCode]).toEqual([202, 409, 200, 202]);
    expectError(third, 429, 'TOO_MANY_STARTS');
  });

  it('tells a duplicate about the active job even when the start rate is used up, and a keyed repeat gets its job', async () => {
    // Prepare: one start at once, then one a minute; the slot goes to the first job
    const stack = new VirtualStack({ config: { apiAdmission: { ratePerMinute: 1, burst: 1 } } });
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'a' });
    const callsBefore = stack.region.calls.length;
    // Act
    const duplicate = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'b' });
    const repeat = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'a' });
    const other = await stack.api('POST', '/resets', { instanceId: UBUNTU });
    // Assess
    expect(first.statusCode).toBe(202);
    expectError(duplicate, 409, 'ACTIVE_JOB');
    expect(duplicate.json.activeJobId).toBe(first.json.jobId);
    expect(repeat.statusCode).toBe(200);
    expect(repeat.json.jobId).toBe(first.json.jobId);
    expectError(other, 429, 'TOO_MANY_STARTS');
    expect(stack.region.calls.length).toBe(callsBefore);
  });

  it('paces requests that start nothing with a limit of their own, answered 429 TOO_MANY_REQUESTS before reading anything', async () => {
    // Prepare: two refused requests at once, then one every 10 s
    const stack = new VirtualStack({ config: { apiReadAdmission: { ratePerMinute: 6, burst: 2 } } });
    await stack.api('POST', '/resets', { instanceId: MISSING });
    await stack.api('POST', '/resets', { instanceId: MISSING });
    const callsBefore = stack.region.calls.length;
    // Act
    const over = await stack.api('POST', '/resets', { instanceId: AL2023 });
    const readsForOver = stack.region.calls.length - callsBefore;
    stack.clock.advance(Number(over.headers?.['retry-after']) * 1000);
    const back = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Assess
    expectError(over, 429, 'TOO_MANY_REQUESTS');
    expect(over.json.message).toMatch(/apiReadAdmission/);
    expect(over.headers?.['retry-after']).toBe('10');
    expect(readsForOver).toBe(0);
    expect(back.statusCode).toBe(202);
  });

  it('refuses query parameters it does not know', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets?dryRun=true', { instanceId: AL2023 });
    // Assess
    expectError(response, 400, 'INVALID_REQUEST');
    expect(response.json.message).toMatch(/dryRun/);
  });
});

describe('Idempotency-Key', () => {
  it('answers the same job with 200 for the same key and body, and starts one job only', async () => {
    // Prepare
    const stack = new VirtualStack();
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-1' }, { caller: ALICE });
    // Act: the same request again, with the defaults spelled out (the same request).
    const again = await stack.api(
      'POST',
      '/resets',
      { instanceId: AL2023, subnet: 'CreateNewVPC', keyType: 'ed25519' },
      { 'Idempotency-Key': 'k-1' },
      { caller: ALICE },
    );
    // Assess
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(200);
    expect(again.json.jobId).toBe(first.json.jobId);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect((await stack.store.list({})).jobs).toHaveLength(1);
  });

  it('answers the job as it is now, also after it ended', async () => {
    // Prepare
    const stack = new VirtualStack();
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-2' });
    await stack.run();
    // Act
    const again = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-2' });
    // Assess
    expect(again.statusCode).toBe(200);
    expect(again.json).toEqual(expect.objectContaining({ jobId: first.json.jobId, status: 'SUCCEEDED' }));
  });

  it('refuses the same key with another body with 422', async () => {
    // Prepare
    const stack = new VirtualStack();
    await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-3' });
    // Act
    const other = await stack.api('POST', '/resets', { instanceId: UBUNTU }, { 'idempotency-key': 'k-3' });
    // Assess
    expectError(other, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect((await stack.store.list({})).jobs).toHaveLength(1);
  });

  it("keeps each caller's keys apart", async () => {
    // Prepare
    const stack = new VirtualStack();
    const alices = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'shared' }, { caller: ALICE });
    // Act
    const bobs = await stack.api('POST', '/resets', { instanceId: UBUNTU }, { 'idempotency-key': 'shared' }, { caller: BOB });
    // Assess
    expect([alices.statusCode, bobs.statusCode]).toEqual([202, 202]);
    expect(bobs.json.jobId).not.toBe(alices.json.jobId);
    expect((await stack.api('GET', `/resets/${bobs.json.jobId}`)).json.requestedBy).toBe(BOB);
  });

  it('frees a key whose request failed or was refused, so that a retry is judged again', async () => {
    // Prepare
    const stack = new VirtualStack();
    stack.region.faults.add({ service: 'ec2', action: 'DescribeInstances', error: 'throttle', times: 1 });
    const throttled = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-6' });
    const spot = await stack.api('POST', '/resets', { instanceId: SPOT }, { 'idempotency-key': 'k-9' });
    // Act
    const retried = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-6' });
    const spotAgain = await stack.api('POST', '/resets', { instanceId: SPOT }, { 'idempotency-key': 'k-9' });
    // Assess
    expectError(throttled, 503, 'RequestLimitExceeded');
    expect(retried.statusCode).toBe(202);
    expectError(spot, 422, 'SPOT_INSTANCE');
    expectError(spotAgain, 422, 'SPOT_INSTANCE');
  });

  it('answers 409 while a request with the key is under way, and takes over a key whose request died', async () => {
    // Prepare: a start that claimed the key and died before writing its job.
    const stack = new VirtualStack();
    const now = new Date(stack.clock.now());
    const key = apiIdempotencyKey(ALICE, 'k-7');
    const request = JSON.stringify({
      allowInstanceStoreLoss: false,
      helperInstanceType: 't3.small',
      instanceId: AL2023,
      keyType: 'ed25519',
      subnet: 'CreateNewVPC',
    });
    await stack.ports.idempotency.claim(
      { key, request, jobId: 'r-died0000001', createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + 86_400_000).toISOString() },
      now,
    );
    // Act
    const during = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-7' }, { caller: ALICE });
    stack.clock.advance(61_000);
    const after = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-7' }, { caller: ALICE });
    // Assess
    expectError(during, 409, 'IDEMPOTENCY_KEY_IN_USE');
    expect(after.statusCode).toBe(202);
    expect(after.json.jobId).not.toBe('r-died0000001');
  });

  it('forgets a key after its time to live', async () => {
    // Prepare
    const stack = new VirtualStack({ config: { idempotencyTtlSeconds: 3600 } });
    const first = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-8' });
    await stack.run();
    stack.clock.advance(2 * 3600_000);
    // Act
    const later = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k-8' });
    // Assess
    expect(later.statusCode).toBe(202);
    expect(later.json.jobId).not.toBe(first.json.jobId);
  });

  it.each([['x'.repeat(256)], ['with space'], ['ключ']])('refuses the malformed key %#', async (key) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': key });
    // Assess
    expectError(response, 400, 'INVALID_REQUEST');
    expect(response.json.message).toMatch(/Idempotency-Key/);
  });
});

describe('GET /resets', () => {
  async function threeJobsOnTwoInstances(): Promise<{ stack: VirtualStack; ids: string[] }> {
    const stack = new VirtualStack();
    const ids: string[] = [];
    for (const instanceId of [AL2023, UBUNTU, AL2023]) {
      const { json } = await stack.api('POST', '/resets', { instanceId });
      ids.push(json.jobId);
      await stack.run();
      stack.clock.advance(60_000);
    }
    return { stack, ids };
  }

  it("lists an instance's jobs newest first, a page at a time", async () => {
    // Prepare
    const { stack, ids } = await threeJobsOnTwoInstances();
    // Act
    const first = await stack.api('GET', `/resets?instanceId=${AL2023}&limit=1`);
    const second = await stack.api('GET', `/resets?instanceId=${AL2023}&limit=1&cursor=${first.json.nextCursor}`);
    // Assess
    expect(first.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([ids[2]]);
    expect(second.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([ids[0]]);
    expect(second.json.nextCursor).toBeUndefined();
  });

  it('lists every recent job without an instance, and filters by status', async () => {
    // Prepare
    const { stack, ids } = await threeJobsOnTwoInstances();
    const running = await stack.api('POST', '/resets', { instanceId: ENCRYPTED });
    // Act
    const all = await stack.api('GET', '/resets');
    const succeeded = await stack.api('GET', '/resets?status=SUCCEEDED');
    const runningOnly = await stack.api('GET', '/resets?status=RUNNING');
    // Assess
    expect(all.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([running.json.jobId, ids[2], ids[1], ids[0]]);
    expect(succeeded.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([ids[2], ids[1], ids[0]]);
    expect(runningOnly.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([running.json.jobId]);
  });

  it.each([
    ['instanceId=i-xyz', 'instanceId'],
    ['status=DONE', 'status'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['instance=i-0a1b2c3d4e5f60001', 'instance'],
  ])('refuses ?%s with 400 naming %s', async (query, field) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('GET', `/resets?${query}`);
    // Assess
    expectError(response, 400, 'INVALID_REQUEST');
    expect(response.json.message.startsWith(`${field}:`)).toBe(true);
  });

  it('refuses a cursor that is not one of this listing', async () => {
    // Prepare
    const { stack } = await threeJobsOnTwoInstances();
    const page = await stack.api('GET', `/resets?instanceId=${AL2023}&limit=1`);
    // Act
    const garbage = await stack.api('GET', '/resets?cursor=not-a-cursor');
    const otherQuery = await stack.api('GET', `/resets?instanceId=${UBUNTU}&cursor=${page.json.nextCursor}`);
    // Assess
    expectError(garbage, 400, 'INVALID_CURSOR');
    expectError(otherQuery, 400, 'INVALID_CURSOR');
  });
});

describe('GET /resets/{jobId}', () => {
  it('answers the job, 404 for an unknown one, 400 for a malformed id', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { json } = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Act
    const found = await stack.api('GET', `/resets/${json.jobId}`);
    const unknown = await stack.api('GET', '/resets/r-zzzzzzzzzz');
    const malformed = await stack.api('GET', '/resets/..%2Fetc');
    // Assess
    expect(found.statusCode).toBe(200);
    expect(found.json).toEqual(expect.objectContaining({ jobId: json.jobId, instanceId: AL2023, status: 'RUNNING', currentPhases: ['validate'] }));
    expectError(unknown, 404, 'JOB_NOT_FOUND');
    expectError(malformed, 400, 'INVALID_REQUEST');
  });
});

describe('POST /resets/{jobId}/cancel', () => {
  it('rolls a running job back, and answers 409 once it is no longer running', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { json } = await stack.api('POST', '/resets', { instanceId: AL2023 });
    await stack.run(120);
    // Act
    const cancelled = await stack.api('POST', `/resets/${json.jobId}/cancel`);
    const again = await stack.api('POST', `/resets/${json.jobId}/cancel`);
    await stack.run();
    const ended = await stack.api('GET', `/resets/${json.jobId}`);
    // Assess
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json.status).toBe('ROLLING_BACK');
    expectError(again, 409, 'JOB_NOT_RUNNING');
    expect(ended.json).toEqual(expect.objectContaining({ status: 'FAILED', error: expect.objectContaining({ code: 'CANCELLED' }), instanceRestored: true }));
    expect(stack.region.getInstance(AL2023)!.state).toBe('running');
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const unknown = await stack.api('POST', '/resets/r-zzzzzzzzzz/cancel');
    const malformed = await stack.api('POST', '/resets/R-UPPER/cancel');
    // Assess
    expectError(unknown, 404, 'JOB_NOT_FOUND');
    expectError(malformed, 400, 'INVALID_REQUEST');
  });
});

describe('GET /instances', () => {
  it('lists what can be reset, with opt-in tags, blockers and the job resetting each', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { json: started } = await stack.api('POST', '/resets', { instanceId: UBUNTU });
    await stack.run(40); // the helper is launched; the job is still running
    // Act
    const { statusCode, json } = await stack.api('GET', '/instances?limit=100');
    const byId = Object.fromEntries(json.instances.map((i: { instanceId: string }) => [i.instanceId, i]));
    // Assess
    expect(statusCode).toBe(200);
    expect(byId[AL2023]).toEqual(
      expect.objectContaining({
        name: 'al2023-web',
        state: 'running',
        platform: 'linux',
        optIn: { allowed: true, auto: true },
        resettable: true,
        blockers: [],
      }),
    );
    expect(byId[UBUNTU]).toEqual(expect.objectContaining({ activeJobId: started.jobId, resettable: false }));
    expect(byId[SPOT]).toEqual(expect.objectContaining({ resettable: false, blockers: [expect.objectContaining({ code: 'SPOT_INSTANCE' })] }));
    expect(byId[ENCRYPTED].optIn).toEqual({ allowed: true, auto: false });
    // The helper the job launched is the service's own, not something to reset.
    const helper = (await stack.job(started.jobId)).resources.helperInstanceId;
    expect(helper).toBeDefined();
    expect(byId[helper!]).toBeUndefined();
  });

  it('passes the page size and cursor through, and answers the next one', async () => {
    // Prepare: a directory that pages (the simulated region answers one page; the adapter's own
    // paging against EC2 is tested with the SDK mocked).
    const stack = new VirtualStack();
    const seen: Array<{ limit: number; cursor?: string }> = [];
    stack.ports.directory = {
      list: async (options) => {
        seen.push(options);
        const all = [AL2023, UBUNTU, ENCRYPTED].map((instanceId) => ({ facts: sampleFacts(instanceId) }));
        return options.cursor === 'p2' ? { instances: all.slice(2) } : { instances: all.slice(0, 2), cursor: 'p2' };
      },
    };
    // Act
    const first = await stack.api('GET', '/instances?limit=2');
    const second = await stack.api('GET', `/instances?limit=2&cursor=${first.json.nextCursor}`);
    // Assess
    expect(seen).toEqual([{ limit: 2 }, { limit: 2, cursor: 'p2' }]);
    expect(first.json.instances.map((i: { instanceId: string }) => i.instanceId)).toEqual([AL2023, UBUNTU]);
    expect(second.json).toEqual({ instances: [expect.objectContaining({ instanceId: ENCRYPTED })] });
  });

  it('answers exactly `limit` instances a page, and its cursors walk every instance once', async () => {
    // Prepare
    const stack = new VirtualStack();
    const all = (await stack.api('GET', '/instances?limit=100')).json.instances.map((i: { instanceId: string }) => i.instanceId);
    // Act
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await stack.api('GET', `/instances?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      pages.push(page.json.instances.map((i: { instanceId: string }) => i.instanceId));
      cursor = page.json.nextCursor;
    } while (cursor && pages.length < 20);
    // Assess
    expect(all).toHaveLength(10);
    expect(pages).toEqual(all.map((id: string) => [id]));
  });

  it('refuses a cursor it did not answer with 400 naming the cursor, as the job listing does', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const instances = await stack.api('GET', '/instances?cursor=zzzz');
    const resets = await stack.api('GET', '/resets?cursor=zzzz');
    // Assess
    expectError(instances, 400, 'INVALID_CURSOR');
    expect(instances.json.message).toBe(resets.json.message);
    expect(instances.json.message).toMatch(/^cursor/);
  });

  it('refuses a malformed page size', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const response = await stack.api('GET', '/instances?limit=1000');
    // Assess
    expectError(response, 400, 'INVALID_REQUEST');
  });
});

describe('routing', () => {
  it('answers 404 for an unknown path and 405 with allow for a method a path does not serve', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const unknown = await stack.api('GET', '/nothing/here');
    const method = await stack.api('DELETE', '/resets');
    // Assess
    expectError(unknown, 404, 'NOT_FOUND');
    expectError(method, 405, 'METHOD_NOT_ALLOWED');
    expect(method.headers?.allow).toBe('POST, GET');
  });
});

describe('opt-in guard', () => {
  it('is on by default: an instance without reset-access:allowed=true is refused 403, naming the tag, and nothing changes', async () => {
    // Prepare
    const stack = new VirtualStack();
    stack.region.ec2('DeleteTags', { Resources: [AL2023], Tags: [{ Key: 'reset-access:allowed' }] });
    const callsBefore = stack.region.calls.length;
    // Act
    const refused = await stack.api('POST', '/resets', { instanceId: AL2023 });
    const listed = await stack.api('GET', '/instances?limit=100');
    // Assess
    expectError(refused, 403, 'NOT_OPTED_IN');
    expect(refused.json.message).toMatch(/reset-access:allowed=true/);
    expect(stack.region.calls.slice(callsBefore).filter((c) => !/^(Describe|Get|List)/.test(c.action))).toEqual([]);
    expect(await stack.store.getLock(AL2023)).toBeUndefined();
    expect((await stack.store.list({ limit: 10 })).jobs).toEqual([]);
    const al2023 = listed.json.instances.find((i: { instanceId: string }) => i.instanceId === AL2023);
    expect(al2023.blockers).toEqual([expect.objectContaining({ code: 'NOT_OPTED_IN' })]);
    expect(al2023.optIn).toEqual({ allowed: false, auto: true });
  });

  it('resets a tagged instance, and none when the deployment turned the guard off', async () => {
    // Prepare
    const guarded = new VirtualStack();
    const open = new VirtualStack({ config: { optIn: { requireAllowedTag: false, requireAutoTagForEvents: true } } });
    for (const stack of [guarded, open]) stack.region.ec2('DeleteTags', { Resources: [ENCRYPTED], Tags: [{ Key: 'reset-access:allowed' }] });
    // Act
    const tagged = await guarded.api('POST', '/resets', { instanceId: AL2023 });
    const untaggedWhenOff = await open.api('POST', '/resets', { instanceId: ENCRYPTED });
    // Assess
    expect(tagged.statusCode).toBe(202);
    expect(untaggedWhenOff.statusCode).toBe(202);
  });

  it('fails the job in validate, before any change, when the tag went after the start was admitted', async () => {
    // Prepare
    const stack = new VirtualStack();
    const started = await stack.api('POST', '/resets', { instanceId: AL2023 });
    stack.region.ec2('DeleteTags', { Resources: [AL2023], Tags: [{ Key: 'reset-access:allowed' }] });
    // Act
    await stack.run();
    const job = await stack.job(started.json.jobId);
    // Assess
    expect({ status: job.status, code: job.error?.code, restored: job.instanceRestored }).toEqual({ status: 'FAILED', code: 'NOT_OPTED_IN', restored: true });
    expect(job.error?.message).toMatch(/reset-access:allowed=true/);
    expect(stack.region.calls.map((c) => c.action).filter((a) => /^(Stop|Start|Run|Attach|Detach|Create|Modify|Terminate)/.test(a))).toEqual([]);
  });
});

describe('whatever a caller sends', () => {
  it('answers 4xx with an error body, never 5xx', async () => {
    // Prepare
    const stack = new VirtualStack();
    const requests: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['POST', '/resets', 'null'],
      ['POST', '/resets', '"i-0a1b2c3d4e5f60001"'],
      ['POST', '/resets', '{"instanceId":{"$ne":null}}'],
      ['POST', '/resets', '{"__proto__":{"admin":true},"instanceId":"i-0a1b2c3d4e5f60001"}'],
      ['POST', '/resets', `{"instanceId":"${'i'.repeat(5000)}"}`],
      ['POST', '/resets', '\u0000\u0001'],
      ['POST', '/resets', { instanceId: AL2023, helperInstanceType: 'p5.48xlarge' }],
      ['POST', '/resets', { instanceId: AL2023 }, { 'content-type': '' }],
      ['GET', '/resets/%E0%A4%A'],
      ['GET', '/resets/r-abc/../../etc/passwd'],
      ['GET', '/resets?cursor=%00'],
      ['GET', '/resets?limit=-1'],
      ['GET', '/instances?cursor='],
      ['PUT', '/resets/r-abcdefgh'],
      ['POST', '/resets/r-abcdefgh/cancel/now'],
      ['PATCH', '/instances'],
    ];
    // Act
    const answers = [];
    for (const [method, path, body, headers] of requests) answers.push(await stack.api(method, path, body, headers));
    // Assess
    for (const [i, answer] of answers.entries()) {
      expect({ request: requests[i]!.slice(0, 2), status: answer.statusCode >= 400 && answer.statusCode < 500 }).toEqual({
        request: requests[i]!.slice(0, 2),
        status: true,
      });
      expect(answer.json).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String), requestId: expect.any(String) }));
    }
    expect((await stack.store.list({})).jobs).toEqual([]);
  });
});
