/**
 * Translation of AWS SDK v3 exceptions into the domain's error hierarchy (`domain/errors`). Every
 * adapter funnels what it catches through `translateAwsError`; nothing else decides retry policy.
 *
 * Throttling, transient and server errors are told apart by the SDK's own classification
 * (`@smithy/core/retry`: the functions its retry strategy classifies with, which is also what
 * `ThrottlingOnlyRetryStrategy` reads as `errorType`), so that the domain retries what the SDK would:
 * throttling codes (EC2 `RequestLimitExceeded`, most services' `ThrottlingException`, DynamoDB
 * `ProvisionedThroughputExceededException`…), HTTP 429 and the model's retryable trait with
 * `throttling`; transient errors (the model's retryable trait, HTTP 500/502/503/504, timeouts, Node's
 * connection errors, also as a `cause`); other 5xx.
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { SdkError } from '@smithy/types';
import { PermanentError, ResetAccessError, RetryableError, ThrottledError } from '../../domain/errors';

/**
 * Transport failures the SDK's list leaves out: the request may not have reached AWS, or its answer
 * was lost (`ECONNABORTED`; a "socket hang up" without a code).
 */
function isOtherNetworkFailure(error: AwsErrorShape): boolean {
  return error.code === 'ECONNABORTED' || (typeof error.message === 'string' && /socket hang up/i.test(error.message));
}

/**
 * Names an SDK error takes when AWS's answer could not be read as one (no AWS code in it): the
 * parser's own error (`SyntaxError` for a JSON protocol, `Error` "@aws-sdk XML parse error" for
 * EC2's) or the service exception the SDK makes of an error body naming no code (`Unknown`,
 * `UnknownError`).
 */
const UNREADABLE_NAMES: ReadonlySet<string> = new Set(['SyntaxError', 'TypeError', 'RangeError', 'Unknown', 'UnknownError']);

/** The code of an answer that was not AWS's (a proxy's HTML page, a cut body), by its HTTP status. */
export const AWS_UNAVAILABLE = 'AWS_UNAVAILABLE';
export const AWS_UNREADABLE_ANSWER = 'AWS_UNREADABLE_ANSWER';

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The AWS error code of an SDK exception (`name` in SDK v3; `Code`/`code` on some shapes). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const shape = error as AwsErrorShape;
  for (const candidate of [shape.Code, shape.name, shape.code]) {
    if (typeof candidate === 'string' && candidate !== '' && candidate !== 'Error') return candidate;
  }
  return undefined;
}

/** Whether `error` is an AWS (SDK) error, and, when codes are given, one of them. */
export function isAwsError(error: unknown, ...codes: string[]): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as AwsErrorShape;
  const code = awsErrorCode(error);
  if (codes.length > 0) return code !== undefined && codes.includes(code);
  return shape.$metadata !== undefined || shape.$fault !== undefined;
}

function httpStatus(error: AwsErrorShape): number | undefined {
  const status = error.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Maps an SDK exception to `ThrottledError` (throttling), `RetryableError` (transient and server
 * errors, network failures) or `PermanentError` (any other AWS client error), keeping the AWS code
 * and the original as `cause`.
 * Errors already in the domain hierarchy pass through; errors that are not AWS errors at all
 * (programming errors) are returned as they are, so that they surface instead of being classified.
 * `ConditionalCheckFailedException` is left to the caller, which knows what lost the race.
 */
export function translateAwsError(error: unknown, context?: string): Error {
  if (error instanceof ResetAccessError) return error;
  if (typeof error !== 'object' || error === null) {
    return new RetryableError('UNKNOWN', withContext(String(error), context), { cause: error });
  }
  const shape = error as AwsErrorShape;
  const code = awsErrorCode(error) ?? 'UNKNOWN';
  const message = withContext(typeof shape.message === 'string' && shape.message !== '' ? shape.message : code, context);
  const status = httpStatus(shape);
  // Only with an HTTP status was there an answer (the SDK's retry adds `$metadata` to network errors too).
  if (status !== undefined && isUnreadableAnswer(shape)) return unreadableAnswer(shape, status, context);

  if (isThrottlingError(shape as SdkError)) return new ThrottledError(code, message, { cause: error });
  if (isTransientError(shape as SdkError) || isOtherNetworkFailure(shape)) {
    // A connection error is named by Node's code (`ECONNRESET`), one without a code `NetworkingError`.
    const networkCode = typeof shape.code === 'string' && /^E[A-Z_]+$/.test(shape.code) ? shape.code : code === 'UNKNOWN' ? 'NetworkingError' : code;
    return new RetryableError(networkCode, message, { cause: error });
  }
  if (isServerError(shape as SdkError) || shape.$fault === 'server') return new RetryableError(code, message, { cause: error });
  if ((status !== undefined && status >= 400) || shape.$fault === 'client') {
    return new PermanentError(code, message, { cause: error });
  }
  return error instanceof Error ? error : new RetryableError(code, message, { cause: error });
}

/**
 * Whether the SDK got an HTTP answer but could not read it as AWS's: its deserialiser then throws
 * the parser's error with `$metadata` (the HTTP status) and a hidden `$response` added, and a
 * message ending "Deserialization error: to see the raw response, inspect the hidden field
 * {error}.$response" (@smithy/core, schemaDeserializationMiddleware). The parser's name is no AWS
 * code and must not become one.
 */
function isUnreadableAnswer(shape: AwsErrorShape): boolean {
  const code = awsErrorCode(shape);
  return code === undefined || UNREADABLE_NAMES.has(code) || (typeof shape.message === 'string' && shape.message.includes('Deserialization error'));
}

/**
 * A stable code of the service's own for an answer that was not AWS's, the original kept as
 * `cause` and its first line in the message (which the handlers log): `AWS_UNAVAILABLE`
 * (retryable) for a 5xx or a 429, the usual shape of a gateway or load balancer in the
 * way; `AWS_UNREADABLE_ANSWER` for anything else (retryable for a 2xx, whose call may have been
 * done; permanent for another 4xx, which a retry would get again).
 */
function unreadableAnswer(shape: AwsErrorShape, status: number, context: string | undefined): Error {
  const original = typeof shape.message === 'string' ? shape.message.split('\n')[0]!.trim() : '';
  const message = withContext(`AWS answered HTTP ${status} with a body that is not an AWS answer${original ? ` (${original})` : ''}`, context);
  if (status >= 500 || status === 429) return new RetryableError(AWS_UNAVAILABLE, message, { cause: shape });
  if (status < 300) return new RetryableError(AWS_UNREADABLE_ANSWER, message, { cause: shape });
  return new PermanentError(AWS_UNREADABLE_ANSWER, message, { cause: shape });
}

function withContext(message: string, context: string | undefined): string {
  return context ? `${context}: ${message}` : message;
}
