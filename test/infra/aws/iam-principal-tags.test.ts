/** IamPrincipalTags: every page of a role's or user's tags, absence as undefined, and its cache. */
import { IAMClient, IAMServiceException, ListRoleTagsCommand, ListUserTagsCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { IamPrincipalTags } from '../../../infra/aws/iam-principal-tags';

const iamMock = mockClient(IAMClient);
const role = { kind: 'role', name: 'team-a-operator', account: '123456789012', arn: 'arn:aws:iam::123456789012:role/team-a-operator' } as const;
const user = { kind: 'user', name: 'bob', account: '123456789012', arn: 'arn:aws:iam::123456789012:user/bob' } as const;
const noSuchEntity = () =>
  new IAMServiceException({ name: 'NoSuchEntity', message: 'The role with name x cannot be found.', $fault: 'client', $metadata: { httpStatusCode: 404 } });

beforeEach(() => iamMock.reset());

describe('IamPrincipalTags', () => {
  it("reads every page of a role's tags and a user's", async () => {
    // Prepare
    iamMock
      .on(ListRoleTagsCommand, { RoleName: 'team-a-operator', Marker: undefined })
      .resolves({ Tags: [{ Key: 'team', Value: 'a' }], IsTruncated: true, Marker: 'm1' })
      .on(ListRoleTagsCommand, { RoleName: 'team-a-operator', Marker: 'm1' })
      .resolves({ Tags: [{ Key: 'cost-centre', Value: '42' }], IsTruncated: false });
    iamMock.on(ListUserTagsCommand).resolves({ Tags: [{ Key: 'team', Value: 'b' }] });
    const tags = new IamPrincipalTags(new IAMClient({ region: 'us-east-1' }), { cacheSeconds: 300 });
    // Act
    const ofRole = await tags.tagsOf(role);
    const ofUser = await tags.tagsOf(user);
    // Assess
    expect(ofRole).toEqual({ team: 'a', 'cost-centre': '42' });
    expect(ofUser).toEqual({ team: 'b' });
    expect(iamMock.commandCalls(ListUserTagsCommand).map((c) => c.args[0].input)).toEqual([{ UserName: 'bob', Marker: undefined }]);
  });

  it('answers undefined for a role IAM does not know', async () => {
    // Prepare
    iamMock.on(ListRoleTagsCommand).rejects(noSuchEntity());
    // Act
    const tags = await new IamPrincipalTags(new IAMClient({ region: 'us-east-1' }), { cacheSeconds: 300 }).tagsOf(role);
    // Assess
    expect(tags).toBeUndefined();
  });

  it('asks IAM once per principal while its answer is fresh, then again', async () => {
    // Prepare
    let now = 1_000_000;
    iamMock.on(ListRoleTagsCommand).resolves({ Tags: [{ Key: 'team', Value: 'a' }] });
    const tags = new IamPrincipalTags(new IAMClient({ region: 'us-east-1' }), { cacheSeconds: 300, now: () => now });
    // Act
    await tags.tagsOf(role);
    now += 299_000;
    await tags.tagsOf(role);
    const withinCache = iamMock.commandCalls(ListRoleTagsCommand).length;
    now += 2_000;
    await tags.tagsOf(role);
    // Assess
    expect(withinCache).toBe(1);
    expect(iamMock.commandCalls(ListRoleTagsCommand)).toHaveLength(2);
  });
});
