import { randomUUID } from 'node:crypto';

import type { WireResponse } from './ec2-query';
import type { SimulatedRegion } from './region';
import { SimServiceError } from './sim-error';

/** The awsJson1_1 target prefix of Systems Manager (`X-Amz-Target: AmazonSSM.SendCommand`). */
export const SSM_TARGET_PREFIX = 'AmazonSSM.';

const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.1' };

/** awsJson1_1 writes timestamps as epoch seconds. */
function withEpochSeconds(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}

function errorResponse(error: SimServiceError, requestId: string): WireResponse {
  return {
    status: error.status,
    headers: { ...JSON_HEADERS, 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: error.code, message: error.message }),
  };
}

/** Serves one Systems Manager request (awsJson1_1: target header, JSON body). */
export function handleSsmJson(region: SimulatedRegion, target: string, body: string): WireResponse {
  const requestId = randomUUID();
  try {
    if (!target.startsWith(SSM_TARGET_PREFIX)) {
      throw new SimServiceError('UnknownOperationException', `Unknown target ${target}`);
    }
    let input: unknown;
    try {
      input = body.trim() ? JSON.parse(body) : {};
    } catch {
      throw new SimServiceError('SerializationException', 'The request body is not valid JSON.');
    }
    const output = region.invoke('ssm', target.slice(SSM_TARGET_PREFIX.length), input, requestId);
    return {
      status: 200,
      headers: { ...JSON_HEADERS, 'x-amzn-requestid': requestId },
      body: JSON.stringify(output ?? {}, withEpochSeconds),
    };
  } catch (error) {
    if (error instanceof SimServiceError) return errorResponse(error, requestId);
    const message = error instanceof Error ? error.message : String(error);
    return errorResponse(new SimServiceError('InternalServerError', message, 500), requestId);
  }
}
