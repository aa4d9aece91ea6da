import * as z from 'zod/mini';
import { defaultApiAdmission, defaultConfig, type ServiceConfig } from '../../domain/config';
import { PHASES } from '../../domain/pipeline/phases';
import { explainIssues, matching } from '../../domain/schema';

const seconds = z.number({ error: 'must be a number of seconds' }).check(z.nonnegative({ error: 'must be a number of seconds, 0 or more' }));
const atLeast = (min: number, hint = '') =>
  z.int({ error: `must be a whole number of at least ${min}${hint}` }).check(z.gte(min, { error: `must be a whole number of at least ${min}${hint}` }));
const positive = z.number({ error: 'must be a number above 0' }).check(z.positive({ error: 'must be a number above 0' }));
const text = z.string({ error: 'must be a non-empty string' }).check(z.minLength(1, { error: 'must be a non-empty string' }));
const flag = z.boolean({ error: 'must be true or false' });
const rate = z.strictObject({ ratePerMinute: positive, burst: positive });
const noPhase = `names no phase (phases: ${PHASES.join(', ')})`;
// A key outside the enum is reported as `unrecognized_keys`, which the record's issue type leaves out.
const perPhase = z.partialRecord(z.enum(PHASES), seconds, {
  error: (issue) => (['unrecognized_keys', 'invalid_key'].includes(issue.code) ? noPhase : undefined),
});

/**
 * Every field of ServiceConfig (domain/config.ts, where each is explained) with what a value must
 * be. RESET_ACCESS_CONFIG is read by its deep partial: any field may be left out, none may be
 * unknown (a misspelt setting must not be ignored silently).
 */
export const serviceConfigSchema = z.strictObject({
  region: text,
  deployment: text,
  helperInstanceProfile: text,
  helperImageParameter: z.strictObject({ linux: text, windows: text }),
  // The Windows fast path's Linux helper image: an SSM parameter or an AMI id (docs/ntfs-rescue.md#the-helper-image).
  windowsFastPath: z.strictObject({
    enabled: flag,
    helperImage: matching(/^(\/[A-Za-z0-9_.\-/]+|ami-[0-9a-f]{8,17})$/, 'must be an SSM parameter name (/…) or an AMI id (ami-…)'),
  }),
  windowsHelperPool: z.strictObject({
    size: atLeast(0),
    availabilityZones: z.array(matching(/^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/, 'must be a list of zone names (us-east-1a…)'), {
      error: 'must be a list of zone names (us-east-1a…)',
    }),
    instanceType: text,
  }),
  defaultHelperInstanceType: text,
  allowedHelperInstanceTypes: z.array(text).check(z.minLength(1, { error: 'must name at least one instance type' })),
  vpcQuota: atLeast(0),
  rescueNetwork: z.strictObject({
    access: z.enum(['internet-gateway', 'vpc-endpoints'], { error: 'must be "internet-gateway" or "vpc-endpoints"' }),
    idleSeconds: seconds,
    creationLockSeconds: seconds,
  }),
  sweeper: z.strictObject({
    graceSeconds: seconds,
    stalledAfterSeconds: seconds,
    jobDeadlineSeconds: seconds,
    maxWaitSeconds: seconds,
    pollSeconds: seconds,
    dryRun: flag,
  }),
  phaseDeadlineSeconds: perPhase,
  windowsLaunchDeadlineSeconds: seconds,
  stopEscalationSeconds: z.tuple([seconds, seconds], { error: 'must be two numbers of seconds' }),
  pollSeconds: z.strictObject({
    first: perPhase,
    defaultFirst: seconds,
    max: seconds,
    factor: z.number({ error: 'must be a number of at least 1' }).check(z.gte(1, { error: 'must be a number of at least 1' })),
    afterEvent: z.strictObject({ first: seconds, max: seconds }),
    helperAgentFirstLook: seconds,
    helperAgentMaxGap: seconds,
  }),
  throttleBackoff: z.strictObject({ baseSeconds: seconds, maxSeconds: seconds }),
  maxRetries: atLeast(0),
  orphanLockSeconds: seconds,
  inFlightSettleSeconds: seconds,
  rescueTimeoutSeconds: seconds,
  online: z.strictObject({
    deliveryTimeoutSeconds: seconds,
    executionTimeoutSeconds: seconds,
    attemptSeconds: seconds,
    windowsPasswordSeconds: seconds,
    windowsPasswordPollSeconds: seconds,
  }),
  optIn: z.strictObject({ requireAllowedTag: flag, requireAutoTagForEvents: flag }),
  access: z.optional(
    z.strictObject({
      tag: text,
      source: z.enum(['principal-tag', 'mapping'], { error: 'must be "principal-tag" or "mapping"' }),
      mapping: z.optional(z.array(z.strictObject({ principal: text, value: text }))),
    }),
  ),
  principalTagsCacheSeconds: seconds,
  alarmCooldownSeconds: seconds,
  eventAdmission: rate,
  apiAdmission: rate,
  apiReadAdmission: rate,
  requestPacing: z.strictObject({ scope: z.enum(['category', 'action'], { error: 'must be "category" or "action"' }), mutating: rate, runStart: rate }),
  // One StopInstances names at least one instance: a batch size below 1 is a mistake, not "off".
  stopBatching: z.strictObject({ enabled: flag, maxInstances: atLeast(1, ' (turn batching off with stopBatching.enabled false)') }),
  idempotencyTtlSeconds: seconds,
});

// The schema describes ServiceConfig exactly: a field added to one and not the other fails here.
type SchemaConfig = z.output<typeof serviceConfigSchema>;
const _sameFields: [never, never] = [] as unknown as [Exclude<keyof SchemaConfig, keyof ServiceConfig>, Exclude<keyof ServiceConfig, keyof SchemaConfig>];
const _assignable: ServiceConfig = {} as SchemaConfig;

const overridesSchema = z.deepPartial(serviceConfigSchema);
export type ConfigOverrides = z.output<typeof overridesSchema>;

/** RESET_ACCESS_CONFIG read by its schema; a bad one stops the function at load, naming each wrong field. */
export function readConfigOverrides(json: string | undefined): ConfigOverrides {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`RESET_ACCESS_CONFIG is not JSON: ${(error as Error).message}`);
  }
  const parsed = z.safeParse(overridesSchema, value);
  if (!parsed.success) throw new Error(`RESET_ACCESS_CONFIG: ${explainIssues(parsed.error.issues, 'the value')}`);
  return parsed.data;
}

/**
 * The service's configuration from the environment; production and local differ only here.
 * `RESET_ACCESS_CONFIG` may hold a JSON object overriding any field of ServiceConfig (deadlines,
 * polling, quotas, opt-in guards, admission), e.g. `{"phaseDeadlineSeconds":{"run-rescue":1800}}` or
 * `{"optIn":{"requireAllowedTag":true},"eventAdmission":{"ratePerMinute":30,"burst":20}}`. Nested
 * settings merge field by field over the defaults: one platform's helper image can be changed
 * alone, e.g. `{"helperImageParameter":{"windows":"/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-Base"}}`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const overrides = readConfigOverrides(env.RESET_ACCESS_CONFIG);
  // Unless set, the start rate follows how the account's buckets are shared (domain/config.ts).
  const apiAdmission = defaultApiAdmission(overrides.requestPacing?.scope ?? defaultConfig.requestPacing.scope);
  const config = mergeSettings({ ...defaultConfig, apiAdmission }, overrides);
  return {
    ...config,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? config.region,
    helperInstanceProfile: env.HELPER_INSTANCE_PROFILE ?? config.helperInstanceProfile,
    deployment: env.RESET_ACCESS_DEPLOYMENT ?? config.deployment,
    sweeper: { ...config.sweeper, dryRun: env.SWEEPER_DRY_RUN === 'true' || config.sweeper.dryRun },
    // The deployment's parameter wins: it also decides the roles' IAM condition (serverless.yml).
    optIn: {
      ...config.optIn,
      ...(env.RESET_ACCESS_REQUIRE_ALLOWED_TAG !== undefined ? { requireAllowedTag: env.RESET_ACCESS_REQUIRE_ALLOWED_TAG !== 'false' } : {}),
    },
  };
}

/** `overrides` over `base`: objects field by field, anything else (numbers, lists) replaced whole. */
function mergeSettings<T>(base: T, overrides: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return (overrides === undefined ? base : overrides) as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) merged[key] = mergeSettings(base[key], value);
  return merged as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}
