import type { PhaseMessage, PhaseScheduler } from '../../../domain/ports';
import { ScaledPhaseScheduler } from '../../../infra/local/scaled-phase-scheduler';

const message: PhaseMessage = { jobId: 'r-test01', phase: 'detach-root', attempt: 1 };
const log = { info: () => undefined, warn: jest.fn(), error: () => undefined };

function recorder(): PhaseScheduler & { sent: Array<{ delay: number; at: number }> } {
  const sent: Array<{ delay: number; at: number }> = [];
  return { sent, later: async (_m, delay) => void sent.push({ delay, at: Date.now() }) };
}

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

describe('ScaledPhaseScheduler', () => {
  it.each([
    // simulated s at 60×: real s = whole SQS seconds + a timer for the fraction
    [2, 33, 0],
    [6, 100, 0],
    [90, 500, 1],
  ])('a wait of %s simulated s is a %s ms timer, then an SQS delay of %s s', async (delay, timerMs, sqsSeconds) => {
    // Prepare
    const sqs = recorder();
    const scheduler = new ScaledPhaseScheduler(sqs, 60, log);

    // Act
    await scheduler.later(message, delay);
    const before = sqs.sent.length;
    await jest.advanceTimersByTimeAsync(timerMs);

    // Assess
    expect(before).toBe(0);
    expect(sqs.sent).toEqual([{ delay: sqsSeconds, at: timerMs }]);
  });

  it('a whole number of real seconds goes to SQS at once, without a timer', async () => {
    const sqs = recorder();
    const scheduler = new ScaledPhaseScheduler(sqs, 60, log);

    await scheduler.later(message, 120);

    expect(sqs.sent).toEqual([{ delay: 2, at: 0 }]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stop() drops the pending timers; a send that fails is logged, not thrown', async () => {
    const failing: PhaseScheduler = { later: async () => Promise.reject(new Error('queue gone')) };
    const stopped = new ScaledPhaseScheduler(recorder(), 60, log);
    const broken = new ScaledPhaseScheduler(failing, 60, log);

    await stopped.later(message, 2);
    stopped.stop();
    await broken.later(message, 2);
    await jest.advanceTimersByTimeAsync(100);

    expect(jest.getTimerCount()).toBe(0);
    expect(log.warn).toHaveBeenCalledWith(expect.stringMatching(/sweeper will re-drive/), expect.objectContaining({ jobId: 'r-test01' }));
  });
});
