/**
 * The access rule (domain/api/access.ts): which principal a caller ARN is, the caller's value from its
 * role's tags or from the mapping, and the refusals, each naming the reason.
 */
import { authorizeInstance, authorizeJob, callerAccess, matchesPattern, principalOf, type AccessRule } from '../../../domain/api/access';
import { RefusedError } from '../../../domain/errors';
import type { Principal, PrincipalTags } from '../../../domain/ports';

const ROLE_SESSION = 'arn:aws:sts::123456789012:assumed-role/team-a-operator/alice';
const tags = (byName: Record<string, Record<string, string>>): PrincipalTags & { asked: Principal[] } => {
  const asked: Principal[] = [];
  return { asked, tagsOf: async (principal) => (asked.push(principal), byName[principal.name]) };
};
const byTag: AccessRule = { tag: 'team', source: 'principal-tag' };
const refusal = async (promise: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof RefusedError) return { code: error.code, status: error.status, message: error.message };
    throw error;
  }
  return undefined;
};

describe('principalOf', () => {
  it('reads the role of an assumed-role session and an IAM user, and nothing else', () => {
    // Act & Assess
    expect(principalOf(ROLE_SESSION)).toEqual({
      kind: 'role',
      name: 'team-a-operator',
      account: '123456789012',
      arn: 'arn:aws:iam::123456789012:role/team-a-operator',
    });
    expect(principalOf('arn:aws-us-gov:sts::123456789012:assumed-role/ops/i-0abc')).toEqual(
      expect.objectContaining({ arn: 'arn:aws-us-gov:iam::123456789012:role/ops' }),
    );
    expect(principalOf('arn:aws:iam::123456789012:user/division/bob')).toEqual({
      kind: 'user',
      name: 'bob',
      account: '123456789012',
      arn: 'arn:aws:iam::123456789012:user/division/bob',
    });
    expect(principalOf('arn:aws:iam::123456789012:root')).toBeUndefined();
    expect(principalOf('arn:aws:sts::123456789012:federated-user/carol')).toBeUndefined();
  });
});

describe('matchesPattern', () => {
  it('takes * and ? as wildcards and everything else literally, over the whole name', () => {
    // Act & Assess
    expect(matchesPattern('arn:aws:iam::*:role/team-a-*', 'arn:aws:iam::123456789012:role/team-a-operator')).toBe(true);
    expect(matchesPattern('arn:aws:iam::*:role/team-a-*', 'arn:aws:iam::123456789012:role/team-ab')).toBe(false);
    expect(matchesPattern('arn:aws:iam::1234567890??:user/bob', 'arn:aws:iam::123456789012:user/bob')).toBe(true);
    expect(matchesPattern('role/a.b', 'role/aXb')).toBe(false);
    expect(matchesPattern('role/team', 'xrole/team')).toBe(false);
  });
});

describe('callerAccess', () => {
  it('has nothing to check without a rule', async () => {
    // Act & Assess
    expect(await callerAccess(undefined, { config: {} })).toEqual({ rule: undefined });
  });

  it("reads the caller's value from its role's tag", async () => {
    // Prepare
    const principals = tags({ 'team-a-operator': { team: 'a', other: 'x' } });
    // Act
    const access = await callerAccess(ROLE_SESSION, { config: { access: byTag }, principals });
    // Assess
    expect(access).toEqual({ rule: byTag, caller: ROLE_SESSION, value: 'a' });
    expect(principals.asked).toEqual([expect.objectContaining({ kind: 'role', name: 'team-a-operator' })]);
  });

  it("takes the first mapping entry the caller's ARN, or its role's ARN, matches", async () => {
    // Prepare
    const rule: AccessRule = {
      tag: 'team',
      source: 'mapping',
      mapping: [
        { principal: 'arn:aws:iam::*:role/team-a-*', value: 'a' },
        { principal: 'arn:aws:sts::*:assumed-role/*', value: 'everyone-else' },
      ],
    };
    // Act
    const a = await callerAccess(ROLE_SESSION, { config: { access: rule } });
    const other = await callerAccess('arn:aws:sts::123456789012:assumed-role/ops/bob', { config: { access: rule } });
    // Assess
    expect([a, other].map((x) => ('value' in x ? x.value : undefined))).toEqual(['a', 'everyone-else']);
  });

  it.each([
    ['no caller', undefined, {}, /needs the caller's IAM identity/],
    ['a role without the tag', ROLE_SESSION, { 'team-a-operator': { owner: 'x' } }, /role team-a-operator carries no tag team/],
    ['a role IAM does not know', ROLE_SESSION, {}, /role team-a-operator was not found in IAM/],
    ['the account root', 'arn:aws:iam::123456789012:root', {}, /neither an IAM role session nor an IAM user/],
  ])('refuses %s, 403 naming the reason', async (_what, caller, known, reason) => {
    // Act
    const refused = await refusal(callerAccess(caller, { config: { access: byTag }, principals: tags(known) }));
    // Assess
    expect(refused).toEqual({ code: 'ACCESS_DENIED', status: 403, message: expect.stringMatching(reason) });
  });

  it('refuses a caller no mapping entry matches', async () => {
    // Act
    const refused = await refusal(
      callerAccess(ROLE_SESSION, {
        config: { access: { tag: 'team', source: 'mapping', mapping: [{ principal: 'arn:aws:iam::*:role/team-b-*', value: 'b' }] } },
      }),
    );
    // Assess
    expect(refused?.message).toMatch(/matches no principal of the access mapping/);
  });
});

describe('authorizeInstance and authorizeJob', () => {
  const a = { rule: byTag, caller: ROLE_SESSION, value: 'a' } as const;

  it("lets a caller reach only its own value's instances and jobs, and answers what the job records", async () => {
    // Act
    const own = authorizeInstance(a, { instanceId: 'i-1', tags: { team: 'a' } });
    const other = await refusal(() => authorizeInstance(a, { instanceId: 'i-2', tags: { team: 'b' } }));
    const untagged = await refusal(() => authorizeInstance(a, { instanceId: 'i-3', tags: {} }));
    const ownJob = await refusal(() => authorizeJob(a, { jobId: 'r-1', access: { tag: 'team', value: 'a' } }));
    const otherJob = await refusal(() => authorizeJob(a, { jobId: 'r-2', access: { tag: 'team', value: 'b' } }));
    const oldJob = await refusal(() => authorizeJob(a, { jobId: 'r-3' }));
    // Assess
    expect(own).toEqual({ tag: 'team', value: 'a' });
    expect(other?.message).toMatch(/instance i-2 is of team=b; caller .* is of team=a/);
    expect(untagged?.message).toMatch(/instance i-3 carries no tag team/);
    expect(ownJob).toBeUndefined();
    expect(otherJob).toEqual({ code: 'ACCESS_DENIED', status: 403, message: expect.stringMatching(/job r-2 is of team=b/) });
    expect(oldJob?.message).toMatch(/job r-3 records no team/);
  });
});
