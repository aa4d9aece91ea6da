import { GetPasswordDataCommand, RebootInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';

import { buildWindowsOnlineCommands, buildWindowsRescueCommands, parseWindowsRescueSummary } from '../../../infra/scripts/windows-rescue';
import { seedSampleRegion } from '../../../infra/sim/samples';
import type { ScriptHost } from '../../../infra/sim/script-runners';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import type { VolumeFiles } from '../../../infra/sim/volume-files';
import { windowsOnlineRunner } from '../../../infra/sim/windows-online-runner';
import { passwordGenerationEnabled, WINDOWS_PATHS } from '../../../infra/sim/windows-rescue-model';
import { windowsRescueRunner } from '../../../infra/sim/windows-rescue-runner';
import { simulatedRegion } from './sim-harness';

/** The running Windows Server 2022 sample (EC2Launch v2, its password made at first boot). */
const WIN2022 = 'i-0a1b2c3d4e5f60007';

/** The sample region with WIN2022's SSM agent registered and Online (as with an instance profile). */
function seededWithManagedWindows() {
  const seeding = simulatedRegion();
  seedSampleRegion(seeding.region);
  const state = seeding.region.exportState();
  const now = seeding.clock.now();
  state.instances[WIN2022].iamInstanceProfile = { arn: 'arn:aws:iam::123456789012:instance-profile/app-ssm', id: 'AIPAEXAMPLEWINDOWS01' };
  state.instances[WIN2022].agent = { status: 'online', registeredAt: now, lastPingAt: now };
  const sim = simulatedRegion({ state });
  const rootOf = (id: string) => {
    const instance = sim.region.getInstance(id)!;
    return Object.values(sim.region.exportState().volumes).find((v) => v.attachment?.instanceId === id && v.attachment.device === instance.rootDeviceName)!;
  };
  return { ...sim, rootOf };
}

/** A host with one root volume and nothing else, for the runner's input checks. */
function hostWithRoot(filesystem: string, files: VolumeFiles): ScriptHost & { written: VolumeFiles[] } {
  const written: VolumeFiles[] = [];
  return {
    written,
    now: () => 0,
    findAttachedVolume: () => undefined,
    findRootVolume: () => ({ volumeId: 'vol-0123456789abcdef0', filesystem, files }),
    writeVolumeFiles: (_id, f) => void written.push(f),
    putSecureStringParameter: () => undefined,
  };
}

describe('the Windows script in online mode, run on the target', () => {
  it("re-enables EC2Launch v2 password generation on the running instance's own root volume", async () => {
    // Prepare
    const { ssm, advance, rootOf, region } = seededWithManagedWindows();
    const before = rootOf(WIN2022);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunPowerShellScript',
        InstanceIds: [WIN2022],
        Parameters: { commands: buildWindowsOnlineCommands({ jobId: 'w-online1', targetInstanceId: WIN2022 }) },
      }),
    );
    advance(DEFAULT_TIMINGS.commandVisibleMs + DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.defaultScriptMs);
    const invocation = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: WIN2022 }));

    // Assess
    expect(invocation.Status).toBe('Success');
    expect(region.getCommand(sent.Command!.CommandId!)!.invocations[WIN2022].runner).toBe('windows-online');
    expect(parseWindowsRescueSummary(invocation.StandardOutputContent!)).toEqual({
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
      warnings: [expect.stringContaining('frequency "once" again')],
    });
    const after = rootOf(WIN2022);
    expect(after.volumeId).toBe(before.volumeId);
    expect(before.files[WINDOWS_PATHS.ec2launchV2RunOnce]).toBeDefined();
    expect(after.files[WINDOWS_PATHS.ec2launchV2RunOnce]).toBeUndefined();
    expect([passwordGenerationEnabled(before.files), passwordGenerationEnabled(after.files)]).toEqual([false, true]);
    // The script does not reboot: the instance is still running, on the same boot.
    expect(region.getInstance(WIN2022)!.state).toBe('running');
    expect(region.getInstance(WIN2022)!.stateEpoch).toBe(0);
  });

  it('after RebootInstances and the boot, GetPasswordData answers with a Timestamp after the reboot, which stays', async () => {
    // Prepare
    const { ec2, ssm, advance, clock } = seededWithManagedWindows();
    await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunPowerShellScript',
        InstanceIds: [WIN2022],
        Parameters: { commands: buildWindowsOnlineCommands({ jobId: 'w-online2', targetInstanceId: WIN2022 }) },
      }),
    );
    advance(DEFAULT_TIMINGS.commandVisibleMs + DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.defaultScriptMs);
    const beforeReboot = await ec2.send(new GetPasswordDataCommand({ InstanceId: WIN2022 }));

    // Act
    const rebootedAt = clock.now();
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [WIN2022] }));
    advance(DEFAULT_TIMINGS.windowsBootMs - 1_000);
    const duringBoot = await ec2.send(new GetPasswordDataCommand({ InstanceId: WIN2022 }));
    advance(1_000);
    const booted = await ec2.send(new GetPasswordDataCommand({ InstanceId: WIN2022 }));
    advance(60_000);
    const later = await ec2.send(new GetPasswordDataCommand({ InstanceId: WIN2022 }));
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [WIN2022] }));
    advance(DEFAULT_TIMINGS.windowsBootMs);
    const afterSecondReboot = await ec2.send(new GetPasswordDataCommand({ InstanceId: WIN2022 }));

    // Assess
    // No password yet: empty data and no time it was updated.
    expect([beforeReboot.PasswordData, beforeReboot.Timestamp]).toEqual(['', undefined]);
    expect(duringBoot.PasswordData).toBe('');
    expect(booted.PasswordData).not.toBe('');
    expect(booted.Timestamp!.getTime()).toBeGreaterThan(rebootedAt);
    expect(booted.Timestamp!.getTime()).toBe(rebootedAt + DEFAULT_TIMINGS.windowsBootMs);
    // The time the password was made, not the time of the call.
    expect([later.PasswordData, later.Timestamp]).toEqual([booted.PasswordData, booted.Timestamp]);
    // A reboot without a reset makes no new password (the agent wrote state\.run-once again).
    expect([afterSecondReboot.PasswordData, afterSecondReboot.Timestamp]).toEqual([booted.PasswordData, booted.Timestamp]);
  });
});

describe('which runner answers a Windows command', () => {
  it('online commands go to the online model, offline ones to the rescue model, never the other way', () => {
    const online = buildWindowsOnlineCommands({ jobId: 'w-online3', targetInstanceId: WIN2022 });
    const offline = buildWindowsRescueCommands({ jobId: 'w-offline3', targetInstanceId: WIN2022, volumeId: 'vol-0123456789abcdef0', device: 'xvdf' });
    const { region } = seededWithManagedWindows();

    expect([windowsOnlineRunner.matches(online), windowsRescueRunner.matches(online)]).toEqual([true, false]);
    expect([windowsOnlineRunner.matches(offline), windowsRescueRunner.matches(offline)]).toEqual([false, true]);
    expect(region.scriptRunners.find('AWS-RunPowerShellScript', online)?.name).toBe('windows-online');
    expect(region.scriptRunners.find('AWS-RunPowerShellScript', offline)?.name).toBe('windows-rescue');
    // Even with a volume id in it, an online command is not the offline script.
    expect(windowsRescueRunner.matches([...online.slice(0, 3), "$env:RA_VOLUME_ID = 'vol-0123456789abcdef0'", ...online.slice(3)])).toBe(false);
  });

  it('the online model checks its inputs and the root filesystem as the script does', () => {
    const ntfs = hostWithRoot('ntfs', {});
    const xfs = hostWithRoot('xfs', { '/etc/os-release': { type: 'file', content: 'ID=amzn\n', mode: 0o644, uid: 0, gid: 0 } });
    const run = (commands: string[], host: ScriptHost) =>
      windowsOnlineRunner.run({ commandId: 'c-1', instanceId: WIN2022, documentName: 'AWS-RunPowerShellScript', commands, host });
    const badJob = ["$env:RA_JOB_ID = 'x y'", `$env:RA_TARGET_INSTANCE_ID = '${WIN2022}'`, "$env:RA_MODE = 'online'"];
    const badTarget = ["$env:RA_JOB_ID = 'w-1'", "$env:RA_TARGET_INSTANCE_ID = 'i-XYZ'", "$env:RA_MODE = 'online'"];

    const outcomes = [run(badJob, ntfs), run(badTarget, ntfs), run(buildWindowsOnlineCommands({ jobId: 'w-1', targetInstanceId: WIN2022 }), xfs)];

    expect(outcomes.map((o) => [o.status, o.responseCode, (parseWindowsRescueSummary(o.stdout) as { error?: string }).error])).toEqual([
      ['Failed', 1, 'INVALID_INPUT'],
      ['Failed', 1, 'INVALID_INPUT'],
      ['Failed', 1, 'WINDOWS_VOLUME_NOT_FOUND'],
    ]);
    expect([ntfs.written, xfs.written]).toEqual([[], []]);
  });
});
