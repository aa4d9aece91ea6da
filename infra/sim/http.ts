import { handleKmsJson, KMS_TARGET_PREFIX } from './kms-json';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';

import { handleEc2Query, type WireResponse } from './ec2-query';
import { handleIamQuery, IAM_API_VERSION } from './iam-query';
import type { SimulatedRegion } from './region';
import { handleSsmJson } from './ssm-json';

/** One request as both transports see it. */
interface SimRequest {
  hostname?: string;
  headers: Record<string, string | undefined>;
  body: string;
}

function header(headers: SimRequest['headers'], name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * Routes a request to SSM or KMS (they carry `X-Amz-Target`), IAM (an `iam.` host, or a form body
 * of IAM's API version) or EC2 (a form body with `Action=`, or an `ec2.` host), and answers it at
 * once (in-process harnesses call this directly).
 */
export function route(region: SimulatedRegion, request: SimRequest): WireResponse {
  const target = header(request.headers, 'x-amz-target');
  if (target?.startsWith(KMS_TARGET_PREFIX)) return handleKmsJson(region, target, request.body);
  if (target !== undefined) return handleSsmJson(region, target, request.body);
  const contentType = header(request.headers, 'content-type') ?? '';
  if (request.hostname?.startsWith('iam.') || new URLSearchParams(request.body).get('Version') === IAM_API_VERSION) return handleIamQuery(region, request.body);
  if (contentType.startsWith('application/x-www-form-urlencoded') || /(^|&)Action=/.test(request.body) || request.hostname?.startsWith('ec2.')) {
    return handleEc2Query(region, request.body);
  }
  return {
    status: 400,
    headers: { 'content-type': 'text/plain' },
    body: 'The simulated region serves EC2 and IAM (Query protocol), SSM and KMS (awsJson1_1) requests only.',
  };
}

async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  // A view on the bytes: the SDK's JSON body is a Uint8Array subclass whose valueOf() warns.
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<string | Uint8Array>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8');
  }
  throw new Error('simulated region: unsupported request body type');
}

/** A smithy request handler that answers SDK requests from the region, in process. */
export type SimRequestHandler = RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> & {
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, never>;
};

/**
 * An in-process HTTP handler for the real SDK clients:
 * `new EC2Client({ region: 'us-east-1', requestHandler: createSimRequestHandler(region) })`,
 * and the same for `SSMClient`.
 */
export function createSimRequestHandler(region: SimulatedRegion): SimRequestHandler {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: HttpRequest) {
      const answer = route(region, {
        hostname: request.hostname,
        headers: request.headers,
        body: await bodyText(request.body),
      });
      const response: HttpResponse = {
        statusCode: answer.status,
        headers: { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) },
        body: Buffer.from(answer.body),
      };
      return { response };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };
}

/** A running HTTP endpoint for the region. */
export interface SimServer {
  /** `http://127.0.0.1:<port>`: pass as `endpoint`, or as `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_SSM`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the region over HTTP so SDK clients in other processes (or the CLI) can use it.
 * `afterEach` runs after each request is served and before it is answered (a runtime that keeps
 * the region on disk saves it there, so that no caller learns of a change a crash could lose).
 */
export function startSimServer(region: SimulatedRegion, options: { port?: number; host?: string; afterEach?: () => void } = {}): Promise<SimServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers as IncomingHttpHeaders).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
      let answer: WireResponse;
      try {
        answer = route(region, { hostname: req.headers.host, headers, body: Buffer.concat(chunks).toString('utf8') });
      } catch (error) {
        answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: String(error) };
      }
      options.afterEach?.();
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.closeAllConnections();
            server.close((error) => (error ? fail(error) : done()));
          }),
      });
    });
  });
}
