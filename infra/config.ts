import { defaultConfig, type ServiceConfig } from '../domain/config';
import type { PhaseName } from '../domain/job';

/**
 * The service's configuration from the environment; production and local differ only here.
 * `RESET_ACCESS_CONFIG` may hold a JSON object overriding any field of ServiceConfig (deadlines,
 * polling, quotas), e.g. `{"phaseDeadlineSeconds":{"run-rescue":1800}}`.
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
  };
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}
