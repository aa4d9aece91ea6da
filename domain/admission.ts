/**
 * Fleet admission of event-started resets: a token bucket of `burst` tokens refilled at
 * `ratePerMinute`, kept in its scheduling form (the generic cell rate algorithm) so that its whole
 * state is one number, `tat`, the time at which the bucket would be full again. With the emission
 * interval T = 60 s / rate, an arrival at `now` takes the next free slot:
 *
 *     admitAt = max(now, tat − (burst − 1)·T)        tat' = max(now, tat) + T
 *
 * A request over the rate is never refused: it gets a later slot and waits for it (the caller
 * defers it). A burst of N arrivals is admitted `burst` at once and then one every T, in order.
 */
import { RetryableError } from './errors';
import type { AdmissionStore } from './ports';

export interface AdmissionPolicy {
  ratePerMinute: number;
  burst: number;
}

/** The bucket every event-started reset shares (one per deployment: the account's EC2 buckets are shared too). */
export const EVENT_ADMISSION_BUCKET = 'event-starts';

/** Reserves the next slot of `bucket`; answers when it comes (now, or later). */
export async function reserveAdmission(store: AdmissionStore, bucket: string, now: Date, policy: AdmissionPolicy, maxRaces = 25): Promise<Date> {
  if (!(policy.ratePerMinute > 0) || !(policy.burst >= 1)) throw new Error(`admission policy needs a positive rate and a burst of at least 1, got ${JSON.stringify(policy)}`);
  const interval = 60_000 / policy.ratePerMinute;
  const tolerance = (Math.floor(policy.burst) - 1) * interval;
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
