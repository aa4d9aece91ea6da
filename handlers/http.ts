/** HTTP API (payload v2) helpers: responses and error mapping shared by the API handler. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RefusedError, ResetAccessError } from '../domain/errors';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(error: unknown, requestId: string): HttpResponse {
  if (error instanceof RefusedError) {
    return json(error.status, { code: error.code, message: error.message, requestId, ...(error.activeJobId ? { activeJobId: error.activeJobId } : {}) });
  }
  if (error instanceof ResetAccessError && error.name === 'RetryableError') {
    return json(503, { code: error.code, message: 'AWS is throttling or unavailable; try again shortly', requestId }, { 'retry-after': '5' });
  }
  return json(500, { code: 'INTERNAL', message: 'internal error', requestId });
}

export function requestIdOf(event: APIGatewayProxyEventV2): string {
  return event.requestContext?.requestId ?? 'local';
}

/** The caller's IAM identity (API Gateway IAM auth), when there is one. */
export function callerOf(event: APIGatewayProxyEventV2): string | undefined {
  const ctx = event.requestContext as unknown as { authorizer?: { iam?: { userArn?: string } } };
  return ctx.authorizer?.iam?.userArn;
}
