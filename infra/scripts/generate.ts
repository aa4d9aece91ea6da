/**
 * Regenerates `linux-rescue.generated.ts` from `linux-rescue.sh`, `windows-rescue.generated.ts` from
 * `windows-rescue.ps1`, `ntfs-rescue.generated.ts` from `ntfs-rescue.sh` and
 * `ntfs-release.generated.ts` from `ntfs-release.sh`, so that bundles carry the scripts (the bash
 * ones as shipped: shipped-text.ts).
 * Run: `node --import tsx infra/scripts/generate.ts` (add `--check` to only report a stale copy).
 */
import fs from 'node:fs';
import path from 'node:path';
import { shippedBash } from './shipped-text';

const SCRIPTS = [
  { source: 'linux-rescue.sh', target: 'linux-rescue.generated.ts', name: 'LINUX_RESCUE_SCRIPT_SOURCE' },
  { source: 'windows-rescue.ps1', target: 'windows-rescue.generated.ts', name: 'WINDOWS_RESCUE_SCRIPT_SOURCE' },
  { source: 'ntfs-rescue.sh', target: 'ntfs-rescue.generated.ts', name: 'NTFS_RESCUE_SCRIPT_SOURCE' },
  { source: 'ntfs-release.sh', target: 'ntfs-release.generated.ts', name: 'NTFS_RELEASE_SCRIPT_SOURCE' },
];

/** The TypeScript module text for one script. */
export function generatedModule(source: string, sourceName: string, constName: string): string {
  return [
    `// Generated from ${sourceName} by infra/scripts/generate.ts. Do not edit: edit ${sourceName} and regenerate.`,
    `export const ${constName}: string = ${JSON.stringify(source)};`,
    '',
  ].join('\n');
}

function main(): void {
  const dir = __dirname;
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const { source, target, name } of SCRIPTS) {
    const script = fs.readFileSync(path.join(dir, source), 'utf8');
    const text = generatedModule(source.endsWith('.sh') ? shippedBash(script) : script, source, name);
    const targetPath = path.join(dir, target);
    const current = fs.existsSync(targetPath) ? fs.readFileSync(targetPath, 'utf8') : '';
    if (current === text) continue;
    stale++;
    if (check) {
      process.stderr.write(`${target} is out of date: run node --import tsx infra/scripts/generate.ts\n`);
    } else {
      fs.writeFileSync(targetPath, text);
      process.stdout.write(`wrote ${path.relative(process.cwd(), targetPath)}\n`);
    }
  }
  if (check && stale > 0) process.exitCode = 1;
}

if (require.main === module) main();
