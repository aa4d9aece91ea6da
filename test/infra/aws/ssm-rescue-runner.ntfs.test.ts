/**
 * The rescue runner on the Windows fast path: the NTFS rescue and its release go to the Linux
 * helper as AWS-RunShellScript commands, each found again by its own comment, and their summaries
 * (the refusal's `fallback`, the release's `released`) come back whole.
 */
import { GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { RescueParams } from '../../../domain/ports';
import { SsmRescueRunner } from '../../../infra/aws/ssm-rescue-runner';
import { buildNtfsReleaseCommands } from '../../../infra/scripts/ntfs-release';
import { buildNtfsRescueCommands } from '../../../infra/scripts/ntfs-rescue';

const ssmMock = mockClient(SSMClient);
const HELPER = 'i-0bbbb00000000001';

const params: RescueParams = {
  jobId: 'job-0001',
  helperInstanceId: HELPER,
  targetInstanceId: 'i-0aaaa00000000001',
  platform: 'windows',
  volumeId: 'vol-0cccc00000000001',
  parameterName: '/ec2rl/openssh/i-0aaaa00000000001/key',
  keyType: 'ed25519',
};

let runner: SsmRescueRunner;

beforeEach(() => {
  ssmMock.reset();
  runner = new SsmRescueRunner(new SSMClient({ region: 'eu-west-1' }), { region: 'eu-west-1', rescueTimeoutSeconds: 600 });
});

describe('the NTFS rescue and its release', () => {
  it('sends the NTFS rescue of a Windows volume as AWS-RunShellScript, looking for /dev/sdf on Xen', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-ntfs' } });
    // Act
    await runner.start({ ...params, script: 'ntfs-rescue' });
    // Assess
    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [HELPER],
      Comment: 'reset-access job-0001 rescue',
      Parameters: {
        commands: buildNtfsRescueCommands({
          jobId: 'job-0001',
          targetInstanceId: params.targetInstanceId,
          volumeId: params.volumeId,
          deviceHints: ['/dev/sdf', '/dev/xvdf'],
        }),
      },
    });
  });

  it('sends the release with a comment of its own, and finds it by that comment', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-release' } });
    ssmMock.on(ListCommandsCommand).resolves({
      Commands: [
        { CommandId: 'cmd-ntfs', Comment: 'reset-access job-0001 rescue' },
        { CommandId: 'cmd-release', Comment: 'reset-access job-0001 release' },
      ],
    });
    // Act
    await runner.start({ ...params, script: 'ntfs-release' });
    const found = await runner.find({ ...params, script: 'ntfs-release' });
    const rescue = await runner.find({ ...params, script: 'ntfs-rescue' });
    // Assess
    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      Comment: 'reset-access job-0001 release',
      Parameters: { commands: buildNtfsReleaseCommands({ jobId: 'job-0001', volumeId: params.volumeId, deviceHints: ['/dev/sdf', '/dev/xvdf'] }) },
    });
    expect([found, rescue]).toEqual(['cmd-release', 'cmd-ntfs']);
  });

  it('reads an NTFS refusal whole, with its fallback, from a command that failed', async () => {
    // Prepare
    const refusal = {
      ok: false,
      script: 'ntfs-rescue',
      helper: 'linux',
      error: 'HIBERNATED',
      message: 'Windows is hibernated',
      fallback: true,
      volumeWritten: false,
    };
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Failed', StandardOutputContent: `${JSON.stringify(refusal)}\n`, StandardErrorContent: 'ra: error HIBERNATED\n' });
    // Act
    const result = await runner.result('cmd-ntfs', HELPER);
    // Assess
    expect(result?.status).toBe('Failed');
    expect(result?.summary).toMatchObject({ ok: false, error: 'HIBERNATED', fallback: true, volumeWritten: false });
  });

  it("reads the release's summary", async () => {
    // Prepare
    const released = { ok: true, script: 'ntfs-release', helper: 'linux', released: true, volumeId: params.volumeId, unmounted: ['/mnt/ra-job-0001/root'] };
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: `${JSON.stringify(released)}\n`, StandardErrorContent: '' });
    // Act
    const result = await runner.result('cmd-release', HELPER);
    // Assess
    expect(result?.summary).toMatchObject({ ok: true, released: true, unmounted: ['/mnt/ra-job-0001/root'] });
  });
});
