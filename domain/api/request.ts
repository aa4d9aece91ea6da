/**
 * The start request, as `POST /resets` takes it and a `Reset Access Requested` event carries it
 * as `detail`: one schema gives its checks, its defaults, its type (`ResetRequest`, stored on the
 * job) and the message of each refusal, which names the field. docs/openapi.yaml's `StartRequest`
 * is checked against it (test/docs/openapi-agreement.test.ts).
 */
import * as z from 'zod/mini';
import { RefusedError } from '../errors';
import { KMS_KEY_ID, LINUX_USER_NAME, LINUX_USER_NAME_MAX, LINUX_USER_NAME_MESSAGE, MAX_PUBLIC_KEY_LINE, parseKeyRequest } from '../key-placement';

const PUBLIC_KEY_MESSAGE = 'must be one OpenSSH public key line (the content of a .pub file)';
import { matching, parseInput, strictObject } from '../schema';

export const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;
/** `CreateNewVPC`, `SelectedInstanceSubnet` or a subnet id (the runbook's `SubnetId` input). */
const SUBNET_CHOICE = /^(CreateNewVPC|SelectedInstanceSubnet|subnet-[0-9a-f]{8}([0-9a-f]{9})?)$/;

/** Online (no stop), offline (the volume swap) or `auto` (absent: auto), see reset-mode.ts. */
export const RESET_MODES = ['auto', 'online', 'offline'] as const;
export type ResetMode = (typeof RESET_MODES)[number];
export const KEY_TYPES = ['ed25519', 'rsa'] as const;

/** How the caller wants the helper networked (the runbook's `SubnetId` input). */
export type SubnetChoice = 'CreateNewVPC' | 'SelectedInstanceSubnet' | `subnet-${string}`;

// The pattern admits exactly the SubnetChoice strings; the type says so.
const subnetChoice = matching(SUBNET_CHOICE, 'must be "CreateNewVPC", "SelectedInstanceSubnet" or a subnet id like subnet-0123456789abcdef0') as z.ZodMiniType<
  SubnetChoice,
  string
>;

export const instanceIdSchema = matching(INSTANCE_ID, 'must be an instance id like i-0123456789abcdef0');

const oneOf = (values: readonly string[]) =>
  `must be ${values
    .map((v) => `"${v}"`)
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1')}`;

/** The settings a request's helper type is checked against (ServiceConfig's). */
export interface HelperTypes {
  defaultHelperInstanceType: string;
  allowedHelperInstanceTypes: readonly string[];
}

/** The start request's schema; the helper types allowed and the default one are the deployment's. */
export function startRequestSchema(config: HelperTypes) {
  return strictObject({
    instanceId: instanceIdSchema,
    subnet: z._default(subnetChoice, 'CreateNewVPC'),
    helperInstanceType: z._default(
      z.enum(config.allowedHelperInstanceTypes, { error: `must be one of ${config.allowedHelperInstanceTypes.join(', ')}` }),
      config.defaultHelperInstanceType,
    ),
    allowInstanceStoreLoss: z._default(z.boolean({ error: 'must be true or false' }), false),
    keyType: z._default(z.enum(KEY_TYPES, { error: oneOf(KEY_TYPES) }), 'ed25519'),
    mode: z.optional(z.enum(RESET_MODES, { error: oneOf(RESET_MODES) })),
    // Linux only (key-placement.ts checks the rest: the key line itself, the pairs that exclude each other).
    user: z.optional(matching(LINUX_USER_NAME, LINUX_USER_NAME_MESSAGE).check(z.maxLength(LINUX_USER_NAME_MAX, { error: LINUX_USER_NAME_MESSAGE }))),
    publicKey: z.optional(
      z
        .string({ error: PUBLIC_KEY_MESSAGE })
        .check(z.maxLength(MAX_PUBLIC_KEY_LINE, { error: `${PUBLIC_KEY_MESSAGE}, at most ${MAX_PUBLIC_KEY_LINE} characters` })),
    ),
    kmsKeyId: z.optional(matching(KMS_KEY_ID, 'must be a KMS key id, key ARN, alias name (alias/…) or alias ARN')),
  });
}

/** A start request with its defaults filled in, as the job keeps it. */
export type ResetRequest = z.output<ReturnType<typeof startRequestSchema>>;

const schemas = new WeakMap<HelperTypes, ReturnType<typeof startRequestSchema>>();

/** Reads a start request; a bad one is refused (400 INVALID_REQUEST) with every wrong field named. */
export function parseResetRequest(body: unknown, config: HelperTypes): ResetRequest {
  let schema = schemas.get(config);
  if (!schema) schemas.set(config, (schema = startRequestSchema(config)));
  const parsed = parseInput(schema, body);
  if (!parsed.ok) throw new RefusedError('INVALID_REQUEST', parsed.message, 400);
  parseKeyRequest(parsed.value);
  return parsed.value;
}
