import type { NtfsVolumeFlags } from './state';
import type { VolumeFiles } from './volume-files';

/** What a simulated script may see and change in the region, and nothing more. */
export interface ScriptHost {
  /** Simulated time now. */
  now(): number;
  /**
   * The volume `volumeId` if it is attached (state `attached`) to `instanceId`, as the script
   * would find it under /dev; undefined otherwise.
   */
  findAttachedVolume(instanceId: string, volumeId: string): { volumeId: string; filesystem: string; files: VolumeFiles; ntfs?: NtfsVolumeFlags } | undefined;
  /**
   * The root volume of `instanceId` as its running system sees it at `/` (a script run on the
   * target itself, not on a helper); undefined when the instance has no attached EBS root.
   */
  findRootVolume(instanceId: string): { volumeId: string; filesystem: string; files: VolumeFiles } | undefined;
  /** Replaces the files of a volume (the script wrote to the mounted filesystem). */
  writeVolumeFiles(volumeId: string, files: VolumeFiles): void;
  /**
   * Whether this instance's OS still has the volume mounted (`mounted`: it leaves it so, a script
   * that could not unmount it; `unmounted`: it let go, and a detach stuck `busy` goes on). Answers
   * whether it is mounted by `instanceId` now.
   */
  mount?(instanceId: string, volumeId: string, change?: 'mounted' | 'unmounted'): boolean;
  /** PutParameter --type SecureString --overwrite, as the helper's instance profile would do it. */
  putSecureStringParameter(name: string, value: string, kmsKeyId?: string): void;
}

export interface ScriptRun {
  commandId: string;
  instanceId: string;
  documentName: string;
  /** The document's `commands` parameter, one line per entry. */
  commands: readonly string[];
  host: ScriptHost;
}

export interface ScriptOutcome {
  status: 'Success' | 'Failed';
  stdout: string;
  stderr: string;
  responseCode: number;
}

/**
 * A model of one script that the region runs in place of the real one when a command matches it:
 * the Linux rescue script now, a Windows (PowerShell) one later.
 */
export interface ScriptRunner {
  /** Short name, recorded on the invocation (e.g. `linux-rescue`). */
  readonly name: string;
  /** The SSM document it answers to (`AWS-RunShellScript`, `AWS-RunPowerShellScript`). */
  readonly documentName: string;
  /** Whether these command lines are this script (usually: a marker variable is exported). */
  matches(commands: readonly string[]): boolean;
  /** Simulated running time, given the region's timings. */
  durationMs(timings: { rescueScriptMs: number; defaultScriptMs: number }): number;
  /** Runs the model at the end of the simulated running time. */
  run(run: ScriptRun): ScriptOutcome;
}

/** Script runners keyed by SSM document; the most recently registered one that matches wins. */
export class ScriptRunnerRegistry {
  private readonly runners: ScriptRunner[] = [];

  register(runner: ScriptRunner): this {
    this.runners.push(runner);
    return this;
  }

  find(documentName: string, commands: readonly string[]): ScriptRunner | undefined {
    return [...this.runners].reverse().find((r) => r.documentName === documentName && r.matches(commands));
  }

  byName(name: string): ScriptRunner | undefined {
    return [...this.runners].reverse().find((r) => r.name === name);
  }
}

/**
 * Reads `export NAME='value'` lines (single-quoted shell words, `'\''` for a quote inside) from
 * the command lines; only names matching `prefix` are kept.
 */
export function readExportedVariables(commands: readonly string[], prefix: string): Record<string, string> {
  const variables: Record<string, string> = {};
  const line = /^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=((?:'[^']*'|\\')+)\s*(?:;\s*)?$/;
  for (const text of commands.flatMap((c) => c.split('\n'))) {
    const m = line.exec(text);
    // The first export wins: later lines may be the script's own text.
    if (!m || !m[1].startsWith(prefix) || m[1] in variables) continue;
    variables[m[1]] = m[2].replace(/'([^']*)'|\\'/g, (_all, quoted: string | undefined) => quoted ?? "'");
  }
  return variables;
}
