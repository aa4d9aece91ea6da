import fs from 'node:fs';
import path from 'node:path';

/** A script's text: the file beside these modules when present (tests, tsx), else the copy generated into the bundle (generate.ts). */
export function scriptText(fileName: string, bundled: string): string {
  try {
    return fs.readFileSync(path.join(__dirname, fileName), 'utf8');
  } catch {
    return bundled;
  }
}

/**
 * A bash script as it is shipped (in the bundles and in Run Command's `commands`): every full-line
 * comment emptied, the `#!` line and here-document bodies kept. Lines stay where they are, so the
 * line numbers a failing script reports still point into the source file. SSM counts the runtime
 * parameters into a document's 64 KB (docs/aws-facts.md#ssm-run-command); the comments are a quarter
 * of the scripts. test/scripts/shipped-text.test.ts checks with bash's own parser that nothing else
 * changes.
 */
export function shippedBash(source: string): string {
  let hereDocEnd: { word: string; tabs: boolean } | undefined;
  return source
    .split('\n')
    .map((line, index) => {
      if (hereDocEnd) {
        if ((hereDocEnd.tabs ? line.replace(/^\t+/, '') : line) === hereDocEnd.word) hereDocEnd = undefined;
        return line;
      }
      if (/^\s*#/.test(line)) return index === 0 && line.startsWith('#!') ? line : '';
      // `<<WORD`, `<<'WORD'`, `<<-"WORD"`, not a here-string (`<<<`).
      const start = /(?<!<)<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(line);
      if (start) hereDocEnd = { word: start[3]!, tabs: start[1] === '-' };
      return line;
    })
    .join('\n');
}

/** POSIX shell single-quoting. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `commands` of AWS-RunShellScript for the bash script `name` (`linux-rescue`…). The agent writes
 * the lines to a file and runs it with `sh`, so they only export the inputs and hand the script to
 * bash through a private temporary file; a quoted here-document keeps the script literal. Only the
 * script's own summary reaches stdout (SSM keeps its first 24,000 characters).
 */
export function bashScriptCommands(name: string, script: string, env: ReadonlyArray<readonly [string, string]>): string[] {
  const marker = `RA_${name.toUpperCase().replace(/-/g, '_')}_SCRIPT_END`;
  const lines = script.replace(/\n$/, '').split('\n');
  if (lines.includes(marker)) throw new Error(`the ${name} script contains the line ${marker}`);
  return [
    ...env.map(([variable, value]) => `export ${variable}=${shellQuote(value)}`),
    `RA_SCRIPT_FILE=$(mktemp "\${TMPDIR:-/tmp}/ra-${name}.XXXXXXXX") || exit 1`,
    `cat >"$RA_SCRIPT_FILE" <<'${marker}'`,
    ...lines,
    marker,
    'RA_STATUS=0',
    'bash "$RA_SCRIPT_FILE" || RA_STATUS=$?',
    'rm -f "$RA_SCRIPT_FILE" >&2',
    'exit "$RA_STATUS"',
  ];
}
