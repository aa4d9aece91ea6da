/**
 * EventBridge content filtering, for the local bus: the subset the service's rules and the alarm
 * rule use, with EventBridge's semantics, checked against
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
 * - https://github.com/aws/event-ruler (README: the engine behind EventBridge; arrays, exists):
 *
 * - every field named in the pattern must match (AND); a field's list of values matches if any
 *   value does (OR);
 * - a pattern object descends into the event's object of the same name; when the event holds an
 *   array there, the pattern matches if one element matches the whole sub-pattern (Ruler's
 *   "array-consistent" matching: fields from different elements are never combined);
 * - a leaf matches an event array if any of its scalar elements matches (non-empty intersection);
 * - exact values (string, number, boolean, null) compare by JSON type and value: `"5"` is not `5`;
 * - `prefix`, `suffix`, `equals-ignore-case`: strings only;
 * - `anything-but`: a value, a list (all strings or all numbers), or `{ prefix }` / `{ suffix }`;
 *   like every matcher but `exists: false`, it needs the field to be present;
 * - `numeric`: one or two comparisons (`=`, `<`, `<=`, `>`, `>=`) on JSON numbers only;
 * - `exists`: only leaves count as existing: `exists: true` does not match an object, and
 *   `exists: false` matches a missing field or one that holds an object.
 *
 * Anything else (`$or`, `wildcard`, `cidr`, …) throws {@link UnsupportedPatternError}: a rule the
 * local bus cannot judge must fail loudly, not silently route nothing.
 */

export type EventPattern = { [field: string]: EventPattern | PatternValue[] };
export type PatternValue = string | number | boolean | null | PatternOperator;
export type PatternOperator =
  | { prefix: string }
  | { suffix: string }
  | { 'equals-ignore-case': string }
  | { 'anything-but': string | number | string[] | number[] | { prefix: string } | { suffix: string } }
  | { numeric: Array<string | number> }
  | { exists: boolean };

/** A pattern the local matcher does not implement, or one EventBridge itself would reject. */
export class UnsupportedPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPatternError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Scalar = null | boolean | number | string;

/** Whether `event` (a full EventBridge event envelope, or any JSON object) matches `pattern`. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern)(event);
}

/**
 * Checks the whole pattern once (throwing {@link UnsupportedPatternError} for anything outside the
 * supported subset, wherever it is) and answers a matcher for events.
 */
export function compilePattern(pattern: unknown): (event: unknown) => boolean {
  if (!isPlainObject(pattern)) throw new UnsupportedPatternError('an event pattern must be a JSON object');
  const match = compileObject(pattern, '');
  return (event) => match(event as Json);
}

type Matcher = (value: Json | undefined) => boolean;

function compileObject(pattern: Record<string, unknown>, path: string): Matcher {
  const fields = Object.entries(pattern).map(([field, sub]): [string, Matcher] => {
    const at = path ? `${path}.${field}` : field;
    if (field === '$or') throw new UnsupportedPatternError(`${at}: $or is not supported by the local bus`);
    if (Array.isArray(sub)) return [field, compileLeaf(sub, at)];
    // A missing object still lets `exists: false` below it match (nothing there is a leaf).
    if (isPlainObject(sub)) return [field, compileObject(sub, at)];
    throw new UnsupportedPatternError(`${at}: a pattern field holds an object or an array of values, not ${JSON.stringify(sub)}`);
  });
  const matchObject: Matcher = (value) => {
    if (Array.isArray(value) && value.length > 0) return value.some((element) => matchObject(element));
    const object = isPlainObject(value) ? (value as Record<string, Json>) : undefined;
    return fields.every(([field, match]) => match(object && Object.prototype.hasOwnProperty.call(object, field) ? object[field] : undefined));
  };
  return matchObject;
}

/**
 * The scalars found at a leaf: the value itself, or the scalars of a (nested) array. `undefined`
 * when the field is absent or holds anything but scalars (an object is not a leaf).
 */
function leafValues(value: Json | undefined): Scalar[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    const scalars = value.flatMap((element) => leafValues(element) ?? []);
    return scalars.length > 0 ? scalars : undefined;
  }
  if (isPlainObject(value)) return undefined;
  return [value as Scalar];
}

function compileLeaf(matchers: unknown[], path: string): Matcher {
  if (matchers.length === 0) throw new UnsupportedPatternError(`${path}: an empty list of values matches nothing (EventBridge rejects it)`);
  const tests = matchers.map((matcher): ((values: Scalar[] | undefined) => boolean) => {
    if (isPlainObject(matcher) && 'exists' in matcher) {
      const exists = (matcher as { exists: unknown }).exists;
      if (typeof exists !== 'boolean' || Object.keys(matcher).length !== 1) throw new UnsupportedPatternError(`${path}: exists takes true or false`);
      return (values) => exists === (values !== undefined);
    }
    const test = compileValue(matcher, path);
    return (values) => values !== undefined && values.some(test);
  });
  return (value) => {
    const values = leafValues(value);
    return tests.some((test) => test(values));
  };
}

function compileValue(matcher: unknown, path: string): (value: Scalar) => boolean {
  if (!isPlainObject(matcher)) {
    if (isScalar(matcher)) return (value) => sameScalar(matcher, value);
    throw new UnsupportedPatternError(`${path}: unsupported value ${JSON.stringify(matcher)}`);
  }
  const keys = Object.keys(matcher);
  if (keys.length !== 1) throw new UnsupportedPatternError(`${path}: an operator object has exactly one key, got ${JSON.stringify(matcher)}`);
  const operator = keys[0]!;
  const operand = (matcher as Record<string, unknown>)[operator];
  switch (operator) {
    case 'prefix': {
      const prefix = stringOperand(operand, path, operator);
      return (value) => typeof value === 'string' && value.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = stringOperand(operand, path, operator);
      return (value) => typeof value === 'string' && value.endsWith(suffix);
    }
    case 'equals-ignore-case': {
      const lower = stringOperand(operand, path, operator).toLowerCase();
      return (value) => typeof value === 'string' && value.toLowerCase() === lower;
    }
    case 'anything-but': {
      const excluded = compileAnythingBut(operand, path);
      return (value) => !excluded(value);
    }
    case 'numeric': {
      const inRange = compileNumeric(operand, path);
      return (value) => typeof value === 'number' && inRange(value);
    }
    default:
      throw new UnsupportedPatternError(`${path}: operator "${operator}" is not supported by the local bus`);
  }
}

/** The values an `anything-but` operand lists, as a test. */
function compileAnythingBut(operand: unknown, path: string): (value: Scalar) => boolean {
  if (typeof operand === 'string' || typeof operand === 'number') return (value) => sameScalar(operand, value);
  if (Array.isArray(operand)) {
    const allStrings = operand.every((o) => typeof o === 'string');
    const allNumbers = operand.every((o) => typeof o === 'number');
    if (operand.length === 0 || !(allStrings || allNumbers)) {
      throw new UnsupportedPatternError(`${path}: anything-but takes a non-empty list of only strings or only numbers`);
    }
    return (value) => (operand as Scalar[]).some((o) => sameScalar(o, value));
  }
  if (isPlainObject(operand) && Object.keys(operand).length === 1) {
    if ('prefix' in operand) {
      const prefix = stringOperand(operand.prefix, path, 'anything-but prefix');
      return (value) => typeof value === 'string' && value.startsWith(prefix);
    }
    if ('suffix' in operand) {
      const suffix = stringOperand(operand.suffix, path, 'anything-but suffix');
      return (value) => typeof value === 'string' && value.endsWith(suffix);
    }
  }
  throw new UnsupportedPatternError(`${path}: unsupported anything-but operand ${JSON.stringify(operand)}`);
}

const COMPARATORS: Record<string, (a: number, b: number) => boolean> = {
  '=': (a, b) => a === b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function compileNumeric(operand: unknown, path: string): (value: number) => boolean {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
    throw new UnsupportedPatternError(`${path}: numeric takes one or two [operator, number] pairs`);
  }
  const checks: Array<(value: number) => boolean> = [];
  for (let i = 0; i < operand.length; i += 2) {
    const op: unknown = operand[i];
    const bound: unknown = operand[i + 1];
    const compare = typeof op === 'string' ? COMPARATORS[op] : undefined;
    if (!compare || typeof bound !== 'number') throw new UnsupportedPatternError(`${path}: bad numeric comparison ${JSON.stringify([op, bound])}`);
    checks.push((value) => compare(value, bound));
  }
  return (value) => checks.every((check) => check(value));
}

function stringOperand(operand: unknown, path: string, operator: string): string {
  if (typeof operand !== 'string') throw new UnsupportedPatternError(`${path}: ${operator} takes a string`);
  return operand;
}

function sameScalar(a: Scalar, b: Scalar): boolean {
  return typeof a === typeof b && a === b;
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
