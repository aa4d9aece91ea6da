/**
 * The contracts of the idempotency, cool-down and admission stores: every implementation (memory,
 * DynamoDB) must pass these. Register them with `describeGuardStoreContracts(name, factory)`.
 */
import type { AdmissionStore, CooldownStore, IdempotencyRecord, IdempotencyStore } from '../../domain/ports';

export interface GuardStoreSet {
  idempotency: IdempotencyStore;
  cooldowns: CooldownStore;
  admission: AdmissionStore;
}

const T0 = new Date('2026-01-05T09:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function record(overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return {
    key: 'api#alice#k1',
    request: '{"instanceId":"i-0123456789abcdef0"}',
    jobId: 'r-job000001',
    createdAt: T0.toISOString(),
    expiresAt: at(3600).toISOString(),
    ...overrides,
  };
}

export function describeGuardStoreContracts(name: string, makeStores: () => Promise<GuardStoreSet>): void {
  describe(`guard store contracts: ${name}`, () => {
    let stores: GuardStoreSet;

    beforeEach(async () => {
      stores = await makeStores();
    });

    describe('idempotency', () => {
      it('claims a free key and reads it back', async () => {
        // Act
        const claimed = await stores.idempotency.claim(record(), T0);
        // Assess
        expect(claimed).toBe(true);
        expect(await stores.idempotency.get('api#alice#k1', at(1))).toEqual(record());
      });

      it('refuses a second claim of a held key, also for the same job', async () => {
        // Prepare
        await stores.idempotency.claim(record(), T0);
        // Act
        const second = await stores.idempotency.claim(record({ jobId: 'r-job000002' }), at(1));
        // Assess
        expect(second).toBe(false);
        expect((await stores.idempotency.get('api#alice#k1', at(1)))!.jobId).toBe('r-job000001');
      });

      it('hands a held key over only from the job it is told to replace', async () => {
        // Prepare
        await stores.idempotency.claim(record(), T0);
        // Act
        const wrong = await stores.idempotency.claim(record({ jobId: 'r-job000003' }), at(61), 'r-job000009');
        const right = await stores.idempotency.claim(record({ jobId: 'r-job000002' }), at(61), 'r-job000001');
        // Assess
        expect([wrong, right]).toEqual([false, true]);
        expect((await stores.idempotency.get('api#alice#k1', at(61)))!.jobId).toBe('r-job000002');
      });

      it('treats an expired record as absent, and lets it be claimed again', async () => {
        // Prepare
        await stores.idempotency.claim(record(), T0);
        // Act
        const read = await stores.idempotency.get('api#alice#k1', at(3600));
        const claimed = await stores.idempotency.claim(
          record({ jobId: 'r-job000002', createdAt: at(3600).toISOString(), expiresAt: at(7200).toISOString() }),
          at(3600),
        );
        // Assess
        expect(read).toBeUndefined();
        expect(claimed).toBe(true);
      });

      it('releases a key only for the job that holds it', async () => {
        // Prepare
        await stores.idempotency.claim(record(), T0);
        // Act
        await stores.idempotency.release('api#alice#k1', 'r-job000009');
        const kept = await stores.idempotency.get('api#alice#k1', at(1));
        await stores.idempotency.release('api#alice#k1', 'r-job000001');
        const released = await stores.idempotency.get('api#alice#k1', at(1));
        // Assess
        expect(kept).toBeDefined();
        expect(released).toBeUndefined();
      });

      it('keeps keys apart', async () => {
        // Prepare
        await stores.idempotency.claim(record(), T0);
        // Act
        const other = await stores.idempotency.claim(record({ key: 'api#bob#k1', jobId: 'r-job000002' }), T0);
        // Assess
        expect(other).toBe(true);
        expect((await stores.idempotency.get('api#alice#k1', T0))!.jobId).toBe('r-job000001');
      });
    });

    describe('cool-downs', () => {
      const instanceId = 'i-0123456789abcdef0';

      it('lets one of two claimants win while the cool-down runs, and anyone once it has run out', async () => {
        // Prepare
        const first = await stores.cooldowns.claim({ instanceId, claimant: 'event-1', until: at(600).toISOString() }, T0);
        // Act
        const during = await stores.cooldowns.claim({ instanceId, claimant: 'event-2', until: at(900).toISOString() }, at(300));
        const after = await stores.cooldowns.claim({ instanceId, claimant: 'event-3', until: at(1200).toISOString() }, at(600));
        // Assess
        expect([first, during, after]).toEqual([true, false, true]);
        expect(await stores.cooldowns.get(instanceId)).toEqual({ instanceId, claimant: 'event-3', until: at(1200).toISOString() });
      });

      it('lets the claimant write again (its start naming the job)', async () => {
        // Prepare
        await stores.cooldowns.claim({ instanceId, claimant: 'event-1', until: at(600).toISOString() }, T0);
        // Act
        const again = await stores.cooldowns.claim({ instanceId, claimant: 'event-1', until: at(700).toISOString(), jobId: 'r-job000001' }, at(100));
        // Assess
        expect(again).toBe(true);
        expect(await stores.cooldowns.get(instanceId)).toEqual({ instanceId, claimant: 'event-1', until: at(700).toISOString(), jobId: 'r-job000001' });
      });

      it('releases only for the claimant', async () => {
        // Prepare
        await stores.cooldowns.claim({ instanceId, claimant: 'event-1', until: at(600).toISOString() }, T0);
        // Act
        await stores.cooldowns.release(instanceId, 'event-2');
        const kept = await stores.cooldowns.get(instanceId);
        await stores.cooldowns.release(instanceId, 'event-1');
        // Assess
        expect(kept?.claimant).toBe('event-1');
        expect(await stores.cooldowns.get(instanceId)).toBeUndefined();
      });
    });

    describe('admission buckets', () => {
      it('writes a new bucket once, then only over the version read', async () => {
        // Act
        const created = await stores.admission.put('bucket', 1000, undefined);
        const createdTwice = await stores.admission.put('bucket', 2000, undefined);
        const stale = await stores.admission.put('bucket', 3000, 7);
        const next = await stores.admission.put('bucket', 4000, 1);
        // Assess
        expect([created, createdTwice, stale, next]).toEqual([true, false, false, true]);
        expect(await stores.admission.get('bucket')).toEqual({ tat: 4000, version: 2 });
        expect(await stores.admission.get('other')).toBeUndefined();
      });
    });
  });
}
