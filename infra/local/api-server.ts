/**
 * The local stand-in for API Gateway's HTTP API: turns a Node request into a payload-v2 event for
 * the same routes the Lambda serves. No IAM auth locally: the caller is recorded as `local`, or as
 * the ARN in the `x-reset-access-caller` header (the CLI's `--as`), so that an access rule can be
 * tried. Only this server reads that header: deployed, API Gateway's IAM authoriser names the
 * caller in `requestContext`, and the routes never look at the header.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../../handlers/api-routes';
import type { ErrorBody, HttpResponse } from '../../handlers/http';

/** Names the caller on the local stack only (see above). */
export const LOCAL_CALLER_HEADER = 'x-reset-access-caller';

/** A page of the local stack only (not a route of the deployed API): its HTML for a GET of its path. */
export type LocalPage = (query: URLSearchParams) => Promise<string>;

export function startApiServer(
  route: (event: APIGatewayProxyEventV2) => Promise<HttpResponse>,
  options: { port: number; host?: string; pages?: Record<string, LocalPage> },
): Promise<Server> {
  let requestCount = 0;
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = `local-${Date.now().toString(36)}-${++requestCount}`;
    // A body over the limit is refused as soon as it is known to be, without reading on: no client
    // can make the local stack hold more than MAX_BODY_BYTES of a request, or wait for its end.
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return refuseTooLarge(req, res, requestId);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(c);
      refused = true;
      chunks.length = 0;
      refuseTooLarge(req, res, requestId);
    });
    req.on('end', () => {
      if (refused) return;
      const url = new URL(req.url ?? '/', 'http://localhost');
      const page = req.method === 'GET' ? options.pages?.[url.pathname] : undefined;
      if (page) return servePage(page, url.searchParams, res);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : (v ?? '')]));
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
        body: chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined,
        isBase64Encoded: false,
        requestContext: {
          accountId: '000000000000',
          apiId: 'local',
          domainName: 'localhost',
          domainPrefix: 'localhost',
          http: {
            method: req.method ?? 'GET',
            path: url.pathname,
            protocol: 'HTTP/1.1',
            sourceIp: req.socket.remoteAddress ?? '',
            userAgent: headers['user-agent'] ?? '',
          },
          requestId,
          routeKey: '$default',
          stage: '$default',
          time: new Date().toISOString(),
          timeEpoch: Date.now(),
          authorizer: { iam: { userArn: headers[LOCAL_CALLER_HEADER] || 'arn:aws:iam::000000000000:user/local' } },
        },
      } as unknown as APIGatewayProxyEventV2;
      route(event).then(
        (response) => {
          res.writeHead(response.statusCode, response.headers as Record<string, string>);
          res.end(response.body);
        },
        (error: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'INTERNAL', message: error.message }));
        },
      );
    });
  };
  const server = createServer(serve);
  // A client that asks before sending (`Expect: 100-continue`, curl does over 1 MB) is told to go
  // on only if its declared body is within the limit; otherwise it gets the 413 and sends nothing.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers['content-length']) > MAX_BODY_BYTES)) res.writeContinue();
    serve(req, res);
  });
  return new Promise((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', () => resolve(server)));
}

function servePage(page: LocalPage, query: URLSearchParams, res: ServerResponse): void {
  page(query).then(
    (html) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    },
    (error: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`the page failed: ${error.message}`);
    },
  );
}

/**
 * 413 with the API's error body (the same the route answers for a body it was given whole), then
 * the connection closes: the rest of the body is never read.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, requestId: string): void {
  req.pause();
  const body: ErrorBody = { code: 'BODY_TOO_LARGE', message: `body: larger than ${MAX_BODY_BYTES} bytes`, requestId };
  res.writeHead(413, { 'content-type': 'application/json', 'x-request-id': requestId, connection: 'close' });
  res.end(JSON.stringify(body));
}
