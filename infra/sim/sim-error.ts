/**
 * An error the simulated region answers instead of a result, with AWS's error code (e.g.
 * `IncorrectInstanceState`, `ParameterNotFound`) and the HTTP status AWS uses for it.
 * The protocol layers turn it into the service's wire format.
 */
export class SimServiceError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'SimServiceError';
    this.code = code;
    this.status = status;
  }
}

/** Shorthand for `throw new SimServiceError(...)` in expression position. */
export function fail(code: string, message: string, status = 400): never {
  throw new SimServiceError(code, message, status);
}
