/**
 * The Windows rescue script cannot run here (no PowerShell, no Windows disks): these tests check
 * its text instead. A small PowerShell lexer finds the code outside strings and comments (and the
 * code inside "…$(…)…" subexpressions), so that the checks see what PowerShell would run:
 * balanced brackets, every command either a known cmdlet or a function the script defines, every
 * variable assigned before use is possible (StrictMode), the documented per-agent paths and rules,
 * the disk brought online and offline again, and no password printed or set anywhere. What the
 * rules do to the files is tested on the model (windows-rescue-model.test.ts), which mirrors them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generatedModule } from '../../infra/scripts/generate';
import {
  WINDOWS_RESCUE_SCRIPT,
  buildWindowsOnlineCommands,
  buildWindowsRescueCommands,
  parseWindowsRescueSummary,
  powerShellQuote,
  type WindowsRescueParams,
} from '../../infra/scripts/windows-rescue';
import { WINDOWS_RESCUE_SCRIPT_SOURCE } from '../../infra/scripts/windows-rescue.generated';
import { readPowerShellEnv } from '../../infra/sim/windows-rescue-runner';
import { AGENT_CONFIG_LINE_PATTERNS } from '../../infra/sim/windows-agent-configs';
import { WINDOWS_PATHS, WINDOWS_RESCUE_ERROR_CODES } from '../../infra/sim/windows-rescue-model';

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');
const SCRIPT = fs.readFileSync(path.join(SCRIPTS_DIR, 'windows-rescue.ps1'), 'utf8');

const PARAMS: WindowsRescueParams = {
  jobId: 'job-0001',
  targetInstanceId: 'i-0123456789abcdef0',
  volumeId: 'vol-0123456789abcdef0',
  device: 'xvdf',
};

interface Lexed {
  /** The script with strings' contents and comments blanked out (code inside "$(…)" kept). */
  code: string;
  /** Variables referenced inside double-quoted strings ("$Name", "${Name}"). */
  interpolated: string[];
  /** Single-quoted string contents, in order. */
  singleQuoted: string[];
  problems: string[];
}

/** A PowerShell lexer for what this script uses: comments, '…' (with ''), "…" (with `, $x, $(…)). */
function lex(text: string): Lexed {
  const out: string[] = [];
  const interpolated: string[] = [];
  const singleQuoted: string[] = [];
  const problems: string[] = [];
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  let i = 0;

  const code = (stopAtParen: boolean): void => {
    const depth = stack.length;
    while (i < text.length) {
      const c = text[i];
      if (c === '#') {
        while (i < text.length && text[i] !== '\n') out.push(text[i++] === '\n' ? '\n' : ' ');
        continue;
      }
      if (c === "'") {
        i++;
        let s = '';
        for (;;) {
          if (i >= text.length) return void problems.push('unterminated single-quoted string');
          if (text[i] === "'" && text[i + 1] === "'") {
            s += "'";
            i += 2;
          } else if (text[i] === "'") {
            break;
          } else {
            s += text[i++];
          }
        }
        i++;
        singleQuoted.push(s);
        out.push("''");
        continue;
      }
      if (c === '"') {
        i++;
        out.push('"');
        dquoted();
        out.push('"');
        continue;
      }
      if (c === '(' || c === '{' || c === '[') stack.push(c);
      if (c === ')' || c === '}' || c === ']') {
        if (stopAtParen && c === ')' && stack.length === depth) {
          i++;
          return;
        }
        if (stack.pop() !== pairs[c]) problems.push(`unbalanced ${c} at offset ${i}`);
      }
      out.push(c);
      i++;
    }
    if (stopAtParen) problems.push('unterminated $( subexpression');
  };

  const dquoted = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === '`') {
        i += 2;
        continue;
      }
      if (c === '"') {
        i++;
        return;
      }
      if (c === '$' && text[i + 1] === '(') {
        i += 2;
        out.push(' (');
        code(true);
        out.push(') ');
        continue;
      }
      const v = /^\$(?:\{([A-Za-z_:][\w:]*)\}|([A-Za-z_][\w]*(?::[A-Za-z_]\w*)?))/.exec(text.slice(i));
      if (v) {
        interpolated.push(v[1] ?? v[2]);
        i += v[0].length;
        continue;
      }
      i++;
    }
    problems.push('unterminated double-quoted string');
  };

  code(false);
  if (stack.length > 0) problems.push(`unclosed ${stack.join('')}`);
  return { code: out.join(''), interpolated, singleQuoted, problems };
}

const LEXED = lex(SCRIPT);

/** The text of one function of the script (from `function Name` to the next top-level function). */
function functionText(name: string): string {
  const start = SCRIPT.indexOf(`function ${name} {`);
  expect(start).toBeGreaterThanOrEqual(0);
  const next = SCRIPT.indexOf('\nfunction ', start + 1);
  return SCRIPT.slice(start, next < 0 ? undefined : next);
}

const DEFINED = [...SCRIPT.matchAll(/^function ([A-Z][A-Za-z]+-[A-Za-z]+) \{/gm)].map((m) => m[1]);

/** `code` without the `{ … }` block that follows `opener` (brackets in lexed code balance). */
function withoutBlock(code: string, opener: string): string {
  const start = code.indexOf(opener);
  expect(start).toBeGreaterThanOrEqual(0);
  let depth = 0;
  for (let i = code.indexOf('{', start); i < code.length; i++) {
    if (code[i] === '{') depth++;
    if (code[i] === '}' && --depth === 0) return code.slice(0, start) + code.slice(i + 1);
  }
  throw new Error(`unbalanced block after ${opener}`);
}

/**
 * The code (comments and strings blanked) of `root` and of every function it calls, transitively.
 * `Stop-Rescue`'s disk clean-up is left out when `online`: it sits in an `if (-not $Online)` block.
 */
function reachableCode(root: string, online: boolean): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    let code = lex(functionText(name)).code;
    if (online && name === 'Stop-Rescue') code = withoutBlock(code, 'if (-not $Online) {');
    seen.set(name, code);
    for (const callee of DEFINED) if (callee !== name && new RegExp(`(?<![\\w-])${callee}\\b`, 'i').test(code)) visit(callee);
  };
  visit(root);
  return seen;
}

/** What the online mode must never do: find or change disks, or restart the instance itself. */
const DISK_OR_REBOOT =
  /\b(Get-Disk|Set-Disk|Update-HostStorageCache|Get-Partition|Add-PartitionAccessPath|Remove-PartitionAccessPath|Get-Volume|Get-CimInstance|Invoke-Diskpart|Find-RescueDisk|Mount-RescueDisk|Restore-Disk|Restart-Computer|Stop-Computer)\b|diskpart|shutdown/i;

describe('the generated copy of windows-rescue.ps1', () => {
  it('is identical to the script (run node --import tsx infra/scripts/generate.ts after editing it)', () => {
    expect(WINDOWS_RESCUE_SCRIPT_SOURCE).toBe(SCRIPT);
    expect(fs.readFileSync(path.join(SCRIPTS_DIR, 'windows-rescue.generated.ts'), 'utf8')).toBe(
      generatedModule(SCRIPT, 'windows-rescue.ps1', 'WINDOWS_RESCUE_SCRIPT_SOURCE'),
    );
    expect(WINDOWS_RESCUE_SCRIPT).toBe(SCRIPT);
  });
});

describe('buildWindowsRescueCommands', () => {
  it('sets the inputs as $env: variables, then the script verbatim', () => {
    const commands = buildWindowsRescueCommands({ ...PARAMS, deviceWaitSeconds: 60 });

    expect(commands.slice(0, 5)).toEqual([
      "$env:RA_JOB_ID = 'job-0001'",
      "$env:RA_TARGET_INSTANCE_ID = 'i-0123456789abcdef0'",
      "$env:RA_VOLUME_ID = 'vol-0123456789abcdef0'",
      "$env:RA_DEVICE = 'xvdf'",
      "$env:RA_DEVICE_WAIT_SECONDS = '60'",
    ]);
    expect(commands.slice(5).join('\n')).toBe(SCRIPT.replace(/\n$/, ''));
    expect(readPowerShellEnv(commands, 'RA_')).toEqual({
      RA_JOB_ID: 'job-0001',
      RA_TARGET_INSTANCE_ID: 'i-0123456789abcdef0',
      RA_VOLUME_ID: 'vol-0123456789abcdef0',
      RA_DEVICE: 'xvdf',
      RA_DEVICE_WAIT_SECONDS: '60',
    });
  });

  it('refuses inputs that are not ids before anything is sent', () => {
    expect(() => buildWindowsRescueCommands({ ...PARAMS, jobId: "x'; Remove-Item C:\\ -Recurse; '" })).toThrow(/jobId/);
    expect(() => buildWindowsRescueCommands({ ...PARAMS, volumeId: 'vol-XYZ' })).toThrow(/volumeId/);
    expect(() => buildWindowsRescueCommands({ ...PARAMS, device: '/dev/sdf' })).toThrow(/device/);
    expect(powerShellQuote("it's")).toBe("'it''s'");
  });
});

describe('buildWindowsOnlineCommands', () => {
  it('sets the job, the target and online mode, then the same script verbatim', () => {
    const commands = buildWindowsOnlineCommands({ jobId: 'job-0002', targetInstanceId: 'i-0a1b2c3d4e5f60007' });

    expect(commands.slice(0, 3)).toEqual(["$env:RA_JOB_ID = 'job-0002'", "$env:RA_TARGET_INSTANCE_ID = 'i-0a1b2c3d4e5f60007'", "$env:RA_MODE = 'online'"]);
    expect(commands.slice(3).join('\n')).toBe(SCRIPT.replace(/\n$/, ''));
    // No volume or device: nothing that would make it (or the offline model) look for a disk.
    expect(readPowerShellEnv(commands, 'RA_')).toEqual({ RA_JOB_ID: 'job-0002', RA_TARGET_INSTANCE_ID: 'i-0a1b2c3d4e5f60007', RA_MODE: 'online' });
  });

  it('refuses a job id or target that is not an id', () => {
    expect(() => buildWindowsOnlineCommands({ jobId: "x'; Restart-Computer; '", targetInstanceId: 'i-0a1b2c3d4e5f60007' })).toThrow(/jobId/);
    expect(() => buildWindowsOnlineCommands({ jobId: 'job-0002', targetInstanceId: 'i-XYZ' })).toThrow(/targetInstanceId/);
    expect(() => buildWindowsOnlineCommands({ jobId: '', targetInstanceId: '' })).toThrow(/jobId, targetInstanceId/);
  });
});

describe('windows-rescue.ps1, read as PowerShell', () => {
  it('lexes: strings terminated, brackets balanced', () => {
    expect(LEXED.problems).toEqual([]);
  });

  it('calls only cmdlets of Windows PowerShell 5.1 and functions it defines', () => {
    const defined = new Set([...SCRIPT.matchAll(/^function ([A-Z][A-Za-z]+-[A-Za-z]+) \{/gm)].map((m) => m[1].toLowerCase()));
    const cmdlets = new Set(
      [
        'Set-StrictMode',
        'Remove-TypeData',
        'Get-Disk',
        'Set-Disk',
        'Get-CimInstance',
        'ForEach-Object',
        'Where-Object',
        'Select-Object',
        'Update-HostStorageCache',
        'Get-Partition',
        'Add-PartitionAccessPath',
        'Remove-PartitionAccessPath',
        'Get-Volume',
        'New-Item',
        'Test-Path',
        'Join-Path',
        'Remove-Item',
        'Set-Content',
        'Out-String',
        'Out-Null',
        'Get-Random',
        'Get-Date',
        'Start-Sleep',
        'ConvertTo-Json',
        'ConvertFrom-Json',
        'Add-Member',
        'New-Object',
      ].map((c) => c.toLowerCase()),
    );
    const used = [...LEXED.code.matchAll(/(?<![\w$.:-])([A-Z][A-Za-z]+-[A-Z][A-Za-z]+)\b/g)].map((m) => m[1].toLowerCase());

    expect(used.filter((name) => !defined.has(name) && !cmdlets.has(name))).toEqual([]);
    // Each function is called somewhere besides its definition.
    expect([...defined].filter((name) => used.filter((u) => u === name).length < 2)).toEqual([]);
    expect(used).toEqual(expect.arrayContaining(['convertto-json', 'convertfrom-json', 'convertto-xendevicename']));
  });

  it('assigns every variable it reads (StrictMode makes an unassigned one an error)', () => {
    const automatic = new Set(['_', 'true', 'false', 'null', 'lastexitcode', 'erroractionpreference', 'progresspreference']);
    const assigned = new Set<string>();
    for (const m of LEXED.code.matchAll(/\$((?:Script:)?[A-Za-z_]\w*)\s*(?:=(?!=)|\+=|-=)/g)) assigned.add(m[1].toLowerCase());
    for (const m of LEXED.code.matchAll(/\bforeach\s*\(\s*\$(\w+)\s+in\b/gi)) assigned.add(m[1].toLowerCase());
    for (const m of LEXED.code.matchAll(/\bparam\s*\(([^)]*)\)/gi)) for (const p of m[1].matchAll(/\$(\w+)/g)) assigned.add(p[1].toLowerCase());
    const read = [...[...LEXED.code.matchAll(/\$((?:Script:|env:)?[A-Za-z_]\w*)/g)].map((m) => m[1]), ...LEXED.interpolated];
    const unassigned = read
      .map((v) => v.toLowerCase())
      .filter((v) => !v.startsWith('env:') && !automatic.has(v))
      // A script-scope variable is the same one with or without the Script: prefix when read.
      .filter((v) => !assigned.has(v) && !assigned.has(`script:${v}`) && !assigned.has(v.replace(/^script:/, '')));

    expect([...new Set(unassigned)]).toEqual([]);
  });

  it('turns StrictMode and stop-on-error on before anything else runs', () => {
    const firstCode = LEXED.code
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    expect(firstCode.slice(0, 2)).toEqual(['Set-StrictMode -Version 2.0', "$ErrorActionPreference = ''"]);
    expect(LEXED.singleQuoted).toContain('Stop');
  });

  it('uses every error code of the model, and only those', () => {
    const codes = [...SCRIPT.matchAll(/Stop-Rescue '([A-Z_]+)'/g)].map((m) => m[1]);
    const assignedCodes = [...SCRIPT.matchAll(/\$(?:Code|code) = (?:if \([^)]*\) \{ )?'([A-Z_]+)'(?: \} else \{ '([A-Z_]+)' \})?/g)]
      .flatMap((m) => [m[1], m[2]])
      .filter(Boolean);
    expect(new Set([...codes, ...assignedCodes])).toEqual(new Set(WINDOWS_RESCUE_ERROR_CODES));
  });
});

describe('windows-rescue.ps1: what it does', () => {
  it('finds the disk by the volume id without its dash (Nitro), or by the AWS PV target of xvdf (Xen)', () => {
    const find = functionText('Find-RescueDisk');
    expect(find).toContain("$serial = $VolumeId.Replace('-', '')");
    expect(find).toMatch(/\$disk\.SerialNumber, \[string\]\$disk\.AdapterSerialNumber/);
    expect(find).toContain("-like '*PROD_PVDISK*'");
    expect(find).toContain('SCSITargetId');
    expect(functionText('ConvertTo-XenDeviceName')).toContain('[char](0x61 + $TargetId % 26)');
  });

  it("never works on the helper's own disk", () => {
    expect(SCRIPT).toMatch(/if \(\$disk\.IsBoot -or \$disk\.IsSystem\) \{ Stop-Rescue 'DISK_IS_HELPER_ROOT'/);
  });

  it('on a signature collision gives the offline disk a new identifier, and puts the original back once it is offline again', () => {
    const mount = functionText('Mount-RescueDisk');
    const restore = functionText('Restore-Disk');
    expect(mount).toContain('Test-SignatureCollision $disk');
    expect(mount).toMatch(/Set-Disk -Number \$Script:DiskNumber -IsOffline \$false/);
    expect(mount).toMatch(/uniqueid disk id=\$new", 'online disk noerr'/);
    expect(mount).toContain('$Script:SignatureChanged = $true');
    expect(functionText('Test-SignatureCollision')).toContain("$reason -eq '4' -or $reason -match 'Collision'");
    const offline = restore.indexOf('Set-Disk -Number $Script:DiskNumber -IsOffline $true');
    const putBack = restore.indexOf('uniqueid disk id=$($Script:OriginalId)');
    expect(offline).toBeGreaterThan(0);
    expect(putBack).toBeGreaterThan(offline);
  });

  it('takes the disk offline again on success and on every failure', () => {
    expect(functionText('Stop-Rescue')).toMatch(/^\s*\$problem = Restore-Disk$/m);
    expect(functionText('Invoke-Main')).toMatch(/\$problem = Restore-Disk\n[\s\S]*Write-RaSummary/);
    expect(SCRIPT).toMatch(/try \{\n  Invoke-Main\n\} catch \{\n  Stop-Rescue 'INTERNAL_ERROR'/);
  });

  it('never deletes recursively, and removes only the folders it made, once they are no mount point any more', () => {
    expect(LEXED.code).not.toMatch(/-Recurse|rmdir|\brd\b|format|Clear-Disk|Initialize-Disk|Remove-Partition\b/i);
    expect(SCRIPT.match(/\[IO\.Directory\]::Delete\([^)]*\)/g)).toEqual([
      '[IO.Directory]::Delete($added.Directory, $false)',
      '[IO.Directory]::Delete($Script:MountBase, $false)',
      '[IO.Directory]::Delete($dir, $false)',
    ]);
    const restore = functionText('Restore-Disk');
    expect(restore.indexOf('Remove-PartitionAccessPath')).toBeLessThan(restore.indexOf('[IO.Directory]::Delete($added.Directory'));
  });

  it('edits the documented files of each launch agent, under their documented paths', () => {
    const reset = functionText('Invoke-PasswordReset');
    const windowsPath = (p: string) => p.replace(/^\//, '').replace(/\//g, '\\');
    for (const p of [
      WINDOWS_PATHS.ec2launchV2Config,
      WINDOWS_PATHS.ec2launchV2RunOnce,
      WINDOWS_PATHS.ec2launchV1Config,
      WINDOWS_PATHS.ec2launchV1Script,
      WINDOWS_PATHS.ec2launchV1Task,
      WINDOWS_PATHS.ec2configConfig,
    ]) {
      expect(reset).toContain(`Join-Path $Root '${windowsPath(p)}'`);
    }
    expect(functionText('Find-WindowsPartition')).toContain("'Windows\\System32\\config\\SYSTEM'");
    expect(reset).toMatch(/Remove-Item -LiteralPath \$path -Force/);
    expect(functionText('Update-LaunchConfig')).toContain("-NotePropertyName adminPasswordType -NotePropertyValue 'Random'");
    expect(functionText('Update-Ec2ConfigXml')).toContain("SelectSingleNode('/Ec2ConfigurationSettings/Plugins')");
    expect(functionText('Update-Ec2ConfigXml')).toContain("$state.InnerText = 'Enabled'");
    expect(functionText('Get-RandomTaskLines')).toMatch(/'- task: setAdminAccount',[\s\S]*'inputs:',[\s\S]*'password:',[\s\S]*'type: random'/);
  });

  it('matches agent-config.yml lines with the same patterns as the model', () => {
    const unquote = (s: string) => s.replace(/''/g, "'");
    const patterns = [...SCRIPT.matchAll(/-cmatch '((?:[^']|'')*)'|\$taskPattern = '((?:[^']|'')*)'/g)].map((m) => unquote(m[1] ?? m[2]));
    expect(patterns).toContain(AGENT_CONFIG_LINE_PATTERNS.setAdminAccountTask);
    expect(patterns).toContain(AGENT_CONFIG_LINE_PATTERNS.preReadyStage);
  });

  it('works out every edit before it writes the first file', () => {
    const reset = functionText('Invoke-PasswordReset');
    const lastRefusal = reset.lastIndexOf("Stop-Rescue 'AGENT_NOT_RESETTABLE_OFFLINE'");
    const firstWrite = reset.indexOf('[IO.File]::WriteAllText');
    expect(lastRefusal).toBeGreaterThan(0);
    expect(firstWrite).toBeGreaterThan(lastRefusal);
    expect(reset.slice(0, firstWrite)).not.toMatch(/Remove-Item|WriteAllText|Set-Content/);
  });

  it('prints nothing on stdout but the summary, and never a password', () => {
    expect(LEXED.code).not.toMatch(/Write-Output|Write-Host|\becho\b|Out-File|Tee-Object|Export-/i);
    expect(LEXED.code.match(/\[Console\]::Out/g)).toHaveLength(1);
    expect(functionText('Write-RaSummary')).toContain('[Console]::Out.WriteLine(($Summary | ConvertTo-Json -Compress -Depth 8))');
    // A static password's data is removed without being read; no password is set, read or asked for.
    expect(LEXED.code).not.toMatch(
      /\.data\b|\$data\.|GetPasswordData|get-password-data|net\s+user|SetPassword|Set-LocalUser|ConvertTo-SecureString|Get-Credential/i,
    );
    expect(SCRIPT).toContain("$password.PSObject.Properties.Remove('data')");
  });
});

describe('windows-rescue.ps1 in online mode (RA_MODE online)', () => {
  it('goes straight to the online reset, before any offline input is read', () => {
    const main = functionText('Invoke-Main');
    expect(SCRIPT).toContain("$Online = ($Mode -ceq 'online')");
    expect(main).toMatch(/if \(\$Online\) \{ Invoke-Online; return \}/);
    expect(main.indexOf('Invoke-Online')).toBeLessThan(main.indexOf('$VolumeId'));
    expect(main.indexOf('Invoke-Online')).toBeLessThan(main.indexOf('Find-RescueDisk'));
  });

  it('never finds, changes or puts back a disk, and never restarts the instance', () => {
    const online = reachableCode('Invoke-Online', true);
    const offline = reachableCode('Invoke-Main', false);

    expect([...online.keys()]).toEqual(
      expect.arrayContaining(['Invoke-PasswordReset', 'Register-InitializationTask', 'Update-AgentConfig', 'Stop-Rescue', 'Write-RaSummary']),
    );
    expect([...online].filter(([, code]) => DISK_OR_REBOOT.test(code)).map(([name]) => name)).toEqual([]);
    // The same check does see the offline mode's disk work (so it is not vacuous).
    expect([...offline].filter(([, code]) => DISK_OR_REBOOT.test(code)).map(([name]) => name)).toEqual(
      expect.arrayContaining(['Invoke-Main', 'Find-RescueDisk', 'Mount-RescueDisk', 'Restore-Disk', 'Stop-Rescue']),
    );
    // Stop-Rescue puts a disk back only offline.
    expect(functionText('Stop-Rescue')).toMatch(/if \(-not \$Online\) \{\n\s*\$problem = Restore-Disk\n/);
    expect(LEXED.code).not.toMatch(/Restart-Computer|Stop-Computer|shutdown/i);
  });

  it("works on the running system's own drive and prints its own summary, without a volume or disk", () => {
    const online = functionText('Invoke-Online');
    expect(online).toContain("$root = $env:SystemDrive + '\\'");
    expect(online).toContain('$result = Invoke-PasswordReset $root');
    expect(online).toMatch(/Write-RaSummary \(\[ordered\]@\{[\s\S]*mode = 'online'/);
    expect(online).not.toMatch(/volumeId|disk =|partition =/);
    expect(online).toMatch(/\$TargetInstanceId -cnotmatch '\^i-\[0-9a-f\]\{8,32\}\$'\) \{ Stop-Rescue 'INVALID_INPUT'/);
  });

  it('schedules an unscheduled EC2Launch v1 with the documented InitializeInstance.ps1 -Schedule, online only', () => {
    const reset = functionText('Invoke-PasswordReset');
    const register = functionText('Register-InitializationTask');
    expect(reset).toContain('$schedulable = (-not $scheduled) -and $Online -and (Test-Path -LiteralPath $paths.V1Script -PathType Leaf)');
    expect(register).toContain('-File $ScriptPath -Schedule');
    // Its task must really be there and enabled afterwards, read as the offline mode reads it.
    expect(register).toMatch(/Test-TaskEnabled \$\(if \(\$task\)/);
    expect(reset).toMatch(/if \(\$problem\) \{[\s\S]*Stop-Rescue 'AGENT_SCHEDULE_FAILED'/);
  });

  it("keeps InitializeInstance.ps1's console output off stdout (in a process of its own, captured, logged)", () => {
    const register = functionText('Register-InitializationTask');
    expect(register).toMatch(/\$out = & \$powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File \$ScriptPath -Schedule 2>&1 \| Out-String\n/);
    expect(register).toMatch(/foreach \(\$line in [^\n]*\) \{ Write-RaLog "InitializeInstance\.ps1: \$line" \}/);
    expect(register).toContain("$ErrorActionPreference = 'Stop'");
  });

  it('refuses before any write, and schedules only after all files are written', () => {
    const reset = functionText('Invoke-PasswordReset');
    const refusal = reset.indexOf("Stop-Rescue 'AGENT_SCHEDULE_FAILED' \"the only launch agent");
    const firstWrite = reset.indexOf('[IO.File]::WriteAllText');
    const lastRemove = reset.lastIndexOf('Remove-Item -LiteralPath $path -Force');
    const schedule = reset.indexOf('Register-InitializationTask $paths.V1Script $paths.V1Task');
    expect(refusal).toBeGreaterThan(0);
    expect(firstWrite).toBeGreaterThan(refusal);
    expect(schedule).toBeGreaterThan(lastRemove);
  });
});

describe('parseWindowsRescueSummary', () => {
  it('reads an online summary (mode online, no volume or disk)', () => {
    const online = {
      ok: true,
      script: 'windows-rescue',
      mode: 'online',
      agents: [
        {
          agent: 'ec2launch-v1',
          config: 'C:\\ProgramData\\Amazon\\EC2-Windows\\Launch\\Config\\LaunchConfig.json',
          generatesPassword: true,
          changes: ['adminPasswordType DoNothing -> Random'],
        },
      ],
      filesChanged: [
        'C:\\ProgramData\\Amazon\\EC2-Windows\\Launch\\Config\\LaunchConfig.json',
        'C:\\Windows\\System32\\Tasks\\Amazon Ec2 Launch - Instance Initialization',
      ],
      filesRemoved: [],
      warnings: ['EC2Launch v1 runs its whole initialization again at the next boot'],
    };

    expect(parseWindowsRescueSummary(`ra: job\r\n${JSON.stringify(online)}\r\n`)).toEqual(online);
    expect(() => parseWindowsRescueSummary(JSON.stringify({ ...online, agents: [] }))).toThrow(/agents/);
    expect(() => parseWindowsRescueSummary(JSON.stringify({ ...online, filesChanged: undefined }))).toThrow(/filesChanged/);
    expect(() => parseWindowsRescueSummary(JSON.stringify({ ...online, mode: 'sideways' }))).toThrow(/mode/);
    // Without "mode": "online" it is an offline summary, which needs its volume and disk.
    expect(() => parseWindowsRescueSummary(JSON.stringify({ ...online, mode: undefined }))).toThrow(/volumeId/);
  });

  it('reads the last summary line, success or failure, and refuses a malformed one', () => {
    const ok = {
      ok: true,
      script: 'windows-rescue',
      volumeId: 'vol-0123456789abcdef0',
      disk: { number: 1, partitionStyle: 'MBR', signatureCollision: true, signatureRestored: true },
      partition: 2,
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

    expect(parseWindowsRescueSummary(`ra: log\r\n${JSON.stringify(ok)}\r\n`)).toEqual(ok);
    expect(parseWindowsRescueSummary('{"ok":false,"script":"windows-rescue","error":"DISK_NOT_FOUND","message":"no disk"}\n')).toEqual({
      ok: false,
      script: 'windows-rescue',
      error: 'DISK_NOT_FOUND',
      message: 'no disk',
    });
    expect(() => parseWindowsRescueSummary(JSON.stringify({ ...ok, agents: [] }))).toThrow(/agents/);
    expect(() => parseWindowsRescueSummary('{"ok":true,"fingerprint":"SHA256:x"}')).toThrow(/no JSON summary/);
  });
});
