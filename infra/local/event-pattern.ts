/**
 * EventBridge content filtering, for the local bus, so that users can try their own rules locally.
 * Sources: AWS's documentation
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
 * and, where it is silent, Event Ruler, the engine behind EventBridge: its README and its rule
 * compiler, whose validation messages are repeated here
 * - https://github.com/aws/event-ruler (README.md, src/main/software/amazon/event/ruler/JsonRuleCompiler.java)
 * and what EventBridge answered LocalStack's AWS-validated tests (`exists` on `[]`, `anything-but`
 * on null or on a number, the reasons of rejected patterns)
 * - https://github.com/localstack/localstack/tree/main/tests/aws/services/events (event_pattern_templates/, test_events_patterns.snapshot.json)
 *
 * What it supports (all of content filtering):
 * - fields AND, the values listed for a field OR; `$or` (an array of at least 2 objects) at any
 *   level, nested; a pattern expands into at most 1000 combinations of its `$or`s;
 * - exact values by JSON type (`"5"` is not `5`, `""` is not `null`); a string that is an IP
 *   address matches the same address however it is written (Ruler compiles it as a range);
 * - `prefix`, `suffix` (a string, or `{ "equals-ignore-case": string }`), `equals-ignore-case`,
 *   `wildcard` (`*` for any characters; `\*` and `\\` escape; `**` and other escapes rejected):
 *   strings only;
 * - `anything-but`: a string, a number, a list of only strings or only numbers, or
 *   `{ prefix | suffix | equals-ignore-case | wildcard: string or list of strings }`; it matches any
 *   present value of any type (null too) that is not excluded;
 * - `numeric`: `["=", n]`, `[">" | ">=", n]`, `["<" | "<=", n]`, or a lower bound then an upper
 *   bound, on JSON numbers only (3.0e2 is 300 once parsed); `cidr`: IPv4 or IPv6, on strings;
 * - `exists`: a leaf counts (null too); an object or an empty array does not, so `exists: false`
 *   matches a missing field, an object, or `[]`.
 *
 * Matching follows Ruler on the flattened event: every leaf has a dotted path (so `{"a.b": …}` and
 * `{"a": {"b": …}}` name the same field, a Ruler quirk) and records which element of each array it
 * lies in; the values a rule matches must all come from the same element of any array they share
 * ("array-consistent" matching, README "JSON Array Matching"). `exists: false` is checked last,
 * against the elements the rule's other fields chose.
 *
 * A pattern EventBridge rejects throws {@link InvalidEventPatternError} with EventBridge's reason.
 * Not reproduced: the wildcard complexity limit ("Rule is too complex", its threshold is not
 * published), numbers' precision limits, and exact matching on a number's text (`300` vs `300.0`):
 * the bus sees events already parsed.
 */
import { BlockList, isIP } from 'node:net';

export type EventPattern = { [field: string]: EventPattern | PatternValue[] | EventPattern[] };
export type PatternValue = string | number | boolean | null | PatternOperator;
type IgnoreCase = { 'equals-ignore-case': string };
type StringOrList = string | string[];
export type PatternOperator =
  | { prefix: string | IgnoreCase }
  | { suffix: string | IgnoreCase }
  | { 'equals-ignore-case': string }
  | { wildcard: string }
  | {
      'anything-but':
        | string
        | number
        | string[]
        | number[]
        | { prefix: StringOrList }
        | { suffix: StringOrList }
        | { 'equals-ignore-case': StringOrList }
        | { wildcard: StringOrList };
    }
  | { numeric: Array<string | number> }
  | { cidr: string }
  | { exists: boolean };

/** A pattern EventBridge would reject (`InvalidEventPatternException`), with its reason. */
export class InvalidEventPatternError extends Error {
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(`Event pattern is not valid. Reason: ${reason}${path ? ` (at ${path})` : ''}`);
    this.name = 'InvalidEventPatternError';
  }
}

/** The former name, for existing imports. */
export const UnsupportedPatternError = InvalidEventPatternError;
export type UnsupportedPatternError = InvalidEventPatternError;

type Scalar = null | boolean | number | string;
type ValueTest = (value: Scalar) => boolean;

/** One field of a rule: its dotted path, what a value there must pass, and whether absence does. */
interface FieldRule {
  path: string;
  test: ValueTest | undefined;
  orAbsent: boolean;
}
type Rule = Map<string, FieldRule>;

/** Whether `event` (a full EventBridge event envelope, or any JSON object) matches `pattern`. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern)(event);
}

/**
 * Checks the whole pattern once (throwing {@link InvalidEventPatternError} where EventBridge
 * would reject it) and answers a matcher for events.
 */
export function compilePattern(pattern: unknown): (event: unknown) => boolean {
  if (!isPlainObject(pattern)) fail('Filter is not an object', '');
  const rules = compileObject(pattern, '', [new Map()], false).map(checkingAbsenceLast);
  return (event) => {
    const leaves = flattenEvent(event);
    return rules.some((fields) => matchFields(fields, 0, new Map(), leaves));
  };
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html#eb-filtering-complex-example-or
// ("over 1000 rule combinations" is rejected; AWS does not publish the message's wording).
const MAX_OR_COMBINATIONS = 1000;

// Ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP (Constants.java): field names refused inside `$or`.
const RESERVED_IN_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

/** The rules `object` adds to each of `rules`; each `$or` multiplies them. */
function compileObject(object: Record<string, unknown>, path: string, rules: Rule[], insideOr: boolean): Rule[] {
  const entries = Object.entries(object);
  if (entries.length === 0) fail('Empty objects are not allowed', path);
  let current = rules;
  for (const [name, value] of entries) {
    if (name === '$or') {
      current = compileOr(value, path, current);
      continue;
    }
    const at = joinPath(path, name);
    if (insideOr && RESERVED_IN_OR.has(name)) fail(`${name} is Ruler reserved fieldName which cannot be used inside $or.`, at);
    if (Array.isArray(value)) {
      const field = compileField(value, at);
      // Like a repeated key, a field named again (inside and outside `$or`) keeps its last value.
      current = current.map((rule) => new Map(rule).set(at, field));
    } else if (isPlainObject(value)) {
      current = compileObject(value, at, current, insideOr);
    } else {
      fail(`"${name}" must be an object or an array`, at);
    }
  }
  return current;
}

function compileOr(branches: unknown, path: string, rules: Rule[]): Rule[] {
  const at = joinPath(path, '$or');
  if (!Array.isArray(branches)) fail('It must be an Array followed with $or.', at);
  const expanded = branches.flatMap((branch) => {
    if (!isPlainObject(branch)) fail('Only JSON object is allowed in array of $or relationship.', at);
    return compileObject(branch, path, rules, true);
  });
  if (branches.length < 2) fail('There must have at least 2 Objects in $or relationship.', at);
  if (expanded.length > MAX_OR_COMBINATIONS) fail(`$or results in over ${MAX_OR_COMBINATIONS} rule combinations`, at);
  return expanded;
}

/** Absence is judged against the array elements the other fields chose, so it comes last. */
function checkingAbsenceLast(rule: Rule): FieldRule[] {
  const fields = [...rule.values()];
  return [...fields.filter((field) => !field.orAbsent), ...fields.filter((field) => field.orAbsent)];
}

const ABSENT = Symbol('absent');
type Matcher = ValueTest | typeof ABSENT;

function compileField(values: unknown[], path: string): FieldRule {
  if (values.length === 0) fail('Empty arrays are not allowed', path);
  const matchers = values.map((value) => compileMatcher(value, path));
  const tests = matchers.filter((matcher): matcher is ValueTest => matcher !== ABSENT);
  return {
    path,
    test: tests.length > 0 ? (value) => tests.some((test) => test(value)) : undefined,
    orAbsent: matchers.includes(ABSENT),
  };
}

function compileMatcher(value: unknown, path: string): Matcher {
  if (typeof value === 'string') return compileExactString(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return (candidate) => candidate === value;
  if (isPlainObject(value)) return compileOperator(value, path);
  return fail('Match value must be String, number, true, false, or null', path);
}

type OperatorCompiler = (operand: unknown, path: string) => Matcher;

const OPERATORS = new Map<string, OperatorCompiler>([
  ['prefix', (operand, path) => compileAffix(operand, path, 'prefix')],
  ['suffix', (operand, path) => compileAffix(operand, path, 'suffix')],
  ['equals-ignore-case', compileEqualsIgnoreCase],
  ['wildcard', (operand, path) => stringTest(compileWildcard(requireString(operand, 'wildcard match pattern must be a string', path), path))],
  ['anything-but', compileAnythingBut],
  ['numeric', compileNumeric],
  // "prefix match pattern must be a string" is Ruler's (and AWS's) message for a non-string cidr.
  ['cidr', (operand, path) => compileCidr(requireString(operand, 'prefix match pattern must be a string', path), path)],
  ['exists', compileExists],
]);

function compileOperator(expression: Record<string, unknown>, path: string): Matcher {
  const [operator, ...others] = Object.keys(expression);
  if (operator === undefined) fail('Match expression name not found', path);
  const compile = OPERATORS.get(operator);
  if (!compile) fail(`Unrecognized match type ${operator}`, path);
  const matcher = compile(expression[operator], path);
  if (others.length > 0) {
    fail(operator === 'numeric' || operator === 'anything-but' ? TOO_MANY_ELEMENTS : 'Only one key allowed in match expression', path);
  }
  return matcher;
}

// Ruler's message for an extra key after `numeric` or `anything-but`, whichever it is.
const TOO_MANY_ELEMENTS = 'Too many elements in numeric expression';

/** An exact string; an IP address literal matches the same address in any notation. */
function compileExactString(expected: string): ValueTest {
  const family = ipFamilyIfPossible(expected);
  if (family === undefined) return (value) => value === expected;
  const address = new BlockList();
  address.addAddress(expected, family);
  return stringTest((value) => ipFamilyIfPossible(value) === family && address.check(value, family));
}

function compileAffix(operand: unknown, path: string, side: 'prefix' | 'suffix'): ValueTest {
  if (typeof operand === 'string') return stringTest(side === 'prefix' ? (value) => value.startsWith(operand) : (value) => value.endsWith(operand));
  if (!isPlainObject(operand)) fail(`${side} match pattern must be a string`, path);
  const source = ignoreCaseSource(ignoreCaseOperand(operand, path, side));
  return regexTest(side === 'prefix' ? `^${source}` : `${source}$`);
}

/** The text of `{ "equals-ignore-case": text }` under `prefix` or `suffix`. */
function ignoreCaseOperand(operand: Record<string, unknown>, path: string, side: 'prefix' | 'suffix'): string {
  const [key, ...others] = Object.keys(operand);
  if (key === undefined) fail(`${side === 'prefix' ? 'Prefix' : 'Suffix'} expression name not found`, path);
  if (key !== 'equals-ignore-case') fail(`Unsupported ${side} pattern: ${key}`, path);
  const text = requireString(operand[key], 'equals-ignore-case match pattern must be a string', path);
  if (others.length > 0) fail('Only one key allowed in match expression', path);
  return text;
}

function compileEqualsIgnoreCase(operand: unknown, path: string): ValueTest {
  return regexTest(`^${ignoreCaseSource(requireString(operand, 'equals-ignore-case match pattern must be a string', path))}$`);
}

/**
 * Ruler matches each UTF-16 unit of the pattern against its lower or its upper case
 * (EqualsIgnoreCaseParser.java), which is not quite comparing `toLowerCase()`s.
 */
function ignoreCaseSource(text: string): string {
  return text
    .split('')
    .map((unit) => {
      const [lower, upper] = [unit.toLowerCase(), unit.toUpperCase()];
      return lower === upper ? escapeRegExp(lower) : `(?:${escapeRegExp(lower)}|${escapeRegExp(upper)})`;
    })
    .join('');
}

/**
 * A wildcard as the literal pieces between its `*`s, checked the way Ruler parses it
 * (WildcardParser.java): `\*` is a `*`, `\\` a `\`, `**` and any other `\` are refused. Ruler parses
 * the quoted value byte by byte, so a position is a UTF-8 offset plus one.
 */
function compileWildcard(pattern: string, path: string): (value: string) => boolean {
  const pieces = [''];
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') fail(`Consecutive wildcard characters at pos ${quotedBytePosition(pattern, i)}`, path);
      pieces.push('');
    } else if (char === '\\') {
      const escaped = pattern[i + 1];
      if (escaped !== '*' && escaped !== '\\') fail(`Invalid escape character at pos ${quotedBytePosition(pattern, i)}`, path);
      pieces[pieces.length - 1] += escaped;
      i += 1;
    } else {
      pieces[pieces.length - 1] += char;
    }
  }
  return globTest(pieces);
}

function quotedBytePosition(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index)) + 1;
}

/** A linear glob match: the first piece starts the value, the last ends it, the rest follow in order. */
function globTest(pieces: string[]): (value: string) => boolean {
  if (pieces.length === 1) return (value) => value === pieces[0];
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1);
  return (value) => {
    if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
    const end = value.length - last.length;
    let from = first.length;
    for (const piece of middle) {
      const found = value.indexOf(piece, from);
      if (found < 0 || found + piece.length > end) return false;
      from = found + piece.length;
    }
    return true;
  };
}

/** `anything-but` matches any present value, of any type, that its operand does not exclude. */
function compileAnythingBut(operand: unknown, path: string): ValueTest {
  const excluded = isPlainObject(operand) ? compileExclusionSet(operand, path) : compileExclusionValues(operand, path);
  return (value) => !excluded(value);
}

function compileExclusionValues(operand: unknown, path: string): ValueTest {
  if (Array.isArray(operand)) {
    if (operand.some((value) => typeof value !== 'string' && typeof value !== 'number')) {
      fail('Inside anything but list, start|null|boolean is not supported.', path);
    }
    const types = new Set(operand.map((value) => typeof value));
    if (types.size !== 1) fail('Inside anything but list, either all values are number or string, mixed type is not supported', path);
    return (value) => operand.includes(value);
  }
  if (typeof operand === 'string' || typeof operand === 'number') return (value) => value === operand;
  return fail('Value of anything-but must be an array or single string/number value.', path);
}

/** `{ prefix | suffix | equals-ignore-case | wildcard: string or list of strings }` under `anything-but`. */
function compileExclusionSet(operand: Record<string, unknown>, path: string): ValueTest {
  const [kind, ...others] = Object.keys(operand);
  if (kind === undefined) fail('Anything-But expression name not found', path);
  const compileOne = EXCLUSIONS.get(kind);
  if (!compileOne) fail(`Unsupported anything-but pattern: ${kind}`, path);
  const texts = operand[kind];
  if (!Array.isArray(texts) && typeof texts !== 'string' && typeof texts !== 'number') {
    fail('Value of anything-but must be an array or single string/number value.', path);
  }
  const tests = (Array.isArray(texts) ? texts : [texts]).map((text) => compileOne.compile(requireString(text, compileOne.notAString, path), path));
  if (others.length > 0) fail(TOO_MANY_ELEMENTS, path);
  return stringTest((value) => tests.some((test) => test(value)));
}

interface Exclusion {
  notAString: string;
  compile: (text: string, path: string) => (value: string) => boolean;
}

const EXCLUSIONS = new Map<string, Exclusion>([
  [
    'prefix',
    { notAString: 'prefix/suffix match pattern must be a string', compile: (text, path) => affixExclusion(text, path, (value) => value.startsWith(text)) },
  ],
  [
    'suffix',
    { notAString: 'prefix/suffix match pattern must be a string', compile: (text, path) => affixExclusion(text, path, (value) => value.endsWith(text)) },
  ],
  [
    'equals-ignore-case',
    {
      notAString: 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
      compile: (text) => {
        const expression = new RegExp(`^${ignoreCaseSource(text)}$`);
        return (value) => expression.test(value);
      },
    },
  ],
  ['wildcard', { notAString: 'wildcard match pattern must be a string', compile: compileWildcard }],
]);

function affixExclusion(text: string, path: string, test: (value: string) => boolean): (value: string) => boolean {
  if (text === '') fail('Null prefix/suffix not allowed', path);
  return test;
}

interface Bound {
  value: number;
  inclusive: boolean;
}

/** `numeric`, checked in Ruler's order and with its messages (processNumericMatchExpression). */
function compileNumeric(operand: unknown, path: string): ValueTest {
  if (!Array.isArray(operand)) fail('Value of numeric must be an array.', path);
  const [operator, bound, ...rest] = operand as unknown[];
  if (typeof operator !== 'string') fail(`Invalid member in numeric match: ${termText(operator)}`, path);
  if (!['=', '<', '<=', '>', '>='].includes(operator)) fail(`Unrecognized numeric range operator: ${operator}`, path);
  const value = numericTerm(bound, operator, path);
  switch (operator) {
    case '=':
      if (rest.length > 0) fail(TOO_MANY_ELEMENTS, path);
      return numberTest((candidate) => candidate === value);
    case '<':
    case '<=':
      if (rest.length > 0) fail(TOO_MANY_ELEMENTS, path);
      return numberTest(belowTest({ value, inclusive: operator === '<=' }));
    default: {
      // '>' or '>=': a lower bound, alone or followed by an upper one.
      const low: Bound = { value, inclusive: operator === '>=' };
      return numberTest(rest.length === 0 ? aboveTest(low) : rangeTest(low, upperBound(rest, path), path));
    }
  }
}

function numericTerm(term: unknown, operator: string, path: string): number {
  if (typeof term !== 'number') fail(`Value of ${operator === '=' ? 'equals' : operator} must be numeric`, path);
  return term;
}

function upperBound([operator, value, ...rest]: unknown[], path: string): Bound {
  if (typeof operator !== 'string') fail(`Bad value in numeric range: ${termText(operator)}`, path);
  if (operator !== '<' && operator !== '<=') fail(`Bad numeric range operator: ${operator}`, path);
  const bound = numericTerm(value, operator, path);
  if (rest.length > 0) fail('Too many terms in numeric range expression', path);
  return { value: bound, inclusive: operator === '<=' };
}

function rangeTest(low: Bound, high: Bound, path: string): (value: number) => boolean {
  if (low.value >= high.value) fail('Bottom must be less than top', path);
  const [above, below] = [aboveTest(low), belowTest(high)];
  return (value) => above(value) && below(value);
}

function aboveTest({ value: bound, inclusive }: Bound): (value: number) => boolean {
  return inclusive ? (value) => value >= bound : (value) => value > bound;
}

function belowTest({ value: bound, inclusive }: Bound): (value: number) => boolean {
  return inclusive ? (value) => value <= bound : (value) => value < bound;
}

/** How Ruler's parser prints a JSON token in a message: `]` at the end of the array. */
function termText(term: unknown): string {
  return term === undefined ? ']' : typeof term === 'string' ? term : JSON.stringify(term);
}

// Ruler's IPv4_REGEX and IPv6_REGEX (Constants.java): text that does not look like an address is
// "Nonstandard"; text that does but does not parse is "Invalid" (CIDR.java).
const IPV4_SHAPE = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;
const IPV6_SHAPE = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;
type IpFamily = 'ipv4' | 'ipv6';

/** `cidr` as in CIDR.cidr(): one `/`, integer mask bits below the address length. */
function compileCidr(cidr: string, path: string): ValueTest {
  const parts = cidr.split('/');
  if (parts.length !== 2) fail("Malformed CIDR, one '/' required", path);
  const [address, maskText] = parts as [string, string];
  if (!/^[+-]?\d+$/.test(maskText) || Math.abs(Number(maskText)) > 2 ** 31) fail('Malformed CIDR, mask bits must be an integer', path);
  const mask = Number(maskText);
  if (mask < 0) fail('Malformed CIDR, mask bits must not be negative', path);
  const family = ipFamily(address, path);
  if (family === 'ipv4' && mask > 31) fail('IPv4 mask bits must be < 32', path);
  if (family === 'ipv6' && mask > 127) fail('IPv6 mask bits must be < 128', path);
  const subnet = new BlockList();
  subnet.addSubnet(address, mask, family);
  return stringTest((value) => {
    const valueFamily = ipFamilyIfPossible(value);
    return valueFamily !== undefined && subnet.check(value, valueFamily);
  });
}

function ipFamily(address: string, path: string): IpFamily {
  if (!IPV4_SHAPE.test(address) && !IPV6_SHAPE.test(address)) fail(`Nonstandard IP address: ${address}`, path);
  const family = ipFamilyIfPossible(address);
  if (family === undefined) fail(`Invalid IP address: ${address}`, path);
  return family;
}

/** The family of an IP address literal in Ruler's notations, or undefined for any other text. */
function ipFamilyIfPossible(text: string): IpFamily | undefined {
  if (IPV4_SHAPE.test(text)) return isIP(text) === 4 ? 'ipv4' : undefined;
  if (IPV6_SHAPE.test(text)) return isIP(text) === 6 ? 'ipv6' : undefined;
  return undefined;
}

function compileExists(operand: unknown, path: string): Matcher {
  if (typeof operand !== 'boolean') fail('exists match pattern must be either true or false.', path);
  return operand ? () => true : ABSENT;
}

function requireString(operand: unknown, message: string, path: string): string {
  if (typeof operand !== 'string') fail(message, path);
  return operand;
}

function stringTest(test: (value: string) => boolean): ValueTest {
  return (value) => typeof value === 'string' && test(value);
}

function numberTest(test: (value: number) => boolean): ValueTest {
  return (value) => typeof value === 'number' && test(value);
}

function regexTest(source: string): ValueTest {
  const expression = new RegExp(source);
  return stringTest((value) => expression.test(value));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function fail(reason: string, path: string): never {
  throw new InvalidEventPatternError(reason, path);
}

/** Which element of each array (by array id) a leaf lies in. */
type ArrayPosition = ReadonlyMap<number, number>;

interface Leaf {
  value: Scalar;
  position: ArrayPosition;
}

/** The event's leaves by dotted path, as Ruler flattens an event (Event.java). */
function flattenEvent(event: unknown): Map<string, Leaf[]> {
  const leaves = new Map<string, Leaf[]>();
  let arrays = 0;
  const visit = (value: unknown, path: string, position: ArrayPosition): void => {
    if (Array.isArray(value)) {
      const array = arrays++;
      value.forEach((element, index) => visit(element, path, new Map(position).set(array, index)));
    } else if (isPlainObject(value)) {
      for (const [name, child] of Object.entries(value)) visit(child, joinPath(path, name), position);
    } else if (path !== '' && isScalar(value)) {
      const atPath = leaves.get(path) ?? [];
      atPath.push({ value, position });
      leaves.set(path, atPath);
    }
  };
  visit(event, '', new Map());
  return leaves;
}

/** Whether fields from `index` on can each be met by leaves in the elements chosen so far. */
function matchFields(fields: FieldRule[], index: number, chosen: ArrayPosition, leaves: Map<string, Leaf[]>): boolean {
  const field = fields[index];
  if (field === undefined) return true;
  const reachable = (leaves.get(field.path) ?? []).filter((leaf) => isConsistent(chosen, leaf.position));
  const { test } = field;
  if (test && reachable.some((leaf) => test(leaf.value) && matchFields(fields, index + 1, merge(chosen, leaf.position), leaves))) return true;
  return field.orAbsent && reachable.length === 0 && matchFields(fields, index + 1, chosen, leaves);
}

function isConsistent(chosen: ArrayPosition, position: ArrayPosition): boolean {
  for (const [array, index] of position) {
    const chosenIndex = chosen.get(array);
    if (chosenIndex !== undefined && chosenIndex !== index) return false;
  }
  return true;
}

function merge(chosen: ArrayPosition, position: ArrayPosition): ArrayPosition {
  return new Map([...chosen, ...position]);
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
