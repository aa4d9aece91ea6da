/**
 * Who may reset what, through the API on the in-process stack: with an access rule on the tag
 * `team`, a caller (its role's tag, read from the simulated IAM, or the mapping) may start, read,
 * list and cancel only resets of its own team's instances; every refusal is 403 with the reason and
 * changes nothing. The samples: the Linux ones are team a's, the Windows ones team b's, and the
 * roles team-a-operator and team-b-operator carry the same tags (infra/sim/samples.ts).
 */
import { defaultConfig, type ServiceConfig } from '../../domain/config';
import { VirtualStack } from '../../infra/local/virtual-stack';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const ENCRYPTED = 'i-0a1b2c3d4e5f60003';
const WIN2022 = 'i-0a1b2c3d4e5f60007';
const WIN2012 = 'i-0a1b2c3d4e5f60008';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/team-a-operator/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/team-b-operator/bob';
const BY_ROLE_TAG: Partial<ServiceConfig> = { access: { tag: 'team', source: 'principal-tag' } };

type Answer = Awaited<ReturnType<VirtualStack['api']>>;
const as = (stack: VirtualStack, caller: string | undefined) => (method: string, path: string, body?: unknown) =>
  stack.api(method, path, body, {}, caller ? { caller } : {});

function expectDenied(answer: Answer, reason: RegExp): void {
  expect({ status: answer.statusCode, code: answer.json.code }).toEqual({ status: 403, code: 'ACCESS_DENIED' });
  expect(answer.json.message).toMatch(reason);
}

describe("the access rule, by the caller role's tag", () => {
  it("starts only its own team's instances, and records the caller and the team on the job and its event", async () => {
    // Prepare
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    const alice = as(stack, ALICE);
    const callsBefore = stack.region.calls.filter((c) => !/^(Describe|Get|List)/.test(c.action)).length;
    // Act
    const refused = await alice('POST', '/resets', { instanceId: WIN2022 });
    const mutationsAfterRefusal = stack.region.calls.filter((c) => !/^(Describe|Get|List)/.test(c.action)).length;
    const started = await alice('POST', '/resets', { instanceId: AL2023 });
    await stack.run();
    const view = (await alice('GET', `/resets/${started.json.jobId}`)).json;
    // Assess
    expectDenied(refused, /instance i-0a1b2c3d4e5f60007 is of team=b; caller .*team-a-operator\/alice is of team=a/);
    expect(mutationsAfterRefusal).toBe(callsBefore);
    expect(await stack.store.getLock(WIN2022)).toBeUndefined();
    expect(started.statusCode).toBe(202);
    expect(view).toEqual(expect.objectContaining({ status: 'SUCCEEDED', requestedBy: ALICE, access: { tag: 'team', value: 'a' } }));
    expect(stack.jobEvents.map((e) => [e.detail.requestedBy, e.detail.access])).toEqual([[ALICE, { tag: 'team', value: 'a' }]]);
  });

  it("keeps one team from reading, listing or cancelling another's jobs, and changes nothing", async () => {
    // Prepare: a job of each team, Bob's still running
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    const [alice, bob] = [as(stack, ALICE), as(stack, BOB)];
    const aliceJob = (await alice('POST', '/resets', { instanceId: AL2023 })).json.jobId;
    await stack.run();
    const bobJob = (await bob('POST', '/resets', { instanceId: WIN2022 })).json.jobId;
    await stack.run(30);
    // Act
    const read = await alice('GET', `/resets/${bobJob}`);
    const cancel = await alice('POST', `/resets/${bobJob}/cancel`);
    const listed = await alice('GET', '/resets');
    const ofBobsInstance = await alice('GET', `/resets?instanceId=${WIN2022}`);
    const again = await alice('POST', '/resets', { instanceId: WIN2022 });
    const bobSees = await bob('GET', '/resets');
    // Assess
    expectDenied(read, new RegExp(`job ${bobJob} is of team=b`));
    expectDenied(cancel, new RegExp(`job ${bobJob} is of team=b`));
    expect((await stack.job(bobJob)).status).toBe('RUNNING');
    expect(listed.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([aliceJob]);
    expect(ofBobsInstance.json.jobs).toEqual([]);
    // Another team's active job is not named to it (no 409 with activeJobId)
    expectDenied(again, /has an active reset the caller may not see/);
    expect(again.json.activeJobId).toBeUndefined();
    expect(bobSees.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([bobJob]);
  });

  it("answers full pages of the caller's own jobs, and its cursors walk each of them once", async () => {
    // Prepare: finished jobs of both teams, interleaved
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    const [alice, bob] = [as(stack, ALICE), as(stack, BOB)];
    const mine: string[] = [];
    for (const [caller, instanceId] of [
      [alice, AL2023],
      [bob, WIN2022],
      [alice, UBUNTU],
      [bob, WIN2012],
      [alice, ENCRYPTED],
    ] as const) {
      const id = (await caller('POST', '/resets', { instanceId })).json.jobId;
      if (caller === alice) mine.unshift(id);
      await stack.run();
    }
    // Act
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await alice('GET', `/resets?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      pages.push(page.json.jobs.map((j: { jobId: string }) => j.jobId));
      cursor = page.json.nextCursor;
    } while (cursor && pages.length < 10);
    // Assess
    expect(pages.flat()).toEqual(mine);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
  });

  it('refuses a caller IAM knows no team for, and one with no identity, on every route', async () => {
    // Prepare
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    const stranger = as(stack, 'arn:aws:sts::123456789012:assumed-role/ops/carol');
    const nobody = as(stack, undefined);
    // Act
    const answers = [
      await stranger('POST', '/resets', { instanceId: AL2023 }),
      await stranger('GET', '/resets'),
      await stranger('GET', '/instances'),
      await nobody('GET', '/resets/r-00000000'),
      await nobody('POST', '/resets/r-00000000/cancel'),
    ];
    // Assess
    for (const answer of answers.slice(0, 3)) expectDenied(answer, /role ops was not found in IAM/);
    for (const answer of answers.slice(3)) expectDenied(answer, /needs the caller's IAM identity/);
  });

  it("shows another team's instances as not resettable by the caller, with the reason", async () => {
    // Prepare
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    // Act
    const listed = (await as(stack, ALICE)('GET', '/instances?limit=100')).json.instances as Array<{
      instanceId: string;
      resettable: boolean;
      blockers: Array<{ code: string }>;
    }>;
    // Assess
    const byId = Object.fromEntries(listed.map((i) => [i.instanceId, i]));
    expect(byId[WIN2022]).toEqual(expect.objectContaining({ resettable: false, blockers: [expect.objectContaining({ code: 'ACCESS_DENIED' })] }));
    expect(byId[AL2023]).toEqual(expect.objectContaining({ resettable: true, blockers: [] }));
  });
});

describe('the access rule, by a mapping of principals', () => {
  it('gives the value of the first pattern the caller matches, and refuses one it does not', async () => {
    // Prepare
    const stack = new VirtualStack({
      config: {
        access: {
          tag: 'team',
          source: 'mapping',
          mapping: [
            { principal: 'arn:aws:iam::*:role/team-a-*', value: 'a' },
            { principal: 'arn:aws:iam::*:user/ops-*', value: 'b' },
          ],
        },
      },
    });
    // Act
    const alice = await as(stack, ALICE)('POST', '/resets', { instanceId: AL2023 });
    const opsUser = await as(stack, 'arn:aws:iam::123456789012:user/ops-dave')('POST', '/resets', { instanceId: WIN2022 });
    const other = await as(stack, BOB)('GET', '/resets');
    // Assess
    expect([alice.statusCode, opsUser.statusCode]).toEqual([202, 202]);
    expectDenied(other, /matches no principal of the access mapping/);
  });
});

describe('the caller', () => {
  it('is what the IAM authoriser names: a request header cannot name another (only the local server reads one)', async () => {
    // Prepare
    const stack = new VirtualStack({ config: BY_ROLE_TAG });
    // Act
    const claimed = await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'x-reset-access-caller': ALICE });
    // Assess
    expectDenied(claimed, /needs the caller's IAM identity/);
  });
});

describe('without an access rule', () => {
  it('records the caller, and lets any caller reset any opted-in instance', async () => {
    // Prepare
    const stack = new VirtualStack({ config: { access: defaultConfig.access } });
    // Act
    const started = await as(stack, BOB)('POST', '/resets', { instanceId: AL2023 });
    // Assess
    expect(started.statusCode).toBe(202);
    expect(await stack.job(started.json.jobId)).toEqual(expect.objectContaining({ requestedBy: BOB }));
    expect((await stack.job(started.json.jobId)).access).toBeUndefined();
  });
});
