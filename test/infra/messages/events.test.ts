import { parsePhaseMessage, phaseMessageJson, readPhaseMessage } from '../../../infra/messages/events';

describe('phase message JSON', () => {
  it('writes exactly jobId, phase and attempt', () => {
    // Prepare
    const message = { jobId: 'job-1', phase: 'run-rescue' as const, attempt: 4, extra: 'dropped' };

    // Act
    const json = phaseMessageJson(message);

    // Assess
    expect(json).toBe('{"jobId":"job-1","phase":"run-rescue","attempt":4}');
  });

  it('reads a message from an SQS body or an event detail object', () => {
    // Act
    const fromBody = parsePhaseMessage('{"jobId":"job-1","phase":"cleanup","attempt":0}');
    const fromDetail = parsePhaseMessage({ jobId: 'job-1', phase: 'cleanup', attempt: 0 });

    // Assess
    expect(fromBody).toEqual({ jobId: 'job-1', phase: 'cleanup', attempt: 0 });
    expect(fromDetail).toEqual(fromBody);
  });

  it.each([
    ['not JSON', '{oops'],
    ['an unknown phase', '{"jobId":"job-1","phase":"reboot","attempt":0}'],
    ['a missing job id', '{"phase":"cleanup","attempt":0}'],
    ['a negative attempt', '{"jobId":"job-1","phase":"cleanup","attempt":-1}'],
    ['a fractional attempt', '{"jobId":"job-1","phase":"cleanup","attempt":1.5}'],
    ['null', 'null'],
  ])('answers undefined for %s', (_, body) => {
    // Act
    const parsed = parsePhaseMessage(body);

    // Assess
    expect(parsed).toBeUndefined();
  });
});

describe('why a phase message is refused (logged when it is dropped)', () => {
  it.each([
    ['not JSON', '{oops', 'message: is not JSON'],
    ['a missing job id', '{"phase":"cleanup","attempt":0}', 'jobId: Invalid input: expected string, received undefined'],
    ['a fractional attempt', '{"jobId":"job-1","phase":"cleanup","attempt":1.5}', 'attempt: Invalid input: expected int, received number'],
    ['a negative attempt', '{"jobId":"job-1","phase":"cleanup","attempt":-1}', 'attempt: Too small: expected number to be >=0'],
    ['an unknown phase', '{"jobId":"job-1","phase":"reboot","attempt":0}', 'phase: Invalid option: expected one of "validate"|'],
  ])('%s', (_what, body, message) => {
    // Act
    const read = readPhaseMessage(body);
    // Assess
    expect(read).toEqual({ ok: false, message: expect.stringContaining(message) });
  });
});
