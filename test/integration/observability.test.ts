/**
 * What operators see of a full reset on the in-process stack: the service's real Powertools logger
 * (captured instead of printed) has jobId, instanceId and phase on every line of every phase run
 * and never a secret; the job-ended event carries the outputs and no secret; the EMF metrics count
 * the job and time each phase.
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { createMetrics, PowertoolsJobMetrics } from '../../infra/observability/job-metrics';
import { createLog } from '../../infra/observability/logger';
import { VirtualStack } from '../../infra/local/virtual-stack';

const AL2023 = 'i-0a1b2c3d4e5f60001';

/** The service's logger, printing into `lines` (as JSON, exactly as it would print to stdout). */
class CapturingLogger extends Logger {
  readonly lines: string[] = [];
  /** The lines printed while a phase ran (a delivery of a phase message). */
  readonly phaseRunLines: string[] = [];
  inPhaseRun = false;
  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    const line = JSON.stringify(log.getAttributes());
    this.lines.push(line);
    if (this.inPhaseRun) this.phaseRunLines.push(line);
  }
}

/** Base64 runs of the private key's body, long enough that none can appear by chance. */
function secretFragments(privateKey: string): string[] {
  const body = privateKey
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))
    .join('');
  const fragments: string[] = [];
  for (let i = 0; i + 24 <= body.length; i += 12) fragments.push(body.slice(i, i + 24));
  return fragments;
}

describe('a full reset, as operators see it', () => {
  let stack: VirtualStack;
  let logger: CapturingLogger;
  let apiLines: number;
  let jobId: string;
  let privateKey: string;
  let emf: string[];

  beforeAll(async () => {
    logger = new CapturingLogger({ serviceName: 'reset-access', logLevel: 'INFO' });
    emf = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      emf.push(String(chunk));
      return true;
    });
    try {
      stack = new VirtualStack({ log: createLog(logger), observer: new PowertoolsJobMetrics(createMetrics('ec2-reset-access-test')) });
      // Every delivery of a phase message is a phase run: mark the lines printed during one.
      const deliver = stack.deliver.bind(stack);
      stack.deliver = async (message) => {
        logger.inPhaseRun = true;
        try {
          await deliver(message);
        } finally {
          logger.inPhaseRun = false;
        }
      };
      jobId = (await stack.api('POST', '/resets', { instanceId: AL2023 })).json.jobId;
      apiLines = logger.lines.length;
      await stack.run();
    } finally {
      spy.mockRestore();
    }
    privateKey = stack.region.getParameter(`/ec2rl/openssh/${AL2023}/key`)!.value;
  });

  it('ran to SUCCEEDED and stored a private key (what the scan looks for)', async () => {
    // Assess
    expect((await stack.job(jobId)).status).toBe('SUCCEEDED');
    expect(privateKey).toMatch(/-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(secretFragments(privateKey).length).toBeGreaterThan(5);
  });

  it('logs structured JSON with jobId, instanceId and phase on every line of every phase run', () => {
    // Prepare
    const phaseLines = logger.phaseRunLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // Assess
    expect(phaseLines.length).toBeGreaterThan(20);
    for (const line of phaseLines) {
      expect(line).toEqual(
        expect.objectContaining({
          level: expect.any(String),
          message: expect.any(String),
          service: 'reset-access',
          timestamp: expect.any(String),
          jobId,
          instanceId: AL2023,
          phase: expect.any(String),
        }),
      );
    }
    expect(new Set(phaseLines.map((line) => line.phase))).toEqual(new Set(stack.deliveries.map((d) => d.message.phase)));
  });

  it('never logs the private key, nor any PRIVATE KEY text', () => {
    // Prepare
    const fragments = secretFragments(privateKey);
    // Act
    const leaks = logger.lines.filter((line) => line.includes('PRIVATE KEY') || fragments.some((fragment) => line.includes(fragment)));
    // Assess
    expect(logger.lines.length).toBeGreaterThan(apiLines);
    expect(leaks).toEqual([]);
  });

  it('publishes Reset Access Job Succeeded with the outputs, and no secret', () => {
    // Prepare
    const fragments = secretFragments(privateKey);
    // Act
    const events = stack.jobEvents.map((event) => ({ ...event, text: JSON.stringify(event.detail) }));
    // Assess
    expect(events.map((e) => e.detailType)).toEqual(['Reset Access Job Succeeded']);
    expect(events[0]!.detail).toEqual(
      expect.objectContaining({
        jobId,
        status: 'SUCCEEDED',
        outputs: expect.objectContaining({ sshKeyParameter: `/ec2rl/openssh/${AL2023}/key`, backupImageId: expect.stringMatching(/^ami-/) }),
      }),
    );
    expect(events[0]!.text).not.toMatch(/PRIVATE KEY/);
    for (const fragment of fragments) expect(events[0]!.text).not.toContain(fragment);
  });

  it('emits the metrics: the job started and succeeded, and a duration per finished phase', async () => {
    // Prepare
    const records = emf.filter((chunk) => chunk.includes('"_aws"')).map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
    const job = await stack.job(jobId);
    // Act
    const counts = (name: string) => records.filter((r) => name in r).length;
    const phases = records.filter((r) => 'PhaseDuration' in r).map((r) => r.phase);
    // Assess
    expect({ started: counts('JobsStarted'), succeeded: counts('JobsSucceeded'), failed: counts('JobsFailed') }).toEqual({
      started: 1,
      succeeded: 1,
      failed: 0,
    });
    expect([...phases].sort()).toEqual(Object.keys(job.phases).sort());
  });
});
