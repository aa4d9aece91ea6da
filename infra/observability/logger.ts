import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../../domain/ports';
import { redactSecrets, redactText } from './redact';

/**
 * Structured JSON logs (Powertools). Every message and context passes through the secret redaction
 * on its way out. Context keys such as jobId, instanceId, phase travel on every line of a phase
 * run through {@link withLogContext}.
 */
export function createLog(logger = new Logger({ serviceName: 'reset-access' })): Log {
  return {
    info: (message, context) => logger.info(redactText(message), redactSecrets(context ?? {})),
    warn: (message, context) => logger.warn(redactText(message), redactSecrets(context ?? {})),
    error: (message, context) => logger.error(redactText(message), redactSecrets(context ?? {})),
  };
}

/**
 * A log that adds `keys` to every line (a line's own context wins on a clash). The keys are read at
 * each call, so a caller may fill them in as it learns them (the instance once the job is loaded).
 * Unlike Powertools' `appendKeys`, nothing is shared: records of one batch run concurrently.
 */
export function withLogContext(log: Log, keys: Record<string, unknown>): Log {
  return {
    info: (message, context) => log.info(message, { ...keys, ...context }),
    warn: (message, context) => log.warn(message, { ...keys, ...context }),
    error: (message, context) => log.error(message, { ...keys, ...context }),
  };
}

/** For harnesses that run thousands of phases: keeps nothing, says nothing. */
export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };
