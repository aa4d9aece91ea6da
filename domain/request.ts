import type { ServiceConfig } from './config';
import { RefusedError } from './errors';
import { KEY_REQUEST_FIELDS, parseKeyRequest } from './key-placement';
import type { ResetRequest, SubnetChoice } from './job';
import { RESET_MODES, type ResetMode } from './reset-mode';

export const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;
const FIELDS = new Set(['instanceId', 'subnet', 'helperInstanceType', 'allowInstanceStoreLoss', 'keyType', 'mode', ...KEY_REQUEST_FIELDS]);

function bad(field: string, message: string): RefusedError {
  return new RefusedError('INVALID_REQUEST', `${field}: ${message}`, 400);
}

/** Checks a start request's shape; every message names the field it is about. */
export function parseResetRequest(body: unknown, config: ServiceConfig): ResetRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body', 'must be a JSON object');
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!FIELDS.has(key)) throw bad(key, 'unknown field');
  const { instanceId, subnet = 'CreateNewVPC', helperInstanceType = config.defaultHelperInstanceType } = input;
  const { allowInstanceStoreLoss = false, keyType = 'ed25519' } = input;
  if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId)) throw bad('instanceId', 'must be an instance id like i-0123456789abcdef0');
  if (typeof subnet !== 'string' || !(subnet === 'CreateNewVPC' || subnet === 'SelectedInstanceSubnet' || SUBNET_ID.test(subnet))) {
    throw bad('subnet', 'must be "CreateNewVPC", "SelectedInstanceSubnet" or a subnet id like subnet-0123456789abcdef0');
  }
  if (typeof helperInstanceType !== 'string' || !config.allowedHelperInstanceTypes.includes(helperInstanceType)) {
    throw bad('helperInstanceType', `must be one of ${config.allowedHelperInstanceTypes.join(', ')}`);
  }
  if (typeof allowInstanceStoreLoss !== 'boolean') throw bad('allowInstanceStoreLoss', 'must be true or false');
  if (keyType !== 'ed25519' && keyType !== 'rsa') throw bad('keyType', 'must be "ed25519" or "rsa"');
  const { mode } = input;
  if (mode !== undefined && !RESET_MODES.includes(mode as ResetMode)) throw bad('mode', 'must be "auto", "online" or "offline"');
  const key = parseKeyRequest(input);
  return { instanceId, subnet: subnet as SubnetChoice, helperInstanceType, allowInstanceStoreLoss, keyType, ...(mode !== undefined ? { mode: mode as ResetMode } : {}), ...key };
}
