import type { PhaseMessage } from '../../../domain/ports';
import { type QueueFault, type QueueSend, VirtualQueue } from '../../../infra/memory/memory-queues';

const message = (jobId: string, phase: PhaseMessage['phase'] = 'validate'): PhaseMessage => ({ jobId, phase, attempt: 0 });

describe('VirtualQueue', () => {
  let now: number;
  const clock = { now: () => now };

  beforeEach(() => {
    now = 1_000_000;
  });

  it('makes a published message due at once', async () => {
    // Prepare
    const queue = new VirtualQueue(clock);

    // Act
    await queue.publish([message('job-1', 'launch-helper'), message('job-1', 'stop-target')]);
    const due = queue.takeDue();

    // Assess
    expect(due.map((entry) => [entry.message.phase, entry.dueAt, entry.via])).toEqual([
      ['launch-helper', 1_000_000, 'publish'],
      ['stop-target', 1_000_000, 'publish'],
    ]);
    expect(queue.size).toBe(0);
  });

  it('holds a delayed message until its time, and says when that is', async () => {
    // Prepare
    const queue = new VirtualQueue(clock);
    await queue.later(message('job-1'), 30);

    // Act
    const before = queue.takeDue();
    const nextDueAt = queue.nextDueAt();
    now += 30_000;
    const after = queue.takeDue();

    // Assess
    expect(before).toEqual([]);
    expect(nextDueAt).toBe(1_030_000);
    expect(after.map((entry) => entry.message)).toEqual([message('job-1')]);
    expect(queue.nextDueAt()).toBeUndefined();
  });

  it('answers due messages earliest first, and leaves the rest', async () => {
    // Prepare
    const queue = new VirtualQueue(clock);
    await queue.later(message('job-late'), 20);
    await queue.later(message('job-early'), 5);
    await queue.later(message('job-future'), 60);
    now += 25_000;

    // Act
    const due = queue.takeDue();

    // Assess
    expect(due.map((entry) => entry.message.jobId)).toEqual(['job-early', 'job-late']);
    expect(queue.size).toBe(1);
    expect(queue.nextDueAt()).toBe(1_060_000);
  });

  it('keeps its own copy of a message', async () => {
    // Prepare
    const queue = new VirtualQueue(clock);
    const sent = message('job-1');
    await queue.publish([sent]);

    // Act
    sent.attempt = 7;
    const [due] = queue.takeDue();

    // Assess
    expect(due.message.attempt).toBe(0);
  });

  it('lets a fault hook drop, duplicate or delay a send, and sees every send', async () => {
    // Prepare
    const seen: QueueSend[] = [];
    const faults: Record<string, QueueFault> = { 'job-dropped': 'drop', 'job-twice': 'duplicate', 'job-slow': { delaySeconds: 10 } };
    const queue = new VirtualQueue(clock, {
      fault: (send) => {
        seen.push(send);
        return faults[send.message.jobId];
      },
    });

    // Act
    await queue.publish([message('job-dropped'), message('job-twice'), message('job-plain')]);
    await queue.later(message('job-slow'), 5);
    const dueNow = queue.takeDue();
    now += 15_000;
    const dueLater = queue.takeDue();

    // Assess
    expect(seen.map((send) => [send.via, send.message.jobId, send.delaySeconds])).toEqual([
      ['publish', 'job-dropped', 0],
      ['publish', 'job-twice', 0],
      ['publish', 'job-plain', 0],
      ['later', 'job-slow', 5],
    ]);
    expect(dueNow.map((entry) => entry.message.jobId)).toEqual(['job-twice', 'job-twice', 'job-plain']);
    expect(dueLater.map((entry) => [entry.message.jobId, entry.dueAt])).toEqual([['job-slow', 1_015_000]]);
  });

  it('fails the call when the fault hook throws', async () => {
    // Prepare
    const queue = new VirtualQueue(clock, {
      fault: () => {
        throw new Error('injected');
      },
    });

    // Act
    const later = queue.later(message('job-1'), 5);

    // Assess
    await expect(later).rejects.toThrow('injected');
    expect(queue.size).toBe(0);
  });
});
