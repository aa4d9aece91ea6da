/**
 * A small validator for the OpenAPI 3.0 schema subset docs/openapi.yaml uses: `type`, `enum`,
 * `pattern`, `format: date-time`, `minimum`/`maximum`, `minLength`/`maxLength`, `required`,
 * `properties`, `additionalProperties`, `items`, `$ref` to `#/components/...`. Anything else in a
 * schema is an error of the document, so that an unchecked keyword cannot pass silently.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  'type',
  'enum',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'required',
  'properties',
  'additionalProperties',
  'items',
  '$ref',
  'description',
  'default',
]);

export function resolveRef(document: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
  if (typeof target !== 'object' || target === null) throw new Error(`$ref ${ref} resolves to nothing`);
  return target as Schema;
}

/** The errors of `value` against `schema` (empty when it validates), each with its JSON path. */
export function validate(document: Schema, schema: Schema, value: unknown, path = '$'): string[] {
  if (typeof schema.$ref === 'string') return validate(document, resolveRef(document, schema.$ref), value, path);
  const unknown = Object.keys(schema).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) return [`${path}: the schema uses ${unknown.join(', ')}, which this check does not implement`];
  const errors: string[] = [];
  const fail = (message: string) => errors.push(`${path}: ${message}`);
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object, got ${JSON.stringify(value)}`];
      const record = value as Record<string, unknown>;
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      for (const name of (schema.required ?? []) as string[]) if (!(name in record)) fail(`required property ${name} is missing`);
      for (const [name, entry] of Object.entries(record)) {
        if (properties[name]) errors.push(...validate(document, properties[name], entry, `${path}.${name}`));
        else if (schema.additionalProperties === false) fail(`property ${name} is not in the schema`);
        else if (typeof schema.additionalProperties === 'object')
          errors.push(...validate(document, schema.additionalProperties as Schema, entry, `${path}.${name}`));
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${path}: expected an array, got ${JSON.stringify(value)}`];
      value.forEach((entry, i) => errors.push(...validate(document, (schema.items ?? {}) as Schema, entry, `${path}[${i}]`)));
      break;
    case 'string':
      if (typeof value !== 'string') return [`${path}: expected a string, got ${JSON.stringify(value)}`];
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) fail(`${JSON.stringify(value)} does not match ${schema.pattern}`);
      if (schema.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value))
        fail(`${JSON.stringify(value)} is not a date-time`);
      if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail(`shorter than ${schema.minLength}`);
      if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) fail(`longer than ${schema.maxLength}`);
      break;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value)))
        return [`${path}: expected ${String(schema.type)}, got ${JSON.stringify(value)}`];
      if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below ${schema.minimum}`);
      if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above ${schema.maximum}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
      break;
    case undefined:
      break;
    default:
      return [`${path}: type ${String(schema.type)} is not supported by this check`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) fail(`${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  return errors;
}
