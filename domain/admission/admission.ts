/**
 * Fleet admission: a token bucket of `burst` tokens refilled at `ratePerMinute`, kept in its
 * scheduling form (the generic cell rate algorithm) so that its whole state is one number, `tat`,
 * the time at which the bucket would be full again. With the emission interval T = 60 s / rate, an
 * arrival at `now` takes the next free slot:
 *
 *     admitAt = max(now, tat − (burst − 1)·T)        tat' = max(now, tat) + T
 *
 * `reserveAdmission` never refuses: a request over the rate gets a later slot and waits for it
 * (event-started resets are deferred to it; phases wait for their EC2 request slots the same way,
 * request-pacing.ts). A burst of N arrivals is admitted `burst` at once and then one every T, in
 * order. `takeAdmissionIfFree` is for callers that cannot wait (the API): over the rate it takes
 * nothing and says when to come back. `releaseAdmission` gives a taken slot back (a start that was
 * refused started nothing); `admissionIfFree` only looks.
 */
import type { AdmissionPolicy } from '../config';
import { RetryableError } from '../errors';
export type { AdmissionPolicy } from '../config';
import type { AdmissionStore } from '../ports';

/** The bucket every event-started reset shares (one per deployment: the account's EC2 buckets are shared too). */
export const EVENT_ADMISSION_BUCKET = 'event-starts';

/** The bucket every API-started reset shares (handlers/api-routes.ts, `POST /resets`). */
export const API_ADMISSION_BUCKET = 'api-starts';

/** The bucket API start requests that started nothing share: it paces the reads they cost (`apiReadAdmission`). */
export const API_READ_BUCKET = 'api-reads';

/** Reserves the next slot of `bucket`; answers when it comes (now, or later). */
export async function reserveAdmission(store: AdmissionStore, bucket: string, now: Date, policy: AdmissionPolicy, maxRaces = 25): Promise<Date> {
  const { interval, tolerance } = schedule(policy);
  const t = now.getTime();
  for (let race = 0; race < maxRaces; race++) {
    const state = await store.get(bucket);
    const tat = state?.tat ?? t;
    const admitAt = Math.max(t, tat - tolerance);
    // Written only over the version read: two reservations cannot take the same slot.
    if (await store.put(bucket, Math.max(t, tat) + interval, state?.version)) return new Date(admitAt);
  }
  throw new RetryableError('ADMISSION_CONTENDED', `admission bucket ${bucket} changed under ${maxRaces} reservations in a row`);
}

/** What `takeAdmissionIfFree` found: a slot taken now, or none free before `retryAt` (nothing taken). */
export type AdmissionDecision = { admitted: true } | { admitted: false; retryAt: Date };

/**
 * Takes a slot of `bucket` only if one is free at `now`; over the rate nothing is taken, and the
 * answer says when the next slot frees. For callers that cannot wait for a later slot (an HTTP
 * request): a refused arrival leaves the bucket as it was, so that refusals cost no capacity and a
 * caller that comes back at `retryAt` competes for a slot that really is free then.
 */
export async function takeAdmissionIfFree(
  store: AdmissionStore,
  bucket: string,
  now: Date,
  policy: AdmissionPolicy,
  maxRaces?: number,
): Promise<AdmissionDecision> {
  const { interval, tolerance } = schedule(policy);
  // Each race lost is a slot another arrival took: once the burst is taken every arrival is refused
  // after one read, so a burst of concurrent arrivals ends within about `burst` races.
  const races = maxRaces ?? Math.ceil(policy.burst) + 25;
  const t = now.getTime();
  for (let race = 0; race < races; race++) {
    const state = await store.get(bucket);
    const tat = state?.tat ?? t;
    const admitAt = tat - tolerance;
    if (admitAt > t) return { admitted: false, retryAt: new Date(admitAt) };
    // Written only over the version read: two arrivals cannot take the same slot.
    if (await store.put(bucket, Math.max(t, tat) + interval, state?.version)) return { admitted: true };
  }
  throw new RetryableError('ADMISSION_CONTENDED', `admission bucket ${bucket} changed under ${races} arrivals in a row`);
}

/**
 * Whether a slot of `bucket` is free at `now`, taking nothing (the same answer `takeAdmissionIfFree`
 * would give, without its write).
 */
export async function admissionIfFree(store: AdmissionStore, bucket: string, now: Date, policy: AdmissionPolicy): Promise<AdmissionDecision> {
  const { tolerance } = schedule(policy);
  const state = await store.get(bucket);
  const admitAt = (state?.tat ?? now.getTime()) - tolerance;
  return admitAt > now.getTime() ? { admitted: false, retryAt: new Date(admitAt) } : { admitted: true };
}

/**
 * Gives one slot back to `bucket`: `tat` moves one interval earlier, never before `now` (a bucket
 * cannot be fuller than full). Whatever others took meanwhile stays taken: one slot's worth of
 * capacity returns, not a particular slot. Written over the version read, like a take.
 */
export async function releaseAdmission(store: AdmissionStore, bucket: string, now: Date, policy: AdmissionPolicy, maxRaces?: number): Promise<void> {
  const { interval } = schedule(policy);
  // Those releasing at once hold slots they took: at most about `burst` of them, as for a take.
  const races = maxRaces ?? Math.ceil(policy.burst) + 25;
  const t = now.getTime();
  for (let race = 0; race < races; race++) {
    const state = await store.get(bucket);
    // Full already (the slot refilled while the request ran): nothing to give back.
    if (!state || state.tat <= t) return;
    if (await store.put(bucket, Math.max(t, state.tat - interval), state.version)) return;
  }
  throw new RetryableError('ADMISSION_CONTENDED', `admission bucket ${bucket} changed under ${races} releases in a row`);
}

/** The emission interval T and the tolerance (burst − 1)·T of a policy, in ms. */
function schedule(policy: AdmissionPolicy): { interval: number; tolerance: number } {
  if (!(policy.ratePerMinute > 0) || !(policy.burst >= 1))
    throw new Error(`admission policy needs a positive rate and a burst of at least 1, got ${JSON.stringify(policy)}`);
  const interval = 60_000 / policy.ratePerMinute;
  return { interval, tolerance: (Math.floor(policy.burst) - 1) * interval };
}
