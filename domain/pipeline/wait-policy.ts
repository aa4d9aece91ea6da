import type { ServiceConfig } from '../config';
import type { PhaseName } from '../job/job';

/**
 * Delay before a phase looks again: the phase's first delay (`firstPollSeconds`, phase.ts), growing
 * by `factor` per attempt up to `max`. A small deterministic jitter (from the job id) spreads a
 * fleet's polls so that hundreds of jobs started together do not poll AWS in lockstep.
 */
export function pollDelaySeconds(config: ServiceConfig, first: number, attempt: number, jobId: string): number {
  const base = Math.min(config.pollSeconds.max, first * config.pollSeconds.factor ** Math.max(0, attempt));
  return jittered(base, jobId);
}

/**
 * Delay before a phase re-checks a wait that an AWS event ends (`waitForEvent`): the event wakes the
 * phase long before, so this only bounds how late a lost event makes the job.
 */
export function afterEventDelaySeconds(config: ServiceConfig, attempt: number, jobId: string): number {
  const { first, max } = config.pollSeconds.afterEvent;
  return jittered(Math.min(max, first * config.pollSeconds.factor ** Math.max(0, attempt)), jobId);
}

/**
 * Delay after the `throttles`-th throttled call in a row: "full jitter" (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"), uniform in (0, min(max, base · 2^throttles)], at least 1 s.
 * The draw is a hash of job, phase and attempt, so that a fleet spreads out and a test repeats.
 */
export function throttleDelaySeconds(config: ServiceConfig, throttles: number, jobId: string, phase: PhaseName, attempt: number): number {
  const { baseSeconds, maxSeconds } = config.throttleBackoff;
  const ceiling = Math.min(maxSeconds, baseSeconds * 2 ** Math.max(1, throttles));
  const draw = fnv1a(`${jobId}:${phase}:${attempt}`) / 2 ** 32;
  return Math.max(1, Math.ceil(draw * ceiling));
}

function jittered(base: number, jobId: string): number {
  const jitter = 1 + ((hash(jobId) % 21) - 10) / 100; // ±10 %
  return Math.max(1, Math.round(base * jitter));
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

/** FNV-1a, 32 bits: well spread over the whole range, for draws. */
function fnv1a(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
