/**
 * What `npm start` (infra/local/start.ts) runs with, from its environment and arguments: the same
 * variables a deployment reads (`RESET_ACCESS_CONFIG`, `HELPER_INSTANCE_PROFILE`, `AWS_REGION`,
 * `SWEEPER_DRY_RUN`, through infra/wiring/config.ts), and the local ones (`PORT`, `SIM_SPEED`,
 * `RESET_ACCESS_DATA_DIR`, `RESET_ACCESS_SIM`, `STAGE`, `--fresh`). A bad value throws a message
 * naming the variable.
 */
import type { Log } from '../../domain/ports';
import { loadConfig } from '../wiring/config';
import type { LocalStackOptions } from './local-stack';

export function localStackOptions(env: NodeJS.ProcessEnv, argv: readonly string[], log: Log): LocalStackOptions {
  const number = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number of at least ${min}, got ${JSON.stringify(raw)}`);
    return value;
  };
  // Its messages name the variable at fault.
  const config = loadConfig(env);
  return {
    port: number('PORT', 3000, 0),
    dataDir: env.RESET_ACCESS_DATA_DIR || '.local',
    simSpeed: number('SIM_SPEED', 20, Number.MIN_VALUE),
    sim: env.RESET_ACCESS_SIM !== 'off',
    fresh: argv.includes('--fresh'),
    stage: env.STAGE || 'local',
    log,
    config,
  };
}
