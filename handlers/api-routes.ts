/**
 * The API's routes over the use cases: parse, call one use case, answer. Kept apart from the
 * Lambda entry point so that the local runtime serves the very same routes. Every error answers
 * `{ code, message, requestId }` (handlers/http.ts); nothing a caller sends can make it answer 500.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authorizeJob, callerAccess, jobRefusal, type CallerAccess } from '../domain/api/access';
import * as z from 'zod/mini';
import { admissionIfFree, API_ADMISSION_BUCKET, API_READ_BUCKET, releaseAdmission, reserveAdmission, takeAdmissionIfFree } from '../domain/admission/admission';
import { cancelReset } from '../domain/api/cancel-reset';
import { RefusedError } from '../domain/errors';
import { answerWithoutStart, startResetIdempotently, type IdempotentStartPorts } from '../domain/api/idempotent-start';
import type { Job, JobStatus } from '../domain/job/job';
import { toJobView } from '../domain/job/job-view';
import { listInstances } from '../domain/api/list-instances';
import type { CorePorts } from '../domain/pipeline/phase';
import type { AdmissionStore, InstanceDirectory, JobQuery, JobStore, PrincipalTags } from '../domain/ports';
import { instanceIdSchema, parseResetRequest } from '../domain/api/request';
import { matching, parseInput } from '../domain/schema';
import { getJob, startReset } from '../domain/api/start-reset';
import { callerOf, errorResponse, headerOf, HttpError, json, requestIdOf, type ErrorBody, type HttpResponse } from './http';

export type ApiPorts = IdempotentStartPorts &
  Pick<CorePorts, 'store' | 'bus' | 'clock' | 'log'> & {
    directory: InstanceDirectory;
    admission: AdmissionStore;
    /** IAM, for the access rule's caller tags (`config.access.source: 'principal-tag'`). */
    principals?: PrincipalTags;
  };

/** Every route the API serves (serverless.yml's httpApi events and docs/openapi.yaml list the same). */
export const API_ROUTES = [
  { method: 'POST', path: '/resets' },
  { method: 'GET', path: '/resets' },
  { method: 'GET', path: '/resets/{jobId}' },
  { method: 'POST', path: '/resets/{jobId}/cancel' },
  { method: 'GET', path: '/instances' },
] as const;
export type ApiRoute = (typeof API_ROUTES)[number];

export const JOB_ID = /^r-[0-9a-z]{6,40}$/;
/** A start request is a few hundred bytes; anything this large is not one. */
export const MAX_BODY_BYTES = 16 * 1024;
const JOB_STATUSES: readonly JobStatus[] = ['RUNNING', 'ROLLING_BACK', 'SUCCEEDED', 'FAILED'];
export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

/**
 * The schemas of what the routes read besides the start request (domain/api/request.ts): the path's
 * job id, the `Idempotency-Key` header and each route's query string. docs/openapi.yaml's
 * parameters are checked against them (test/docs/openapi-agreement.test.ts).
 */
export const jobIdSchema = matching(JOB_ID, (input) => `${String(input)} is not a job id (like r-mabc1234xyz)`);
/** 1 to 255 visible ASCII characters (a UUID is the usual choice). */
export const idempotencyKeySchema = matching(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters');
const pageLimit = z._default(z.pipe(matching(/^(100|[1-9][0-9]?)$/, `must be a whole number from 1 to ${MAX_PAGE}`), z.transform(Number)), DEFAULT_PAGE);
const cursor = z.optional(z.string().check(z.minLength(1, { error: "is empty; pass a page's nextCursor, or leave it out for the first page" })));

/** A query string naming only `shape`'s parameters (a typo must not be ignored silently). */
function queryOf<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const known = Object.keys(shape);
  const unknown = known.length ? `unknown query parameter (known: ${known.join(', ')})` : 'this route takes no query parameters';
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? unknown : undefined) });
}

export const QUERY = {
  none: queryOf({}),
  listResets: queryOf({
    instanceId: z.optional(instanceIdSchema),
    status: z.optional(z.enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(', ')}` })),
    limit: pageLimit,
    cursor,
  }),
  listInstances: queryOf({ limit: pageLimit, cursor }),
};

export async function routeApi(event: APIGatewayProxyEventV2, ports: ApiPorts): Promise<HttpResponse> {
  const requestId = requestIdOf(event);
  try {
    const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
    const path = (event.rawPath ?? '/').replace(/\/+$/, '') || '/';
    const { route, params } = matchRoute(method, path);
    const response = await serve(route, params, event, ports);
    return { ...response, headers: { ...response.headers, 'x-request-id': requestId } };
  } catch (error) {
    if (!(error instanceof RefusedError) && !(error instanceof HttpError))
      ports.log.error('api error', { requestId, error: (error as Error).message, code: (error as { code?: string }).code });
    return errorResponse(error, requestId);
  }
}

async function serve(route: ApiRoute, params: Record<string, string>, event: APIGatewayProxyEventV2, ports: ApiPorts): Promise<HttpResponse> {
  switch (`${route.method} ${route.path}`) {
    case 'POST /resets': {
      readQuery(event, QUERY.none);
      const request = parseResetRequest(readJsonBody(event), ports.config);
      const caller = callerOf(event);
      const rawKey = headerOf(event, 'idempotency-key');
      const key = rawKey === undefined ? undefined : read(idempotencyKeySchema, rawKey, 'Idempotency-Key');
      // Both buckets are looked at before the preflight reads anything, so that a burst is refused
      // before it drains EC2's Describe bucket.
      const now = ports.clock.now();
      const reads = await admissionIfFree(ports.admission, API_READ_BUCKET, now, ports.config.apiReadAdmission);
      if (!reads.admitted) return tooMany('TOO_MANY_REQUESTS', reads.retryAt, now, requestIdOf(event));
      const apiKey = key === undefined ? undefined : apiIdempotencyKey(caller, key);
      const answered = await answerWithoutStart(request, ports, caller, apiKey).catch(async (error: unknown) => {
        if (error instanceof RefusedError) await countRefused(ports, requestIdOf(event));
        throw error;
      });
      if (answered) {
        await countRefused(ports, requestIdOf(event));
        return accepted(200, answered, { 'idempotent-replayed': 'true' });
      }
      const admission = await takeAdmissionIfFree(ports.admission, API_ADMISSION_BUCKET, now, ports.config.apiAdmission);
      if (!admission.admitted) return tooMany('TOO_MANY_STARTS', admission.retryAt, now, requestIdOf(event));
      let started: { job: Job; replayed: boolean };
      try {
        started =
          apiKey === undefined
            ? { job: await startReset(request, ports, caller), replayed: false }
            : await startResetIdempotently(request, ports, apiKey, { requestedBy: caller });
      } catch (error) {
        // A refusal started nothing. Other errors keep the slot: the job may have been written
        // before the error (its first event lost), and a throttled EC2 is no reason to admit more.
        if (error instanceof RefusedError) await startedNothing(ports, requestIdOf(event));
        throw error;
      }
      if (started.replayed) await startedNothing(ports, requestIdOf(event));
      return accepted(started.replayed ? 200 : 202, started.job, started.replayed ? { 'idempotent-replayed': 'true' } : {});
    }
    case 'GET /resets': {
      const query = readQuery(event, QUERY.listResets);
      const caller = await callerAccess(callerOf(event), ports);
      const page = await listVisible(ports.store, caller, query);
      return json(200, { jobs: page.jobs.map(toJobView), ...(page.cursor ? { nextCursor: page.cursor } : {}) });
    }
    case 'GET /resets/{jobId}': {
      readQuery(event, QUERY.none);
      const caller = await callerAccess(callerOf(event), ports);
      const job = await getJob(params.jobId!, ports.store);
      authorizeJob(caller, job);
      return json(200, toJobView(job));
    }
    case 'POST /resets/{jobId}/cancel': {
      readQuery(event, QUERY.none);
      const caller = await callerAccess(callerOf(event), ports);
      authorizeJob(caller, await getJob(params.jobId!, ports.store));
      return json(202, toJobView(await cancelReset(params.jobId!, ports)));
    }
    case 'GET /instances': {
      const caller = await callerAccess(callerOf(event), ports);
      const page = await listInstances(readQuery(event, QUERY.listInstances), ports, caller);
      return json(200, { instances: page.instances, ...(page.cursor ? { nextCursor: page.cursor } : {}) });
    }
  }
  throw new Error(`route ${route.method} ${route.path} has no handler`);
}

/**
 * Most store pages a filtered job listing reads for one answer: a caller whose jobs are rare among
 * the recent ones gets a shorter page (its `nextCursor` goes on) rather than a scan of the table.
 */
export const MAX_LISTING_READS = 5;

/**
 * The jobs the caller may see (the access rule), `limit` of them when there are: each store page asks
 * for what is still missing, so the last page's cursor continues right after the last job answered
 * or passed over, and no job is answered twice or skipped.
 */
async function listVisible(store: JobStore, caller: CallerAccess, query: JobQuery & { limit: number }): Promise<{ jobs: Job[]; cursor?: string }> {
  if (!caller.rule) return store.list(query);
  const jobs: Job[] = [];
  let cursor = query.cursor;
  for (let reads = 0; reads < MAX_LISTING_READS && jobs.length < query.limit; reads++) {
    const page = await store.list({ ...query, limit: query.limit - jobs.length, cursor });
    jobs.push(...page.jobs.filter((job) => !jobRefusal(caller, job)));
    cursor = page.cursor;
    if (!cursor) break;
  }
  return { jobs, ...(cursor ? { cursor } : {}) };
}

/** The route serving `method path`: 404 when no route has the path, 405 when none serves the method. */
function matchRoute(method: string, path: string): { route: ApiRoute; params: Record<string, string> } {
  const parts = path.split('/').filter(Boolean);
  const candidates = API_ROUTES.map((route) => ({ route, params: matchPath(route.path, parts) })).filter((c) => c.params !== undefined);
  if (candidates.length === 0) throw new HttpError('NOT_FOUND', `no route for ${path}`, 404);
  const match = candidates.find((c) => c.route.method === method);
  if (!match) {
    const allow = candidates.map((c) => c.route.method).join(', ');
    throw new HttpError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allow}`, 405, { allow });
  }
  if (match.params!.jobId !== undefined) read(jobIdSchema, match.params!.jobId, 'jobId');
  return { route: match.route, params: match.params! };
}

function matchPath(template: string, parts: string[]): Record<string, string> | undefined {
  const pattern = template.split('/').filter(Boolean);
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const name = /^\{(\w+)\}$/.exec(pattern[i]!)?.[1];
    if (name) params[name] = decodeSegment(parts[i]!);
    else if (pattern[i] !== parts[i]) return undefined;
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Keys are the caller's own: two callers using the same key never see each other's job. */
export function apiIdempotencyKey(caller: string | undefined, key: string): string {
  return `api#${caller ?? 'anonymous'}#${key}`;
}

function accepted(status: 200 | 202, job: Job, headers: Record<string, string> = {}): HttpResponse {
  const self = `/resets/${job.jobId}`;
  return json(status, { jobId: job.jobId, status: job.status, instanceId: job.instanceId, links: { self } }, { location: self, ...headers });
}

/**
 * A start request that started nothing gives its start slot back, and is charged to the bucket
 * pacing such requests instead (for the reads it cost; charged after the fact, so requests under
 * way at once may take it a little over, never more than the start bucket lets run at once).
 * Neither may turn the refusal into a 5xx: a failure here is logged only.
 */
async function startedNothing(ports: ApiPorts, requestId: string): Promise<void> {
  await releaseAdmission(ports.admission, API_ADMISSION_BUCKET, ports.clock.now(), ports.config.apiAdmission).catch((error: Error) =>
    ports.log.warn('start slot not given back', { requestId, error: error.message }),
  );
  await countRefused(ports, requestId);
}

/** A request that started nothing is paced by the read bucket instead. */
async function countRefused(ports: ApiPorts, requestId: string): Promise<void> {
  const now = ports.clock.now();
  // Those charged at once are requests the start bucket let run at once: as many races as it has slots.
  const races = Math.ceil(ports.config.apiAdmission.burst) + 25;
  await reserveAdmission(ports.admission, API_READ_BUCKET, now, ports.config.apiReadAdmission, races).catch((error: Error) =>
    ports.log.warn('refused start not counted', { requestId, error: error.message }),
  );
}

const TOO_MANY: Record<'TOO_MANY_STARTS' | 'TOO_MANY_REQUESTS', string> = {
  TOO_MANY_STARTS: 'more resets were asked for than the service starts at once (apiAdmission)',
  TOO_MANY_REQUESTS: 'more start requests that started nothing (refused or repeated) were sent than the service reads for (apiReadAdmission)',
};

/**
 * 429 for a start request over a rate, `code` naming which: nothing was read or changed, and
 * `retry-after` (whole seconds, at least 1) is when the next slot frees, as the AWS SDKs and HTTP
 * clients read it.
 */
function tooMany(code: keyof typeof TOO_MANY, retryAt: Date, now: Date, requestId: string): HttpResponse {
  const seconds = Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 1000));
  const body: ErrorBody = { code, message: `${TOO_MANY[code]}; retry in ${seconds} s`, requestId };
  return json(429, body, { 'retry-after': String(seconds) });
}

function readQuery<S extends z.ZodMiniType>(event: APIGatewayProxyEventV2, schema: S): z.output<S> {
  return read(schema, event.queryStringParameters ?? {}, 'query');
}

/** `value` read by `schema`, or 400 INVALID_REQUEST naming what is wrong (`name` when it is the whole value). */
function read<S extends z.ZodMiniType>(schema: S, value: unknown, name: string): z.output<S> {
  const parsed = parseInput(schema, value, name);
  if (!parsed.ok) throw new RefusedError('INVALID_REQUEST', parsed.message, 400);
  return parsed.value;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const contentType = headerOf(event, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `content-type: must be application/json${contentType ? `, not ${contentType.slice(0, 100)}` : ''}`, 415);
  }
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new HttpError('BODY_TOO_LARGE', `body: larger than ${MAX_BODY_BYTES} bytes`, 413);
  if (raw.trim() === '') throw new RefusedError('INVALID_REQUEST', 'body: is empty; send a JSON object like {"instanceId":"i-0123456789abcdef0"}', 400);
  try {
    return JSON.parse(raw);
  } catch {
    throw new RefusedError('INVALID_JSON', 'body: is not valid JSON', 400);
  }
}
