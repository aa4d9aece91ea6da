/**
 * What every function's Lambda entry point is wrapped in: middy with Powertools' Lambda context
 * (`injectLambdaContext`), so that every line a function logs carries the invocation's request id,
 * the function's name and version and whether it was a cold start. Concurrent invocations write
 * to one log group: the request id is what picks one invocation's lines out of it.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/** The one Powertools logger of a function's process: the ports log through it (infra/observability/logger.ts createLog). */
export const lambdaLogger = new Logger({ serviceName: 'reset-access' });

export function lambdaEntry<Event, Result>(handler: (event: Event, context: Context) => Promise<Result>) {
  return middy(handler).use(injectLambdaContext(lambdaLogger));
}
