/**
 * docs/openapi.yaml against the handler: the documented routes are exactly the served ones, and
 * every documented answer (each route × status) is produced by a scenario on the in-process stack
 * whose status, headers and body validate against the document. A status the document lists
 * without a scenario, or a scenario whose answer the document does not describe, fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RetryableError } from '../../domain/errors';
import { PHASES } from '../../domain/pipeline/phases';
import { API_ROUTES } from '../../handlers/api-routes';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { SAMPLE_KMS_KEY_ID } from '../../infra/sim/samples';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import { resolveRef, validate } from '../support/openapi-schema';

// The parsed YAML document, walked freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
type Answer = Awaited<ReturnType<VirtualStack['api']>>;

const document = parse(readFileSync(join(__dirname, '../../docs/openapi.yaml'), 'utf8')) as Doc;
const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const SPOT = 'i-0a1b2c3d4e5f60005';
const throttled = () => new RetryableError('ThrottlingException', 'Rate exceeded');

/** A stack with a SUCCEEDED, a FAILED (cancelled) and a RUNNING job, for answers that show all of a job's fields. */
async function stackWithJobs(): Promise<{ stack: VirtualStack; succeeded: string; failed: string; running: string }> {
  const stack = new VirtualStack();
  const succeeded = (await stack.api('POST', '/resets', { instanceId: AL2023 })).json.jobId;
  await stack.run();
  const failed = (await stack.api('POST', '/resets', { instanceId: UBUNTU })).json.jobId;
  await stack.run(60);
  await stack.api('POST', `/resets/${failed}/cancel`);
  await stack.run();
  const running = (await stack.api('POST', '/resets', { instanceId: AL2023 })).json.jobId;
  return { stack, succeeded, failed, running };
}

/** A stack with an access rule on `team`, and a caller of team a (infra/sim/samples.ts). */
const ALICE = 'arn:aws:sts::123456789012:assumed-role/team-a-operator/alice';
const withAccessRule = () => new VirtualStack({ config: { access: { tag: 'team', source: 'principal-tag' } } });
const WINDOWS = 'i-0a1b2c3d4e5f60007';
/** A job of team b, and what Alice (team a) is answered about it. */
async function otherTeamsJob(method: string, path: (jobId: string) => string): Promise<Answer> {
  const stack = withAccessRule();
  const { jobId } = (await stack.api('POST', '/resets', { instanceId: WINDOWS }, {}, { caller: 'arn:aws:sts::123456789012:assumed-role/team-b-operator/bob' }))
    .json;
  return stack.api(method, path(jobId), undefined, {}, { caller: ALICE });
}

/** One scenario per documented route and status. */
const SCENARIOS: Record<string, () => Promise<Answer>> = {
  'POST /resets 202': async () => new VirtualStack().api('POST', '/resets', { instanceId: AL2023 }),
  'POST /resets 200': async () => {
    const stack = new VirtualStack();
    await stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k' });
    return stack.api('POST', '/resets', { instanceId: AL2023 }, { 'idempotency-key': 'k' });
  },
  'POST /resets 400': async () => new VirtualStack().api('POST', '/resets', { instanceId: AL2023, unknown: 1 }),
  'POST /resets 403': async () => {
    const stack = new VirtualStack();
    stack.region.ec2('DeleteTags', { Resources: [AL2023], Tags: [{ Key: 'reset-access:allowed' }] });
    return stack.api('POST', '/resets', { instanceId: AL2023 });
  },
  'POST /resets 404': async () => new VirtualStack().api('POST', '/resets', { instanceId: 'i-0fffffffffffffff0' }),
  'POST /resets 409': async () => {
    const stack = new VirtualStack();
    await stack.api('POST', '/resets', { instanceId: AL2023 });
    return stack.api('POST', '/resets', { instanceId: AL2023 });
  },
  'POST /resets 413': async () => new VirtualStack().api('POST', '/resets', JSON.stringify({ instanceId: AL2023, pad: 'x'.repeat(20_000) })),
  'POST /resets 415': async () =>
    new VirtualStack().api('POST', '/resets', 'instanceId=i-0a1b2c3d4e5f60001', { 'content-type': 'application/x-www-form-urlencoded' }),
  'POST /resets 422': async () => new VirtualStack().api('POST', '/resets', { instanceId: SPOT }),
  'POST /resets 429': async () => {
    const stack = new VirtualStack({ config: { apiAdmission: { ratePerMinute: 1, burst: 1 } } });
    await stack.api('POST', '/resets', { instanceId: AL2023 });
    return stack.api('POST', '/resets', { instanceId: UBUNTU });
  },
  'POST /resets 503': async () => {
    const stack = new VirtualStack();
    stack.region.faults.add({ service: 'ec2', action: 'DescribeInstances', error: 'throttle' });
    return stack.api('POST', '/resets', { instanceId: AL2023 });
  },
  'GET /resets 200': async () => (await stackWithJobs()).stack.api('GET', '/resets?limit=2'),
  'GET /resets 403': async () => withAccessRule().api('GET', '/resets', undefined, {}, { caller: 'arn:aws:iam::123456789012:root' }),
  'GET /resets 400': async () => new VirtualStack().api('GET', '/resets?status=DONE'),
  'GET /resets 503': async () => {
    const stack = new VirtualStack();
    stack.ports.store.list = async () => Promise.reject(throttled());
    return stack.api('GET', '/resets');
  },
  'GET /resets/{jobId} 200': async () => {
    const { stack, failed } = await stackWithJobs();
    return stack.api('GET', `/resets/${failed}`);
  },
  'GET /resets/{jobId} 403': async () => otherTeamsJob('GET', (jobId) => `/resets/${jobId}`),
  'GET /resets/{jobId} 400': async () => new VirtualStack().api('GET', '/resets/not-a-job'),
  'GET /resets/{jobId} 404': async () => new VirtualStack().api('GET', '/resets/r-zzzzzzzzzz'),
  'GET /resets/{jobId} 503': async () => {
    const stack = new VirtualStack();
    stack.ports.store.get = async () => Promise.reject(throttled());
    return stack.api('GET', '/resets/r-zzzzzzzzzz');
  },
  'POST /resets/{jobId}/cancel 202': async () => {
    const stack = new VirtualStack();
    const { jobId } = (await stack.api('POST', '/resets', { instanceId: AL2023 })).json;
    await stack.run(60);
    return stack.api('POST', `/resets/${jobId}/cancel`);
  },
  'POST /resets/{jobId}/cancel 403': async () => otherTeamsJob('POST', (jobId) => `/resets/${jobId}/cancel`),
  'POST /resets/{jobId}/cancel 400': async () => new VirtualStack().api('POST', '/resets/x/cancel'),
  'POST /resets/{jobId}/cancel 404': async () => new VirtualStack().api('POST', '/resets/r-zzzzzzzzzz/cancel'),
  'POST /resets/{jobId}/cancel 409': async () => {
    const { stack, succeeded } = await stackWithJobs();
    return stack.api('POST', `/resets/${succeeded}/cancel`);
  },
  'POST /resets/{jobId}/cancel 503': async () => {
    const stack = new VirtualStack();
    stack.ports.store.get = async () => Promise.reject(throttled());
    return stack.api('POST', '/resets/r-zzzzzzzzzz/cancel');
  },
  'GET /instances 200': async () => {
    const { stack } = await stackWithJobs();
    return stack.api('GET', '/instances?limit=50');
  },
  'GET /instances 403': async () => withAccessRule().api('GET', '/instances'),
  'GET /instances 400': async () => new VirtualStack().api('GET', '/instances?limit=0'),
  'GET /instances 503': async () => {
    const stack = new VirtualStack();
    stack.region.faults.add({ service: 'ec2', action: 'DescribeInstances', error: 'throttle' });
    return stack.api('GET', '/instances');
  },
};

/** Every documented answer: `METHOD path status` with its response object ($refs resolved). */
function documentedAnswers(): Array<{ key: string; response: Doc }> {
  const answers: Array<{ key: string; response: Doc }> = [];
  for (const [path, item] of Object.entries(document.paths as Doc)) {
    for (const [method, operation] of Object.entries(item as Doc)) {
      for (const [status, response] of Object.entries((operation as Doc).responses as Doc)) {
        const resolved = typeof (response as Doc).$ref === 'string' ? resolveRef(document, (response as Doc).$ref) : (response as Doc);
        answers.push({ key: `${method.toUpperCase()} ${path} ${status}`, response: resolved });
      }
    }
  }
  return answers;
}

describe('docs/openapi.yaml', () => {
  it('documents exactly the routes the handler serves', () => {
    // Act
    const documented = Object.entries(document.paths as Doc).flatMap(([path, item]) =>
      Object.keys(item as Doc).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // Assess
    expect(documented.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('has a scenario for every documented answer, and documents every scenario', () => {
    // Act
    const documented = documentedAnswers().map((a) => a.key);
    // Assess
    expect(documented.sort()).toEqual(Object.keys(SCENARIOS).sort());
  });

  it('names the phases the service has', () => {
    // Assess
    expect(document.components.schemas.PhaseName.enum).toEqual([...PHASES]);
  });

  it('describes the start request the handler takes: every documented field is accepted with its default, nothing else', async () => {
    // Prepare
    const properties = document.components.schemas.StartRequest.properties as Doc;
    // Act
    const answers = await Promise.all(
      Object.entries(properties)
        .filter(([name]) => name !== 'instanceId')
        .map(
          async ([name, schema]) =>
            [name, (await new VirtualStack().api('POST', '/resets', { instanceId: AL2023, [name]: (schema as Doc).default })).statusCode] as const,
        ),
    );
    const undocumented = await new VirtualStack().api('POST', '/resets', { instanceId: AL2023, reboot: false });
    // Assess
    expect(answers.length).toBeGreaterThanOrEqual(4);
    for (const [name, status] of answers) expect({ name, status }).toEqual({ name, status: 202 });
    expect(undocumented.statusCode).toBe(400);
  });

  describe.each(documentedAnswers())('$key', ({ key, response }) => {
    it('is produced as documented', async () => {
      // Prepare
      const status = Number(key.split(' ').pop());
      const schema = response.content?.['application/json']?.schema as Doc;
      // Act
      const answer = await SCENARIOS[key]!();
      // Assess
      expect(answer.statusCode).toBe(status);
      expect(answer.headers?.['content-type']).toBe('application/json');
      expect(validate(document, schema, answer.json)).toEqual([]);
      for (const header of Object.keys(response.headers ?? {})) expect(answer.headers?.[header]).toEqual(expect.any(String));
    });
  });
});

describe('the Job schema describes every kind of finished job', () => {
  const jobSchema = { $ref: '#/components/schemas/Job' };

  it.each([
    ['a Windows reset by the volume swap', 'i-0a1b2c3d4e5f60007', {}],
    ['a Windows reset online', 'i-0a1b2c3d4e5f6000a', {}],
    ['a Linux reset online', 'i-0a1b2c3d4e5f60009', {}],
    ["a Linux reset with the caller's own key for a named account", UBUNTU, { user: 'ubuntu', publicKey: generateSshKeyPair('ed25519', 'me').publicKey }],
    ['a Linux reset with a customer KMS key', AL2023, { kmsKeyId: SAMPLE_KMS_KEY_ID }],
  ])('%s', async (_what, instanceId, fields) => {
    // Prepare
    const stack = new VirtualStack();
    const { jobId } = (await stack.api('POST', '/resets', { instanceId, ...fields })).json;
    await stack.run();

    // Act
    const view = await stack.api('GET', `/resets/${jobId}`);

    // Assess
    expect(view.json.status).toBe('SUCCEEDED');
    expect(validate(document, jobSchema, view.json)).toEqual([]);
  });
});
