/**
 * The one error hierarchy of the service. Adapters translate SDK exceptions into these; the phase
 * runner alone decides what each means for the job (retry, wait, roll back).
 */
export abstract class ResetAccessError extends Error {
  /** Stable machine-readable code, e.g. `IncorrectInstanceState` or `TARGET_NOT_FOUND`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Transient: throttling, 5xx, a lost race. Try the same step again after a backoff. */
export class RetryableError extends ResetAccessError {}

/**
 * AWS refused the call for its request rate (EC2 `RequestLimitExceeded`, `ThrottlingException`…).
 * Nothing was done, and the account's buckets refill every second: it costs time, never the job.
 */
export class ThrottledError extends RetryableError {}

/** Will not get better by retrying: the job must fail (and roll back what it changed). */
export class PermanentError extends ResetAccessError {}

/**
 * A request the service refuses before changing anything (preflight). Carries the HTTP status the
 * API answers with and, for conflicts, the job that holds the instance.
 */
export class RefusedError extends ResetAccessError {
  readonly status: 400 | 403 | 404 | 409 | 422;
  readonly activeJobId?: string;
  constructor(code: string, message: string, status: 400 | 403 | 404 | 409 | 422, activeJobId?: string) {
    super(code, message);
    this.status = status;
    this.activeJobId = activeJobId;
  }
}

/** A conditional write lost against a concurrent writer. */
export class ConcurrentUpdateError extends RetryableError {
  constructor(jobId: string) {
    super('CONCURRENT_UPDATE', `job ${jobId} was changed by another writer`);
  }
}

/** Reads the code of any error, also of errors that are not ours. */
export function errorCode(error: unknown): string {
  if (error instanceof ResetAccessError) return error.code;
  if (error instanceof Error) return error.name;
  return 'UNKNOWN';
}
