/**
 * The edits that turn password generation back on in each Windows launch agent's configuration
 * file, on its text: EC2Launch v2's `agent-config.yml` (YAML by the line rules the PowerShell and
 * NTFS scripts apply too, or JSON), EC2Launch v1's `LaunchConfig.json` and its scheduled task's
 * definition, EC2Config's `config.xml`; and the reverse edits a launch agent makes once it has set
 * a password, for the simulated boot. Why each edit is the documented one: the comment of
 * `windows-rescue-model.ts`, which applies these per agent.
 */

// ---------------------------------------------------------------------------------------------
// EC2Launch v2: agent-config.yml (YAML, or JSON as `ec2launch get-agent-config -f json` writes it)

export type ConfigEdit = { text: string; changes: string[] } | { error: string };

const RANDOM_TASK = ['- task: setAdminAccount', '  inputs:', '    password:', '      type: random'];

const sp = (n: number) => ' '.repeat(n);
const indentOf = (line: string) => line.length - line.trimStart().length;
/** A line that carries YAML content (not blank, not a comment). */
const isContent = (line: string) => line.trim() !== '' && !line.trim().startsWith('#');
const bareValue = (v: string) =>
  v
    .replace(/\s+#.*$/, '')
    .trim()
    .replace(/^(['"])(.*)\1$/, '$2');

/** First index after `start` whose content line is indented `ind` or less (the block's end). */
function blockEnd(lines: string[], start: number, ind: number, limit = lines.length): number {
  for (let j = start + 1; j < limit; j++) if (isContent(lines[j]) && indentOf(lines[j]) <= ind) return j;
  return limit;
}

/** Like blockEnd, but a sequence may sit at the key's own indentation (`tasks:` then `- task:`). */
function sequenceEnd(lines: string[], start: number, ind: number, limit = lines.length): number {
  for (let j = start + 1; j < limit; j++) {
    if (!isContent(lines[j])) continue;
    const i = indentOf(lines[j]);
    if (i < ind || (i === ind && !lines[j].trimStart().startsWith('-'))) return j;
  }
  return limit;
}

/** The index after the last content line in (start, end), or start + 1: where to append to a block. */
function appendPoint(lines: string[], start: number, end: number): number {
  for (let j = end - 1; j > start; j--) if (isContent(lines[j])) return j + 1;
  return start + 1;
}

/** The first line in (start, end) matching `re` at exactly indentation `ind`. */
function findKey(lines: string[], start: number, end: number, ind: number, re: RegExp): number {
  for (let j = start + 1; j < end; j++) if (isContent(lines[j]) && indentOf(lines[j]) === ind && re.test(lines[j])) return j;
  return -1;
}

/** Indentation of the first content line in (start, end), or `fallback` when the block is empty. */
function childIndent(lines: string[], start: number, end: number, fallback: number): number {
  for (let j = start + 1; j < end; j++) if (isContent(lines[j])) return indentOf(lines[j]);
  return fallback;
}

const TASK_LINE = /^(\s*)-\s+task:\s*(['"]?)setAdminAccount\2\s*(#.*)?$/;
const PRE_READY_LINE = /^(\s*)-\s+stage:\s*(['"]?)preReady\2\s*(#.*)?$/;
/** The line patterns the script uses too (its tests check that it carries these same ones). */
export const AGENT_CONFIG_LINE_PATTERNS = { setAdminAccountTask: TASK_LINE.source, preReadyStage: PRE_READY_LINE.source } as const;
const EMPTY_KEY = (key: string) => new RegExp(`^\\s*${key}:\\s*(#.*)?$`);
const ANY_KEY = (key: string) => new RegExp(`^\\s*${key}:`);

/**
 * Makes sure `setAdminAccount` sets a random password, in the YAML text of agent-config.yml, by
 * the line rules the PowerShell script applies too (`Update-AgentConfigYaml`): each
 * `- task: setAdminAccount` item gets `inputs: password: type: random` (other types replaced, a
 * static password's `data` removed); without the task, it is appended to the `preReady` stage's
 * tasks, or a `preReady` stage to `config`. Layouts these rules do not cover (flow style,
 * `task` not the first key…) are refused rather than guessed at.
 */
export function ensureRandomAdminPasswordYaml(text: string): ConfigEdit {
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  const changes: string[] = [];
  const tasks = lines.map((l, i) => (TASK_LINE.test(l) ? i : -1)).filter((i) => i >= 0);
  const mentions = lines.filter((l) => /setAdminAccount/.test(l.replace(/#.*$/, ''))).length;
  if (mentions !== tasks.length) return { error: 'setAdminAccount appears in a form other than "- task: setAdminAccount"' };

  // From the last task up, so that inserted lines do not move the ones still to do.
  for (const t of [...tasks].reverse()) {
    const taskChanges: string[] = [];
    const d = indentOf(lines[t]);
    const k = lines[t].indexOf('task:');
    const end = blockEnd(lines, t, d);
    const inputs = findKey(lines, t, end, k, ANY_KEY('inputs'));
    if (inputs < 0) {
      lines.splice(appendPoint(lines, t, end), 0, `${sp(k)}inputs:`, `${sp(k + 2)}password:`, `${sp(k + 4)}type: random`);
      taskChanges.push('setAdminAccount: added password type random');
    } else if (!EMPTY_KEY('inputs').test(lines[inputs])) {
      return { error: 'setAdminAccount inputs are not a block mapping' };
    } else {
      const inputsEnd = blockEnd(lines, inputs, k, end);
      const ci = childIndent(lines, inputs, inputsEnd, k + 2);
      const password = findKey(lines, inputs, inputsEnd, ci, ANY_KEY('password'));
      if (password < 0) {
        lines.splice(appendPoint(lines, inputs, inputsEnd), 0, `${sp(ci)}password:`, `${sp(ci + 2)}type: random`);
        taskChanges.push('setAdminAccount: added password type random');
      } else if (!EMPTY_KEY('password').test(lines[password])) {
        return { error: 'setAdminAccount password is not a block mapping' };
      } else {
        let passwordEnd = blockEnd(lines, password, ci, inputsEnd);
        const pc = childIndent(lines, password, passwordEnd, ci + 2);
        // A static password's `data` (and the lines of a multi-line value) goes: it is a password in clear text.
        let removedData = false;
        for (
          let data = findKey(lines, password, passwordEnd, pc, ANY_KEY('data'));
          data >= 0;
          data = findKey(lines, password, passwordEnd, pc, ANY_KEY('data'))
        ) {
          const dataEnd = blockEnd(lines, data, pc, passwordEnd);
          lines.splice(data, dataEnd - data);
          passwordEnd -= dataEnd - data;
          removedData = true;
        }
        const type = findKey(lines, password, passwordEnd, pc, ANY_KEY('type'));
        if (type < 0) {
          lines.splice(password + 1, 0, `${sp(pc)}type: random`);
          taskChanges.push('setAdminAccount: added password type random');
        } else {
          const current = bareValue(lines[type].replace(/^\s*type:/, ''));
          if (current.toLowerCase() !== 'random') {
            lines[type] = `${sp(pc)}type: random`;
            taskChanges.push(`setAdminAccount: password type ${current || '(empty)'} -> random`);
          }
        }
        if (removedData) taskChanges.push('setAdminAccount: removed the static password data');
      }
    }
    changes.unshift(...taskChanges);
  }
  if (tasks.length > 0) return { text: lines.join(newline), changes };

  const stage = lines.findIndex((l) => PRE_READY_LINE.test(l));
  if (stage >= 0) {
    const sd = indentOf(lines[stage]);
    const sk = lines[stage].indexOf('stage:');
    const end = blockEnd(lines, stage, sd);
    const tasksKey = findKey(lines, stage, end, sk, ANY_KEY('tasks'));
    if (tasksKey < 0) {
      lines.splice(appendPoint(lines, stage, end), 0, `${sp(sk)}tasks:`, ...RANDOM_TASK.map((l) => sp(sk) + l));
    } else {
      if (/^\s*tasks:\s*\[\s*\]\s*(#.*)?$/.test(lines[tasksKey])) lines[tasksKey] = `${sp(sk)}tasks:`;
      else if (!EMPTY_KEY('tasks').test(lines[tasksKey])) return { error: 'the preReady tasks are not a block sequence' };
      const seqEnd = sequenceEnd(lines, tasksKey, sk, end);
      const first = lines.slice(tasksKey + 1, seqEnd).find((l) => isContent(l) && l.trimStart().startsWith('-'));
      const ti = first === undefined ? sk : indentOf(first);
      lines.splice(appendPoint(lines, tasksKey, seqEnd), 0, ...RANDOM_TASK.map((l) => sp(ti) + l));
    }
    return { text: lines.join(newline), changes: ['setAdminAccount: added to the preReady stage with password type random'] };
  }

  const config = lines.findIndex((l) => /^config:\s*(#.*)?$/.test(l));
  if (config < 0) return { error: 'no top-level "config:" sequence of stages' };
  const end = sequenceEnd(lines, config, 0);
  const first = lines.slice(config + 1, end).find((l) => /^\s*-\s+stage:/.test(l));
  const si = first === undefined ? 0 : indentOf(first);
  lines.splice(appendPoint(lines, config, end), 0, `${sp(si)}- stage: preReady`, `${sp(si + 2)}tasks:`, ...RANDOM_TASK.map((l) => sp(si + 2) + l));
  return { text: lines.join(newline), changes: ['setAdminAccount: added a preReady stage with password type random'] };
}

interface AgentConfigJson {
  config?: Array<{ stage?: string; tasks?: Array<{ task?: string; inputs?: Record<string, unknown> }> }>;
}

/** The same rule for agent-config.yml written as JSON (re-serialised only when it changed). */
export function ensureRandomAdminPasswordJson(text: string): ConfigEdit {
  let doc: AgentConfigJson;
  try {
    doc = JSON.parse(text) as AgentConfigJson;
  } catch (error) {
    return { error: `not valid JSON (${(error as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.config)) return { error: 'no "config" array of stages' };
  const changes: string[] = [];
  const found = doc.config.flatMap((s) => (Array.isArray(s?.tasks) ? s.tasks : [])).filter((t) => t?.task === 'setAdminAccount');
  for (const task of found) {
    const inputs = (task.inputs ??= {});
    if (typeof inputs !== 'object' || Array.isArray(inputs)) return { error: 'setAdminAccount inputs are not an object' };
    const password = (inputs.password ??= {}) as Record<string, unknown>;
    if (typeof password !== 'object' || Array.isArray(password)) return { error: 'setAdminAccount password is not an object' };
    if ('data' in password) {
      delete password.data;
      changes.push('setAdminAccount: removed the static password data');
    }
    const current = typeof password.type === 'string' ? password.type : '';
    if (current.toLowerCase() !== 'random') {
      password.type = 'random';
      changes.push(current ? `setAdminAccount: password type ${current} -> random` : 'setAdminAccount: added password type random');
    }
  }
  if (found.length === 0) {
    const task = { task: 'setAdminAccount', inputs: { password: { type: 'random' } } };
    const stage = doc.config.find((s) => s?.stage === 'preReady');
    if (stage && stage.tasks !== undefined && !Array.isArray(stage.tasks)) return { error: 'the preReady tasks are not an array' };
    if (stage) (stage.tasks ??= []).push(task);
    else doc.config.push({ stage: 'preReady', tasks: [task] });
    changes.push(
      stage ? 'setAdminAccount: added to the preReady stage with password type random' : 'setAdminAccount: added a preReady stage with password type random',
    );
  }
  return { text: changes.length > 0 ? JSON.stringify(doc, null, 2) : text, changes };
}

export function ensureRandomAdminPassword(text: string): ConfigEdit {
  return text.trimStart().startsWith('{') ? ensureRandomAdminPasswordJson(text) : ensureRandomAdminPasswordYaml(text);
}

/** Whether agent-config.yml (YAML or JSON) has a setAdminAccount task with a random password. */
export function setsRandomAdminPassword(text: string): boolean {
  const edit = ensureRandomAdminPassword(text);
  return !('error' in edit) && edit.changes.length === 0;
}

// ---------------------------------------------------------------------------------------------
// EC2Launch v1: LaunchConfig.json and its scheduled task

/** `adminPasswordType` set to `Random` (the key found case-insensitively, as PowerShell does). */
export function ensureRandomLaunchConfig(text: string): ConfigEdit {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch (error) {
    return { error: `not valid JSON (${(error as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: 'not a JSON object' };
  const key = Object.keys(doc).find((k) => k.toLowerCase() === 'adminpasswordtype') ?? 'adminPasswordType';
  const current = typeof doc[key] === 'string' ? (doc[key] as string) : '';
  if (current === 'Random') return { text, changes: [] };
  doc[key] = 'Random';
  return { text: JSON.stringify(doc, null, 2), changes: [`adminPasswordType ${current || '(absent)'} -> Random`] };
}

/** Whether the task file exists and is not disabled (`<Settings><Enabled>false</Enabled>`). */
export function taskEnabled(taskXml: string | undefined): boolean {
  if (taskXml === undefined) return false;
  const settings = /<Settings\b[^>]*>([\s\S]*?)<\/Settings>/i.exec(taskXml)?.[1] ?? '';
  return !/<Enabled>\s*false\s*<\/Enabled>/i.test(settings);
}

/** The task file with `<Settings><Enabled>…</Enabled>` set to `enabled`. */
function setTaskEnabled(taskXml: string, enabled: boolean): string {
  const settings = /<Settings\b[^>]*>[\s\S]*?<\/Settings>/i.exec(taskXml);
  if (!settings) return taskXml;
  const value = `<Enabled>${enabled}</Enabled>`;
  const changed = /<Enabled>[^<]*<\/Enabled>/i.test(settings[0])
    ? settings[0].replace(/<Enabled>[^<]*<\/Enabled>/i, value)
    : settings[0].replace(/^<Settings\b[^>]*>/i, (open) => `${open}${value}`);
  return taskXml.slice(0, settings.index) + changed + taskXml.slice(settings.index + settings[0].length);
}

/** The task file with `<Settings><Enabled>false</Enabled>` (what InitializeInstance.ps1 leaves after its run). */
export function disableTask(taskXml: string): string {
  return setTaskEnabled(taskXml, false);
}

/**
 * The task file after `InitializeInstance.ps1 -Schedule`: the existing definition enabled again,
 * or a new one that runs the script at startup (as its `Register-ScriptScheduler` registers it).
 */
export function scheduleInitializationTask(taskXml: string | undefined): string {
  if (taskXml !== undefined && /<Settings\b/i.test(taskXml)) return setTaskEnabled(taskXml, true);
  return [
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    '  <Triggers><BootTrigger><Enabled>true</Enabled></BootTrigger></Triggers>',
    '  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>',
    '  <Settings>',
    '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>',
    '    <Enabled>true</Enabled>',
    '  </Settings>',
    '  <Actions Context="Author"><Exec><Command>C:\\Windows\\System32\\cmd.exe</Command>' +
      '<Arguments>/C C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -NoProfile -NonInteractive -NoLogo -ExecutionPolicy Unrestricted -File "C:\\ProgramData\\Amazon\\EC2-Windows\\Launch\\Scripts\\InitializeInstance.ps1"</Arguments></Exec></Actions>',
    '</Task>',
    '',
  ].join('\r\n');
}

// ---------------------------------------------------------------------------------------------
// EC2Config: config.xml

const PLUGIN = /<Plugin>\s*<Name>\s*([^<]*?)\s*<\/Name>([\s\S]*?)<\/Plugin>/g;

/** The `State` of EC2Config's plugin `name`, or undefined when the plugin is not listed. */
export function ec2ConfigPluginState(xml: string, name: string): string | undefined {
  for (const m of xml.matchAll(PLUGIN)) {
    if (m[1] === name) return /<State>\s*([^<]*?)\s*<\/State>/.exec(m[2])?.[1] ?? '';
  }
  return undefined;
}

/** Plugin `Ec2SetPassword` with `<State>Enabled</State>`; added to `<Plugins>` when it is missing. */
export function ensureEc2SetPasswordEnabled(xml: string): ConfigEdit {
  if (!/<Plugins>[\s\S]*<\/Plugins>/.test(xml)) return { error: 'no <Plugins> element' };
  const state = ec2ConfigPluginState(xml, 'Ec2SetPassword');
  if (state === 'Enabled') return { text: xml, changes: [] };
  if (state !== undefined) {
    const text = xml.replace(PLUGIN, (all: string, name: string, rest: string) =>
      name === 'Ec2SetPassword'
        ? /<State>/.test(rest)
          ? all.replace(/<State>[^<]*<\/State>/, '<State>Enabled</State>')
          : all.replace(/<\/Plugin>$/, '<State>Enabled</State></Plugin>')
        : all,
    );
    return { text, changes: [`Ec2SetPassword ${state || '(no state)'} -> Enabled`] };
  }
  const closing = /([ \t]*)<\/Plugins>/.exec(xml)!;
  const indent = `${closing[1]}  `;
  const newline = xml.includes('\r\n') ? '\r\n' : '\n';
  const plugin = `${indent}<Plugin>${newline}${indent}  <Name>Ec2SetPassword</Name>${newline}${indent}  <State>Enabled</State>${newline}${indent}</Plugin>${newline}`;
  return { text: xml.slice(0, closing.index) + plugin + xml.slice(closing.index), changes: ['Ec2SetPassword added, Enabled'] };
}

/** Plugin `Ec2SetPassword` set back to `Disabled` (what EC2Config does once it has set a password). */
export function disableEc2SetPassword(xml: string): string {
  return xml.replace(PLUGIN, (all: string, name: string) =>
    name === 'Ec2SetPassword' ? all.replace(/<State>[^<]*<\/State>/, '<State>Disabled</State>') : all,
  );
}
