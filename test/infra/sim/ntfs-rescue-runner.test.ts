/**
 * The simulated region's NTFS rescue: the model (the Windows script's per-agent rules, the NTFS
 * script's edits and refusals) and its runner on a Linux helper, with the same outcomes and codes
 * as the real script (whose tests compare it with this model on real images).
 */
import { buildLinuxRescueCommands } from '../../../infra/scripts/linux-rescue';
import { buildNtfsRescueCommands, parseNtfsRescueSummary } from '../../../infra/scripts/ntfs-rescue';
import { file } from '../../../infra/sim/base-images';
import { applyNtfsPasswordReset, HIBERFIL_PATH } from '../../../infra/sim/ntfs-rescue-model';
import { ntfsRescueRunner } from '../../../infra/sim/ntfs-rescue-runner';
import type { ScriptHost } from '../../../infra/sim/script-runners';
import type { NtfsVolumeFlags } from '../../../infra/sim/state';
import type { VolumeFiles } from '../../../infra/sim/volume-files';
import { applyWindowsPasswordReset, passwordGenerationEnabled, WINDOWS_PATHS } from '../../../infra/sim/windows-rescue-model';
import { ec2ConfigVolume, ec2LaunchV1Volume, ec2LaunchV2Volume, V2_DEFAULT, V2_DO_NOTHING, V2_JSON } from '../../fixtures/windows-volumes';
import { simulatedRegion } from './sim-harness';

const HELPER = 'i-0123456789abcdef1';
const VOLUME = 'vol-0123456789abcdef0';

/** A Linux helper with one volume attached (or none), recording what the script writes. */
function host(volume?: { filesystem?: string; files: VolumeFiles; ntfs?: NtfsVolumeFlags }): ScriptHost & { written: VolumeFiles[] } {
  const written: VolumeFiles[] = [];
  return {
    written,
    now: () => 0,
    findAttachedVolume: (instanceId, volumeId) =>
      volume && instanceId === HELPER && volumeId === VOLUME
        ? { volumeId, filesystem: volume.filesystem ?? 'ntfs', files: structuredClone(volume.files), ...(volume.ntfs ? { ntfs: volume.ntfs } : {}) }
        : undefined,
    findRootVolume: () => undefined,
    writeVolumeFiles: (_id, files) => void written.push(files),
    putSecureStringParameter: () => undefined,
  };
}

function runOn(h: ScriptHost, commands = buildNtfsRescueCommands({ jobId: 'job-ntfs', targetInstanceId: 'i-0123456789abcdef0', volumeId: VOLUME })) {
  const outcome = ntfsRescueRunner.run({ commandId: 'c-1', instanceId: HELPER, documentName: 'AWS-RunShellScript', commands, host: h });
  return { outcome, summary: parseNtfsRescueSummary(outcome.stdout) };
}

describe('applyNtfsPasswordReset', () => {
  it("EC2Launch v2: the Windows script's edits, so the next boot makes a password", () => {
    // Prepare
    const volume = ec2LaunchV2Volume(V2_DO_NOTHING);

    // Act
    const result = applyNtfsPasswordReset(volume);

    // Assess
    expect(result.error).toBeUndefined();
    const windows = applyWindowsPasswordReset(volume);
    expect([result.agents, result.files, result.warnings]).toEqual([windows.agents, windows.files, windows.warnings]);
    expect(passwordGenerationEnabled(volume)).toBe(false);
    expect(passwordGenerationEnabled(result.files)).toBe(true);
  });

  it('EC2Launch v1 with its task: one textual edit of LaunchConfig.json (the Windows script re-serialises it)', () => {
    const result = applyNtfsPasswordReset(ec2LaunchV1Volume(true));

    expect(result.error).toBeUndefined();
    expect(result.files[WINDOWS_PATHS.ec2launchV1Config]?.content).toContain('"AdminPasswordType": "Random",\n  "adminPassword": ""');
    expect(passwordGenerationEnabled(result.files)).toBe(true);
  });

  it('more than one agent: only those whose service starts are edited', () => {
    // Prepare
    const volume = { ...ec2LaunchV2Volume(V2_DO_NOTHING), ...ec2ConfigVolume() };

    // Act
    const result = applyNtfsPasswordReset(volume, { serviceStart: { EC2Launch: 4, Ec2Config: 2 } });

    // Assess
    expect(result.serviceStart).toEqual({ EC2Launch: 4, Ec2Config: 2 });
    expect(result.agents.map((a) => [a.agent, a.generatesPassword, a.changes])).toEqual([
      ['ec2launch-v2', false, []],
      ['ec2config', true, ['Ec2SetPassword Disabled -> Enabled']],
    ]);
    expect(result.files[WINDOWS_PATHS.ec2launchV2RunOnce]).toEqual(volume[WINDOWS_PATHS.ec2launchV2RunOnce]);
    expect(result.warnings).toEqual(['EC2Launch v2 is installed but its service (EC2Launch) is not set to start (Start 4): left alone']);
  });

  it.each<[string, VolumeFiles, NtfsVolumeFlags, string]>([
    ['BitLocker', ec2LaunchV2Volume(V2_DO_NOTHING), { bitlocker: true }, 'BITLOCKER'],
    ['a dynamic disk', ec2LaunchV2Volume(V2_DO_NOTHING), { dynamicDisk: true }, 'DYNAMIC_DISK'],
    ['a hibernated Windows (flag)', ec2LaunchV2Volume(V2_DO_NOTHING), { hibernated: true }, 'HIBERNATED'],
    ['a hibernated Windows (hiberfil.sys)', { ...ec2LaunchV2Volume(V2_DO_NOTHING), [HIBERFIL_PATH]: file('HIBR....', 0o644) }, {}, 'HIBERNATED'],
    ['a dirty volume', ec2LaunchV2Volume(V2_DO_NOTHING), { dirty: true }, 'UNCLEAN_VOLUME'],
    ['an unclean journal', ec2LaunchV2Volume(V2_DO_NOTHING), { uncleanJournal: true }, 'UNCLEAN_VOLUME'],
    ['EC2Launch v1 without its task', ec2LaunchV1Volume(false), {}, 'AGENT_NOT_RESETTABLE_OFFLINE'],
    ['agent-config.yml written as JSON', ec2LaunchV2Volume(V2_JSON), {}, 'CONFIG_NOT_UNDERSTOOD'],
    ['two agents, none starting', { ...ec2LaunchV2Volume(V2_DO_NOTHING), ...ec2ConfigVolume() }, { serviceStart: { EC2Launch: 4 } }, 'NO_ACTIVE_AGENT'],
  ])('refuses %s, the files unchanged', (_name, volume, flags, code) => {
    const result = applyNtfsPasswordReset(volume, flags);

    expect(result.error?.code).toBe(code);
    expect(result.files).toBe(volume);
  });

  it('a hiberfil.sys that is not a hibernation image (Windows resumed or shut down) is no refusal', () => {
    const result = applyNtfsPasswordReset({ ...ec2LaunchV2Volume(V2_DEFAULT), [HIBERFIL_PATH]: file('\0\0\0\0', 0o644) });

    expect(result.error).toBeUndefined();
  });
});

describe('the ntfs-rescue runner', () => {
  it('is chosen for the NTFS command on a Linux helper; the Linux rescue command still gets its own runner', () => {
    const { region } = simulatedRegion();
    const ntfs = buildNtfsRescueCommands({ jobId: 'job-1', targetInstanceId: 'i-0123456789abcdef0', volumeId: VOLUME });
    const linux = buildLinuxRescueCommands({
      jobId: 'job-1',
      targetInstanceId: 'i-0123456789abcdef0',
      volumeId: VOLUME,
      parameterName: '/ec2rl/openssh/i-0123456789abcdef0/key',
      keyType: 'ed25519',
      region: 'us-east-1',
    });

    expect(region.scriptRunners.find('AWS-RunShellScript', ntfs)?.name).toBe('ntfs-rescue');
    expect(region.scriptRunners.find('AWS-RunShellScript', linux)?.name).toBe('linux-rescue');
    expect(region.scriptRunners.find('AWS-RunPowerShellScript', ntfs)).toBeUndefined();
  });

  it("re-enables password generation on the attached volume and prints the script's summary", () => {
    // Prepare
    const files = ec2LaunchV2Volume(V2_DO_NOTHING);
    const h = host({ files });

    // Act
    const { outcome, summary } = runOn(h);

    // Assess
    expect(outcome).toMatchObject({ status: 'Success', responseCode: 0 });
    expect(summary).toMatchObject({ ok: true, script: 'ntfs-rescue', helper: 'linux', volumeId: VOLUME, partitionStyle: 'MBR' });
    expect(h.written).toHaveLength(1);
    expect(passwordGenerationEnabled(h.written[0]!)).toBe(true);
    expect(summary.ok && summary.filesRemoved).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once']);
  });

  it('refuses with fallback, writing nothing, as the real script does', () => {
    const h = host({ files: ec2ConfigVolume(), ntfs: { hibernated: true } });

    const { outcome, summary } = runOn(h);

    expect(outcome).toMatchObject({ status: 'Failed', responseCode: 1 });
    expect(summary).toMatchObject({ ok: false, error: 'HIBERNATED', fallback: true, volumeWritten: false });
    expect(h.written).toEqual([]);
  });

  it.each<[string, ReturnType<typeof host>, string]>([
    ['no volume attached', host(), 'DEVICE_NOT_FOUND'],
    ['a Linux volume', host({ filesystem: 'xfs', files: {} }), 'WINDOWS_VOLUME_NOT_FOUND'],
  ])('%s: %s', (_name, h, code) => {
    expect(runOn(h).summary).toMatchObject({ ok: false, error: code, fallback: true });
  });

  it('refuses a bad job id without fallback', () => {
    const commands = buildNtfsRescueCommands({ jobId: 'job-1', targetInstanceId: 'i-0123456789abcdef0', volumeId: VOLUME }).map((c) =>
      c === "export RA_JOB_ID='job-1'" ? "export RA_JOB_ID='bad id'" : c,
    );

    expect(runOn(host({ files: ec2ConfigVolume() }), commands).summary).toMatchObject({ ok: false, error: 'INVALID_INPUT', fallback: false });
  });
});
