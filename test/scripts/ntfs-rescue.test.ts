/**
 * The NTFS rescue script without disk images: its generated copy, the command that carries it, its
 * summary parser, and its text edits run in bash (the script sourced, its functions called on
 * files) against the model's, byte for byte. The whole script on real NTFS images is in
 * ntfs-rescue.disk.test.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatedModule } from '../../infra/scripts/generate';
import { shippedBash } from '../../infra/scripts/shipped-text';
import { NTFS_RESCUE_SCRIPT, buildNtfsRescueCommands, parseNtfsRescueSummary, type NtfsRescueParams } from '../../infra/scripts/ntfs-rescue';
import { NTFS_RESCUE_SCRIPT_SOURCE } from '../../infra/scripts/ntfs-rescue.generated';
import { ec2ConfigXml } from '../../infra/sim/base-images';
import { ensureRandomAdminPasswordNtfs, ensureRandomLaunchConfigText } from '../../infra/sim/ntfs-rescue-model';
import { readExportedVariables } from '../../infra/sim/script-runners';
import { AGENT_CONFIG_LINE_PATTERNS, ensureEc2SetPasswordEnabled, taskEnabled, type ConfigEdit } from '../../infra/sim/windows-agent-configs';
import { hasCommand } from './support/disk-lab';
import {
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

const SCRIPTS_DIR = path.join(__dirname, '../../infra/scripts');
const SCRIPT_PATH = path.join(SCRIPTS_DIR, 'ntfs-rescue.sh');
const SCRIPT_ON_DISK = fs.readFileSync(SCRIPT_PATH, 'utf8');
/** What the builders and bundles carry: the script with its comment lines emptied (shipped-text.ts). */
const SHIPPED = shippedBash(SCRIPT_ON_DISK);

const PARAMS: NtfsRescueParams = { jobId: 'job-0001', targetInstanceId: 'i-0123456789abcdef0', volumeId: 'vol-0123456789abcdef0' };

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-ntfs-edit-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let files = 0;
/**
 * Runs one of the script's edit functions (edit_agent_config, edit_launch_config, edit_ec2config)
 * on `content` as a file, as the script does: read_text, then the edit. The result in the model's
 * shape; `bom` is whether the written text starts with the BOM the file had.
 */
function scriptEdit(fn: string, content: string | Buffer): ConfigEdit & { bom?: boolean } {
  const n = ++files;
  const input = path.join(tmp, `in-${n}`);
  const output = path.join(tmp, `out-${n}`);
  fs.writeFileSync(input, content);
  const r = spawnSync(
    'bash',
    [
      '-c',
      `source "$1"; set +e
      if ! read_text "$2"; then printf 'READ: %s' "$REPLY" >"$3.err"; exit 0; fi
      if ! ${fn}; then printf '%s' "$EDIT_ERR" >"$3.err"; exit 0; fi
      printf '%s' "$BOM$NEW_TEXT" >"$3"
      for c in "\${CHANGES[@]}"; do printf '%s\\0' "$c"; done >"$3.changes"`,
      'edit',
      SCRIPT_PATH,
      input,
      output,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`bash failed (${r.status}): ${r.stderr}`);
  if (fs.existsSync(`${output}.err`)) return { error: fs.readFileSync(`${output}.err`, 'utf8') };
  const written = fs.readFileSync(output);
  const bom = written.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]));
  const changes = fs
    .readFileSync(`${output}.changes`, 'utf8')
    .split('\0')
    .filter((c) => c !== '');
  return { text: written.subarray(bom ? 3 : 0).toString('utf8'), changes, bom };
}

function scriptTaskEnabled(content: Buffer | undefined): boolean {
  const file = path.join(tmp, `task-${++files}`);
  if (content) fs.writeFileSync(file, content);
  const r = spawnSync('bash', ['-c', 'source "$1"; set +e; [[ -f $2 ]] && task_enabled "$2"', 'task', SCRIPT_PATH, file], { encoding: 'utf8' });
  return r.status === 0;
}

describe('the generated copy of ntfs-rescue.sh', () => {
  it('is identical to the script (run node --import tsx infra/scripts/generate.ts after editing it)', () => {
    expect(NTFS_RESCUE_SCRIPT_SOURCE).toBe(SHIPPED);
    expect(fs.readFileSync(path.join(SCRIPTS_DIR, 'ntfs-rescue.generated.ts'), 'utf8')).toBe(
      generatedModule(SHIPPED, 'ntfs-rescue.sh', 'NTFS_RESCUE_SCRIPT_SOURCE'),
    );
    expect(NTFS_RESCUE_SCRIPT).toBe(SHIPPED);
  });
});

describe('buildNtfsRescueCommands', () => {
  it('exports the marker and the inputs, then the script verbatim in a quoted here-document', () => {
    const commands = buildNtfsRescueCommands({ ...PARAMS, deviceHints: ['/dev/sdf'], deviceWaitSeconds: 5 });

    expect(commands.slice(0, 6)).toEqual([
      "export RA_SCRIPT='ntfs-rescue'",
      "export RA_JOB_ID='job-0001'",
      "export RA_TARGET_INSTANCE_ID='i-0123456789abcdef0'",
      "export RA_VOLUME_ID='vol-0123456789abcdef0'",
      "export RA_DEVICE_HINTS='/dev/sdf'",
      "export RA_DEVICE_WAIT_SECONDS='5'",
    ]);
    const start = commands.indexOf('cat >"$RA_SCRIPT_FILE" <<\'RA_NTFS_RESCUE_SCRIPT_END\'');
    const end = commands.indexOf('RA_NTFS_RESCUE_SCRIPT_END');
    expect(`${commands.slice(start + 1, end).join('\n')}\n`).toBe(SHIPPED);
    expect(readExportedVariables(commands, 'RA_')).toMatchObject({ RA_SCRIPT: 'ntfs-rescue', RA_VOLUME_ID: 'vol-0123456789abcdef0' });
  });

  it('runs under sh as the SSM agent runs it: one JSON line on stdout, the log on stderr, its copy removed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-ntfs-cmd-'));
    try {
      // Prepare: an empty device tree, so the script stops at DEVICE_NOT_FOUND.
      fs.mkdirSync(path.join(dir, 'dev'));
      fs.mkdirSync(path.join(dir, 'tmp'));
      fs.writeFileSync(path.join(dir, 'commands.sh'), `${buildNtfsRescueCommands({ ...PARAMS, deviceWaitSeconds: 0 }).join('\n')}\n`);

      // Act
      const r = spawnSync('sh', [path.join(dir, 'commands.sh')], {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: path.join(dir, 'tmp'), RA_DEV_ROOT: path.join(dir, 'dev'), RA_MOUNT_BASE: path.join(dir, 'mnt') },
      });

      // Assess
      expect(r.status).toBe(1);
      expect(r.stdout.split('\n')).toHaveLength(2);
      const summary = parseNtfsRescueSummary(r.stdout);
      if (summary.ok) throw new Error('expected a failure');
      // The helper has ntfs-3g in CI; without it the script refuses before looking for the device.
      expect(['DEVICE_NOT_FOUND', 'NTFS3G_MISSING']).toContain(summary.error);
      expect(summary).toMatchObject({ script: 'ntfs-rescue', helper: 'linux', fallback: true, volumeWritten: false });
      expect(r.stderr).toContain('ra: ');
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  (hasCommand('shellcheck') ? it : it.skip)('is clean as the POSIX sh script the SSM agent runs (shellcheck --shell=sh)', () => {
    const file = path.join(tmp, 'command.sh');
    fs.writeFileSync(file, `${buildNtfsRescueCommands({ ...PARAMS, deviceHints: ['/dev/sdf', '/dev/xvdf'], deviceWaitSeconds: 5 }).join('\n')}\n`);

    const r = spawnSync('shellcheck', ['--shell=sh', file], { encoding: 'utf8' });

    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails a bad input without fallback (the caller is wrong, not the volume)', () => {
    const r = spawnSync('bash', [SCRIPT_PATH], { encoding: 'utf8', env: { ...process.env, RA_JOB_ID: 'bad id', RA_VOLUME_ID: 'vol-0123456789abcdef0' } });

    expect(r.status).toBe(1);
    expect(parseNtfsRescueSummary(r.stdout)).toMatchObject({ ok: false, error: 'INVALID_INPUT', fallback: false, volumeWritten: false });
  });

  it.each([
    ['jobId', { jobId: 'job 1; rm -rf /' }],
    ['targetInstanceId', { targetInstanceId: 'i-xyz' }],
    ['volumeId', { volumeId: 'vol-$(id)' }],
    ['deviceHints', { deviceHints: ['/dev/sdf; reboot'] }],
    ['deviceWaitSeconds', { deviceWaitSeconds: -1 }],
  ] as Array<[string, Partial<NtfsRescueParams>]>)('refuses a bad %s', (field, bad) => {
    expect(() => buildNtfsRescueCommands({ ...PARAMS, ...bad })).toThrow(new RegExp(`invalid NTFS rescue parameters: .*${field}`));
  });
});

describe('parseNtfsRescueSummary', () => {
  const success = {
    ok: true,
    script: 'ntfs-rescue',
    helper: 'linux',
    volumeId: 'vol-0123456789abcdef0',
    device: '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0',
    disk: '/dev/nvme1n1',
    partitionStyle: 'MBR',
    partition: '/dev/nvme1n1p1',
    agents: [
      {
        agent: 'ec2config',
        config: 'C:\\Program Files\\Amazon\\Ec2ConfigService\\Settings\\config.xml',
        generatesPassword: true,
        changes: ['Ec2SetPassword Disabled -> Enabled'],
      },
    ],
    filesChanged: ['C:\\Program Files\\Amazon\\Ec2ConfigService\\Settings\\config.xml'],
    filesRemoved: [],
    warnings: [],
  };

  it("reads the last line that is this script's summary", () => {
    expect(parseNtfsRescueSummary(`{"ok":false,"error":"X","message":"linux"}\n${JSON.stringify(success)}\n`)).toEqual(success);
  });

  it('reads a failure with its fallback', () => {
    const failure = { ok: false, script: 'ntfs-rescue', helper: 'linux', error: 'HIBERNATED', message: 'hibernated', fallback: true, volumeWritten: false };
    expect(parseNtfsRescueSummary(`${JSON.stringify(failure)}\n`)).toEqual(failure);
  });

  it('throws on a missing or malformed summary', () => {
    expect(() => parseNtfsRescueSummary('ra: killed\n')).toThrow(/printed no JSON summary line/);
    expect(() => parseNtfsRescueSummary(`${JSON.stringify({ ...success, agents: [] })}\n`)).toThrow(/no "agents"/);
    expect(() => parseNtfsRescueSummary(`${JSON.stringify({ ok: false, script: 'ntfs-rescue', helper: 'linux', error: 'X', message: 'y' })}\n`)).toThrow(
      /no "fallback"/,
    );
  });
});

describe("the script's text edits against the model, byte for byte", () => {
  it("carries the model's agent-config.yml line patterns (the quote back-reference spelt out)", () => {
    expect(AGENT_CONFIG_LINE_PATTERNS.setAdminAccountTask).toContain('setAdminAccount');
    expect(SCRIPT_ON_DISK).toContain(
      `TASK_RE="^[[:space:]]*-[[:space:]]+task:[[:space:]]*(setAdminAccount|'setAdminAccount'|\\"setAdminAccount\\")[[:space:]]*(#.*)?\\$"`,
    );
  });

  it.each([
    ['the AMI default (unchanged)', V2_DEFAULT],
    ['doNothing', V2_DO_NOTHING],
    ['a static password with multi-line data', V2_STATIC],
    ['no setAdminAccount task', V2_NO_TASK],
    ['no preReady stage', V2_NO_STAGE],
    ['CRLF, a task without inputs', V2_CRLF_NO_INPUTS],
    ['flow style (refused)', V2_FLOW],
    ['JSON (refused: the Windows helper rewrites it)', V2_JSON],
    ['no config (refused)', 'version: 1.0\n'],
    ['inputs in flow style (refused)', 'config:\n- stage: preReady\n  tasks:\n  - task: setAdminAccount\n    inputs: {password: {type: doNothing}}\n'],
    [
      'quoted, indented, commented, no final newline',
      "config:\n    - stage: 'preReady'\n      tasks:\n        - task: \"setAdminAccount\"   # admin\n          inputs:\n            password:\n              type: 'doNothing'   # keep\n        - task: other",
    ],
    ['an empty tasks list', 'config:\n- stage: preReady\n  tasks: []\n- stage: postReady\n  tasks:\n  - task: startSsm\n'],
  ])('agent-config.yml: %s', (_name, text) => {
    expect(scriptEdit('edit_agent_config', text)).toMatchObject(ensureRandomAdminPasswordNtfs(text));
  });

  it('agent-config.yml: keeps a UTF-8 BOM and CRLF line endings', () => {
    const text = V2_DO_NOTHING.replace(/\n/g, '\r\n');
    const result = scriptEdit('edit_agent_config', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));

    expect(result).toEqual({ ...ensureRandomAdminPasswordNtfs(text), bom: true });
    expect('text' in result && result.text.split('\r\n')).toHaveLength(text.split('\r\n').length);
  });

  it('refuses UTF-16 files instead of guessing', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(V2_DO_NOTHING, 'utf16le')]);
    expect(scriptEdit('edit_agent_config', utf16)).toEqual({ error: 'READ: UTF-16 text, which this script does not edit' });
  });

  it.each([
    ['DoNothing under the key AdminPasswordType', V1_LAUNCH_CONFIG],
    ['already Random', '{\n  "adminPasswordType": "Random",\n  "adminPassword": ""\n}'],
    ['Specify, a password with braces and quotes kept', '{"setWallpaper":true,"adminPasswordType":"Specify","adminPassword":"p{a}[s]\\"s"}\r\n'],
    ['an empty value', '{ "adminPasswordType" : "" }'],
    ['no key (refused)', '{ "setWallpaper": true }'],
    ['two keys (refused)', '{ "adminPasswordType": "Random", "AdminPasswordType": "DoNothing" }'],
    ['not a string (refused)', '{ "adminPasswordType": null }'],
    ['nested (refused)', '{ "a": { "adminPasswordType": "DoNothing" } }'],
  ])('LaunchConfig.json: %s', (_name, text) => {
    expect(scriptEdit('edit_launch_config', text)).toMatchObject(ensureRandomLaunchConfigText(text));
  });

  it('LaunchConfig.json: changes one value and nothing else', () => {
    const edit = ensureRandomLaunchConfigText(V1_LAUNCH_CONFIG);
    if ('error' in edit) throw new Error(edit.error);
    expect(edit.text).toBe(V1_LAUNCH_CONFIG.replace('"AdminPasswordType": "DoNothing"', '"AdminPasswordType": "Random"'));
    expect(edit.changes).toEqual(['adminPasswordType DoNothing -> Random']);
  });

  const disabled = ec2ConfigXml('Disabled');
  it.each([
    ['Disabled (CRLF)', disabled],
    ['already Enabled', ec2ConfigXml('Enabled')],
    ['plugin missing: added', disabled.replace(/\s*<Plugin>\s*<Name>Ec2SetPassword<\/Name>\s*<State>Disabled<\/State>\s*<\/Plugin>/, '')],
    ['plugin without a state', '<Ec2ConfigurationSettings><Plugins><Plugin><Name> Ec2SetPassword </Name></Plugin></Plugins></Ec2ConfigurationSettings>'],
    [
      'two such plugins, LF, tabs',
      '<X>\n\t<Plugins>\n\t\t<Plugin><Name>Ec2SetPassword</Name><State> Disabled </State></Plugin>\n\t\t<Plugin><Name>Ec2SetPassword</Name><State>x</State></Plugin>\n\t</Plugins>\n</X>\n',
    ],
    ['no Plugins (refused)', '<Ec2ConfigurationSettings></Ec2ConfigurationSettings>'],
  ])('config.xml: %s', (_name, text) => {
    expect(scriptEdit('edit_ec2config', text)).toMatchObject(ensureEc2SetPasswordEnabled(text));
  });

  it('reads the EC2Launch v1 task as the model does, in UTF-16 as Task Scheduler writes it or UTF-8', () => {
    const utf16 = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const cases: Array<[string | undefined, Buffer | undefined]> = [
      [v1Task(true), utf16(v1Task(true))],
      [v1Task(false), utf16(v1Task(false))],
      [v1Task(false), Buffer.from(v1Task(false))],
      ['<Task><SETTINGS><ENABLED> False </ENABLED></SETTINGS></Task>', Buffer.from('<Task><SETTINGS><ENABLED> False </ENABLED></SETTINGS></Task>')],
      [
        '<Task><SettingsX/><Settings><Priority>7</Priority></Settings></Task>',
        Buffer.from('<Task><SettingsX/><Settings><Priority>7</Priority></Settings></Task>'),
      ],
      [undefined, undefined],
    ];
    for (const [text, bytes] of cases) expect([text, scriptTaskEnabled(bytes)]).toEqual([text, taskEnabled(text)]);
  });
});
