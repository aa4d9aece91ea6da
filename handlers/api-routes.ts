/**
 * The API's routes over the use cases: parse, call one use case, answer. Kept apart from the
 * Lambda entry point so that the local runtime serves the very same routes.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { cancelReset } from '../domain/cancel-reset';
import { RefusedError } from '../domain/errors';
import { toJobView } from '../domain/job-view';
import type { PhasePorts } from '../domain/phase-runner';
import { INSTANCE_ID, parseResetRequest } from '../domain/request';
import { getJob, startReset, type StartPorts } from '../domain/start-reset';
import { callerOf, errorResponse, json, requestIdOf, type HttpResponse } from './http';

export type ApiPorts = StartPorts & Pick<PhasePorts, 'store' | 'bus' | 'clock' | 'log'>;

const JOB_ID = /^r-[0-9a-z]{6,40}$/;
const MAX_BODY_BYTES = 16 * 1024;

export async function routeApi(event: APIGatewayProxyEventV2, ports: ApiPorts): Promise<HttpResponse> {
  const requestId = requestIdOf(event);
  try {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = (event.rawPath ?? '/').replace(/\/+$/, '') || '/';
    const parts = path.split('/').filter(Boolean);
    if (parts[0] !== 'resets' || parts.length > 3) throw new RefusedError('NOT_FOUND', `no route for ${method} ${path}`, 404);
    const jobId = parts[1];
    if (jobId !== undefined && !JOB_ID.test(jobId)) throw new RefusedError('INVALID_REQUEST', `jobId: ${jobId} is not a job id`, 400);

    if (parts.length === 1 && method === 'POST') {
      const request = parseResetRequest(readJsonBody(event), ports.config);
      const job = await startReset(request, ports, callerOf(event));
      return json(202, { jobId: job.jobId, status: job.status, instanceId: job.instanceId, links: { self: `/resets/${job.jobId}` } }, { location: `/resets/${job.jobId}` });
    }
    if (parts.length === 1 && method === 'GET') {
      const instanceId = event.queryStringParameters?.instanceId;
      if (!instanceId || !INSTANCE_ID.test(instanceId)) throw new RefusedError('INVALID_REQUEST', 'instanceId: query parameter required, like i-0123456789abcdef0', 400);
      const page = await ports.store.listByInstance(instanceId, { limit: 20, cursor: event.queryStringParameters?.cursor });
      return json(200, { jobs: page.jobs.map(toJobView), nextCursor: page.cursor });
    }
    if (parts.length === 2 && method === 'GET') return json(200, toJobView(await getJob(jobId!, ports.store)));
    if (parts.length === 3 && parts[2] === 'cancel' && method === 'POST') return json(202, toJobView(await cancelReset(jobId!, ports)));
    throw new RefusedError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, 404);
  } catch (error) {
    if (!(error instanceof RefusedError)) ports.log.error('api error', { requestId, error: (error as Error).message });
    return errorResponse(error, requestId);
  }
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const contentType = event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? '';
  if (!/^application\/json\b/i.test(contentType)) throw new RefusedError('UNSUPPORTED_MEDIA_TYPE', 'content-type: must be application/json', 400);
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new RefusedError('BODY_TOO_LARGE', `body: larger than ${MAX_BODY_BYTES} bytes`, 400);
  try {
    return JSON.parse(raw);
  } catch {
    throw new RefusedError('INVALID_JSON', 'body: is not valid JSON', 400);
  }
}
