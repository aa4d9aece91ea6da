import type { ServiceConfig } from './config';
import type { PhaseName } from './job';

/**
 * Delay before a phase looks again: the phase's first delay, growing by `factor` per attempt up to
 * `max`. A small deterministic jitter (from the job id) spreads a fleet's polls so that hundreds of
 * jobs started together do not poll AWS in lockstep.
 */
export function pollDelaySeconds(config: ServiceConfig, phase: PhaseName, attempt: number, jobId: string): number {
  const first = config.pollSeconds.first[phase] ?? config.pollSeconds.defaultFirst;
  const base = Math.min(config.pollSeconds.max, first * config.pollSeconds.factor ** Math.max(0, attempt));
  const jitter = 1 + (hash(jobId) % 21 - 10) / 100; // ±10 %
  return Math.max(1, Math.round(base * jitter));
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}
