/** HTTP API (payload v2) helpers: responses and error mapping shared by the API handler. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RefusedError, ResetAccessError, RetryableError } from '../domain/errors';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

/**
 * A request refused by the HTTP layer itself, before any use case: an unknown route (404), a method
 * a route does not serve (405), a body too large (413) or not JSON (415). Domain refusals are
 * `RefusedError`s; both answer the same error body.
 */
export class HttpError extends ResetAccessError {
  constructor(
    code: string,
    message: string,
    readonly status: 400 | 404 | 405 | 413 | 415,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

/** The body of every error answer: a stable machine-readable `code`, a `message`, the `requestId`. */
export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  activeJobId?: string;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(error: unknown, requestId: string): HttpResponse {
  const headers = { 'x-request-id': requestId };
  if (error instanceof RefusedError) {
    const body: ErrorBody = { code: error.code, message: error.message, requestId, ...(error.activeJobId ? { activeJobId: error.activeJobId } : {}) };
    return json(error.status, body, headers);
  }
  if (error instanceof HttpError)
    return json(error.status, { code: error.code, message: error.message, requestId } satisfies ErrorBody, { ...headers, ...error.headers });
  if (error instanceof RetryableError) {
    return json(503, { code: error.code, message: 'AWS is throttling or unavailable; try again shortly', requestId } satisfies ErrorBody, {
      ...headers,
      'retry-after': '5',
    });
  }
  return json(500, { code: 'INTERNAL', message: 'internal error', requestId } satisfies ErrorBody, headers);
}

export function requestIdOf(event: APIGatewayProxyEventV2): string {
  return event.requestContext?.requestId ?? 'local';
}

/** The caller's IAM identity (API Gateway IAM auth), when there is one. */
export function callerOf(event: APIGatewayProxyEventV2): string | undefined {
  const ctx = event.requestContext as unknown as { authorizer?: { iam?: { userArn?: string } } };
  return ctx.authorizer?.iam?.userArn;
}

/** A header's value, whatever its case (API Gateway lower-cases them; other callers may not). */
export function headerOf(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}
