import {
  AttachVolumeCommand,
  CreateImageCommand,
  DescribeInstancesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DeleteParameterCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  PutParameterCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';

import { buildLinuxRescueCommands, parseRescueSummary, type RescueSuccess } from '../../../infra/scripts/linux-rescue';
import { amazonLinux2023Files, lostPublicKey, withLoginUser } from '../../../infra/sim/base-images';
import { usersAcceptingKey } from '../../../infra/sim/linux-rescue-model';
import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

const HELPER_IMAGE_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

async function launchHelper(ec2: EC2Client, ssm: SSMClient): Promise<string> {
  const image = await ssm.send(new GetParameterCommand({ Name: HELPER_IMAGE_PARAMETER }));
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: image.Parameter!.Value,
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      Placement: { AvailabilityZone: 'us-east-1a' },
      IamInstanceProfile: { Name: 'reset-access-helper' },
    }),
  );
  return run.Instances![0].InstanceId!;
}

async function pingStatus(ssm: SSMClient, instanceId: string): Promise<string | undefined> {
  const out = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
  return out.InstanceInformationList?.[0]?.PingStatus;
}

/** A stopped Amazon Linux target whose root is attached to an online helper, as the volume swap leaves them. */
async function swappedVolume(env: ReturnType<typeof simulatedRegion>) {
  const { ec2, ssm, region, advance } = env;
  const target = region.seedInstance({
    imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
    state: 'running',
    availabilityZone: 'us-east-1a',
    root: {
      files: withLoginUser(amazonLinux2023Files(), {
        user: 'ec2-user',
        uid: 1000,
        gid: 1000,
        gecos: 'EC2 Default User',
        groups: ['wheel'],
        authorizedKeys: [lostPublicKey('lost-laptop')],
        selinux: true,
      }),
    },
  });
  const helper = await launchHelper(ec2, ssm);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [target.instanceId] }));
  advance(Math.max(DEFAULT_TIMINGS.stopMs, DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.linuxAgentOnlineMs));
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [target.instanceId] }));
  const volumeId = described.Reservations![0].Instances![0].BlockDeviceMappings![0].Ebs!.VolumeId!;
  const backup = await ec2.send(new CreateImageCommand({ InstanceId: target.instanceId, Name: `ResetAccess-backup-${target.instanceId}-job-7` }));
  await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId }));
  advance(DEFAULT_TIMINGS.detachMs);
  await ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: helper, Device: '/dev/sdf' }));
  advance(DEFAULT_TIMINGS.attachMs);
  return { target: target.instanceId, helper, volumeId, backupImageId: backup.ImageId! };
}

function rescueCommands(target: string, volumeId: string, keyType: 'ed25519' | 'rsa' = 'ed25519') {
  return buildLinuxRescueCommands({
    jobId: 'job-7',
    targetInstanceId: target,
    volumeId,
    parameterName: `/ec2rl/openssh/${target}/key`,
    keyType,
    region: 'us-east-1',
  });
}

/** The public key inside an openssh-key-v1 private key, to check the pair belongs together. */
function publicBlobOfPrivateKey(privateKey: string): string {
  const body = Buffer.from(privateKey.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
  let offset = 'openssh-key-v1\0'.length;
  const next = () => {
    const length = body.readUInt32BE(offset);
    const value = body.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return value;
  };
  next(); // cipher
  next(); // kdf
  next(); // kdf options
  offset += 4; // number of keys
  return next().toString('base64');
}

describe('SSM through the real SSM client', () => {
  test('a helper with an instance profile is Online after the agent delay, ConnectionLost once stopped', async () => {
    // Prepare
    const { ec2, ssm, advance } = simulatedRegion();
    const helper = await launchHelper(ec2, ssm);

    // Act
    advance(DEFAULT_TIMINGS.launchMs);
    const booting = await pingStatus(ssm, helper);
    advance(DEFAULT_TIMINGS.linuxAgentOnlineMs);
    const online = await pingStatus(ssm, helper);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [helper] }));
    const stopping = await pingStatus(ssm, helper);

    // Assess
    expect(booting).toBeUndefined();
    expect(online).toBe('Online');
    expect(stopping).toBe('ConnectionLost');
  });

  test('the rescue command: InvocationDoesNotExist at first, then the key in authorized_keys and the private key in Parameter Store', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ssm, region, advance, events } = env;
    const { target, helper, volumeId, backupImageId } = await swappedVolume(env);
    const parameterName = `/ec2rl/openssh/${target}/key`;

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [helper],
        Parameters: { commands: rescueCommands(target, volumeId) },
      }),
    );
    const commandId = sent.Command!.CommandId!;
    const tooEarly = await errorCodeOf(ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: helper })));
    advance(DEFAULT_TIMINGS.commandVisibleMs);
    const inProgress = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: helper }));
    advance(DEFAULT_TIMINGS.rescueScriptMs);
    const done = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: helper }));
    const summary = parseRescueSummary(done.StandardOutputContent ?? '') as RescueSuccess;
    const stored = region.getParameter(parameterName);
    const encrypted = await ssm.send(new GetParameterCommand({ Name: parameterName }));
    const decrypted = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }));

    // Assess
    expect(sent.Command?.Status).toBe('Pending');
    expect(tooEarly).toBe('InvocationDoesNotExist');
    expect(inProgress.Status).toBe('InProgress');
    expect(done).toEqual(expect.objectContaining({ Status: 'Success', ResponseCode: 0, PluginName: 'aws:runShellScript' }));
    expect(summary).toEqual(
      expect.objectContaining({
        ok: true,
        volumeId,
        partition: '/dev/nvme1n1p1',
        filesystem: 'xfs',
        parameterName,
        keyType: 'ed25519',
        users: [{ user: 'ec2-user', file: '/home/ec2-user/.ssh/authorized_keys', added: true }],
      }),
    );
    expect(summary.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ reset-access-job-7$/);
    expect(summary.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const files = region.getVolume(volumeId)!.files;
    expect(usersAcceptingKey(files, summary.publicKey)).toEqual(['ec2-user']);
    expect(files['/home/ec2-user/.ssh/authorized_keys'].content).toContain('lost-laptop');
    expect(stored).toEqual(expect.objectContaining({ type: 'SecureString', version: 1 }));
    expect(stored!.value).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(publicBlobOfPrivateKey(stored!.value)).toBe(summary.publicKey.split(' ')[1]);
    expect(encrypted.Parameter?.Value).not.toContain('PRIVATE KEY');
    expect(decrypted.Parameter?.Value).toBe(stored!.value);
    expect(listed.Commands?.[0]).toEqual(expect.objectContaining({ Status: 'Success', CompletedCount: 1, TargetCount: 1 }));
    // The backup image was taken before the rescue: it still has only the old key.
    const backupSnapshot = region.getImage(backupImageId)!.blockDeviceMappings[0].snapshotId!;
    expect(usersAcceptingKey(region.exportState().snapshots[backupSnapshot].files, summary.publicKey)).toEqual([]);
    expect(events.filter((e) => e['detail-type'] === 'EC2 Command Invocation Status-change Notification').map((e) => e.detail.status)).toEqual([
      'InProgress',
      'Success',
    ]);
  });

  test('RA_KEY_TYPE=rsa gives an RSA 4096 key', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ssm, advance } = env;
    const { target, helper, volumeId } = await swappedVolume(env);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [helper],
        Parameters: { commands: rescueCommands(target, volumeId, 'rsa') },
      }),
    );
    advance(DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.rescueScriptMs + DEFAULT_TIMINGS.commandVisibleMs);
    const done = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: helper }));
    const summary = parseRescueSummary(done.StandardOutputContent ?? '') as RescueSuccess;

    // Assess
    expect(summary.keyType).toBe('rsa');
    // An RSA 4096 public blob: "ssh-rsa", the exponent, a 513-byte modulus; about 716 base64 characters.
    expect(summary.publicKey).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E\S{700,} reset-access-job-7$/);
  });

  test('the rescue fails with DEVICE_NOT_FOUND when the volume is not attached to the helper', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ssm, ec2, region, advance } = env;
    const { target, helper, volumeId } = await swappedVolume(env);
    await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId }));
    advance(DEFAULT_TIMINGS.detachMs);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [helper],
        Parameters: { commands: rescueCommands(target, volumeId) },
      }),
    );
    advance(DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.rescueScriptMs);
    const done = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: helper }));
    const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId, Details: true }));

    // Assess
    expect(done.Status).toBe('Failed');
    expect(parseRescueSummary(done.StandardOutputContent ?? '')).toEqual(expect.objectContaining({ ok: false, error: 'DEVICE_NOT_FOUND' }));
    expect(listed.CommandInvocations?.[0].CommandPlugins?.[0]).toEqual(expect.objectContaining({ Status: 'Failed', ResponseCode: 1 }));
    expect(region.getParameter(`/ec2rl/openssh/${target}/key`)).toBeUndefined();
  });

  test('SendCommand to an instance SSM does not manage is InvalidInstanceId; another command succeeds with no output', async () => {
    // Prepare
    const { ec2, ssm, advance } = simulatedRegion();
    const helper = await launchHelper(ec2, ssm);
    const unmanaged = (await ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }))).Instances![0]
      .InstanceId!;
    advance(DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.linuxAgentOnlineMs);

    // Act
    const refused = await errorCodeOf(
      ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [unmanaged], Parameters: { commands: ['uptime'] } })),
    );
    const sent = await ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [helper], Parameters: { commands: ['uptime'] } }));
    advance(DEFAULT_TIMINGS.commandVisibleMs + DEFAULT_TIMINGS.defaultScriptMs);
    const done = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: helper }));

    // Assess
    expect(refused).toBe('InvalidInstanceId');
    expect(done).toEqual(expect.objectContaining({ Status: 'Success', StandardOutputContent: '', ResponseCode: 0 }));
  });

  test('parameters: create, refuse a second create, overwrite, list by path, delete', async () => {
    // Prepare
    const { ssm } = simulatedRegion();

    // Act
    const first = await ssm.send(new PutParameterCommand({ Name: '/ec2rl/openssh/i-1/key', Value: 'one', Type: 'SecureString' }));
    const again = await errorCodeOf(ssm.send(new PutParameterCommand({ Name: '/ec2rl/openssh/i-1/key', Value: 'two', Type: 'SecureString' })));
    const overwritten = await ssm.send(new PutParameterCommand({ Name: '/ec2rl/openssh/i-1/key', Value: 'two', Overwrite: true }));
    await ssm.send(new PutParameterCommand({ Name: '/ec2rl/openssh/i-2/key', Value: 'three', Type: 'SecureString' }));
    const shallow = await ssm.send(new GetParametersByPathCommand({ Path: '/ec2rl/openssh' }));
    const deep = await ssm.send(new GetParametersByPathCommand({ Path: '/ec2rl/openssh', Recursive: true, WithDecryption: true }));
    const reserved = await errorCodeOf(ssm.send(new PutParameterCommand({ Name: '/aws/service/x', Value: 'v', Type: 'String' })));
    await ssm.send(new DeleteParameterCommand({ Name: '/ec2rl/openssh/i-1/key' }));
    const deleted = await errorCodeOf(ssm.send(new GetParameterCommand({ Name: '/ec2rl/openssh/i-1/key' })));

    // Assess
    expect(first.Version).toBe(1);
    expect(again).toBe('ParameterAlreadyExists');
    expect(overwritten.Version).toBe(2);
    expect(shallow.Parameters).toEqual([]);
    expect(deep.Parameters?.map((p) => [p.Name, p.Type, p.Value])).toEqual([
      ['/ec2rl/openssh/i-1/key', 'SecureString', 'two'],
      ['/ec2rl/openssh/i-2/key', 'SecureString', 'three'],
    ]);
    expect(reserved).toBe('ValidationException');
    expect(deleted).toBe('ParameterNotFound');
  });

  test('public parameters name images that exist in the region', async () => {
    // Prepare
    const { ssm } = simulatedRegion();

    // Act
    const linux = await ssm.send(new GetParameterCommand({ Name: HELPER_IMAGE_PARAMETER }));
    const windows = await ssm.send(new GetParameterCommand({ Name: '/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base' }));

    // Assess
    expect(linux.Parameter).toEqual(expect.objectContaining({ Value: PUBLIC_IMAGE_IDS.amazonLinux2023, DataType: 'aws:ec2:image', Type: 'String' }));
    expect(windows.Parameter?.Value).toBe(PUBLIC_IMAGE_IDS.windowsServer2022);
  });
});
