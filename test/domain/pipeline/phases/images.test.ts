/** create-backup and create-password-image: an AMI of the stopped target, idempotent by its name. */
import { createBackup } from '../../../../domain/pipeline/phases/create-backup';
import { createPasswordImage } from '../../../../domain/pipeline/phases/create-password-image';
import type { Job } from '../../../../domain/job/job';
import { fakePorts, seedSwap, swapJob, TARGET } from './fakes';

function applied(result: Awaited<ReturnType<typeof createBackup>>, job: Job): Job {
  const draft = structuredClone(job);
  result.record?.(draft);
  return draft;
}

describe.each([
  ['create-backup', createBackup, 'backupImageId', 'backupImageId', /^ResetAccess-backup-/],
  ['create-password-image', createPasswordImage, 'passwordImageId', 'passwordEnabledImageId', /^ResetAccess-password-enabled-/],
] as const)('%s', (phase, step, resource, output, name) => {
  it("images the target once, tagged as the service's, and records the image as resource and output", async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    seedSwap(compute);
    const job = swapJob(phase);
    // Act
    const result = await step(job, ports);
    // Assess
    const draft = applied(result, job);
    expect(result.kind).toBe('done');
    expect(compute.sent).toEqual(['createImage']);
    const input = compute.calls[0]!.args[0] as { instanceId: string; name: string; tags: Record<string, string> };
    expect(input).toMatchObject({
      instanceId: TARGET,
      name: expect.stringMatching(name),
      tags: expect.objectContaining({ 'reset-access:managed': 'true', 'reset-access:job-id': job.jobId }),
    });
    expect(draft.resources[resource]).toMatch(/^ami-/);
    expect(draft.outputs[output]).toBe(draft.resources[resource]);
  });

  it('sends nothing again once the image is recorded (a duplicate delivery)', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    const job = swapJob(phase, { resources: { [resource]: 'ami-00000001' } });
    // Act
    const result = await step(job, ports);
    // Assess
    expect(compute.calls).toEqual([]);
    expect(applied(result, job).outputs[output]).toBe('ami-00000001');
  });

  it('answers the same image when CreateImage is repeated after a crash (same name)', async () => {
    // Prepare
    const { ports, compute } = fakePorts();
    const job = swapJob(phase);
    const first = applied(await step(job, ports), job).resources[resource];
    // Act: the record of the first call was lost
    const again = applied(await step(job, ports), job).resources[resource];
    // Assess
    expect(again).toBe(first);
    expect(compute.images.size).toBe(1);
  });
});
