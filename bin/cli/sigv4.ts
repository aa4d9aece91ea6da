/**
 * SigV4 for the deployed API (API Gateway HTTP API, IAM auth: service `execute-api`), with the
 * credentials of the standard AWS chain (environment, shared config and SSO, web identity,
 * container and instance roles: the SDK's default provider).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';

/** SHA-256 (and HMAC-SHA-256 with a secret) from node:crypto, in the shape the signer takes. */
export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  update(data: Uint8Array | string): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : Buffer.from(ArrayBuffer.isView(this.secret) ? this.secret.buffer : this.secret, ArrayBuffer.isView(this.secret) ? this.secret.byteOffset : 0, this.secret.byteLength);
    return createHmac('sha256', key);
  }
}

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
  const signer = new SignatureV4({ service: 'execute-api', region: options.region, credentials: options.credentials, sha256: NodeSha256 });
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
