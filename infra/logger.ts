import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../domain/ports';

/** Structured JSON logs (Powertools). Context keys such as jobId, phase travel on every line. */
export function createLog(serviceName = 'reset-access', logger = new Logger({ serviceName })): Log {
  return {
    info: (message, context) => logger.info(message, context ?? {}),
    warn: (message, context) => logger.warn(message, context ?? {}),
    error: (message, context) => logger.error(message, context ?? {}),
  };
}

/** For harnesses that run thousands of phases: keeps nothing, says nothing. */
export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };
