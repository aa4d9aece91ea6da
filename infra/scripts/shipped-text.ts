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
