import { admissionIfFree, releaseAdmission, reserveAdmission, takeAdmissionIfFree } from '../../../domain/admission/admission';
import type { AdmissionStore } from '../../../domain/ports';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';

const T0 = Date.UTC(2026, 0, 5, 9);
const at = (ms: number) => new Date(T0 + ms);

describe('reserveAdmission', () => {
  it('admits the burst at once, then one per interval, each later arrival in order', async () => {
    // Prepare
    const store = new MemoryAdmissionStore();
    // Act
    const slots: number[] = [];
    for (let i = 0; i < 6; i++) slots.push((await reserveAdmission(store, 'b', at(0), { ratePerMinute: 30, burst: 3 })).getTime() - T0);
    // Assess: 30/min is one every 2 s.
    expect(slots).toEqual([0, 0, 0, 2000, 4000, 6000]);
  });

  it('refills with time: after a quiet spell the whole burst is there again, never more', async () => {
    // Prepare
    const store = new MemoryAdmissionStore();
    for (let i = 0; i < 3; i++) await reserveAdmission(store, 'b', at(0), { ratePerMinute: 60, burst: 3 });
    // Act
    const afterOneSecond = (await reserveAdmission(store, 'b', at(1000), { ratePerMinute: 60, burst: 3 })).getTime() - T0;
    const later = [];
    for (let i = 0; i < 4; i++) later.push((await reserveAdmission(store, 'b', at(60_000), { ratePerMinute: 60, burst: 3 })).getTime() - T0);
    // Assess
    expect(afterOneSecond).toBe(1000);
    expect(later).toEqual([60_000, 60_000, 60_000, 61_000]);
  });

  it('keeps buckets apart', async () => {
    // Prepare
    const store = new MemoryAdmissionStore();
    await reserveAdmission(store, 'a', at(0), { ratePerMinute: 1, burst: 1 });
    // Act
    const other = await reserveAdmission(store, 'b', at(0), { ratePerMinute: 1, burst: 1 });
    // Assess
    expect(other.getTime()).toBe(T0);
  });

  it('reads again after losing a race, so that two reservations never share a slot', async () => {
    // Prepare: a store where another reservation lands between our read and our write, once.
    const inner = new MemoryAdmissionStore();
    let raced = false;
    const racing: AdmissionStore = {
      get: (bucket) => inner.get(bucket),
      put: async (bucket, tat, expected) => {
        if (!raced) {
          raced = true;
          await reserveAdmission(inner, bucket, at(0), { ratePerMinute: 60, burst: 1 });
        }
        return inner.put(bucket, tat, expected);
      },
    };
    // Act
    const ours = await reserveAdmission(racing, 'b', at(0), { ratePerMinute: 60, burst: 1 });
    // Assess: the other took the slot at 0; ours is the next one.
    expect(ours.getTime() - T0).toBe(1000);
    expect((await inner.get('b'))!.tat).toBe(T0 + 2000);
  });

  it('refuses a policy without a positive rate', async () => {
    // Act
    const reserve = reserveAdmission(new MemoryAdmissionStore(), 'b', at(0), { ratePerMinute: 0, burst: 1 });
    // Assess
    await expect(reserve).rejects.toThrow(/positive rate/);
  });
});

describe('takeAdmissionIfFree', () => {
  it('admits the burst, then refuses with the time the next slot frees, taking nothing', async () => {
    // Prepare: 30 a minute is one every 2 s
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 30, burst: 2 };
    // Act
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await takeAdmissionIfFree(store, 'b', at(0), policy));
    // Assess: the refusals did not move the bucket
    expect(decisions).toEqual([{ admitted: true }, { admitted: true }, { admitted: false, retryAt: at(2000) }, { admitted: false, retryAt: at(2000) }]);
    expect((await store.get('b'))!.tat).toBe(T0 + 4000);
  });

  it('admits an arrival that comes back when it was told, even after many refusals', async () => {
    // Prepare
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 60, burst: 1 };
    await takeAdmissionIfFree(store, 'b', at(0), policy);
    for (let i = 0; i < 50; i++) await takeAdmissionIfFree(store, 'b', at(10 * i), policy);
    // Act
    const back = await takeAdmissionIfFree(store, 'b', at(1000), policy);
    const next = await takeAdmissionIfFree(store, 'b', at(1000), policy);
    // Assess
    expect(back).toEqual({ admitted: true });
    expect(next).toEqual({ admitted: false, retryAt: at(2000) });
  });
});

describe('releaseAdmission', () => {
  it('gives one slot back, so that the next arrival takes it', async () => {
    // Prepare: 30 a minute is one every 2 s; the burst of 2 is taken
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 30, burst: 2 };
    await takeAdmissionIfFree(store, 'b', at(0), policy);
    await takeAdmissionIfFree(store, 'b', at(0), policy);
    // Act
    await releaseAdmission(store, 'b', at(500), policy);
    const back = await takeAdmissionIfFree(store, 'b', at(500), policy);
    const next = await takeAdmissionIfFree(store, 'b', at(500), policy);
    // Assess
    expect(back).toEqual({ admitted: true });
    expect(next).toEqual({ admitted: false, retryAt: at(2000) });
  });

  it('never makes a bucket fuller than full', async () => {
    // Prepare: one slot taken, refilled by the time it is given back
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 30, burst: 2 };
    await takeAdmissionIfFree(store, 'b', at(0), policy);
    // Act
    await releaseAdmission(store, 'b', at(10_000), policy);
    await releaseAdmission(store, 'b', at(10_000), policy);
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await takeAdmissionIfFree(store, 'b', at(10_000), policy));
    // Assess: the burst, no more
    expect(decisions).toEqual([{ admitted: true }, { admitted: true }, { admitted: false, retryAt: at(12_000) }]);
  });
});

describe('releaseAdmission under contention', () => {
  it('gives back every slot of a whole burst released at once', async () => {
    // Prepare: the burst of 50 taken
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 60, burst: 50 };
    for (let i = 0; i < 50; i++) await takeAdmissionIfFree(store, 'b', at(0), policy);
    // Act: all released concurrently (each release that loses a race reads again)
    await Promise.all(Array.from({ length: 50 }, () => releaseAdmission(store, 'b', at(0), policy)));
    const decisions = [];
    for (let i = 0; i < 51; i++) decisions.push(await takeAdmissionIfFree(store, 'b', at(0), policy));
    // Assess
    expect(decisions.filter((d) => d.admitted)).toHaveLength(50);
  });
});

describe('admissionIfFree', () => {
  it('answers what a take would, taking nothing', async () => {
    // Prepare
    const store = new MemoryAdmissionStore();
    const policy = { ratePerMinute: 30, burst: 1 };
    const empty = await admissionIfFree(store, 'b', at(0), policy);
    await takeAdmissionIfFree(store, 'b', at(0), policy);
    const before = await store.get('b');
    // Act
    const full = await admissionIfFree(store, 'b', at(0), policy);
    // Assess
    expect(empty).toEqual({ admitted: true });
    expect(full).toEqual({ admitted: false, retryAt: at(2000) });
    expect(await store.get('b')).toEqual(before);
  });
});
