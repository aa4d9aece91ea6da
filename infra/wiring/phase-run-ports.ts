/**
 * The ports of one phase run (one SQS record): the same adapters, with a log that puts `jobId`,
 * `phase`, `attempt` and, once the job is loaded, `instanceId` on every line. The phase handler and
 * the in-process harness both run phases through this.
 */
import type { RunnerPorts } from '../../domain/pipeline/phase-runner';
import type { JobStore, PhaseMessage } from '../../domain/ports';
import { withLogContext } from '../observability/logger';

export function phaseRunPorts<P extends RunnerPorts>(ports: P, message: PhaseMessage): P {
  const keys: Record<string, unknown> = { jobId: message.jobId, phase: message.phase, attempt: message.attempt };
  // The runner's first act is loading the job: learn the instance from it.
  const store = new Proxy(ports.store, {
    get(target, property) {
      if (property === 'get') {
        return async (jobId: string) => {
          const job = await target.get(jobId);
          if (job && jobId === message.jobId) keys.instanceId = job.instanceId;
          return job;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as JobStore;
  return { ...ports, store, log: withLogContext(ports.log, keys) };
}
