/**
 * The local API server's own limit: a body over MAX_BODY_BYTES is answered 413 with the API's
 * error body as soon as the server has read that much, without waiting for (or reading) the rest.
 * And the caller it records: the `x-reset-access-caller` header's ARN, else the local user.
 */
import { request, type IncomingMessage } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../../../handlers/api-routes';
import { json } from '../../../handlers/http';
import { startApiServer } from '../../../infra/local/api-server';

let server: Server;
const routed: APIGatewayProxyEventV2[] = [];

beforeAll(async () => {
  server = await startApiServer(
    async (event) => {
      routed.push(event);
      return json(200, { length: event.body?.length ?? 0 });
    },
    { port: 0 },
  );
});

afterAll(async () => {
  // A request left open by a failing test must not keep the suite waiting.
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  routed.length = 0;
});

/** Sends `chunks` as the body (chunked unless `contentLength`), ending it only if `end`; resolves with the answer. */
function post(
  chunks: Buffer[],
  options: { end: boolean; contentLength?: number },
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/resets', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    // The server may close the connection while the client still writes: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(error.code ?? '') ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    if (options.end) req.end();
  });
}

describe('the local API server', () => {
  it('passes a body at the limit to the route', async () => {
    // Act
    const answer = await post([Buffer.alloc(MAX_BODY_BYTES, 'x')], { end: true });
    // Assess
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ length: MAX_BODY_BYTES });
  });

  it('answers 413 itself for a body over the limit: the route never gets it', async () => {
    // Act
    const answer = await post([Buffer.alloc(MAX_BODY_BYTES, 'x'), Buffer.from('xx')], { end: true });
    // Assess
    expect(answer.status).toBe(413);
    expect(routed).toEqual([]);
  });

  it('answers 413 with the error body once it has read past the limit, before the body ends', async () => {
    // Act: the body is never ended; an answer can only come from the server stopping at the limit
    const answer = await post([Buffer.alloc(MAX_BODY_BYTES, 'x'), Buffer.from('xx')], { end: false });
    // Assess
    expect(answer.status).toBe(413);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toEqual({
      code: 'BODY_TOO_LARGE',
      message: `body: larger than ${MAX_BODY_BYTES} bytes`,
      requestId: answer.headers['x-request-id'],
    });
    expect(routed).toEqual([]);
  });

  it('answers 413 for a declared length over the limit without reading the body', async () => {
    // Act: 100 MB declared, one byte sent
    const answer = await post([Buffer.from('{')], { end: false, contentLength: 100 * 1024 * 1024 });
    // Assess
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('BODY_TOO_LARGE');
    expect(routed).toEqual([]);
  });

  it('records the caller the x-reset-access-caller header names, and the local user without it', async () => {
    // Prepare
    const { port } = server.address() as AddressInfo;
    const get = (headers: Record<string, string>) =>
      new Promise<void>((resolve, reject) =>
        request({ host: '127.0.0.1', port, method: 'GET', path: '/resets', headers }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
          .end(),
      );
    // Act
    await get({ 'x-reset-access-caller': 'arn:aws:sts::123456789012:assumed-role/team-a-operator/alice' });
    await get({});
    // Assess
    const callers = routed.map((event) => (event.requestContext as unknown as { authorizer: { iam: { userArn: string } } }).authorizer.iam.userArn);
    expect(callers).toEqual(['arn:aws:sts::123456789012:assumed-role/team-a-operator/alice', 'arn:aws:iam::000000000000:user/local']);
  });
});
