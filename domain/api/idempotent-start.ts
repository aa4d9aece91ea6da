/**
 * A start that may be asked for more than once: an API call with an `Idempotency-Key`, or an
 * event delivered twice. The key is recorded, with the request and the id the job will get,
 * *before* the job is written; a repeat then answers the same job, and a key reused for another
 * request is refused. No transaction: one conditional write per step.
 */
import { RefusedError, RetryableError } from '../errors';
import type { Job, ResetRequest } from '../job/job';
import type { EntryPoint } from '../preflight/opt-in';
import type { IdempotencyRecord, IdempotencyStore } from '../ports';
import { refuseWhileActive, startReset, type StartPorts } from './start-reset';

export interface IdempotentStartPorts extends StartPorts {
  idempotency: IdempotencyStore;
}

/**
 * A start holds its key without a job for as long as it runs: at most the API's timeout (29 s,
 * serverless.yml). A record older than this whose job never appeared belongs to a start that died
 * between the claim and the job's write, and may be taken over.
 */
export const START_LEASE_SECONDS = 60;

/** The request as a fingerprint: canonical JSON (sorted keys), defaults filled in by parsing. */
export function requestFingerprint(request: ResetRequest): string {
  const entries = Object.entries(request).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

export async function startResetIdempotently(
  request: ResetRequest,
  ports: IdempotentStartPorts,
  key: string,
  options: { requestedBy?: string; entry?: EntryPoint } = {},
): Promise<{ job: Job; replayed: boolean }> {
  const fingerprint = requestFingerprint(request);
  for (let race = 0; race < 5; race++) {
    const now = ports.clock.now();
    const existing = await ports.idempotency.get(key, now);
    let replacing: string | undefined;
    if (existing) {
      const job = await recordedJob(existing, fingerprint, ports);
      if (job) return { job, replayed: true };
      if (now.getTime() - Date.parse(existing.createdAt) < START_LEASE_SECONDS * 1000) {
        throw new RefusedError('IDEMPOTENCY_KEY_IN_USE', 'Idempotency-Key: a request with this key is still being processed; retry in a few seconds', 409);
      }
      replacing = existing.jobId;
    }
    const jobId = ports.ids.jobId();
    const expiresAt = new Date(now.getTime() + ports.config.idempotencyTtlSeconds * 1000).toISOString();
    const claimed = await ports.idempotency.claim({ key, request: fingerprint, jobId, createdAt: now.toISOString(), expiresAt }, now, replacing);
    if (!claimed) continue; // another request took the key meanwhile: look at what it recorded
    try {
      return { job: await startReset(request, ports, options.requestedBy, { jobId, entry: options.entry }), replayed: false };
    } catch (error) {
      // Refused (or failed) before its job was written: free the key so that a retry is judged
      // afresh. Once the job exists the key stays with it, whatever failed after.
      const written = await ports.store.get(jobId).catch(() => 'unknown' as const);
      if (written === undefined) await ports.idempotency.release(key, jobId).catch(() => undefined);
      throw error;
    }
  }
  throw new RetryableError('IDEMPOTENCY_CONTENDED', `Idempotency-Key ${key} changed hands too often; retry`);
}

/**
 * What a start request is answered without a start: a repeat of a recorded key, its job (422 for
 * the key reused with another request); an instance with an active reset, 409 naming the job.
 * `undefined` when it needs a start. The API asks this before it admits a start, so that in a burst
 * a client's retry or a duplicate hears about the job, not `429` (and then, once the job has ended,
 * a reset of its own). It reads the job table only.
 */
export async function answerWithoutStart(request: ResetRequest, ports: IdempotentStartPorts, requestedBy?: string, key?: string): Promise<Job | undefined> {
  const existing = key === undefined ? undefined : await ports.idempotency.get(key, ports.clock.now());
  // A recorded key whose job is not written yet is still being started: the keyed start judges it.
  if (existing) return recordedJob(existing, requestFingerprint(request), ports);
  await refuseWhileActive(request.instanceId, ports, requestedBy);
  return undefined;
}

async function recordedJob(existing: IdempotencyRecord, fingerprint: string, ports: IdempotentStartPorts): Promise<Job | undefined> {
  if (existing.request !== fingerprint) {
    throw new RefusedError('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key: this key was already used with a different request', 422);
  }
  return ports.store.get(existing.jobId);
}
