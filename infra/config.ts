import { defaultApiAdmission, defaultConfig, type ServiceConfig } from '../domain/config';
import type { PhaseName } from '../domain/job';

/**
 * The service's configuration from the environment; production and local differ only here.
 * `RESET_ACCESS_CONFIG` may hold a JSON object overriding any field of ServiceConfig (deadlines,
 * polling, quotas, opt-in guards, admission), e.g. `{"phaseDeadlineSeconds":{"run-rescue":1800}}` or
 * `{"optIn":{"requireAllowedTag":true},"eventAdmission":{"ratePerMinute":30,"burst":20}}`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const overrides = env.RESET_ACCESS_CONFIG ? (JSON.parse(env.RESET_ACCESS_CONFIG) as Partial<ServiceConfig>) : {};
  return {
    ...defaultConfig,
    ...overrides,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? overrides.region ?? defaultConfig.region,
    helperInstanceProfile: env.HELPER_INSTANCE_PROFILE ?? overrides.helperInstanceProfile ?? defaultConfig.helperInstanceProfile,
    phaseDeadlineSeconds: { ...defaultConfig.phaseDeadlineSeconds, ...(overrides.phaseDeadlineSeconds ?? {}) } as Record<PhaseName, number>,
    pollSeconds: { ...defaultConfig.pollSeconds, ...(overrides.pollSeconds ?? {}) },
    throttleBackoff: { ...defaultConfig.throttleBackoff, ...(overrides.throttleBackoff ?? {}) },
    // One platform's helper image can be changed alone, e.g. {"helperImageParameter":{"windows":"/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-Base"}}.
    helperImageParameter: { ...defaultConfig.helperImageParameter, ...(overrides.helperImageParameter ?? {}) },
    rescueNetwork: { ...defaultConfig.rescueNetwork, ...(overrides.rescueNetwork ?? {}) },
    windowsFastPath: windowsFastPath({ ...defaultConfig.windowsFastPath, ...(overrides.windowsFastPath ?? {}) }),
    windowsHelperPool: windowsHelperPool({ ...defaultConfig.windowsHelperPool, ...(overrides.windowsHelperPool ?? {}) }),
    sweeper: { ...defaultConfig.sweeper, ...(overrides.sweeper ?? {}), dryRun: env.SWEEPER_DRY_RUN === 'true' || (overrides.sweeper?.dryRun ?? defaultConfig.sweeper.dryRun) },
    optIn: { ...defaultConfig.optIn, ...(overrides.optIn ?? {}) },
    eventAdmission: { ...defaultConfig.eventAdmission, ...(overrides.eventAdmission ?? {}) },
    // Unless set, the start rate follows how the account's buckets are shared (domain/config.ts).
    apiAdmission: { ...defaultApiAdmission(overrides.requestPacing?.scope ?? defaultConfig.requestPacing.scope), ...(overrides.apiAdmission ?? {}) },
    apiReadAdmission: { ...defaultConfig.apiReadAdmission, ...(overrides.apiReadAdmission ?? {}) },
    requestPacing: {
      ...defaultConfig.requestPacing,
      ...(overrides.requestPacing ?? {}),
      mutating: { ...defaultConfig.requestPacing.mutating, ...(overrides.requestPacing?.mutating ?? {}) },
      runStart: { ...defaultConfig.requestPacing.runStart, ...(overrides.requestPacing?.runStart ?? {}) },
    },
    online: { ...defaultConfig.online, ...(overrides.online ?? {}) },
    stopBatching: stopBatching({ ...defaultConfig.stopBatching, ...(overrides.stopBatching ?? {}) }),
  };
}

/** One StopInstances names at least one instance: a batch size below 1 is a mistake, not "off" (that is `enabled: false`). */
function stopBatching(value: ServiceConfig['stopBatching']): ServiceConfig['stopBatching'] {
  if (!Number.isInteger(value.maxInstances) || value.maxInstances < 1) {
    throw new Error(`RESET_ACCESS_CONFIG stopBatching.maxInstances must be a whole number of at least 1, got ${JSON.stringify(value.maxInstances)} (turn batching off with stopBatching.enabled false)`);
  }
  return value;
}

/** The Linux helper's image: an SSM parameter (`/…`) or an AMI id; RunInstances would refuse anything else only mid-job. */
function windowsFastPath(value: ServiceConfig['windowsFastPath']): ServiceConfig['windowsFastPath'] {
  if (typeof value.enabled !== 'boolean') throw new Error(`RESET_ACCESS_CONFIG windowsFastPath.enabled must be true or false, got ${JSON.stringify(value.enabled)}`);
  if (typeof value.helperImage !== 'string' || !/^(\/[A-Za-z0-9_.\-/]+|ami-[0-9a-f]{8,17})$/.test(value.helperImage)) {
    throw new Error(`RESET_ACCESS_CONFIG windowsFastPath.helperImage must be an SSM parameter name (/…) or an AMI id (ami-…), got ${JSON.stringify(value.helperImage)}`);
  }
  return value;
}

/** A pool of whole helpers in named zones. */
function windowsHelperPool(value: ServiceConfig['windowsHelperPool']): ServiceConfig['windowsHelperPool'] {
  if (!Number.isInteger(value.size) || value.size < 0) throw new Error(`RESET_ACCESS_CONFIG windowsHelperPool.size must be a whole number of at least 0, got ${JSON.stringify(value.size)}`);
  if (!Array.isArray(value.availabilityZones) || value.availabilityZones.some((zone) => typeof zone !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/.test(zone))) {
    throw new Error(`RESET_ACCESS_CONFIG windowsHelperPool.availabilityZones must be a list of zone names (us-east-1a…), got ${JSON.stringify(value.availabilityZones)}`);
  }
  if (typeof value.instanceType !== 'string' || value.instanceType === '') throw new Error(`RESET_ACCESS_CONFIG windowsHelperPool.instanceType must be an instance type, got ${JSON.stringify(value.instanceType)}`);
  return value;
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}
