/** The API as the CLI calls it: JSON over HTTP, signed with SigV4 when it goes to a deployed API. */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { defaultCredentials, regionOfApiUrl, signRequest } from './sigv4';

export const DEFAULT_API = 'http://127.0.0.1:3000';

export interface ApiClientOptions {
  baseUrl: string;
  /** `auto`: sign unless the API is on this machine (the local stack has no auth). */
  sign?: 'auto' | 'always' | 'never';
  /** For signing: otherwise from the URL, then AWS_REGION / AWS_DEFAULT_REGION. */
  region?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  env?: Record<string, string | undefined>;
  /** `--as`: the caller the local API server records (header `x-reset-access-caller`, read by it alone). */
  caller?: string;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** The API answered with an error: its `{ code, message, requestId }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API could not be reached at all. */
export class ApiUnreachableError extends Error {
  constructor(baseUrl: string, cause: unknown) {
    super(`cannot reach the API at ${baseUrl} (${(cause as Error)?.message ?? String(cause)}); is it running? (npm start, or --api <url>)`, { cause });
    this.name = 'ApiUnreachableError';
  }
}

export class ApiClient {
  private readonly base: URL;
  private credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;

  constructor(private readonly options: ApiClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.credentials = options.credentials;
  }

  get baseUrl(): string {
    return this.base.toString().replace(/\/$/, '');
  }

  get signs(): boolean {
    const mode = this.options.sign ?? 'auto';
    if (mode !== 'auto') return mode === 'always';
    return !['127.0.0.1', 'localhost', '[::1]', '::1'].includes(this.base.hostname);
  }

  async call<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | undefined>; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(this.options.caller ? { 'x-reset-access-caller': this.options.caller } : {}),
      ...options.headers,
    };
    if (this.signs) headers = await signRequest({ method, url, headers, body }, { region: this.region(url), credentials: await this.resolveCredentials() });
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body });
    } catch (error) {
      throw new ApiUnreachableError(this.baseUrl, (error as { cause?: unknown }).cause ?? error);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (API Gateway's own answers can be text): keep it as it is.
    }
    if (!response.ok) {
      const error = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { code?: string; message?: string; requestId?: string };
      throw new ApiError(
        response.status,
        error.code ?? `HTTP_${response.status}`,
        error.message ?? (typeof parsed === 'string' && parsed ? parsed : response.statusText),
        error.requestId,
        parsed,
      );
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  private region(url: URL): string {
    const env = this.options.env ?? process.env;
    const region = this.options.region ?? regionOfApiUrl(url) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) throw new Error('cannot tell the API region to sign for: pass --region or set AWS_REGION');
    return region;
  }

  private async resolveCredentials(): Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider> {
    this.credentials ??= await defaultCredentials();
    return this.credentials;
  }
}
