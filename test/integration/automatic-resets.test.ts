/**
 * Resets that events start, on the in-process stack with simulated time: CloudWatch alarms (only
 * for instances tagged reset-access:auto=true, once per cool-down), `Reset Access Requested`
 * events, and the fleet admission that spreads a burst over time instead of dropping it.
 */
import { EVENT_ADMISSION_BUCKET } from '../../domain/admission/admission';
import { handleTriggerMessage } from '../../handlers/trigger-routes';
import { seedLinuxFleet } from '../../infra/local/fleet';
import { deferredStartJson } from '../../infra/messages/trigger-messages';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import { mutatingCalls } from '../support/checks';
import { alarmEvent, resetRequestedEvent } from '../support/events';

const AL2023 = 'i-0a1b2c3d4e5f60001'; // tagged reset-access:auto=true
const UBUNTU = 'i-0a1b2c3d4e5f60002'; // tagged reset-access:auto=true
const ENCRYPTED = 'i-0a1b2c3d4e5f60003'; // not tagged
const SPOT = 'i-0a1b2c3d4e5f60005'; // tagged, but refused (Spot)
const HOUR = 3600_000;

describe('a CloudWatch alarm in ALARM', () => {
  it('starts a reset of an instance tagged reset-access:auto=true, recorded as the alarm, to completion', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(alarmEvent(AL2023, { alarmName: 'web-status' }));
    await stack.run();
    // Assess
    expect(result!.result).toEqual({ outcome: 'started', jobId: expect.any(String) });
    const job = await stack.job((result!.result as { jobId: string }).jobId);
    expect(job).toEqual(
      expect.objectContaining({ instanceId: AL2023, status: 'SUCCEEDED', requestedBy: 'alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-status' }),
    );
  });

  it('starts nothing for an instance without the tag, and changes nothing in AWS', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(alarmEvent(ENCRYPTED));
    await stack.run();
    // Assess
    expect(result!.result).toEqual({ outcome: 'not-opted-in', missingTags: ['reset-access:auto'] });
    expect((await stack.store.list({})).jobs).toEqual([]);
    expect(mutatingCalls(stack)).toEqual({});
    expect(await stack.ports.cooldowns.get(ENCRYPTED)).toBeUndefined();
  });

  it('reads the instance from the older single-metric shape too', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(alarmEvent(AL2023, { shape: 'legacy' }));
    // Assess
    expect(result!.result.outcome).toBe('started');
  });

  it('starts one reset per opted-in instance a metric-math alarm names', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const results = await stack.trigger(alarmEvent([AL2023, ENCRYPTED, UBUNTU]));
    // Assess
    expect(results.map((r) => [r.instanceId, r.result.outcome])).toEqual([
      [AL2023, 'started'],
      [ENCRYPTED, 'not-opted-in'],
      [UBUNTU, 'started'],
    ]);
  });

  it.each([['OK'], ['INSUFFICIENT_DATA']] as const)('ignores a change to %s', async (state) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(alarmEvent(AL2023, { state }));
    // Assess
    expect(result!.result.outcome).toBe('ignored');
    expect((await stack.store.list({})).jobs).toEqual([]);
  });

  it('starts at most one reset per instance per cool-down, and again once it has passed', async () => {
    // Prepare
    const stack = new VirtualStack({ config: { alarmCooldownSeconds: 6 * 3600 } });
    const [first] = await stack.trigger(alarmEvent(AL2023));
    await stack.run();
    stack.clock.advance(2 * HOUR);
    // Act
    const [during] = await stack.trigger(alarmEvent(AL2023));
    stack.clock.advance(4 * HOUR + 60_000);
    const [after] = await stack.trigger(alarmEvent(AL2023));
    await stack.run();
    // Assess
    expect(first!.result.outcome).toBe('started');
    expect(during!.result).toEqual({ outcome: 'cooling-down', until: expect.any(String) });
    expect(after!.result.outcome).toBe('started');
    const jobs = (await stack.store.list({ instanceId: AL2023 })).jobs;
    expect(jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('counts a redelivered alarm event once', async () => {
    // Prepare
    const stack = new VirtualStack();
    const event = alarmEvent(AL2023, { id: 'same-event' });
    const [first] = await stack.trigger(event);
    // Act
    const [again] = await stack.trigger(event);
    // Assess
    expect(again!.result).toEqual({ outcome: 'duplicate', jobId: (first!.result as { jobId: string }).jobId });
    expect((await stack.store.list({})).jobs).toHaveLength(1);
  });

  it('frees the cool-down when the start is refused, and reports why', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(alarmEvent(SPOT));
    // Assess
    expect(result!.result).toEqual({ outcome: 'refused', code: 'SPOT_INSTANCE', message: expect.any(String) });
    expect(await stack.ports.cooldowns.get(SPOT)).toBeUndefined();
    expect((await stack.store.list({})).jobs).toEqual([]);
  });

  it('keeps the cool-down when the instance is being reset already', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { json } = await stack.api('POST', '/resets', { instanceId: AL2023 });
    // Act
    const [result] = await stack.trigger(alarmEvent(AL2023));
    // Assess
    expect(result!.result).toEqual(expect.objectContaining({ outcome: 'refused', code: 'ACTIVE_JOB' }));
    expect(result!.result).toEqual(expect.objectContaining({ message: expect.stringContaining(json.jobId) }));
    expect(await stack.ports.cooldowns.get(AL2023)).toEqual(expect.objectContaining({ instanceId: AL2023 }));
  });

  it('resets any instance an alarm names when the events guard is turned off', async () => {
    // Prepare
    const stack = new VirtualStack({ config: { optIn: { requireAllowedTag: false, requireAutoTagForEvents: false } } });
    // Act
    const [result] = await stack.trigger(alarmEvent(ENCRYPTED));
    // Assess
    expect(result!.result.outcome).toBe('started');
  });
});

describe('a burst of alarms across a fleet', () => {
  it('admits 100 alarms at the set rate: the burst at once, then one per interval, none dropped', async () => {
    // Prepare: 100 opted-in instances; the jobs' phases are not run (only their starts matter here).
    const stack = new VirtualStack({
      samples: false,
      config: { eventAdmission: { ratePerMinute: 20, burst: 10 } },
      queueFault: () => 'drop',
    });
    const fleet = seedLinuxFleet(stack.region, { count: 100 });
    stack.region.ec2('CreateTags', { Resources: fleet, Tags: [{ Key: 'reset-access:auto', Value: 'true' }] });
    const t0 = stack.clock.now();
    // Act: every alarm fires in the same second.
    const immediate = [];
    for (const instanceId of fleet) immediate.push(...(await stack.trigger(alarmEvent(instanceId))));
    const waiting = stack.deferredStarts;
    await stack.run();
    // Assess
    const starts = (await stack.store.list({ limit: 100 })).jobs.map((j) => Date.parse(j.createdAt) - t0).sort((a, b) => a - b);
    expect(immediate.filter((r) => r.result.outcome === 'started')).toHaveLength(10);
    expect(waiting).toBe(90);
    expect(starts).toHaveLength(100);
    expect(new Set((await stack.store.list({ limit: 100 })).jobs.map((j) => j.instanceId)).size).toBe(100);
    // 20 a minute: one every 3 s after the burst of 10.
    expect(starts.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(starts.slice(10)).toEqual(Array.from({ length: 90 }, (_, i) => (i + 1) * 3000));
    // No window of a minute holds more than the burst plus the rate.
    for (const start of starts) expect(starts.filter((s) => s >= start && s < start + 60_000).length).toBeLessThanOrEqual(10 + 20);
  });

  it('refills while quiet: a later burst is admitted at once again', async () => {
    // Prepare
    const stack = new VirtualStack({ config: { eventAdmission: { ratePerMinute: 6, burst: 2 } }, queueFault: () => 'drop' });
    const first = [await stack.trigger(alarmEvent(AL2023)), await stack.trigger(alarmEvent(UBUNTU))].flat();
    stack.clock.advance(HOUR);
    stack.region.ec2('CreateTags', { Resources: [ENCRYPTED], Tags: [{ Key: 'reset-access:auto', Value: 'true' }] });
    // Act
    const later = await stack.trigger(alarmEvent(ENCRYPTED));
    // Assess
    expect(first.map((r) => r.result.outcome)).toEqual(['started', 'started']);
    expect(later.map((r) => r.result.outcome)).toEqual(['started']);
  });
});

describe('a deferred start', () => {
  it('that comes back before its slot (SQS delays are 15 min at most) waits again without taking another slot', async () => {
    // Prepare
    const stack = new VirtualStack();
    const admitAt = new Date(stack.clock.now() + 40 * 60_000).toISOString();
    const request = {
      instanceId: AL2023,
      subnet: 'CreateNewVPC' as const,
      helperInstanceType: 't3.small',
      allowInstanceStoreLoss: false,
      keyType: 'ed25519' as const,
    };
    // Act
    const [early] = await handleTriggerMessage(deferredStartJson({ kind: 'alarm', request, eventId: 'e-late', requestedBy: 'alarm:x', admitAt }), stack.ports);
    const waiting = stack.deferredStarts;
    await stack.run(3600);
    // Assess
    expect(early!.result).toEqual({ outcome: 'deferred', admitAt });
    expect(waiting).toBe(1);
    expect(await stack.ports.admission.get(EVENT_ADMISSION_BUCKET)).toBeUndefined();
    const [job] = (await stack.store.list({ instanceId: AL2023 })).jobs;
    expect(job?.createdAt).toBe(admitAt);
  });
});

describe('a Reset Access Requested event', () => {
  it('starts a reset with the body the API takes, once per event', async () => {
    // Prepare
    const stack = new VirtualStack();
    const event = resetRequestedEvent({ instanceId: UBUNTU, keyType: 'rsa' }, { id: 'req-1' });
    // Act
    const [first] = await stack.trigger(event);
    const [again] = await stack.trigger(event);
    await stack.run();
    // Assess
    expect(first!.result.outcome).toBe('started');
    expect(again!.result).toEqual({ outcome: 'duplicate', jobId: (first!.result as { jobId: string }).jobId });
    const job = await stack.job((first!.result as { jobId: string }).jobId);
    expect(job).toEqual(expect.objectContaining({ status: 'SUCCEEDED', requestedBy: 'event:reset-access.requests@123456789012' }));
    expect(job.request.keyType).toBe('rsa');
  });

  it("carries the caller's own key and account through a deferred start (the stored request is read again)", async () => {
    // Prepare: a start deferred to its admission slot, now due
    const stack = new VirtualStack();
    const publicKey = generateSshKeyPair('ed25519', 'ops@laptop').publicKey;
    const request = {
      instanceId: UBUNTU,
      subnet: 'CreateNewVPC' as const,
      helperInstanceType: 't3.small',
      allowInstanceStoreLoss: false,
      keyType: 'ed25519' as const,
      user: 'ubuntu',
      publicKey,
    };
    const admitAt = new Date(stack.clock.now()).toISOString();
    // Act
    const [started] = await handleTriggerMessage(
      deferredStartJson({ kind: 'request', request, eventId: 'req-deferred', requestedBy: 'event:x', admitAt }),
      stack.ports,
    );
    await stack.run();
    // Assess
    expect(started!.result.outcome).toBe('started');
    const job = await stack.job((started!.result as { jobId: string }).jobId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.outputs).toMatchObject({ sshUser: 'ubuntu', sshKeyFingerprint: expect.stringMatching(/^SHA256:/) });
    expect(job.outputs.sshKeyParameter).toBeUndefined();
  });

  it('needs the instance to have opted in, like an alarm', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(resetRequestedEvent({ instanceId: ENCRYPTED }));
    // Assess
    expect(result!.result.outcome).toBe('not-opted-in');
  });

  it('drops a malformed request (it would fail the same way forever)', async () => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const [result] = await stack.trigger(resetRequestedEvent({ instanceId: AL2023, reboot: true }));
    // Assess
    expect(result!.result).toEqual({ outcome: 'ignored', reason: expect.stringMatching(/reboot: unknown field/) });
    expect((await stack.store.list({})).jobs).toEqual([]);
  });
});
