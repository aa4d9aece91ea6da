/**
 * The EC2 Query protocol endpoint of the simulated region: form-encoded requests
 * (`Action=…&Version=2016-11-15&InstanceId.1=…`) in, XML responses with EC2's wire names out, and
 * errors as EC2's `<Response><Errors>…` document. Request and response shapes are written out per
 * action in `ec2-query-requests.ts` and `ec2-query-responses.ts`, checked against the EC2 API
 * reference and the SDK's own schemas (`@aws-sdk/client-ec2`).
 */
import { randomUUID } from 'node:crypto';

import { isEc2Action, type Ec2Action } from './actions';
import { compact, decoders, QueryReader } from './ec2-query-requests';
import { encoders, escapeXml, type Xml } from './ec2-query-responses';
import type { SimulatedRegion } from './region';
import { SimServiceError } from './sim-error';

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const XML_HEADERS = { 'content-type': 'text/xml;charset=UTF-8' };

function errorResponse(error: SimServiceError, requestId: string): WireResponse {
  return {
    status: error.status,
    headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Response><Errors><Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error></Errors>` +
      `<RequestID>${requestId}</RequestID></Response>`,
  };
}

/** Serves one EC2 Query request body (`application/x-www-form-urlencoded`). */
export function handleEc2Query(region: SimulatedRegion, body: string): WireResponse {
  const requestId = randomUUID();
  const params = new Map(new URLSearchParams(body));
  const action = params.get('Action') ?? '';
  try {
    const q = new QueryReader(params);
    // An unknown action still goes to the region, which records the call and answers InvalidAction.
    const input = isEc2Action(action)
      ? compact({ ...(decoders[action] as (q: QueryReader) => object)(q), DryRun: q.bool('DryRun') })
      : Object.fromEntries(params);
    const output = region.invoke('ec2', action, input, requestId);
    const inner = (encoders[action as Ec2Action] as (o: unknown) => Xml)(output);
    return {
      status: 200,
      headers: { ...XML_HEADERS, 'x-amzn-requestid': requestId },
      body: '<?xml version="1.0" encoding="UTF-8"?>\n' + `<${action}Response xmlns="${XMLNS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`,
    };
  } catch (error) {
    if (error instanceof SimServiceError) return errorResponse(error, requestId);
    const message = error instanceof Error ? error.message : String(error);
    return errorResponse(new SimServiceError('InternalError', `An internal error has occurred: ${message}`, 500), requestId);
  }
}
