/**
 * A pure model of what `infra/scripts/ntfs-rescue.sh` does to a Windows volume from a Linux
 * helper: the per-agent decisions of the Windows script (`applyWindowsPasswordReset`, shared, not
 * copied), with the NTFS script's own file edits where they differ, the agent choice it makes from
 * the SYSTEM hive when more than one agent is installed, and its refusals of volumes it cannot
 * safely write (BitLocker, dynamic disk, hibernated, dirty or unclean NTFS). The simulated region's
 * runner (`ntfs-rescue-runner.ts`) applies it; the disk tests check the real script against it.
 *
 * Files follow `windows-rescue-model.ts`: paths inside the Windows partition, no drive letter,
 * looked up case-insensitively.
 */
import { NTFS_RESCUE_ERROR_CODES, type NtfsRescueErrorCode } from '../scripts/ntfs-rescue';
import type { NtfsVolumeFlags } from './state';
import type { VolumeFiles } from './volume-files';
import { ensureEc2SetPasswordEnabled, ensureRandomAdminPasswordYaml, taskEnabled, type ConfigEdit } from './windows-agent-configs';
import {
  applyWindowsPasswordReset,
  detectLaunchAgents,
  findPath,
  isWindowsVolume,
  WINDOWS_PATHS,
  type AgentConfigEdits,
  type AgentReset,
  type LaunchAgent,
} from './windows-rescue-model';

/** The services of the agents that run as one, as registered under `ControlSet00N\Services`. */
export const AGENT_SERVICES = { 'ec2launch-v2': 'EC2Launch', ec2config: 'Ec2Config' } as const;

/** The hibernation file Windows writes (hibernation and Fast Startup) at the partition root. */
export const HIBERFIL_PATH = '/hiberfil.sys';

/**
 * `agent-config.yml`: the model's line rules (as both scripts apply them). Written as JSON (by
 * `ec2launch get-agent-config -f json`) it is refused: re-serialising JSON in bash is not a
 * minimal edit, and the Windows helper handles it.
 */
export function ensureRandomAdminPasswordNtfs(text: string): ConfigEdit {
  if (text.trimStart().startsWith('{')) return { error: 'written as JSON, which this script does not rewrite (the Windows helper does)' };
  return ensureRandomAdminPasswordYaml(text);
}

/**
 * `LaunchConfig.json` of EC2Launch v1: one textual edit, the string value of `adminPasswordType`
 * (key matched case-insensitively, as EC2Launch's PowerShell reads it) set to `Random`, every other
 * byte kept. Only a flat object (EC2Launch writes one) with exactly one such key is edited.
 */
export function ensureRandomLaunchConfigText(text: string): ConfigEdit {
  const flat = text.replace(/"(?:[^"\\]|\\.)*"/g, '').trim();
  if (!/^\{[^{}[\]]*\}$/.test(flat)) return { error: 'not a flat JSON object' };
  const keys = text.match(/"adminPasswordType"\s*:/gi) ?? [];
  if (keys.length === 0) return { error: 'no "adminPasswordType" setting' };
  if (keys.length > 1) return { error: 'more than one "adminPasswordType" setting' };
  const m = /("adminPasswordType"\s*:\s*)("[^"\\]*"|[^,}\s]*)/i.exec(text)!;
  const value = m[2] as string;
  if (!(value.length >= 2 && value.startsWith('"') && value.endsWith('"'))) return { error: '"adminPasswordType" is not a plain string' };
  const current = value.slice(1, -1);
  if (current === 'Random') return { text, changes: [] };
  const at = m.index + (m[1] as string).length;
  return { text: `${text.slice(0, at)}"Random"${text.slice(at + value.length)}`, changes: [`adminPasswordType ${current || '(empty)'} -> Random`] };
}

/** The NTFS script's edits (EC2Config's is the Windows script's: already textual). */
export const NTFS_EDITS: AgentConfigEdits = {
  agentConfig: ensureRandomAdminPasswordNtfs,
  launchConfig: ensureRandomLaunchConfigText,
  ec2Config: ensureEc2SetPasswordEnabled,
};

/** Whether the volume's hibernation file says Windows is hibernated (a "hibr"/"HIBR" header, as ntfs-3g checks). */
export function isHibernated(files: VolumeFiles, flags: NtfsVolumeFlags = {}): boolean {
  if (flags.hibernated) return true;
  const key = findPath(files, HIBERFIL_PATH);
  const entry = key === undefined ? undefined : files[key];
  return entry?.type === 'file' && /^(hibr|HIBR)/.test(entry.content);
}

export interface NtfsResetResult {
  /** The volume after the reset; a new map. Unchanged on error. */
  files: VolumeFiles;
  agents: AgentReset[];
  filesChanged: string[];
  filesRemoved: string[];
  warnings: string[];
  /** When more than one agent is installed: the Start value of each agent service (null: not registered). */
  serviceStart?: Record<string, number | null>;
  error?: { code: NtfsRescueErrorCode; message: string };
}

const inactiveWarning = (agent: 'ec2launch-v2' | 'ec2config', start: number | null): string =>
  `${agent === 'ec2launch-v2' ? 'EC2Launch v2' : 'EC2Config'} is installed but its service (${AGENT_SERVICES[agent]}) is not set to start (Start ${start ?? 'absent'}): left alone`;

/**
 * What the NTFS script does to a Windows volume, in its order: the partition checks, the plan (all
 * edits worked out before any write: the Windows script's per-agent rules, with only the agents
 * Windows starts when there are several), the volume-state checks, then the edits. A service runs
 * at boot when its Start value is 0, 1 or 2 (boot, system, automatic); `flags.serviceStart`
 * stands for the SYSTEM hive (absent: every agent service automatic).
 */
export function applyNtfsPasswordReset(input: VolumeFiles, flags: NtfsVolumeFlags = {}, volumeId = 'the volume'): NtfsResetResult {
  const fail = (code: NtfsRescueErrorCode, message: string): NtfsResetResult => ({
    files: input,
    agents: [],
    filesChanged: [],
    filesRemoved: [],
    warnings: [],
    error: { code, message },
  });
  if (flags.dynamicDisk) return fail('DYNAMIC_DISK', `${volumeId} is a Windows dynamic disk: its volumes are not plain partitions`);
  if (flags.bitlocker) return fail('BITLOCKER', `${volumeId} is BitLocker-encrypted: it cannot be read offline`);
  if (!isWindowsVolume(input)) return fail('WINDOWS_VOLUME_NOT_FOUND', `no Windows installation on ${volumeId} (no Windows\\System32\\config\\SYSTEM)`);

  const installed = detectLaunchAgents(input);
  const inactive: Partial<Record<'ec2launch-v2' | 'ec2config', string>> = {};
  let serviceStart: Record<string, number | null> | undefined;
  if (installed.length > 1) {
    const scheduled = (() => {
      const key = findPath(input, WINDOWS_PATHS.ec2launchV1Task);
      const entry = key === undefined ? undefined : input[key];
      return taskEnabled(entry?.type === 'file' ? entry.content : undefined);
    })();
    serviceStart = {};
    const active = new Set<LaunchAgent>(installed);
    if (installed.includes('ec2launch-v1') && !scheduled) active.delete('ec2launch-v1');
    for (const agent of installed) {
      if (agent === 'ec2launch-v1') continue;
      const service = AGENT_SERVICES[agent];
      const start = flags.serviceStart === undefined ? 2 : (flags.serviceStart[service] ?? null);
      serviceStart[service] = start;
      if (start === null || start > 2) {
        active.delete(agent);
        inactive[agent] = inactiveWarning(agent, start);
      }
    }
    if (active.size === 0) {
      return fail(
        'NO_ACTIVE_AGENT',
        `more than one launch agent is installed (${installed.join(' ')}) but none is set to run at boot (services ${AGENT_SERVICES['ec2launch-v2']}/${AGENT_SERVICES.ec2config} not automatic, EC2Launch v1 task not scheduled)`,
      );
    }
  }

  const result = applyWindowsPasswordReset(input, { edits: NTFS_EDITS, inactive });
  if (result.error) {
    // Offline, the shared rules fail only with codes both scripts have (no Windows agent to schedule).
    const code = (NTFS_RESCUE_ERROR_CODES as readonly string[]).includes(result.error.code) ? (result.error.code as NtfsRescueErrorCode) : 'INTERNAL_ERROR';
    return fail(code, result.error.message);
  }

  if (flags.dirty)
    return fail('UNCLEAN_VOLUME', `the Windows partition of ${volumeId} is marked dirty: Windows has a disk check due; this script does not write to it`);
  if (isHibernated(input, flags)) {
    return fail(
      'HIBERNATED',
      `Windows on ${volumeId} is hibernated or stopped with Fast Startup: writing to it would be lost or corrupt the volume when Windows resumes`,
    );
  }
  if (flags.uncleanJournal) return fail('UNCLEAN_VOLUME', `${volumeId} was not shut down cleanly: its journal has changes Windows has not applied`);

  return {
    files: result.files,
    agents: result.agents,
    filesChanged: result.filesChanged,
    filesRemoved: result.filesRemoved,
    warnings: result.warnings,
    ...(serviceStart ? { serviceStart } : {}),
  };
}
