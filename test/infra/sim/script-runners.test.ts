import { shellQuote } from '../../../infra/scripts/linux-rescue';
import { ManualClock } from '../../../infra/sim/clock';
import { PUBLIC_IMAGE_IDS, SimulatedRegion } from '../../../infra/sim/region';
import { readExportedVariables, type ScriptRunner } from '../../../infra/sim/script-runners';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';

describe('script runners', () => {
  test('exported variables are read as the shell would, first export wins', () => {
    // Prepare
    const commands = [
      `export RA_JOB_ID=${shellQuote("it's-job-1")}`,
      "export RA_VOLUME_ID='vol-0123456789abcdef0'",
      'export OTHER=ignored',
      "cat > /tmp/x <<'EOF'",
      "export RA_VOLUME_ID='vol-from-the-script-text'",
    ];

    // Act
    const variables = readExportedVariables(commands, 'RA_');

    // Assess
    expect(variables).toEqual({ RA_JOB_ID: "it's-job-1", RA_VOLUME_ID: 'vol-0123456789abcdef0' });
  });

  test('a runner registered for another document (a future Windows model) is chosen by document and marker', () => {
    // Prepare
    const clock = new ManualClock();
    const region = new SimulatedRegion({ clock });
    const windowsRescue: ScriptRunner = {
      name: 'windows-rescue',
      documentName: 'AWS-RunPowerShellScript',
      matches: (commands) =>
        'RA_VOLUME_ID' in
        readExportedVariables(
          commands.map((c) => c.replace(/^\$env:/, 'export ')),
          'RA_',
        ),
      durationMs: (timings) => timings.rescueScriptMs,
      run: ({ instanceId }) => ({ status: 'Success', stdout: `{"ok":true,"helper":"${instanceId}"}\n`, stderr: '', responseCode: 0 }),
    };
    region.scriptRunners.register(windowsRescue);
    const helper = region.ec2('RunInstances', {
      ImageId: PUBLIC_IMAGE_IDS.windowsServer2022,
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Name: 'reset-access-helper' },
    }).Instances![0].InstanceId!;
    clock.advance(DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.windowsFirstBootMs);

    // Act
    const linuxDocument = () => region.ssm('SendCommand', { DocumentName: 'AWS-RunShellScript', InstanceIds: [helper], Parameters: { commands: ['ls'] } });
    const sent = region.ssm('SendCommand', {
      DocumentName: 'AWS-RunPowerShellScript',
      InstanceIds: [helper],
      Parameters: { commands: ["$env:RA_VOLUME_ID='vol-0123456789abcdef0'", 'Write-Output done'] },
    });
    clock.advance(DEFAULT_TIMINGS.commandStartMs + DEFAULT_TIMINGS.rescueScriptMs);
    const invocation = region.ssm('GetCommandInvocation', { CommandId: sent.Command!.CommandId, InstanceId: helper });

    // Assess
    expect(linuxDocument).toThrow(expect.objectContaining({ code: 'UnsupportedPlatformType' }));
    expect(invocation).toEqual(expect.objectContaining({ Status: 'Success', StandardOutputContent: `{"ok":true,"helper":"${helper}"}\n` }));
    expect(region.getCommand(sent.Command!.CommandId!)?.invocations[helper].runner).toBe('windows-rescue');
  });
});
