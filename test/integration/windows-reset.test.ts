import { defaultConfig } from '../../domain/config';
import { loadConfig } from '../../infra/wiring/config';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { windowsServer2022Files } from '../../infra/sim/base-images';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../infra/sim/timings';
import { ec2ConfigPluginState } from '../../infra/sim/windows-agent-configs';
import { passwordGenerationEnabled, WINDOWS_PATHS } from '../../infra/sim/windows-rescue-model';
import { mutatingCalls } from '../support/checks';

const WIN2022 = 'i-0a1b2c3d4e5f60007';
const WIN2012 = 'i-0a1b2c3d4e5f60008';
/** The Windows helper all the way (the fast path on a Linux helper is windows-fast-path.test.ts). */
const WINDOWS_HELPER = { windowsFastPath: { ...defaultConfig.windowsFastPath, enabled: false } };

function rootOf(stack: VirtualStack, instanceId: string) {
  const instance = stack.region.getInstance(instanceId)!;
  const volume = Object.values(stack.region.exportState().volumes).find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName,
  );
  return { instance, volume };
}

function passwordDataOf(stack: VirtualStack, instanceId: string): string {
  return stack.region.ec2('GetPasswordData', { InstanceId: instanceId }).PasswordData ?? '';
}

/** Lets simulated time pass with no job running (boots finish, images complete). */
function letTimePass(stack: VirtualStack, ms: number): void {
  stack.clock.advance(ms);
  stack.region.tick();
}

describe('a Windows reset end to end on the simulated region', () => {
  it('re-enables EC2Launch v2 password generation on a Windows helper, keeps both AMIs, and GetPasswordData answers after the boot', async () => {
    // Prepare
    const stack = new VirtualStack({ config: WINDOWS_HELPER });
    const before = rootOf(stack, WIN2022);
    const passwordBefore = passwordDataOf(stack, WIN2022);
    expect(passwordGenerationEnabled(before.volume!.files)).toBe(false);

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: WIN2022 });
    const ran = await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;
    const afterJob = rootOf(stack, WIN2022);
    const passwordRightAfter = passwordDataOf(stack, WIN2022);
    letTimePass(stack, DEFAULT_TIMINGS.windowsBootMs);
    const afterBoot = rootOf(stack, WIN2022);
    const passwordAfterBoot = passwordDataOf(stack, WIN2022);

    // Assess
    expect(started.statusCode).toBe(202);
    expect(ran).toBe('idle');
    expect(view.platform).toBe('windows');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.phases.map((p: { name: string }) => p.name)).toContain('create-password-image');
    expect(stack.region.getImage(view.outputs.backupImageId)?.name).toBe(`ResetAccess-backup-${WIN2022}-${view.jobId}`);
    expect(stack.region.getImage(view.outputs.passwordEnabledImageId)?.name).toBe(`ResetAccess-password-enabled-${WIN2022}-${view.jobId}`);
    expect(view.outputs.launchAgents).toEqual(['EC2Launch v2']);
    expect(view.outputs.passwordRetrieval).toBe(
      `aws ec2 get-password-data --region us-east-1 --instance-id ${WIN2022} --priv-launch-key <the key pair's private key file>`,
    );
    expect(view.outputs.sshKeyParameter).toBeUndefined();
    expect(passwordBefore).toBe('');
    expect(passwordRightAfter).toBe('');
    expect(passwordAfterBoot).not.toBe('');
    expect(afterJob.instance.state).toBe('running');
    expect(afterJob.volume?.volumeId).toBe(before.volume!.volumeId);
    expect(afterJob.volume?.attachment?.deleteOnTermination).toBe(true);
    expect(passwordGenerationEnabled(afterJob.volume!.files)).toBe(true);
    // The agent turned generation off again once it had made the password.
    expect(passwordGenerationEnabled(afterBoot.volume!.files)).toBe(false);
    const helper = stack.region.getInstance(view.helperInstanceId)!;
    expect(helper.platform).toBe('windows');
    expect(helper.imageId).toBe(PUBLIC_IMAGE_IDS.windowsServer2022);
    expect(['shutting-down', 'terminated']).toContain(helper.state);
    const command = Object.values(stack.region.exportState().commands)[0]!;
    expect(command.documentName).toBe('AWS-RunPowerShellScript');
    expect(command.invocations[view.helperInstanceId].runner).toBe('windows-rescue');
  });

  it('makes a password-enabled image whose instances get a password at first boot', async () => {
    // Prepare
    const stack = new VirtualStack();
    const { json } = await stack.api('POST', '/resets', { instanceId: WIN2022 });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${json.jobId}`)).json;
    const backup = stack.region.getImage(view.outputs.backupImageId)!;
    const enabled = stack.region.getImage(view.outputs.passwordEnabledImageId)!;
    letTimePass(stack, DEFAULT_TIMINGS.imageMs);

    // Act
    const launched = stack.region.ec2('RunInstances', { ImageId: enabled.imageId, MinCount: 1, MaxCount: 1, KeyName: 'new-key' });
    const replacement = launched.Instances![0].InstanceId!;
    letTimePass(stack, DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.windowsFirstBootMs);

    // Assess
    const snapshotFiles = (image: typeof backup) => stack.region.exportState().snapshots[image.blockDeviceMappings[0].snapshotId!].files;
    expect(passwordGenerationEnabled(snapshotFiles(backup))).toBe(false);
    expect(passwordGenerationEnabled(snapshotFiles(enabled))).toBe(true);
    expect(passwordDataOf(stack, replacement)).not.toBe('');
  });

  it('re-enables EC2Config on a stopped Windows Server 2012 R2 and leaves it stopped', async () => {
    // Prepare
    const stack = new VirtualStack();
    const before = rootOf(stack, WIN2012);
    const config = (files: Record<string, { content: string }>) => files[WINDOWS_PATHS.ec2configConfig].content;
    expect(ec2ConfigPluginState(config(before.volume!.files), 'Ec2SetPassword')).toBe('Disabled');

    // Act
    const { json } = await stack.api('POST', '/resets', { instanceId: WIN2012 });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${json.jobId}`)).json;
    const after = rootOf(stack, WIN2012);
    stack.region.ec2('StartInstances', { InstanceIds: [WIN2012] });
    letTimePass(stack, DEFAULT_TIMINGS.startMs + DEFAULT_TIMINGS.windowsBootMs);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs.launchAgents).toEqual(['EC2Config']);
    expect(view.outputs.rescueNotes.join(' ')).toMatch(/stays stopped/);
    expect(after.instance.state).toBe('stopped');
    expect(after.volume?.volumeId).toBe(before.volume!.volumeId);
    expect(ec2ConfigPluginState(config(after.volume!.files), 'Ec2SetPassword')).toBe('Enabled');
    expect(passwordDataOf(stack, WIN2012)).not.toBe('');
  });

  it('launches one helper, stops once, makes the backup and the password-enabled image, and sends one command', async () => {
    const stack = new VirtualStack({ config: WINDOWS_HELPER });
    await stack.api('POST', '/resets', { instanceId: WIN2022 });
    await stack.run();
    const calls = mutatingCalls(stack);
    expect(calls.RunInstances).toBe(1);
    expect(calls.StopInstances).toBe(1);
    expect(calls.CreateImage).toBe(2);
    expect(calls.SendCommand).toBe(1);
    expect(calls.TerminateInstances).toBe(1);
  });
});

describe('a Windows reset that fails', () => {
  it('rolls back when the rescue script fails: the root is back at its device and the instance restored', async () => {
    // Prepare: a volume whose agent-config.yml the script does not understand (flow style).
    const stack = new VirtualStack({ config: WINDOWS_HELPER });
    const files = windowsServer2022Files();
    files[WINDOWS_PATHS.ec2launchV2Config].content =
      'version: 1.0\nconfig: [{stage: preReady, tasks: [{task: setAdminAccount, inputs: {password: {type: doNothing}}}]}]\n';
    const seeded = stack.region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
      state: 'running',
      tags: { Name: 'win-odd-config', 'reset-access:allowed': 'true' },
      root: { files, deleteOnTermination: false, passwordGenerationEnabled: false },
    });
    const before = rootOf(stack, seeded.instanceId);

    // Act
    const { json } = await stack.api('POST', '/resets', { instanceId: seeded.instanceId });
    const ran = await stack.run();
    const view = (await stack.api('GET', `/resets/${json.jobId}`)).json;
    const after = rootOf(stack, seeded.instanceId);

    // Assess
    expect(ran).toBe('idle');
    expect(view.status).toBe('FAILED');
    expect(view.error).toEqual(expect.objectContaining({ code: 'RESCUE_CONFIG_NOT_UNDERSTOOD', phase: 'run-rescue' }));
    expect(view.error.message).toContain('agent-config.yml');
    expect(view.instanceRestored).toBe(true);
    expect(after.instance.state).toBe('running');
    expect(after.volume?.volumeId).toBe(before.volume!.volumeId);
    expect(after.volume?.attachment?.device).toBe(before.instance.rootDeviceName);
    expect(after.volume?.attachment?.deleteOnTermination).toBe(false);
    expect(after.volume?.files).toEqual(before.volume!.files);
    expect(stack.region.getImage(view.outputs.backupImageId)?.state).toBeDefined();
    expect(view.outputs.passwordEnabledImageId).toBeUndefined();
    expect(['shutting-down', 'terminated']).toContain(stack.region.getInstance(view.helperInstanceId)!.state);
  });
});

describe('a Windows reset that is refused', () => {
  it.each([
    ['STOP_PROTECTED', { disableApiStop: true }],
    ['SPOT_INSTANCE', { lifecycle: 'spot' as const }],
    ['SHUTDOWN_TERMINATES', { shutdownBehavior: 'terminate' as const }],
  ])('%s: refused before anything changes, as on Linux', async (code, spec) => {
    // Prepare
    const stack = new VirtualStack();
    const seeded = stack.region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
      state: 'running',
      tags: { 'reset-access:allowed': 'true' },
      ...spec,
    });

    // Act
    const response = await stack.api('POST', '/resets', { instanceId: seeded.instanceId });

    // Assess
    expect(response.statusCode).toBe(422);
    expect(JSON.stringify(response.json)).toContain(code);
    expect(mutatingCalls(stack)).toEqual({});
  });
});

describe('the Windows helper image', () => {
  it('comes from an SSM public parameter that can be configured on its own', () => {
    const windows2019 = '/aws/service/ami-windows-latest/Windows_Server-2019-English-Full-Base';
    const config = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ helperImageParameter: { windows: windows2019 } }) });
    expect(defaultConfig.helperImageParameter.windows).toBe('/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base');
    expect(config.helperImageParameter).toEqual({ linux: defaultConfig.helperImageParameter.linux, windows: windows2019 });
  });
});
