/**
 * Every input the service takes from outside (API bodies and query strings, RESET_ACCESS_CONFIG,
 * queue messages, events) is read through a zod schema: one declaration gives its checks, its
 * TypeScript type and its error messages. `zod/mini` rather than the classic API: its functions
 * tree-shake, so a function's bundle gains ≈ 20 kB instead of ≈ 470 kB (the phase bundle is
 * already close to 1 MB, test/bench/cold-start.test.ts).
 */
import * as z from 'zod/mini';
import { en } from 'zod/locales';

// zod/mini ships no messages ("Invalid input"): English ones for fields without their own, and
// "unknown field" for a key no schema names (a typo must not be ignored silently). A schema's own
// `error` wins over both.
z.config({ ...en(), customError: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field' : undefined) });

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** `value` read by `schema`, or one line naming every field that is wrong (`root` names the whole value). */
export function parseInput<S extends z.ZodMiniType>(schema: S, value: unknown, root = 'body'): Parsed<z.output<S>> {
  const result = z.safeParse(schema, value);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: explainIssues(result.error.issues, root) };
}

/** `field.path: message; other: message`, an unknown key named by its own path. */
export function explainIssues(issues: readonly z.core.$ZodIssue[], root: string): string {
  return issues
    .flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${pathOf([...issue.path, key], root)}: ${issue.message}`)
        : [`${pathOf(issue.path, root)}: ${issue.message}`],
    )
    .join('; ');
}

function pathOf(path: readonly PropertyKey[], root: string): string {
  if (path.length === 0) return root;
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** A string matching `pattern`; `message` may name what it got. */
export function matching(pattern: RegExp, message: string | ((input: unknown) => string)) {
  return z
    .string({ error: (issue) => (typeof message === 'string' ? message : message(issue.input)) })
    .check(z.regex(pattern, { error: (issue) => (typeof message === 'string' ? message : message(issue.input)) }));
}

/** An object that refuses keys it does not name, and says "must be a JSON object" of anything else. */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape, notObject = 'must be a JSON object') {
  return z.strictObject(shape, { error: (issue) => (issue.code === 'invalid_type' ? notObject : undefined) });
}

/** `parseInput` for a value that comes as its JSON text (an SQS body) or already read (an event's `detail`). */
export function parseJsonInput<S extends z.ZodMiniType>(schema: S, value: unknown, root: string): Parsed<z.output<S>> {
  if (typeof value !== 'string') return parseInput(schema, value, root);
  let read: unknown;
  try {
    read = JSON.parse(value);
  } catch {
    return { ok: false, message: `${root}: is not JSON` };
  }
  return parseInput(schema, read, root);
}
