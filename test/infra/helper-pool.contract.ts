/**
 * The HelperPoolStore contract (the warm pool of Windows helpers, domain/sweeper/helper-pool.ts): the memory
 * and DynamoDB records must both pass these. The factory answers an empty pool.
 */
import type { HelperPoolStore, PooledHelper } from '../../domain/ports';

const T0 = new Date('2026-01-05T09:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function slot(slotId: string, overrides: Partial<PooledHelper> = {}): PooledHelper {
  return { slotId, availabilityZone: 'us-east-1a', state: 'ready', instanceId: `i-0${slotId.padStart(16, '0')}`, createdAt: at(0).toISOString(), ...overrides };
}

export function describeHelperPoolContract(name: string, create: () => Promise<HelperPoolStore>): void {
  describe(`${name}: the HelperPoolStore contract`, () => {
    let pool: HelperPoolStore;

    beforeEach(async () => {
      pool = await create();
    });

    it('lists the slots added, and adds a slot id once', async () => {
      // Act
      await pool.add(slot('1', { state: 'launching', instanceId: undefined }));
      await pool.add(slot('2'));
      await pool.add(slot('2', { state: 'launching' }));
      // Assess
      const slots = (await pool.list()).sort((a, b) => a.slotId.localeCompare(b.slotId));
      expect(slots.map((s) => [s.slotId, s.state])).toEqual([
        ['1', 'launching'],
        ['2', 'ready'],
      ]);
    });

    it('changes a slot only while it is in the state the change expects, and forgets it likewise', async () => {
      // Prepare
      await pool.add(slot('1', { state: 'launching', instanceId: undefined }));
      // Act
      const launched = await pool.update('1', 'launching', { state: 'warming', instanceId: 'i-0aaaaaaaaaaaaaaaa' });
      const stale = await pool.update('1', 'launching', { state: 'warming', instanceId: 'i-0bbbbbbbbbbbbbbbb' });
      await pool.remove('1', 'ready');
      const kept = await pool.list();
      await pool.remove('1', 'warming');
      // Assess
      expect([launched, stale]).toEqual([true, false]);
      expect(kept).toEqual([expect.objectContaining({ slotId: '1', state: 'warming', instanceId: 'i-0aaaaaaaaaaaaaaaa' })]);
      expect(await pool.list()).toEqual([]);
    });

    it('gives a job the oldest ready helper of its zone, and the same one again when it asks again', async () => {
      // Prepare
      await pool.add(slot('1', { createdAt: at(2).toISOString() }));
      await pool.add(slot('2', { createdAt: at(1).toISOString() }));
      await pool.add(slot('3', { availabilityZone: 'us-east-1b', createdAt: at(0).toISOString() }));
      await pool.add(slot('4', { state: 'warming', createdAt: at(0).toISOString() }));
      // Act
      const first = await pool.claim('r-a', 'us-east-1a', at(5));
      const again = await pool.claim('r-a', 'us-east-1a', at(6));
      // Assess
      expect(first).toMatchObject({ slotId: '2', state: 'claimed', claimedBy: 'r-a', claimedAt: at(5).toISOString() });
      expect(again).toMatchObject({ slotId: '2', claimedBy: 'r-a' });
      expect((await pool.list()).filter((s) => s.state === 'claimed').map((s) => s.slotId)).toEqual(['2']);
    });

    it('never gives two jobs the same helper, and answers none when none is ready in the zone', async () => {
      // Prepare
      await pool.add(slot('1'));
      // Act
      const claims = await Promise.all(['r-a', 'r-b', 'r-c'].map((jobId) => pool.claim(jobId, 'us-east-1a', at(1))));
      const otherZone = await pool.claim('r-d', 'us-east-1b', at(1));
      // Assess
      expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
      expect(otherZone).toBeUndefined();
    });

    it('lets either a claim or a retirement of a ready helper win, never both', async () => {
      // Prepare
      await pool.add(slot('1'));
      // Act
      const [claimed, retired] = await Promise.all([pool.claim('r-a', 'us-east-1a', at(1)), pool.update('1', 'ready', { state: 'retiring' })]);
      // Assess
      expect([claimed !== undefined, retired].filter(Boolean)).toHaveLength(1);
    });
  });
}
