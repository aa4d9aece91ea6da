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
    windowsFastPath: { ...defaultConfig.windowsFastPath, ...(overrides.windowsFastPath ?? {}) },
    windowsHelperPool: { ...defaultConfig.windowsHelperPool, ...(overrides.windowsHelperPool ?? {}) },
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

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}
