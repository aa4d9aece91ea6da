/**
 * The simulated region's KMS, as much as the service asks of it: DescribeKey (awsJson1_1,
 * `X-Amz-Target: TrentService.DescribeKey`), answering from the region's key records.
 */
import { randomUUID } from 'node:crypto';
import type { WireResponse } from './ec2-query';
import type { SimulatedRegion } from './region';

export const KMS_TARGET_PREFIX = 'TrentService.';
const JSON_HEADERS = { 'content-type': 'application/x-amz-json-1.1' };

export function handleKmsJson(region: SimulatedRegion, target: string, body: string): WireResponse {
  const requestId = randomUUID();
  const answer = (status: number, value: unknown): WireResponse => ({
    status,
    headers: { ...JSON_HEADERS, 'x-amzn-requestid': requestId },
    body: JSON.stringify(value),
  });
  const action = target.slice(KMS_TARGET_PREFIX.length);
  if (action !== 'DescribeKey')
    return answer(400, { __type: 'UnknownOperationException', message: `The simulated KMS serves DescribeKey only, not ${action}` });
  let keyId: unknown;
  try {
    keyId = (JSON.parse(body || '{}') as { KeyId?: unknown }).KeyId;
  } catch {
    return answer(400, { __type: 'SerializationException', message: 'The request body is not valid JSON.' });
  }
  if (typeof keyId !== 'string' || keyId === '') return answer(400, { __type: 'ValidationException', message: 'KeyId is required' });
  const key = region.getKmsKey(keyId);
  if (!key) return answer(400, { __type: 'NotFoundException', message: `Key '${keyId}' does not exist` });
  return answer(200, {
    KeyMetadata: {
      AWSAccountId: region.config.accountId,
      KeyId: key.keyId,
      Arn: key.arn,
      Enabled: key.state === 'Enabled',
      KeyState: key.state,
      KeyManager: key.managed ? 'AWS' : 'CUSTOMER',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
    },
  });
}
