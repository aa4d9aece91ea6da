import { ec2ConfigXml, file, windowsServer2022Files } from '../../infra/sim/base-images';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import {
  ec2ConfigPluginState,
  ensureEc2SetPasswordEnabled,
  ensureRandomAdminPassword,
  ensureRandomLaunchConfig,
  scheduleInitializationTask,
  setsRandomAdminPassword,
  taskEnabled,
} from '../../infra/sim/windows-agent-configs';
import { applyWindowsPasswordReset, bootWindows, passwordGenerationEnabled, WINDOWS_PATHS } from '../../infra/sim/windows-rescue-model';
import {
  ec2ConfigVolume,
  ec2LaunchV1Volume,
  ec2LaunchV2Volume,
  V1_LAUNCH_CONFIG,
  V2_CRLF_NO_INPUTS,
  V2_DEFAULT,
  V2_DO_NOTHING,
  V2_FLOW,
  V2_JSON,
  V2_NO_STAGE,
  V2_NO_TASK,
  V2_STATIC,
  v1Task,
} from '../fixtures/windows-volumes';

function edited(text: string): { text: string; changes: string[] } {
  const edit = ensureRandomAdminPassword(text);
  if ('error' in edit) throw new Error(edit.error);
  return edit;
}

/** The lines that differ, as [before, after] pairs (for edits that replace lines in place). */
function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split(/\r?\n/);
  const b = after.split(/\r?\n/);
  expect(b).toHaveLength(a.length);
  return a.flatMap((line, i): Array<[string, string]> => (line === b[i] ? [] : [[line, b[i]]]));
}

describe('EC2Launch v2: setAdminAccount with a random password in agent-config.yml', () => {
  it('leaves the AMI default alone', () => {
    expect(edited(V2_DEFAULT)).toEqual({ text: V2_DEFAULT, changes: [] });
    expect(setsRandomAdminPassword(V2_DEFAULT)).toBe(true);
  });

  it('replaces doNothing by random in place, nothing else', () => {
    const edit = edited(V2_DO_NOTHING);
    expect(edit.changes).toEqual(['setAdminAccount: password type doNothing -> random']);
    expect(changedLines(V2_DO_NOTHING, edit.text)).toEqual([['        type: doNothing # set by the image pipeline', '        type: random']]);
    expect(setsRandomAdminPassword(edit.text)).toBe(true);
  });

  it('removes a static password with its multi-line data and keeps the other inputs', () => {
    const edit = edited(V2_STATIC);
    expect(edit.changes).toEqual(['setAdminAccount: password type static -> random', 'setAdminAccount: removed the static password data']);
    expect(edit.text).not.toMatch(/Sup3r-Secret-Value|second-line|data:/);
    expect(edit.text).toContain('            type: random\n          name: Administrator\n      - task: setDnsSuffix');
  });

  it('adds the task at the end of the preReady tasks when it is missing', () => {
    const edit = edited(V2_NO_TASK);
    expect(edit.changes).toEqual(['setAdminAccount: added to the preReady stage with password type random']);
    expect(edit.text).toContain('        type: amazon\n  - task: setAdminAccount\n    inputs:\n      password:\n        type: random\n\n- stage: postReady');
  });

  it('adds a preReady stage when there is none', () => {
    const edit = edited(V2_NO_STAGE);
    expect(edit.changes).toEqual(['setAdminAccount: added a preReady stage with password type random']);
    expect(
      edit.text.endsWith('  - task: startSsm\n- stage: preReady\n  tasks:\n  - task: setAdminAccount\n    inputs:\n      password:\n        type: random\n'),
    ).toBe(true);
  });

  it('adds inputs to a bare task and keeps Windows line endings', () => {
    const edit = edited(V2_CRLF_NO_INPUTS);
    expect(edit.text).toBe(
      'version: 1.0\r\nconfig:\r\n- stage: preReady\r\n  tasks:\r\n  - task: setAdminAccount\r\n    inputs:\r\n      password:\r\n        type: random\r\n  - task: setWallpaper\r\n    inputs:\r\n      path: C:\\wall.jpg\r\n',
    );
  });

  it('edits the JSON form of the file', () => {
    const edit = edited(V2_JSON);
    expect(edit.changes).toEqual(['setAdminAccount: password type doNothing -> random']);
    expect(JSON.parse(edit.text).config[1].tasks[0]).toEqual({ task: 'setAdminAccount', inputs: { password: { type: 'random' } } });
  });

  it('refuses a layout its rules do not cover instead of guessing', () => {
    expect(ensureRandomAdminPassword(V2_FLOW)).toEqual({ error: expect.stringContaining('setAdminAccount appears in a form other than') });
    expect(ensureRandomAdminPassword('version: 1.0\n')).toEqual({ error: expect.stringContaining('no top-level "config:"') });
  });

  it('changes nothing the second time', () => {
    for (const text of [V2_DO_NOTHING, V2_STATIC, V2_NO_TASK, V2_NO_STAGE, V2_CRLF_NO_INPUTS, V2_JSON]) {
      expect(edited(edited(text).text).changes).toEqual([]);
    }
  });
});

describe('EC2Launch v1 and EC2Config files', () => {
  it('sets adminPasswordType to Random under the key the file uses', () => {
    const edit = ensureRandomLaunchConfig(V1_LAUNCH_CONFIG);
    if ('error' in edit) throw new Error(edit.error);
    expect(edit.changes).toEqual(['adminPasswordType DoNothing -> Random']);
    expect(JSON.parse(edit.text)).toEqual({ ...JSON.parse(V1_LAUNCH_CONFIG), AdminPasswordType: 'Random' });
  });

  it('reads whether the v1 initialization task is enabled', () => {
    expect([taskEnabled(v1Task(true)), taskEnabled(v1Task(false)), taskEnabled(undefined)]).toEqual([true, false, false]);
  });

  it('enables Ec2SetPassword, or adds the plugin when it is missing', () => {
    const disabled = ec2ConfigXml('Disabled');
    const enabled = ensureEc2SetPasswordEnabled(disabled);
    const missing = disabled.replace(/\s*<Plugin>\s*<Name>Ec2SetPassword<\/Name>\s*<State>Disabled<\/State>\s*<\/Plugin>/, '');
    const added = ensureEc2SetPasswordEnabled(missing);
    if ('error' in enabled || 'error' in added) throw new Error('refused');

    expect(enabled.changes).toEqual(['Ec2SetPassword Disabled -> Enabled']);
    expect(changedLines(disabled, enabled.text)).toEqual([['      <State>Disabled</State>', '      <State>Enabled</State>']]);
    expect(ec2ConfigPluginState(enabled.text, 'Ec2HandleUserData')).toBe('Enabled');
    expect(ec2ConfigPluginState(missing, 'Ec2SetPassword')).toBeUndefined();
    expect(added.changes).toEqual(['Ec2SetPassword added, Enabled']);
    expect(ec2ConfigPluginState(added.text, 'Ec2SetPassword')).toBe('Enabled');
  });
});

describe('applyWindowsPasswordReset on sample volumes', () => {
  it('EC2Launch v2: removes state\\.run-once, so the next boot makes a password', () => {
    // Prepare
    const volume = ec2LaunchV2Volume(V2_DO_NOTHING);
    const before = structuredClone(volume);

    // Act
    const result = applyWindowsPasswordReset(volume);

    // Assess
    expect(volume).toEqual(before);
    expect(result.error).toBeUndefined();
    expect(result.agents).toEqual([
      {
        agent: 'ec2launch-v2',
        config: 'C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml',
        generatesPassword: true,
        changes: ['setAdminAccount: password type doNothing -> random', 'removed state\\.run-once'],
      },
    ]);
    expect(result.filesChanged).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml']);
    expect(result.filesRemoved).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once']);
    expect(result.warnings.join(' ')).toMatch(/frequency "once" again/);
    expect(passwordGenerationEnabled(before)).toBe(false);
    expect(passwordGenerationEnabled(result.files)).toBe(true);
  });

  it('a second run changes nothing more', () => {
    const once = applyWindowsPasswordReset(ec2LaunchV2Volume());
    const twice = applyWindowsPasswordReset(once.files);
    expect([twice.filesChanged, twice.filesRemoved, twice.files]).toEqual([[], [], once.files]);
  });

  it('EC2Launch v1 with its task scheduled: adminPasswordType Random; the boot makes a password and disables the task', () => {
    const result = applyWindowsPasswordReset(ec2LaunchV1Volume(true));
    const boot = bootWindows(result.files);

    expect(result.agents).toEqual([
      expect.objectContaining({ agent: 'ec2launch-v1', generatesPassword: true, changes: ['adminPasswordType DoNothing -> Random'] }),
    ]);
    expect(boot.passwordBy).toBe('ec2launch-v1');
    expect(taskEnabled(boot.files[WINDOWS_PATHS.ec2launchV1Task].content)).toBe(false);
  });

  it('EC2Launch v1 alone without its task: refused, the volume unchanged', () => {
    const volume = ec2LaunchV1Volume(false);
    const result = applyWindowsPasswordReset(volume);
    expect(result.error?.code).toBe('AGENT_NOT_RESETTABLE_OFFLINE');
    expect(result.files).toBe(volume);
  });

  it('EC2Config: Ec2SetPassword Enabled; the boot makes a password and disables it again', () => {
    const result = applyWindowsPasswordReset(ec2ConfigVolume());
    const boot = bootWindows(result.files);
    expect(result.agents).toEqual([expect.objectContaining({ agent: 'ec2config', generatesPassword: true, changes: ['Ec2SetPassword Disabled -> Enabled'] })]);
    expect(boot.passwordBy).toBe('ec2config');
    expect(ec2ConfigPluginState(boot.files[WINDOWS_PATHS.ec2configConfig].content, 'Ec2SetPassword')).toBe('Disabled');
  });

  it('more than one agent: each is handled; an unscheduled v1 next to v2 is left alone with a warning', () => {
    const volume: VolumeFiles = { ...ec2LaunchV1Volume(false), ...ec2LaunchV2Volume() };
    const result = applyWindowsPasswordReset(volume);
    expect(result.agents.map((a) => [a.agent, a.generatesPassword])).toEqual([
      ['ec2launch-v2', true],
      ['ec2launch-v1', false],
    ]);
    expect(result.files[WINDOWS_PATHS.ec2launchV1Config]).toEqual(volume[WINDOWS_PATHS.ec2launchV1Config]);
    expect(result.warnings.join(' ')).toMatch(/EC2Launch v1 initialises only when/);
  });

  it('finds files whatever their case, as NTFS does', () => {
    const volume = ec2LaunchV2Volume(V2_DO_NOTHING);
    const text = volume[WINDOWS_PATHS.ec2launchV2Config];
    delete volume[WINDOWS_PATHS.ec2launchV2Config];
    volume['/PROGRAMDATA/Amazon/EC2Launch/Config/Agent-Config.yml'] = text;
    const result = applyWindowsPasswordReset(volume);
    expect(result.files['/PROGRAMDATA/Amazon/EC2Launch/Config/Agent-Config.yml'].content).toContain('type: random');
  });

  it('refuses what it does not understand or find, with the volume unchanged', () => {
    const flow = ec2LaunchV2Volume(V2_FLOW);
    const bare = windowsServer2022Files();
    for (const path of Object.keys(bare)) if (path.includes('EC2Launch')) delete bare[path];
    const linux: VolumeFiles = { '/etc/os-release': file('ID=amzn\n', 0o644) };

    expect([flow, bare, linux].map((v) => applyWindowsPasswordReset(v).error?.code)).toEqual([
      'CONFIG_NOT_UNDERSTOOD',
      'NO_LAUNCH_AGENT',
      'WINDOWS_VOLUME_NOT_FOUND',
    ]);
    expect(applyWindowsPasswordReset(flow).files).toBe(flow);
  });
});

describe('applyWindowsPasswordReset online (on the running target)', () => {
  const V1_CONFIG = 'C:\\ProgramData\\Amazon\\EC2-Windows\\Launch\\Config\\LaunchConfig.json';
  const V1_TASK = 'C:\\Windows\\System32\\Tasks\\Amazon Ec2 Launch - Instance Initialization';

  it('EC2Launch v2, EC2Config and a scheduled v1: the same edits as offline', () => {
    for (const volume of [ec2LaunchV2Volume(V2_DO_NOTHING), ec2ConfigVolume(), ec2LaunchV1Volume(true)]) {
      const online = applyWindowsPasswordReset(volume, { online: true });

      expect(online).toEqual(applyWindowsPasswordReset(volume));
      expect(online.error).toBeUndefined();
      expect(passwordGenerationEnabled(online.files)).toBe(true);
    }
  });

  it('EC2Launch v1 without its task: adminPasswordType Random and the task scheduled; the boot makes a password and disables it', () => {
    // Prepare
    const volume = ec2LaunchV1Volume(false);
    const before = structuredClone(volume);

    // Act
    const result = applyWindowsPasswordReset(volume, { online: true });
    const boot = bootWindows(result.files);

    // Assess
    expect(volume).toEqual(before);
    expect(result.error).toBeUndefined();
    expect(result.agents).toEqual([
      {
        agent: 'ec2launch-v1',
        config: V1_CONFIG,
        generatesPassword: true,
        changes: ['adminPasswordType DoNothing -> Random', 'InitializeInstance.ps1 -Schedule: initialization task scheduled for the next boot'],
      },
    ]);
    expect(result.filesChanged).toEqual([V1_CONFIG, V1_TASK]);
    expect(result.warnings.join(' ')).toMatch(/SSM agent from starting until that initialization has run/);
    expect([taskEnabled(volume[WINDOWS_PATHS.ec2launchV1Task].content), taskEnabled(result.files[WINDOWS_PATHS.ec2launchV1Task].content)]).toEqual([
      false,
      true,
    ]);
    expect(JSON.parse(result.files[WINDOWS_PATHS.ec2launchV1Config].content).AdminPasswordType).toBe('Random');
    expect(passwordGenerationEnabled(volume)).toBe(false);
    expect(boot.passwordBy).toBe('ec2launch-v1');
    expect(taskEnabled(boot.files[WINDOWS_PATHS.ec2launchV1Task].content)).toBe(false);
  });

  it('EC2Launch v1 whose task was never registered: a task file is made, enabled', () => {
    const volume = ec2LaunchV1Volume(false);
    delete volume[WINDOWS_PATHS.ec2launchV1Task];

    const result = applyWindowsPasswordReset(volume, { online: true });

    expect(result.filesChanged).toEqual([V1_CONFIG, V1_TASK]);
    expect(taskEnabled(result.files[WINDOWS_PATHS.ec2launchV1Task].content)).toBe(true);
    expect(result.files[WINDOWS_PATHS.ec2launchV1Task].content).toContain('InitializeInstance.ps1');
    expect(bootWindows(result.files).passwordBy).toBe('ec2launch-v1');
    expect(taskEnabled(scheduleInitializationTask(v1Task(false)))).toBe(true);
  });

  it('a second online run changes nothing more', () => {
    const once = applyWindowsPasswordReset(ec2LaunchV1Volume(false), { online: true });
    const twice = applyWindowsPasswordReset(once.files, { online: true });
    expect([twice.filesChanged, twice.filesRemoved, twice.files]).toEqual([[], [], once.files]);
    expect(twice.agents).toEqual([expect.objectContaining({ agent: 'ec2launch-v1', generatesPassword: true, changes: [] })]);
  });

  it('EC2Launch v1 next to v2: both make the next password possible; the task is scheduled last', () => {
    const volume: VolumeFiles = { ...ec2LaunchV1Volume(false), ...ec2LaunchV2Volume(V2_DO_NOTHING) };
    const result = applyWindowsPasswordReset(volume, { online: true });
    expect(result.agents.map((a) => [a.agent, a.generatesPassword])).toEqual([
      ['ec2launch-v2', true],
      ['ec2launch-v1', true],
    ]);
    expect(result.filesChanged).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml', V1_CONFIG, V1_TASK]);
  });

  it('EC2Launch v1 alone without InitializeInstance.ps1: AGENT_SCHEDULE_FAILED, nothing changed', () => {
    const volume = ec2LaunchV1Volume(false);
    delete volume[WINDOWS_PATHS.ec2launchV1Script];

    const result = applyWindowsPasswordReset(volume, { online: true });

    expect(result.error).toEqual({ code: 'AGENT_SCHEDULE_FAILED', message: expect.stringContaining('InitializeInstance.ps1 is missing') });
    expect(result.files).toBe(volume);
    // Offline it stays the refusal it was.
    expect(applyWindowsPasswordReset(volume).error?.code).toBe('AGENT_NOT_RESETTABLE_OFFLINE');
  });
});

describe('bootWindows', () => {
  it('a fresh Windows Server 2022 makes its password at the first boot only', () => {
    const first = bootWindows(windowsServer2022Files());
    const second = bootWindows(first.files);
    expect([first.passwordBy, second.passwordBy]).toEqual(['ec2launch-v2', undefined]);
    expect(first.files[WINDOWS_PATHS.ec2launchV2RunOnce]).toBeDefined();
  });

  it('EC2Launch v2 with doNothing runs its once-tasks but makes no password', () => {
    const volume = windowsServer2022Files();
    volume[WINDOWS_PATHS.ec2launchV2Config] = file(V2_DO_NOTHING, 0o644);
    expect(bootWindows(volume).passwordBy).toBeUndefined();
  });
});
