/**
 * The pacing of calls into EC2's scarce buckets, on its own: which calls take a slot, what a call
 * whose slot is later does (nothing is sent, the slot stays reserved), tickets, and the scope.
 */
import { ThrottledError } from '../../../domain/errors';
import type { AdmissionStore, Compute } from '../../../domain/ports';
import { pacedBucket, pacedCompute, RequestPacedError, RequestPacer, type PacingPolicy } from '../../../domain/admission/request-pacing';
import { MemoryAdmissionStore } from '../../../infra/memory/memory-guard-stores';

const T0 = Date.UTC(2026, 0, 5, 9);
/** 60 a minute is one a second; a burst of 2. */
const policy: PacingPolicy = { scope: 'category', mutating: { ratePerMinute: 60, burst: 2 }, runStart: { ratePerMinute: 30, burst: 1 } };

function setup(scope: PacingPolicy['scope'] = 'category') {
  let now = T0;
  const admission = new MemoryAdmissionStore();
  const sent: string[] = [];
  const compute = {
    detachVolume: async (volumeId: string) => void sent.push(`DetachVolume ${volumeId}`),
    attachVolume: async (volumeId: string) => void sent.push(`AttachVolume ${volumeId}`),
    startInstance: async (instanceId: string) => void sent.push(`StartInstances ${instanceId}`),
    describeVolume: async (volumeId: string) => {
      sent.push(`DescribeVolumes ${volumeId}`);
      return undefined;
    },
  } as unknown as Compute;
  const ports = { admission, clock: { now: () => new Date(now) }, policy: { ...policy, scope } };
  return { admission, sent, compute, ports, advance: (seconds: number) => void (now += seconds * 1000) };
}

describe('pacedCompute', () => {
  it('sends paced calls while the bucket has slots, then sends nothing and answers the slot it reserved', async () => {
    // Prepare
    const t = setup();
    const paced = pacedCompute(t.compute, new RequestPacer(t.ports));

    // Act
    await paced.detachVolume('vol-1', 'i-1');
    await paced.detachVolume('vol-2', 'i-2');
    const refused = await paced.detachVolume('vol-3', 'i-3').catch((error: unknown) => error);

    // Assess: the burst of 2 went out; the third got the slot one second on, and was not sent
    expect(t.sent).toEqual(['DetachVolume vol-1', 'DetachVolume vol-2']);
    expect(refused).toBeInstanceOf(RequestPacedError);
    expect((refused as RequestPacedError).slot).toEqual({ bucket: 'ec2-mutating', at: new Date(T0 + 1000).toISOString() });
  });

  it('lets calls of no paced bucket through without taking a slot', async () => {
    // Prepare
    const t = setup();
    const paced = pacedCompute(t.compute, new RequestPacer(t.ports));

    // Act
    for (let i = 0; i < 5; i++) await paced.describeVolume(`vol-${i}`);

    // Assess
    expect(t.sent).toHaveLength(5);
    expect(await t.admission.get('ec2-mutating')).toBeUndefined();
  });

  it('sends the call a ticket was reserved for once it is due, without taking another slot', async () => {
    // Prepare: the bucket is empty; a phase holds the slot at T0 + 1 s
    const t = setup();
    const first = new RequestPacer(t.ports);
    await first.reserve('detachVolume');
    await first.reserve('detachVolume');
    const ticket = await first.reserve('detachVolume');
    const tatBefore = (await t.admission.get('ec2-mutating'))!.tat;

    // Act: too early, then on time
    const early = await pacedCompute(t.compute, new RequestPacer(t.ports, ticket))
      .detachVolume('vol-1', 'i-1')
      .catch((error: unknown) => error);
    t.advance(1);
    const pacer = new RequestPacer(t.ports, ticket);
    await pacedCompute(t.compute, pacer).detachVolume('vol-1', 'i-1');

    // Assess
    expect((early as RequestPacedError).slot).toEqual(ticket);
    expect(t.sent).toEqual(['DetachVolume vol-1']);
    expect((await t.admission.get('ec2-mutating'))!.tat).toBe(tatBefore);
    expect(pacer.unusedTicket).toBeUndefined();
  });

  it('keeps an unused ticket when the delivery sent nothing of its bucket', async () => {
    // Prepare
    const t = setup();
    const ticket = await new RequestPacer(t.ports).reserve('attachVolume');
    const pacer = new RequestPacer(t.ports, ticket);

    // Act
    await pacedCompute(t.compute, pacer).describeVolume('vol-1');

    // Assess
    expect(pacer.unusedTicket).toEqual(ticket);
  });

  it('shares one bucket between the actions of a row, or keeps one per action', async () => {
    // Prepare
    const shared = setup('category');
    const apart = setup('action');

    // Act: two detaches and an attach, a burst of 2
    const outcomes = [];
    for (const t of [shared, apart]) {
      const paced = pacedCompute(t.compute, new RequestPacer(t.ports));
      await paced.detachVolume('vol-1', 'i-1');
      await paced.detachVolume('vol-2', 'i-2');
      outcomes.push(
        await paced.attachVolume('vol-3', 'i-3', '/dev/sdf').then(
          () => 'sent',
          (error: unknown) => (error as Error).name,
        ),
      );
    }

    // Assess
    expect(outcomes).toEqual(['RequestPacedError', 'sent']);
    expect(pacedBucket('attachVolume', 'action')).toBe('ec2-mutating-AttachVolume');
    expect(pacedBucket('startInstance', 'category')).toBe('ec2-runStart');
  });

  it('keeps RunInstances and StartInstances apart from the mutating bucket', async () => {
    // Prepare: the mutating bucket is empty
    const t = setup();
    const paced = pacedCompute(t.compute, new RequestPacer(t.ports));
    await paced.detachVolume('vol-1', 'i-1');
    await paced.detachVolume('vol-2', 'i-2');

    // Act
    await paced.startInstance('i-9');

    // Assess
    expect(t.sent).toContain('StartInstances i-9');
  });
});

describe('RequestPacer', () => {
  it('backs off like a throttle when other deliveries keep taking the slot it reads', async () => {
    // Prepare: a store where every write loses a race
    const t = setup();
    const contended: AdmissionStore = { get: async () => ({ tat: T0, version: 1 }), put: async () => false };
    const pacer = new RequestPacer({ ...t.ports, admission: contended });

    // Act
    const error = await pacer.reserve('stopInstance').catch((e: unknown) => e);

    // Assess: a throttle costs time only (the runner never counts it against maxRetries)
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).code).toBe('PACING_CONTENDED');
  });
});
