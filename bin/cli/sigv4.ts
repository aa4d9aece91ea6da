/**
 * SigV4 for the deployed API (API Gateway HTTP API, IAM auth: service `execute-api`), with the
 * credentials of the standard AWS chain (environment, shared config and SSO, web identity,
 * container and instance roles: the SDK's default provider).
 */
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** The region of an `https://<id>.execute-api.<region>.amazonaws.com` URL, if it is one. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}

export interface SignedRequest {
  headers: Record<string, string>;
}

/** Signs one request; answers the headers to send (the given ones plus authorization, x-amz-date, token). */
export async function signRequest(
  request: { method: string; url: URL; headers: Record<string, string>; body?: string },
  options: { region: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; now?: Date },
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'execute-api', region: options.region, credentials: options.credentials, sha256: Hash.bind(null, 'sha256') });
  const { url } = request;
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, key) => (query[key] = value));
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...request.headers, host: url.host },
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    options.now ? { signingDate: options.now } : {},
  );
  return signed.headers as Record<string, string>;
}

/** The standard credential chain, loaded only when a request is signed (local use never needs it). */
export async function defaultCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}
