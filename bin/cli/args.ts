/** The CLI's arguments, parsed by node's own `parseArgs` (node:util): positionals, `--flag`, `--name value`, `--name=value`. */
import { parseArgs as parseArgv } from 'node:util';

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | true>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Options named in `valued` take a value; those in `flags` take none. Unknown options are refused
 * (a typo must not be ignored). node's strict mode refuses the same mistakes in its own words
 * ("Option '--limit <value>' argument missing"); its tokens let them be said in the CLI's.
 */
export function parseArgs(argv: string[], spec: { flags: string[]; valued: string[] }): ParsedArgs {
  const options = Object.fromEntries([
    ...spec.flags.map((name) => [name, { type: 'boolean' as const }]),
    ...spec.valued.map((name) => [name, { type: 'string' as const }]),
  ]);
  const { values, positionals, tokens } = parseArgv({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const type = options[token.name]?.type;
    if (type === undefined) throw new UsageError(`unknown option ${token.rawName}`);
    // Without strict mode node takes the next argument as the value even when it is an option.
    if (type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))))
      throw new UsageError(`${token.rawName} needs a value`);
    if (type === 'boolean' && token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
  }
  return { positionals, options: { ...values } as Record<string, string | true> };
}
