/**
 * The RescueNetworkLeases contract: the memory and DynamoDB records must both pass these. Register
 * them with `describeRescueNetworkLeasesContract(name, factory)`; the factory answers an empty one.
 */
import type { RescueNetworkLeases } from '../../domain/ports';

const T0 = new Date('2026-01-05T09:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

export function describeRescueNetworkLeasesContract(name: string, create: () => Promise<RescueNetworkLeases>): void {
  describe(`${name}: the RescueNetworkLeases contract`, () => {
    let leases: RescueNetworkLeases;

    beforeEach(async () => {
      leases = await create();
    });

    it('gives leases to several jobs and keeps when each was first taken', async () => {
      // Act
      const first = await leases.acquire('r-a', at(0));
      await leases.acquire('r-b', at(1));
      const again = await leases.acquire('r-a', at(2));
      // Assess
      expect([first, again]).toEqual(['held', 'held']);
      expect((await leases.read())?.leases).toEqual({ 'r-a': at(0).toISOString(), 'r-b': at(1).toISOString() });
      expect((await leases.read())?.state).toBe('in-use');
    });

    it('releases a lease once and records when, and ignores a release of a lease not held', async () => {
      // Prepare
      await leases.acquire('r-a', at(0));
      // Act
      await leases.release('r-a', at(5));
      await leases.release('r-a', at(9));
      await leases.release('r-never', at(9));
      // Assess
      const record = await leases.read();
      expect(record?.leases).toEqual({});
      expect(record?.lastReleasedAt).toBe(at(5).toISOString());
    });

    it('lets one owner at a time hold the creation lock until it expires', async () => {
      // Prepare
      await leases.acquire('r-a', at(0));
      // Act
      const a = await leases.lockCreation('r-a', at(0), 120);
      const b = await leases.lockCreation('r-b', at(1), 120);
      const aAgain = await leases.lockCreation('r-a', at(1), 120);
      const bLater = await leases.lockCreation('r-b', at(4), 120);
      // Assess
      expect([a, b, aAgain, bLater]).toEqual([true, false, true, true]);
      expect((await leases.read())?.creator?.owner).toBe('r-b');
    });

    it('gives no creation lock before any lease made the record', async () => {
      // Act / Assess
      expect(await leases.lockCreation('r-a', at(0), 120)).toBe(false);
    });

    it('reclaims only when no job holds the network and none has for the idle time', async () => {
      // Prepare
      await leases.acquire('r-a', at(0));
      await leases.acquire('r-b', at(0));
      await leases.release('r-a', at(10));
      // Act
      const whileHeld = await leases.beginReclaim(at(100), at(40));
      await leases.release('r-b', at(20));
      const tooSoon = await leases.beginReclaim(at(30), at(10));
      const idle = await leases.beginReclaim(at(90), at(30));
      // Assess
      expect([whileHeld, tooSoon, idle]).toEqual([false, false, true]);
      expect((await leases.read())?.state).toBe('reclaiming');
      expect((await leases.read())?.reclaimStartedAt).toBe(at(90).toISOString());
    });

    it('refuses leases and the creation lock while reclaiming, and starts afresh once it ended', async () => {
      // Prepare
      await leases.acquire('r-a', at(0));
      await leases.release('r-a', at(1));
      await leases.beginReclaim(at(90), at(30));
      // Act
      const during = await leases.acquire('r-b', at(91));
      const lockDuring = await leases.lockCreation('r-b', at(91), 120);
      await leases.endReclaim();
      const gone = await leases.read();
      const after = await leases.acquire('r-b', at(92));
      // Assess
      expect([during, lockDuring, gone, after]).toEqual(['reclaiming', false, undefined, 'held']);
      expect((await leases.read())?.leases).toEqual({ 'r-b': at(92).toISOString() });
    });

    it('records the VPC the network is, only on a record that exists, and keeps it through a reclaim', async () => {
      // Act
      await leases.recordVpc('vpc-none');
      const without = await leases.read();
      await leases.acquire('r-a', at(0));
      await leases.recordVpc('vpc-0rescue');
      await leases.release('r-a', at(1));
      await leases.beginReclaim(at(70), at(10));
      // Assess
      expect(without).toBeUndefined();
      expect(await leases.read()).toEqual(expect.objectContaining({ state: 'reclaiming', vpcId: 'vpc-0rescue' }));
    });

    it('ends a reclaim only when one is under way', async () => {
      // Prepare
      await leases.acquire('r-a', at(0));
      // Act
      await leases.endReclaim();
      // Assess
      expect((await leases.read())?.leases).toEqual({ 'r-a': at(0).toISOString() });
    });
  });
}
