import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import type { RescueParams } from '../../../domain/ports';
import { SsmRescueRunner } from '../../../infra/aws/ssm-rescue-runner';
import { buildLinuxRescueCommands } from '../../../infra/scripts/linux-rescue';
import { buildWindowsRescueCommands } from '../../../infra/scripts/windows-rescue';

const ssmMock = mockClient(SSMClient);

const params: RescueParams = {
  jobId: 'job-0001',
  helperInstanceId: 'i-0bbbb00000000001',
  targetInstanceId: 'i-0aaaa00000000001',
  platform: 'linux',
  volumeId: 'vol-0cccc00000000001',
  parameterName: '/ec2rl/openssh/i-0aaaa00000000001/key',
  keyType: 'ed25519',
};

const summaryLine = JSON.stringify({
  ok: true,
  volumeId: 'vol-0cccc00000000001',
  device: '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0cccc00000000001',
  disk: '/dev/nvme1n1',
  partition: '/dev/nvme1n1p1',
  filesystem: 'xfs',
  selinux: { mode: 'enforcing', labelled: true },
  users: [{ user: 'ec2-user', file: '/home/ec2-user/.ssh/authorized_keys', added: true }],
  parameterName: '/ec2rl/openssh/i-0aaaa00000000001/key',
  keyType: 'ed25519',
  fingerprint: 'SHA256:abc',
  publicKey: 'ssh-ed25519 AAAAC3Nza reset-access',
});

function ssmError(name: string, status = 400): SSMServiceException {
  return new SSMServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

let runner: SsmRescueRunner;

beforeEach(() => {
  ssmMock.reset();
  runner = new SsmRescueRunner(new SSMClient({ region: 'eu-west-1' }), { region: 'eu-west-1', rescueTimeoutSeconds: 600 });
});

describe('agentStatus', () => {
  it("answers the agent's PingStatus, filtered to the helper", async () => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [{ InstanceId: 'i-0bbbb00000000001', PingStatus: 'Online', PlatformType: 'Linux' }],
    });

    // Act
    const status = await runner.agentStatus('i-0bbbb00000000001');

    // Assess
    expect(status).toBe('Online');
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Key: 'InstanceIds', Values: ['i-0bbbb00000000001'] }],
    });
  });

  it('answers absent while the helper has not registered', async () => {
    // Prepare
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });

    // Act
    const status = await runner.agentStatus('i-0bbbb00000000001');

    // Assess
    expect(status).toBe('absent');
  });
});

describe('start', () => {
  it('sends AWS-RunShellScript with the Linux commands, the job comment and the timeouts', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    const expectedCommands = buildLinuxRescueCommands({
      jobId: params.jobId,
      targetInstanceId: params.targetInstanceId,
      volumeId: params.volumeId,
      parameterName: params.parameterName,
      keyType: params.keyType,
      region: 'eu-west-1',
    });

    // Act
    const commandId = await runner.start(params);

    // Assess
    expect(commandId).toBe('cmd-1');
    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input).toEqual({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0bbbb00000000001'],
      Comment: 'reset-access job-0001 rescue',
      TimeoutSeconds: 120,
      Parameters: { commands: expectedCommands, executionTimeout: ['600'] },
    });
  });

  it("passes the caller's key and account and no parameter name; a generated key's KMS key", async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    const caller = 'from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKurH4/liC/pEG+Pj5KIhQGNginpQkbieaGRGEG4EcEM me@laptop';
    const { parameterName: _unused, ...withoutParameter } = params;
    // Act
    await runner.start({ ...withoutParameter, user: 'deploy', publicKey: caller });
    await runner.start({ ...params, kmsKeyId: 'alias/team-keys' });
    // Assess
    const [own, generated] = ssmMock
      .commandCalls(SendCommandCommand)
      .map((c) => c.args[0].input.Parameters!.commands!.filter((line) => line.startsWith('export RA_')));
    expect(own).toEqual(expect.arrayContaining([`export RA_PUBLIC_KEY='${caller}'`, "export RA_USER='deploy'"]));
    expect(own!.some((line) => /RA_PARAMETER_NAME|RA_KMS_KEY_ID/.test(line))).toBe(false);
    expect(generated).toEqual(expect.arrayContaining([`export RA_PARAMETER_NAME='${params.parameterName}'`, "export RA_KMS_KEY_ID='alias/team-keys'"]));
  });

  it('sends AWS-RunPowerShellScript with the Windows commands for the volume at xvdf to a Windows helper', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    const expectedCommands = buildWindowsRescueCommands({
      jobId: params.jobId,
      targetInstanceId: params.targetInstanceId,
      volumeId: params.volumeId,
      device: 'xvdf',
    });

    // Act
    const commandId = await runner.start({ ...params, platform: 'windows' });

    // Assess
    expect(commandId).toBe('cmd-2');
    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input).toEqual({
      DocumentName: 'AWS-RunPowerShellScript',
      InstanceIds: ['i-0bbbb00000000001'],
      Comment: 'reset-access job-0001 rescue',
      TimeoutSeconds: 120,
      Parameters: { commands: expectedCommands, executionTimeout: ['600'] },
    });
  });

  it('refuses inputs the script builder rejects, permanently and without sending', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    // Act
    const start = runner.start({ ...params, volumeId: 'vol-$(reboot)' });

    // Assess
    await expect(start).rejects.toBeInstanceOf(PermanentError);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });
});

describe('find', () => {
  it("finds the job's command on a later page of the helper's commands", async () => {
    // Prepare
    ssmMock
      .on(ListCommandsCommand, { InstanceId: 'i-0bbbb00000000001', NextToken: undefined })
      .resolves({ Commands: [{ CommandId: 'cmd-other', Comment: 'something else' }], NextToken: 'p2' })
      .on(ListCommandsCommand, { InstanceId: 'i-0bbbb00000000001', NextToken: 'p2' })
      .resolves({ Commands: [{ CommandId: 'cmd-job', Comment: 'reset-access job-0001 rescue' }] });

    // Act
    const found = await runner.find(params);

    // Assess
    expect(found).toBe('cmd-job');
  });

  it('finds nothing when no command carries the comment', async () => {
    // Prepare
    ssmMock.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-other', Comment: 'reset-access job-0002 rescue' }] });

    // Act
    const found = await runner.find(params);

    // Assess
    expect(found).toBeUndefined();
  });
});

describe('result', () => {
  it('reads the status and the summary of a finished command', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: 'i-0bbbb00000000001' }).resolves({
      Status: 'Success',
      StandardOutputContent: `mounting /dev/nvme1n1p1\n${summaryLine}\n`,
      StandardErrorContent: '',
    });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.status).toBe('Success');
    expect(result?.summary).toMatchObject({ ok: true, fingerprint: 'SHA256:abc', users: [{ user: 'ec2-user', added: true }] });
    expect(result?.detail).toBeUndefined();
  });

  it("reads the Windows script's summary", async () => {
    // Prepare
    const windowsSummary = {
      ok: true,
      script: 'windows-rescue',
      volumeId: 'vol-0cccc00000000001',
      disk: { number: 1, partitionStyle: 'MBR', signatureCollision: true, signatureRestored: true },
      partition: 2,
      agents: [{ agent: 'ec2launch-v2', config: 'C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml', generatesPassword: true, changes: [] }],
      filesChanged: [],
      filesRemoved: ['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once'],
      warnings: ['once-tasks run again'],
    };
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', StandardOutputContent: `${JSON.stringify(windowsSummary)}\r\n`, StandardErrorContent: 'ra: found disk 1\r\n' });

    // Act
    const result = await runner.result('cmd-2', 'i-0bbbb00000000001');

    // Assess
    expect(result?.summary).toEqual(windowsSummary);
    expect(result?.detail).toBe('ra: found disk 1');
  });

  it('answers undefined while SSM does not know the invocation yet', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ message: 'no invocation', $metadata: { httpStatusCode: 400 } }));

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result).toBeUndefined();
  });

  it('keeps the status and the last stderr line, cut to 300 characters, when there is no summary', async () => {
    // Prepare
    const longLine = `mount: ${'x'.repeat(400)}`;
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StandardOutputContent: 'partial output, no summary',
      StandardErrorContent: `first problem\n${longLine}\n\n`,
    });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.status).toBe('Failed');
    expect(result?.summary).toBeUndefined();
    expect(result?.detail).toHaveLength(300);
    expect(result?.detail?.startsWith('mount: xxx')).toBe(true);
  });

  it("fails a command that ended Success without a readable summary, with the parser's reason", async () => {
    // Prepare: the script's summary never reached stdout
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', StandardOutputContent: 'mounting /dev/nvme1n1p1\n', StandardErrorContent: 'ra: done\n' });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.status).toBe('Success');
    expect(result?.summary).toEqual({
      ok: false,
      error: 'SUMMARY_UNREADABLE',
      message: expect.stringMatching(/^the command ended Success, but the Linux rescue script printed no JSON summary line .*\(last stderr line: ra: done\)$/),
    });
  });

  it.each([
    ['other output follows it (a JSON line of another tool)', `${summaryLine}\n{"progress":100}\n`],
    ['other output leads it on its line', `50% done${summaryLine}\n`],
    [
      'stdout was cut at 24,000 characters before it, mid-line',
      `${'x'.repeat(100)}\n`.repeat(240).slice(-(24_000 - summaryLine.length - 1)) + `${summaryLine}\n`,
    ],
  ])('finds the summary wherever it is the last thing that parses as one: %s', async (_what, stdout) => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: stdout, StandardErrorContent: '' });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.summary).toMatchObject({ ok: true, fingerprint: 'SHA256:abc' });
  });

  it('keeps a failure the script printed, though other output follows it', async () => {
    // Prepare
    const failure = JSON.stringify({ ok: false, error: 'NO_LOGIN_USER', message: 'no user with a home directory and a login shell' });
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', StandardOutputContent: `${failure}\n{"unrelated":true}\n`, StandardErrorContent: '' });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.summary).toEqual({ ok: false, error: 'NO_LOGIN_USER', message: 'no user with a home directory and a login shell' });
  });

  it('says the output was truncated when the 24,000 characters SSM keeps hold no summary', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: `${'y'.repeat(99)}\n`.repeat(240), StandardErrorContent: '' });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result?.summary).toEqual({ ok: false, error: 'OUTPUT_TRUNCATED', message: expect.stringMatching(/output was truncated.*24000 characters/) });
  });

  it("gives a failed command without stderr the parser's reason as its detail", async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StandardOutputContent: 'killed\n', StandardErrorContent: '' });

    // Act
    const result = await runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    expect(result).toEqual({ status: 'Failed', detail: expect.stringMatching(/printed no JSON summary line/) });
  });

  it('turns SSM throttling into a RetryableError', async () => {
    // Prepare
    ssmMock.on(GetCommandInvocationCommand).rejects(ssmError('ThrottlingException'));

    // Act
    const result = runner.result('cmd-1', 'i-0bbbb00000000001');

    // Assess
    await expect(result).rejects.toBeInstanceOf(RetryableError);
  });
});
