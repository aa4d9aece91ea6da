/**
 * The simulated region's side of a volume the NTFS rescue could not unmount: the rescue model leaves
 * it mounted (`UNMOUNT_FAILED`, no fallback), a DetachVolume then sticks in `busy` as EC2 documents,
 * and the release command's model unmounts it (the detach goes on) unless the volume is flagged as
 * never letting go; a helper that stops lets go of everything.
 */
import { DetachVolumeCommand, DescribeVolumesCommand, AttachVolumeCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { buildNtfsReleaseCommands, parseNtfsReleaseSummary } from '../../../infra/scripts/ntfs-release';
import { buildNtfsRescueCommands, parseNtfsRescueSummary } from '../../../infra/scripts/ntfs-rescue';
import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import type { NtfsVolumeFlags } from '../../../infra/sim/state';
import { simulatedRegion } from './sim-harness';

const MINUTE = 60_000;

/** A stopped Windows target whose root (with `ntfs` flags) is attached to a running Linux helper at /dev/sdf. */
async function rootOnLinuxHelper(ntfs: NtfsVolumeFlags) {
  const sim = simulatedRegion();
  const { region, ec2, advance } = sim;
  const target = region.seedInstance({ imageId: PUBLIC_IMAGE_IDS.windowsServer2022, state: 'stopped', root: { passwordGenerationEnabled: false, ntfs } });
  const helper = region.seedInstance({ imageId: PUBLIC_IMAGE_IDS.ubuntu2404, state: 'running', iamInstanceProfileName: 'reset-access-helper' });
  const volumeId = Object.values(region.exportState().volumes).find((v) => v.attachment?.instanceId === target.instanceId)!.volumeId;
  await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: target.instanceId }));
  advance(MINUTE);
  await ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: helper.instanceId, Device: '/dev/sdf' }));
  advance(MINUTE);
  const run = async (commands: string[]) => {
    const { Command } = await sim.ssm.send(
      new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [helper.instanceId], Parameters: { commands } }),
    );
    advance(MINUTE);
    return sim.ssm.send(new GetCommandInvocationCommand({ CommandId: Command!.CommandId!, InstanceId: helper.instanceId }));
  };
  const attachment = async () => (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!.Attachments?.[0]?.State ?? 'detached';
  return { ...sim, helper: helper.instanceId, volumeId, run, attachment };
}

describe('a volume the NTFS rescue could not unmount, in the simulated region', () => {
  it('is left mounted: a detach sticks busy until the release unmounts it, then goes on', async () => {
    // Prepare
    const lab = await rootOnLinuxHelper({ unmountFails: 'once' });
    // Act
    const rescue = await lab.run(buildNtfsRescueCommands({ jobId: 'job-1', targetInstanceId: 'i-0123456789abcdef0', volumeId: lab.volumeId }));
    await lab.ec2.send(new DetachVolumeCommand({ VolumeId: lab.volumeId, InstanceId: lab.helper }));
    lab.advance(30 * MINUTE);
    const whileMounted = await lab.attachment();
    const release = await lab.run(buildNtfsReleaseCommands({ jobId: 'job-1', volumeId: lab.volumeId }));
    const afterRelease = await lab.attachment();
    // Assess
    expect(rescue.Status).toBe('Failed');
    expect(parseNtfsRescueSummary(rescue.StandardOutputContent!)).toMatchObject({ ok: false, error: 'UNMOUNT_FAILED', fallback: false, volumeWritten: true });
    expect(whileMounted).toBe('busy');
    expect(release.Status).toBe('Success');
    expect(parseNtfsReleaseSummary(release.StandardOutputContent!)).toMatchObject({ ok: true, released: true, unmounted: ['/mnt/ra-job-1/root'] });
    expect(afterRelease).toBe('detached');
  });

  it('answers STILL_MOUNTED to the release of a volume that never lets go; the helper stopping frees it', async () => {
    // Prepare
    const lab = await rootOnLinuxHelper({ unmountFails: 'always' });
    await lab.run(buildNtfsRescueCommands({ jobId: 'job-1', targetInstanceId: 'i-0123456789abcdef0', volumeId: lab.volumeId }));
    // Act
    const release = await lab.run(buildNtfsReleaseCommands({ jobId: 'job-1', volumeId: lab.volumeId }));
    await lab.ec2.send(new DetachVolumeCommand({ VolumeId: lab.volumeId, InstanceId: lab.helper }));
    lab.advance(MINUTE);
    const stuck = await lab.attachment();
    await lab.ec2.send(new StopInstancesCommand({ InstanceIds: [lab.helper] }));
    lab.advance(5 * MINUTE);
    // Assess
    expect(parseNtfsReleaseSummary(release.StandardOutputContent!)).toMatchObject({ ok: false, released: false, error: 'STILL_MOUNTED' });
    expect(stuck).toBe('busy');
    expect(await lab.attachment()).toBe('detached');
  });

  it('releases at once a volume that is not mounted', async () => {
    const lab = await rootOnLinuxHelper({});
    const release = await lab.run(buildNtfsReleaseCommands({ jobId: 'job-1', volumeId: lab.volumeId }));
    expect(parseNtfsReleaseSummary(release.StandardOutputContent!)).toMatchObject({ ok: true, released: true, unmounted: [] });
  });
});
