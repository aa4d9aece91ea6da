/**
 * The StopBatchStore contract: every implementation (memory, DynamoDB) must pass these. Register
 * them with `describeStopBatchStoreContracts(name, factory)`; the factory answers an empty store.
 */
import type { StopBatchStore } from '../../domain/ports';

const T0 = new Date('2026-01-05T09:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const EXPIRES = at(3600);
const instance = (n: number) => `i-${String(n).padStart(17, '0')}`;

function batch(batchId: string, instanceIds = [instance(1)]) {
  return { batchId, at: at(5).toISOString(), instanceIds };
}

export function describeStopBatchStoreContracts(name: string, makeStore: () => Promise<StopBatchStore>): void {
  describe(`stop batch store contracts: ${name}`, () => {
    let store: StopBatchStore;

    beforeEach(async () => {
      store = await makeStore();
    });

    describe('open', () => {
      it('has no current batch at first', async () => {
        // Act
        const current = await store.current();
        // Assess
        expect(current).toBeUndefined();
        expect(await store.get('b-1')).toBeUndefined();
      });

      it('makes the new batch current, open, with its one instance', async () => {
        // Act
        const opened = await store.open(batch('b-1'), undefined, EXPIRES);
        // Assess
        expect(opened).toBe(true);
        expect(await store.current()).toEqual({ batchId: 'b-1', at: at(5).toISOString(), instanceIds: [instance(1)], state: 'open' });
        expect(await store.get('b-1')).toEqual(await store.current());
      });

      it('refuses to open "the first" batch when one is current already', async () => {
        // Prepare
        await store.open(batch('b-1'), undefined, EXPIRES);
        // Act
        const second = await store.open(batch('b-2', [instance(2)]), undefined, EXPIRES);
        // Assess
        expect(second).toBe(false);
        expect((await store.current())!.batchId).toBe('b-1');
      });

      it('replaces the current batch only when told the right one', async () => {
        // Prepare
        await store.open(batch('b-1'), undefined, EXPIRES);
        // Act
        const wrong = await store.open(batch('b-2', [instance(2)]), 'b-9', EXPIRES);
        const right = await store.open(batch('b-3', [instance(3)]), 'b-1', EXPIRES);
        const stale = await store.open(batch('b-4', [instance(4)]), 'b-1', EXPIRES);
        // Assess
        expect([wrong, right, stale]).toEqual([false, true, false]);
        expect((await store.current())!.batchId).toBe('b-3');
        expect((await store.get('b-1'))!.state).toBe('open');
      });

      it('never rewrites a batch already written (a redelivered open)', async () => {
        // Prepare
        await store.open(batch('b-1'), undefined, EXPIRES);
        await store.join('b-1', instance(2), 10);
        // Act
        const again = await store.open(batch('b-1'), 'b-1', EXPIRES);
        // Assess
        expect(again).toBe(false);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2)]);
      });

      it('answers copies: changing one changes nothing stored', async () => {
        // Prepare
        const input = batch('b-1');
        await store.open(input, undefined, EXPIRES);
        input.instanceIds.push(instance(7));
        // Act
        (await store.get('b-1'))!.instanceIds.push(instance(8));
        // Assess
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1)]);
      });
    });

    describe('join', () => {
      beforeEach(async () => {
        await store.open(batch('b-1'), undefined, EXPIRES);
      });

      it('adds an instance to the open batch', async () => {
        // Act
        const joined = await store.join('b-1', instance(2), 10);
        // Assess
        expect(joined).toBe(true);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2)]);
      });

      it('answers true for an instance already in, without adding it twice', async () => {
        // Prepare
        await store.join('b-1', instance(2), 10);
        // Act
        const again = await store.join('b-1', instance(2), 10);
        const first = await store.join('b-1', instance(1), 2);
        // Assess
        expect([again, first]).toEqual([true, true]);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2)]);
      });

      it('refuses a full batch', async () => {
        // Prepare
        await store.join('b-1', instance(2), 3);
        await store.join('b-1', instance(3), 3);
        // Act
        const full = await store.join('b-1', instance(4), 3);
        // Assess
        expect(full).toBe(false);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2), instance(3)]);
      });

      it('refuses a closed batch, and a batch that does not exist', async () => {
        // Prepare
        await store.close('b-1', 'r-job000001', at(5));
        // Act
        const closed = await store.join('b-1', instance(2), 10);
        const missing = await store.join('b-9', instance(2), 10);
        // Assess
        expect([closed, missing]).toEqual([false, false]);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1)]);
        expect(await store.get('b-9')).toBeUndefined();
      });

      it('lets exactly maxSize of many concurrent joins in', async () => {
        // Prepare
        await store.open(batch('b-2', []), 'b-1', EXPIRES);
        const instanceIds = Array.from({ length: 20 }, (_, n) => instance(100 + n));
        // Act
        const answers = await Promise.all(instanceIds.map((id) => store.join('b-2', id, 10)));
        // Assess
        const members = (await store.get('b-2'))!.instanceIds;
        expect(answers.filter(Boolean)).toHaveLength(10);
        expect(members).toHaveLength(10);
        expect([...members].sort()).toEqual(instanceIds.filter((_, n) => answers[n]).sort());
      });
    });

    describe('leave', () => {
      beforeEach(async () => {
        await store.open(batch('b-1'), undefined, EXPIRES);
        await store.join('b-1', instance(2), 10);
        await store.join('b-1', instance(3), 10);
      });

      it('takes an instance out of the open batch', async () => {
        // Act
        const left = await store.leave('b-1', instance(2));
        // Assess
        expect(left).toBe(true);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(3)]);
      });

      it('answers true for an instance that is not in, and for a batch that does not exist', async () => {
        // Act
        const absent = await store.leave('b-1', instance(9));
        const missing = await store.leave('b-9', instance(1));
        // Assess
        expect([absent, missing]).toEqual([true, true]);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2), instance(3)]);
      });

      it('answers false for a member of a closed batch, true for a non-member, and changes nothing', async () => {
        // Prepare
        await store.close('b-1', 'r-job000001', at(5));
        // Act
        const member = await store.leave('b-1', instance(2));
        const nonMember = await store.leave('b-1', instance(9));
        // Assess
        expect([member, nonMember]).toEqual([false, true]);
        expect((await store.get('b-1'))!.instanceIds).toEqual([instance(1), instance(2), instance(3)]);
      });

      it('lets concurrent leaves all out', async () => {
        // Act
        const answers = await Promise.all([instance(1), instance(2), instance(3)].map((id) => store.leave('b-1', id)));
        // Assess
        expect(answers).toEqual([true, true, true]);
        expect((await store.get('b-1'))!.instanceIds).toEqual([]);
      });
    });

    describe('close', () => {
      beforeEach(async () => {
        await store.open(batch('b-1'), undefined, EXPIRES);
        await store.join('b-1', instance(2), 10);
      });

      it('answers the final list once, to the first closer only', async () => {
        // Act
        const first = await store.close('b-1', 'r-job000001', at(5));
        const second = await store.close('b-1', 'r-job000002', at(6));
        // Assess
        const closed = {
          batchId: 'b-1',
          at: at(5).toISOString(),
          instanceIds: [instance(1), instance(2)],
          state: 'closed',
          closedBy: 'r-job000001',
          closedAt: at(5).toISOString(),
        };
        expect(first).toEqual(closed);
        expect(second).toBeUndefined();
        expect(await store.get('b-1')).toEqual(closed);
      });

      it('answers undefined for a batch that does not exist', async () => {
        // Act
        const closed = await store.close('b-9', 'r-job000001', at(5));
        // Assess
        expect(closed).toBeUndefined();
        expect(await store.get('b-9')).toBeUndefined();
      });

      it('is still answered as current until another batch replaces it', async () => {
        // Prepare
        await store.close('b-1', 'r-job000001', at(5));
        // Act
        const current = await store.current();
        // Assess
        expect(current?.state).toBe('closed');
      });
    });

    describe('settle', () => {
      beforeEach(async () => {
        await store.open(batch('b-1'), undefined, EXPIRES);
      });

      it('records a sent batch, with the instances it named (not necessarily all its members)', async () => {
        // Prepare
        await store.join('b-1', instance(2), 10);
        await store.close('b-1', 'r-job000001', at(5));
        // Act
        await store.settle('b-1', { sentAt: at(6).toISOString(), instanceIds: [instance(2)] });
        // Assess
        expect(await store.get('b-1')).toEqual({
          batchId: 'b-1',
          at: at(5).toISOString(),
          instanceIds: [instance(1), instance(2)],
          state: 'sent',
          closedBy: 'r-job000001',
          closedAt: at(5).toISOString(),
          sentAt: at(6).toISOString(),
          sentInstanceIds: [instance(2)],
        });
      });

      it('records a failed batch, and settles only once', async () => {
        // Prepare
        await store.close('b-1', 'r-job000001', at(5));
        // Act
        await store.settle('b-1', { error: 'IncorrectInstanceState: not stoppable' });
        await store.settle('b-1', { sentAt: at(7).toISOString(), instanceIds: [instance(1)] });
        // Assess
        const settled = await store.get('b-1');
        expect(settled?.state).toBe('failed');
        expect(settled?.error).toBe('IncorrectInstanceState: not stoppable');
        expect(settled?.sentAt).toBeUndefined();
        expect(settled?.sentInstanceIds).toBeUndefined();
      });

      it('changes nothing in a batch that is still open, or that does not exist', async () => {
        // Prepare
        const before = await store.get('b-1');
        // Act
        await store.settle('b-1', { sentAt: at(6).toISOString(), instanceIds: [instance(1)] });
        await store.settle('b-9', { error: 'X: y' });
        // Assess
        expect(await store.get('b-1')).toEqual(before);
        expect(await store.get('b-9')).toBeUndefined();
        expect(await store.join('b-1', instance(2), 10)).toBe(true);
      });
    });
  });
}
