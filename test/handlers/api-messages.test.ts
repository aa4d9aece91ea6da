/**
 * The 400 messages of the API, word for word, as a caller reads them: every field the schemas
 * refuse is named (domain/api/request.ts, handlers/api-routes.ts), every wrong field at once, and a
 * refused request changes nothing.
 */
import { VirtualStack } from '../../infra/local/virtual-stack';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const INSTANCE = 'instanceId: must be an instance id like i-0123456789abcdef0';

describe('POST /resets refuses a bad body naming each wrong field', () => {
  it.each([
    ['no instance id', {}, INSTANCE],
    ['a malformed instance id', { instanceId: 'i-xyz' }, INSTANCE],
    ['a number for the instance id', { instanceId: 7 }, INSTANCE],
    [
      'a subnet that is no subnet id',
      { instanceId: AL2023, subnet: 'vpc-1' },
      'subnet: must be "CreateNewVPC", "SelectedInstanceSubnet" or a subnet id like subnet-0123456789abcdef0',
    ],
    [
      'a helper type not allowed',
      { instanceId: AL2023, helperInstanceType: 'p5.48xlarge' },
      'helperInstanceType: must be one of t2.small, t2.medium, t2.large, t3.small, t3.medium, t3.large, m5.large, c5.large',
    ],
    ['a string for a boolean', { instanceId: AL2023, allowInstanceStoreLoss: 'yes' }, 'allowInstanceStoreLoss: must be true or false'],
    ['a key type it does not make', { instanceId: AL2023, keyType: 'dsa' }, 'keyType: must be "ed25519" or "rsa"'],
    ['a mode it does not have', { instanceId: AL2023, mode: 'fast' }, 'mode: must be "auto", "online" or "offline"'],
    ['an unknown field', { instanceId: AL2023, colour: 'blue' }, 'colour: unknown field'],
    ['an array', [AL2023], 'body: must be a JSON object'],
    ['null', null, 'body: must be a JSON object'],
    ['several wrong fields', { instanceId: 'i-xyz', keyType: 'dsa', reboot: true }, `${INSTANCE}; keyType: must be "ed25519" or "rsa"; reboot: unknown field`],
  ])('%s', async (_what, body, message) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const answer = await stack.api('POST', '/resets', body);
    // Assess
    expect({ status: answer.statusCode, code: answer.json.code, message: answer.json.message }).toEqual({ status: 400, code: 'INVALID_REQUEST', message });
    expect(await stack.ports.store.list({ limit: 10 })).toEqual(expect.objectContaining({ jobs: [] }));
  });

  it('refuses a malformed Idempotency-Key', async () => {
    // Act
    const answer = await new VirtualStack().api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'two words' });
    // Assess
    expect(answer.json.message).toBe('Idempotency-Key: must be 1 to 255 visible ASCII characters');
  });
});

describe('the query strings and path ids', () => {
  it.each([
    ['POST', '/resets?dryRun=true', 'dryRun: this route takes no query parameters'],
    ['GET', '/resets?instance=i-0a1b2c3d4e5f60001', 'instance: unknown query parameter (known: instanceId, status, limit, cursor)'],
    ['GET', '/resets?instanceId=i-xyz', INSTANCE],
    ['GET', '/resets?status=DONE', 'status: must be one of RUNNING, ROLLING_BACK, SUCCEEDED, FAILED'],
    ['GET', '/resets?limit=0', 'limit: must be a whole number from 1 to 100'],
    ['GET', '/resets?limit=101', 'limit: must be a whole number from 1 to 100'],
    ['GET', '/resets?limit=1e2', 'limit: must be a whole number from 1 to 100'],
    ['GET', '/resets?cursor=', "cursor: is empty; pass a page's nextCursor, or leave it out for the first page"],
    ['GET', '/instances?limit=ten&colour=red', 'limit: must be a whole number from 1 to 100; colour: unknown query parameter (known: limit, cursor)'],
    ['GET', '/resets/not-a-job', 'jobId: not-a-job is not a job id (like r-mabc1234xyz)'],
    ['POST', '/resets/R-UPPER/cancel', 'jobId: R-UPPER is not a job id (like r-mabc1234xyz)'],
  ])('%s %s', async (method, path, message) => {
    // Act
    const answer = await new VirtualStack().api(method, path, method === 'POST' ? { instanceId: AL2023 } : undefined);
    // Assess
    expect({ status: answer.statusCode, code: answer.json.code, message: answer.json.message }).toEqual({ status: 400, code: 'INVALID_REQUEST', message });
  });

  it('reads the page size it is given, and 20 without one', async () => {
    // Prepare
    const stack = new VirtualStack();
    const seen: number[] = [];
    const list = stack.ports.store.list.bind(stack.ports.store);
    stack.ports.store.list = async (options) => (seen.push(options.limit ?? 0), list(options));
    // Act
    await stack.api('GET', '/resets?limit=100');
    await stack.api('GET', '/resets');
    // Assess
    expect(seen).toEqual([100, 20]);
  });
});
