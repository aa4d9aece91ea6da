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
import type { OnlineCommandParams } from '../../../domain/online-ports';
import { SsmTargetCommands } from '../../../infra/aws/ssm-target-commands';
import { defaultConfig } from '../../../domain/config';
import { buildLinuxOnlineCommands } from '../../../infra/scripts/linux-rescue';
import { buildWindowsOnlineCommands } from '../../../infra/scripts/windows-rescue';

const ssmMock = mockClient(SSMClient);
const TARGET = 'i-0aaaa00000000001';
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnlineTestKey000000000000000000000000000000 reset-access-job-0001';
const params: OnlineCommandParams = { jobId: 'job-0001', instanceId: TARGET, platform: 'linux', publicKey: PUBLIC_KEY };

function ssmError(name: string, status = 400): SSMServiceException {
  return new SSMServiceException({ name, message: `${name} (test)`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

let commands: SsmTargetCommands;

beforeEach(() => {
  ssmMock.reset();
  commands = new SsmTargetCommands(new SSMClient({ region: 'eu-west-1' }), {
    online: { ...defaultConfig.online, deliveryTimeoutSeconds: 60, executionTimeoutSeconds: 120 },
  });
});

describe('agentStatus', () => {
  it.each([
    ['Online', 'Online'],
    ['ConnectionLost', 'ConnectionLost'],
  ] as const)("answers the target's PingStatus %s", async (ping, expected) => {
    ssmMock
      .on(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [TARGET] }] })
      .resolves({ InstanceInformationList: [{ InstanceId: TARGET, PingStatus: ping }] });

    const status = await commands.agentStatus(TARGET);

    expect(status).toBe(expected);
  });

  it('answers absent for an instance SSM does not manage', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });

    expect(await commands.agentStatus(TARGET)).toBe('absent');
  });
});

describe('send', () => {
  it('sends the rescue script in online mode to the target, with the job comment, a short delivery timeout and the public key only', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    // Act
    const commandId = await commands.send(params);

    // Assess
    expect(commandId).toBe('cmd-1');
    const input = ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(input).toEqual({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [TARGET],
      Comment: 'reset-access job-0001 online',
      TimeoutSeconds: 60,
      Parameters: { commands: buildLinuxOnlineCommands({ jobId: 'job-0001', targetInstanceId: TARGET, publicKey: PUBLIC_KEY }), executionTimeout: ['120'] },
    });
    expect(input.Parameters!.commands!.filter((c) => c.startsWith('export RA_'))).toContain("export RA_TARGET_ROOT='/'");
  });

  it("sends the caller's own key line as given, marked as the caller's, and the account asked for", async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    const line = `from="192.0.2.0/24" ${PUBLIC_KEY} me@laptop`;
    // Act
    await commands.send({ ...params, publicKey: line, keySource: 'caller', user: 'deploy' });
    // Assess
    const exported = ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input.Parameters!.commands!.filter((c) => c.startsWith('export RA_'));
    expect(exported).toEqual(expect.arrayContaining([`export RA_PUBLIC_KEY='${line}'`, "export RA_KEY_SOURCE='caller'", "export RA_USER='deploy'"]));
  });

  it('sends the Windows script in online mode through AWS-RunPowerShellScript, with no key at all', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-w' } });

    // Act
    const commandId = await commands.send({ jobId: 'job-0001', instanceId: TARGET, platform: 'windows' });

    // Assess
    expect(commandId).toBe('cmd-w');
    const input = ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(input).toEqual({
      DocumentName: 'AWS-RunPowerShellScript',
      InstanceIds: [TARGET],
      Comment: 'reset-access job-0001 online',
      TimeoutSeconds: 60,
      Parameters: { commands: buildWindowsOnlineCommands({ jobId: 'job-0001', targetInstanceId: TARGET }), executionTimeout: ['120'] },
    });
    expect(input.Parameters!.commands).toContain("$env:RA_MODE = 'online'");
  });

  it('refuses a Windows job id the script builder rejects, without sending', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    await expect(commands.send({ jobId: "job'; Restart-Computer", instanceId: TARGET, platform: 'windows' })).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'ONLINE_INVALID_INPUT',
    });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('refuses a key line the script builder rejects', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    await expect(commands.send({ ...params, publicKey: "ssh-ed25519 AAAA'; reboot" })).rejects.toBeInstanceOf(PermanentError);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('translates an agent SSM cannot reach (InvalidInstanceId) into a permanent error, throttling into a retryable one', async () => {
    ssmMock.on(SendCommandCommand).rejectsOnce(ssmError('InvalidInstanceId')).rejectsOnce(ssmError('ThrottlingException'));

    await expect(commands.send(params)).rejects.toBeInstanceOf(PermanentError);
    await expect(commands.send(params)).rejects.toBeInstanceOf(RetryableError);
  });
});

describe('find', () => {
  it("finds the job's online command among the target's others, and not its offline rescue command", async () => {
    ssmMock
      .on(ListCommandsCommand, { InstanceId: TARGET, NextToken: undefined })
      .resolves({ Commands: [{ CommandId: 'cmd-rescue', Comment: 'reset-access job-0001 rescue' }], NextToken: 'p2' })
      .on(ListCommandsCommand, { InstanceId: TARGET, NextToken: 'p2' })
      .resolves({ Commands: [{ CommandId: 'cmd-online', Comment: 'reset-access job-0001 online' }] });

    expect(await commands.find(params)).toBe('cmd-online');
  });
});

describe('result', () => {
  it('reads the online summary', async () => {
    // Prepare
    const summary = {
      ok: true,
      mode: 'online',
      root: '/',
      selinux: { mode: 'permissive', labelled: true },
      users: [{ user: 'ec2-user', file: '/home/ec2-user/.ssh/authorized_keys', added: true }],
      keyType: 'ed25519',
      fingerprint: 'SHA256:abc',
      publicKey: PUBLIC_KEY,
    };
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: TARGET })
      .resolves({ Status: 'Success', StandardOutputContent: `${JSON.stringify(summary)}\n`, StandardErrorContent: 'ra: users: ec2-user\n' });

    // Act
    const result = await commands.result('cmd-1', TARGET);

    // Assess
    expect(result).toEqual({ status: 'Success', summary, detail: 'ra: users: ec2-user' });
  });

  it("reads the Windows script's online summary", async () => {
    const summary = {
      ok: true,
      script: 'windows-rescue',
      mode: 'online',
      agents: [
        {
          agent: 'ec2launch-v2',
          config: 'C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml',
          generatesPassword: true,
          changes: ['removed state\\.run-once'],
        },
      ],
      filesChanged: [],
      filesRemoved: ['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once'],
      warnings: [],
    };
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: `${JSON.stringify(summary)}\r\n` });

    const result = await commands.result('cmd-w', TARGET);

    expect(result?.status).toBe('Success');
    expect(result?.summary).toMatchObject({ ok: true, mode: 'online', agents: [{ agent: 'ec2launch-v2', generatesPassword: true }] });
  });

  it('reads a failure summary and answers undefined while the invocation is unknown', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(new InvocationDoesNotExist({ message: 'no invocation', $metadata: { httpStatusCode: 400 } }))
      .resolves({ Status: 'Failed', StandardOutputContent: '{"ok":false,"error":"NO_LOGIN_USER","message":"nobody"}\n' });

    expect(await commands.result('cmd-1', TARGET)).toBeUndefined();
    expect(await commands.result('cmd-1', TARGET)).toEqual({ status: 'Failed', summary: { ok: false, error: 'NO_LOGIN_USER', message: 'nobody' } });
  });
});
