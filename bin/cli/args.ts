/** A small argv parser: positionals, `--flag`, `--name value`, `--name=value`. */
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
 * Options named in `valued` take a value; every other `--x` is a flag. Unknown options are refused
 * (a typo must not be ignored).
 */
export function parseArgs(argv: string[], spec: { flags: string[]; valued: string[] }): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      options[name] = value;
    } else if (spec.flags.includes(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positionals, options };
}
