/**
 * A pure model of what `infra/scripts/windows-rescue.ps1` does to the Windows partition of an
 * offline volume, and of what the launch agents on that partition do when Windows boots. The
 * simulated region's Windows script runner applies `applyWindowsPasswordReset`, its boot applies
 * `bootWindows`, and the tests of the script's logic run these functions on sample config files.
 * The PowerShell script implements the same rules step by step (the same line rules for
 * `agent-config.yml`); a rule changed here must change there.
 *
 * Path convention for Windows volumes (`VolumeFiles`): paths inside the Windows partition, `/`
 * separators, no drive letter, with the case Windows shows (`/ProgramData/Amazon/EC2Launch/…` is
 * what the instance calls `C:\ProgramData\Amazon\EC2Launch\…`). NTFS is case-insensitive, and so
 * are the lookups here. Summaries name files as the instance sees them (`C:\ProgramData\…`).
 *
 * Per agent, what re-enables password generation (checked against the AWS documentation):
 * - EC2Launch v2: delete `%ProgramData%\Amazon\EC2Launch\state\.run-once`, which "directs EC2Launch
 *   v2 to run all tasks with a frequency of once, which includes setting the administrator
 *   password" (EC2 User Guide, "Reset the Windows administrator password using EC2Launch v2",
 *   step 4). `setAdminAccount` (frequency once, stage preReady) makes a password only with
 *   `password: type: random` (EC2 User Guide, "EC2Launch v2 settings", task `setAdminAccount`),
 *   so the task is made sure of in `config\agent-config.yml` too.
 * - EC2Launch v1: `adminPasswordType` `Random` in `Config\LaunchConfig.json`, then
 *   `InitializeInstance.ps1 -Schedule` (EC2 User Guide, "Configuring a Windows instance using
 *   EC2Launch", "Configure initialization tasks"). Scheduling registers a Task Scheduler task on
 *   the running system; it cannot be done to an offline volume. So v1 is reset only when its
 *   initialization task is still scheduled and enabled on the volume (read from the task's file
 *   under `Windows\System32\Tasks`); otherwise the agent is reported as not resettable offline.
 * - EC2Config: plugin `Ec2SetPassword` state `Enabled` in `Settings\config.xml` (EC2 User Guide,
 *   "Reset the Windows administrator password using EC2Config", step 4; EC2Config disables it
 *   again after it has set a password, GetPasswordData API reference).
 *
 * Online mode (`{ online: true }`): the script runs on the running target itself, against its own
 * system drive, and the service reboots it afterwards. The same edits, with one difference: an
 * EC2Launch v1 whose initialization task is not scheduled can be scheduled, by the documented
 * `InitializeInstance.ps1 -Schedule` ("Configure initialization tasks", step 3: it registers a
 * Windows Scheduled Task that "runs one time during the next boot and then disables" itself). The
 * model writes the task's definition file enabled, as Task Scheduler would.
 *
 * The edits of each agent's configuration file are in `windows-agent-configs.ts`; this file finds
 * the agents on a volume, applies the reset per agent, and boots the volume's Windows.
 */
import type { FileEntry, VolumeFiles } from './volume-files';
import {
  disableEc2SetPassword,
  disableTask,
  ec2ConfigPluginState,
  ensureEc2SetPasswordEnabled,
  ensureRandomAdminPassword,
  ensureRandomLaunchConfig,
  scheduleInitializationTask,
  setsRandomAdminPassword,
  taskEnabled,
  type ConfigEdit,
} from './windows-agent-configs';

export type LaunchAgent = 'ec2launch-v2' | 'ec2launch-v1' | 'ec2config';

/** Where each agent keeps what a reset reads or writes, inside the Windows partition. */
export const WINDOWS_PATHS = {
  /** Proves the partition holds a Windows installation (the SYSTEM registry hive). */
  systemHive: '/Windows/System32/config/SYSTEM',
  ec2launchV2Exe: '/Program Files/Amazon/EC2Launch/EC2Launch.exe',
  ec2launchV2Config: '/ProgramData/Amazon/EC2Launch/config/agent-config.yml',
  ec2launchV2RunOnce: '/ProgramData/Amazon/EC2Launch/state/.run-once',
  ec2launchV1Script: '/ProgramData/Amazon/EC2-Windows/Launch/Scripts/InitializeInstance.ps1',
  ec2launchV1Config: '/ProgramData/Amazon/EC2-Windows/Launch/Config/LaunchConfig.json',
  /** The task `InitializeInstance.ps1 -Schedule` registers (its definition file). */
  ec2launchV1Task: '/Windows/System32/Tasks/Amazon Ec2 Launch - Instance Initialization',
  ec2configExe: '/Program Files/Amazon/Ec2ConfigService/Ec2Config.exe',
  ec2configConfig: '/Program Files/Amazon/Ec2ConfigService/Settings/config.xml',
} as const;

export const LAUNCH_AGENT_NAMES: Record<LaunchAgent, string> = {
  'ec2launch-v2': 'EC2Launch v2',
  'ec2launch-v1': 'EC2Launch v1',
  ec2config: 'EC2Config',
};

/** Failures the Windows script tells apart (the model produces the ones about files). */
export const WINDOWS_RESCUE_ERROR_CODES = [
  'INVALID_INPUT',
  'DISK_NOT_FOUND',
  'DISK_IS_HELPER_ROOT',
  'DISK_ONLINE_FAILED',
  'WINDOWS_VOLUME_NOT_FOUND',
  'NO_LAUNCH_AGENT',
  'AGENT_NOT_RESETTABLE_OFFLINE',
  /** Online: EC2Launch v1's `InitializeInstance.ps1 -Schedule` is missing or did not schedule its task. */
  'AGENT_SCHEDULE_FAILED',
  'CONFIG_NOT_UNDERSTOOD',
  'WRITE_FAILED',
  'SIGNATURE_RESTORE_FAILED',
  'DISK_OFFLINE_FAILED',
  'INTERNAL_ERROR',
] as const;
export type WindowsRescueErrorCode = (typeof WINDOWS_RESCUE_ERROR_CODES)[number];

export interface AgentReset {
  agent: LaunchAgent;
  /** The agent's configuration file as the instance sees it (`C:\ProgramData\…`). */
  config: string;
  /** Whether the agent will make a new password at the next boot, after the reset. */
  generatesPassword: boolean;
  /** What was changed, in words (`removed state\.run-once`…); empty when nothing needed to be. */
  changes: string[];
}

export interface WindowsResetResult {
  /** The volume after the reset; a new map, the input is not changed. Unchanged on error. */
  files: VolumeFiles;
  agents: AgentReset[];
  filesChanged: string[];
  filesRemoved: string[];
  warnings: string[];
  error?: { code: WindowsRescueErrorCode; message: string };
}

// ---------------------------------------------------------------------------------------------
// Files, case-insensitively

/** The key `path` has in `files` when NTFS's case-insensitive lookup would find it. */
export function findPath(files: VolumeFiles, path: string): string | undefined {
  if (path in files) return path;
  const wanted = path.toLowerCase();
  return Object.keys(files).find((p) => p.toLowerCase() === wanted);
}

function readFile(files: VolumeFiles, path: string): string | undefined {
  const key = findPath(files, path);
  const entry = key === undefined ? undefined : files[key];
  return entry?.type === 'file' ? entry.content : undefined;
}

function writeFile(files: VolumeFiles, path: string, content: string): void {
  const key = findPath(files, path) ?? path;
  const old: FileEntry | undefined = files[key];
  files[key] = { type: 'file', content, mode: old?.mode ?? 0o644, uid: old?.uid ?? 0, gid: old?.gid ?? 0 };
}

/** `C:\ProgramData\…` for `/ProgramData/…`: how the instance names a file of its own volume. */
export function windowsPathOf(path: string): string {
  return `C:${path.replace(/\//g, '\\')}`;
}

// ---------------------------------------------------------------------------------------------
// The reset, as the script applies it

/** Which agents' configuration files are on the volume (the script's detection). */
export function detectLaunchAgents(files: VolumeFiles): LaunchAgent[] {
  const agents: LaunchAgent[] = [];
  if (readFile(files, WINDOWS_PATHS.ec2launchV2Config) !== undefined) agents.push('ec2launch-v2');
  if (readFile(files, WINDOWS_PATHS.ec2launchV1Config) !== undefined) agents.push('ec2launch-v1');
  if (readFile(files, WINDOWS_PATHS.ec2configConfig) !== undefined) agents.push('ec2config');
  return agents;
}

export function isWindowsVolume(files: VolumeFiles): boolean {
  return readFile(files, WINDOWS_PATHS.systemHive) !== undefined;
}

export interface WindowsResetOptions {
  /**
   * The script runs on the running target against its own system drive (online mode), not on a
   * helper against an attached volume: an unscheduled EC2Launch v1 is scheduled instead of refused.
   */
  online?: boolean;
  /**
   * The file edits to apply, when a script makes them differently (the NTFS script on a Linux
   * helper: `ntfs-rescue-model.ts`); the Windows script's by default.
   */
  edits?: Partial<AgentConfigEdits>;
  /**
   * Agents that Windows will not start (their service is disabled): left alone, reported as not
   * making a password, with the given warning. The NTFS script reads this from the SYSTEM hive.
   */
  inactive?: Partial<Record<'ec2launch-v2' | 'ec2config', string>>;
}

/** How each configuration file is edited to turn password generation on. */
export interface AgentConfigEdits {
  agentConfig: (text: string) => ConfigEdit;
  launchConfig: (text: string) => ConfigEdit;
  ec2Config: (text: string) => ConfigEdit;
}

/**
 * What scheduling EC2Launch v1 does besides its task: InitializeInstance.ps1 -Schedule sets the
 * AmazonSSMAgent service's startup type to Disabled, and the initialization at the next boot sets
 * it back to Automatic and starts it (read in InitializeInstance.ps1 of EC2Launch v1).
 */
const V1_SCHEDULE_WARNING =
  'EC2Launch v1 runs its whole initialization again at the next boot (and InitializeInstance.ps1 -Schedule keeps the SSM agent from starting until that initialization has run)';

/** Why an offline reset leaves an unscheduled EC2Launch v1 alone (a warning). */
const V1_NOT_SCHEDULABLE_OFFLINE =
  'EC2Launch v1 initialises only when InitializeInstance.ps1 -Schedule has registered its task, which cannot be done on an offline volume; its configuration was left alone';

/**
 * What the rescue script does once it has the Windows partition: for each launch agent whose
 * configuration is there, re-enable password generation as that agent's documentation says (see
 * the file comment). All edits are worked out before any file is written, so a configuration the
 * rules do not understand fails the script with the volume unchanged. Running it twice changes
 * nothing more (a retry is safe). It never reads or writes a password.
 *
 * Online (`{ online: true }`), an EC2Launch v1 whose initialization task is not scheduled gets
 * `adminPasswordType` Random and its task scheduled (`InitializeInstance.ps1 -Schedule`, run by
 * the script after its file edits, so its task file comes last in `filesChanged`).
 */
export function applyWindowsPasswordReset(input: VolumeFiles, options: WindowsResetOptions = {}): WindowsResetResult {
  const online = options.online === true;
  const edits: AgentConfigEdits = {
    agentConfig: ensureRandomAdminPassword,
    launchConfig: ensureRandomLaunchConfig,
    ec2Config: ensureEc2SetPasswordEnabled,
    ...options.edits,
  };
  const fail = (code: WindowsRescueErrorCode, message: string): WindowsResetResult => ({
    files: input,
    agents: [],
    filesChanged: [],
    filesRemoved: [],
    warnings: [],
    error: { code, message },
  });
  if (!isWindowsVolume(input)) return fail('WINDOWS_VOLUME_NOT_FOUND', `no Windows installation (${windowsPathOf(WINDOWS_PATHS.systemHive)} is missing)`);
  const agents = detectLaunchAgents(input);
  if (agents.length === 0) {
    return fail(
      'NO_LAUNCH_AGENT',
      `no launch agent configuration on the volume (looked for ${[WINDOWS_PATHS.ec2launchV2Config, WINDOWS_PATHS.ec2launchV1Config, WINDOWS_PATHS.ec2configConfig].map(windowsPathOf).join(', ')})`,
    );
  }
  const writes: Array<[string, string]> = [];
  const removes: string[] = [];
  const results: AgentReset[] = [];
  const warnings: string[] = [];
  /** Online, EC2Launch v1: the task file `InitializeInstance.ps1 -Schedule` will have written. */
  let scheduledTask: string | undefined;
  for (const agent of agents) {
    const inactive = agent === 'ec2launch-v1' ? undefined : options.inactive?.[agent];
    if (inactive !== undefined) {
      const path = agent === 'ec2launch-v2' ? WINDOWS_PATHS.ec2launchV2Config : WINDOWS_PATHS.ec2configConfig;
      results.push({ agent, config: windowsPathOf(path), generatesPassword: false, changes: [] });
      warnings.push(inactive);
    } else if (agent === 'ec2launch-v2') {
      const path = WINDOWS_PATHS.ec2launchV2Config;
      const edit = edits.agentConfig(readFile(input, path)!);
      if ('error' in edit) return fail('CONFIG_NOT_UNDERSTOOD', `${windowsPathOf(path)}: ${edit.error}`);
      const changes = [...edit.changes];
      if (edit.changes.length > 0) writes.push([path, edit.text]);
      if (findPath(input, WINDOWS_PATHS.ec2launchV2RunOnce) !== undefined) {
        removes.push(WINDOWS_PATHS.ec2launchV2RunOnce);
        changes.push('removed state\\.run-once');
      }
      warnings.push('EC2Launch v2 runs every task of frequency "once" again at the next boot (setAdminAccount among them, and any once-scripts of yours)');
      results.push({ agent, config: windowsPathOf(path), generatesPassword: true, changes });
    } else if (agent === 'ec2launch-v1') {
      const path = WINDOWS_PATHS.ec2launchV1Config;
      const edit = edits.launchConfig(readFile(input, path)!);
      if ('error' in edit) return fail('CONFIG_NOT_UNDERSTOOD', `${windowsPathOf(path)}: ${edit.error}`);
      const task = readFile(input, WINDOWS_PATHS.ec2launchV1Task);
      const scheduled = taskEnabled(task);
      const schedulable = !scheduled && online && readFile(input, WINDOWS_PATHS.ec2launchV1Script) !== undefined;
      const resets = scheduled || schedulable;
      if (resets && edit.changes.length > 0) writes.push([path, edit.text]);
      const changes = resets ? [...edit.changes] : [];
      if (schedulable) {
        scheduledTask = scheduleInitializationTask(task);
        changes.push('InitializeInstance.ps1 -Schedule: initialization task scheduled for the next boot');
        warnings.push(V1_SCHEDULE_WARNING);
      } else if (!scheduled) {
        warnings.push(
          online
            ? `EC2Launch v1 cannot be scheduled: ${windowsPathOf(WINDOWS_PATHS.ec2launchV1Script)} is missing; its configuration was left alone`
            : V1_NOT_SCHEDULABLE_OFFLINE,
        );
      }
      results.push({ agent, config: windowsPathOf(path), generatesPassword: resets, changes });
    } else {
      const path = WINDOWS_PATHS.ec2configConfig;
      const edit = edits.ec2Config(readFile(input, path)!);
      if ('error' in edit) return fail('CONFIG_NOT_UNDERSTOOD', `${windowsPathOf(path)}: ${edit.error}`);
      if (edit.changes.length > 0) writes.push([path, edit.text]);
      results.push({ agent, config: windowsPathOf(path), generatesPassword: true, changes: edit.changes });
    }
  }
  if (!results.some((r) => r.generatesPassword)) {
    if (online) {
      return fail(
        'AGENT_SCHEDULE_FAILED',
        `the only launch agent is EC2Launch v1, its initialization task is not scheduled and ${windowsPathOf(WINDOWS_PATHS.ec2launchV1Script)} is missing to schedule it; nothing was changed`,
      );
    }
    return fail(
      'AGENT_NOT_RESETTABLE_OFFLINE',
      'the only launch agent is EC2Launch v1 and its initialization task is not scheduled: run InitializeInstance.ps1 -Schedule on the running instance (or use EC2Rescue for Windows Server); the volume was not changed',
    );
  }
  if (scheduledTask !== undefined) writes.push([WINDOWS_PATHS.ec2launchV1Task, scheduledTask]);
  const files = structuredClone(input);
  for (const [path, text] of writes) writeFile(files, path, text);
  for (const path of removes) delete files[findPath(files, path)!];
  return {
    files,
    agents: results,
    filesChanged: writes.map(([p]) => windowsPathOf(p)),
    filesRemoved: removes.map(windowsPathOf),
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// What the agents do when Windows boots (for the simulated region)

export interface WindowsBootResult {
  files: VolumeFiles;
  /** The agent that set a new random password and made it available to GetPasswordData. */
  passwordBy?: LaunchAgent;
}

/**
 * One boot of the Windows on `input`: each installed agent runs as its documentation says and
 * turns password generation off again once it has made a password. EC2Launch v2 runs its
 * once-tasks when `state\.run-once` is absent, then writes it; EC2Launch v1 runs when its task is
 * enabled, then disables the task; EC2Config sets a password when `Ec2SetPassword` is Enabled,
 * then disables the plugin.
 */
export function bootWindows(input: VolumeFiles): WindowsBootResult {
  const files = structuredClone(input);
  let passwordBy: LaunchAgent | undefined;
  const installed = (p: string) => readFile(files, p) !== undefined;

  const v2 = readFile(files, WINDOWS_PATHS.ec2launchV2Config);
  if (installed(WINDOWS_PATHS.ec2launchV2Exe) && v2 !== undefined && findPath(files, WINDOWS_PATHS.ec2launchV2RunOnce) === undefined) {
    if (setsRandomAdminPassword(v2)) passwordBy ??= 'ec2launch-v2';
    writeFile(files, WINDOWS_PATHS.ec2launchV2RunOnce, '');
  }
  const task = readFile(files, WINDOWS_PATHS.ec2launchV1Task);
  const v1 = readFile(files, WINDOWS_PATHS.ec2launchV1Config);
  if (installed(WINDOWS_PATHS.ec2launchV1Script) && taskEnabled(task) && v1 !== undefined) {
    const edit = ensureRandomLaunchConfig(v1);
    if (!('error' in edit) && edit.changes.length === 0) passwordBy ??= 'ec2launch-v1';
    writeFile(files, WINDOWS_PATHS.ec2launchV1Task, disableTask(task!));
  }
  const ec2config = readFile(files, WINDOWS_PATHS.ec2configConfig);
  if (installed(WINDOWS_PATHS.ec2configExe) && ec2config !== undefined && ec2ConfigPluginState(ec2config, 'Ec2SetPassword') === 'Enabled') {
    passwordBy ??= 'ec2config';
    writeFile(files, WINDOWS_PATHS.ec2configConfig, disableEc2SetPassword(ec2config));
  }
  return { files, ...(passwordBy ? { passwordBy } : {}) };
}

/** Whether the next boot of this volume makes a new administrator password. */
export function passwordGenerationEnabled(files: VolumeFiles): boolean {
  return bootWindows(files).passwordBy !== undefined;
}
