/**
 * docs/openapi.yaml against the zod schemas the API reads its input with, field by field: the
 * start request's body (the schema's JSON Schema, `z.toJSONSchema`, against `StartRequest`), each
 * route's query parameters, the job id in the path and the Idempotency-Key header. Where HTTP
 * carries a number as text (`limit`), values at and around the documented bounds must be accepted
 * or refused alike by both. A field documented and not read, or read and not documented, fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod/mini';
import { defaultConfig } from '../../domain/config';
import { startRequestSchema } from '../../domain/api/request';
import { idempotencyKeySchema, jobIdSchema, QUERY, API_ROUTES } from '../../handlers/api-routes';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { resolveRef, validate } from '../support/openapi-schema';

// The parsed YAML document, walked freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const document = parse(readFileSync(join(__dirname, '../../docs/openapi.yaml'), 'utf8')) as Doc;
const jsonSchema = (schema: z.ZodMiniType) => z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0' }) as Doc;

/** A schema with its `$ref`s resolved and its prose left out: what both sides must say alike. */
function normal(schema: Doc): Doc {
  if (typeof schema.$ref === 'string') return normal(resolveRef(document, schema.$ref));
  const out: Doc = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'description') continue;
    if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value as Doc).map(([name, entry]) => [name, normal(entry as Doc)]));
    else if (key === 'items') out.items = normal(value as Doc);
    else if (key === 'required') out.required = [...(value as string[])].sort();
    else out[key] = value;
  }
  return out;
}

/** The query schema each route reads (handlers/api-routes.ts `serve`). */
const QUERY_OF: Record<string, z.ZodMiniObject> = {
  'POST /resets': QUERY.none,
  'GET /resets': QUERY.listResets,
  'GET /resets/{jobId}': QUERY.none,
  'POST /resets/{jobId}/cancel': QUERY.none,
  'GET /instances': QUERY.listInstances,
};

function operation(route: string): Doc {
  const [method, path] = route.split(' ') as [string, string];
  return document.paths[path][method.toLowerCase()] as Doc;
}

function parameters(route: string, where: 'query' | 'path' | 'header'): Doc[] {
  return ((operation(route).parameters ?? []) as Doc[])
    .map((p) => (typeof p.$ref === 'string' ? resolveRef(document, p.$ref) : p))
    .filter((p) => p.in === where);
}

const accepts = (schema: z.ZodMiniType, value: unknown) => z.safeParse(schema, value).success;
const documentedAccepts = (schema: Doc, value: unknown) => validate(document, schema, value).length === 0;

describe('the start request', () => {
  it('is documented field by field as its schema reads it (type, pattern, enum, default, required, no other field)', () => {
    // Act
    const generated = normal(jsonSchema(startRequestSchema(defaultConfig)));
    const documented = normal(document.components.schemas.StartRequest as Doc);
    // Assess
    expect(Object.keys(documented.properties).sort()).toEqual(Object.keys(generated.properties).sort());
    for (const name of Object.keys(generated.properties))
      expect({ name, schema: documented.properties[name] }).toEqual({ name, schema: generated.properties[name] });
    expect({ required: documented.required, additionalProperties: documented.additionalProperties }).toEqual({
      required: generated.required,
      additionalProperties: generated.additionalProperties,
    });
  });
});

describe('the query parameters', () => {
  it('are read for every documented route, and only for those', () => {
    // Assess
    expect(Object.keys(QUERY_OF).sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it.each(Object.keys(QUERY_OF))('%s: the documented ones are exactly those read', async (route) => {
    // Prepare
    const [method, path] = route.split(' ') as [string, string];
    const documented = parameters(route, 'query').map((p) => p.name as string);
    // Act: the handler names the parameters it knows when given one it does not
    const answer = await new VirtualStack().api(
      method,
      `${path.replace('{jobId}', 'r-zzzzzzzzzz')}?unknownParameter=1`,
      method === 'POST' ? { instanceId: 'i-0a1b2c3d4e5f60001' } : undefined,
    );
    // Assess
    expect(Object.keys(QUERY_OF[route]!.def.shape)).toEqual(documented);
    expect(answer.json.message).toBe(
      documented.length
        ? `unknownParameter: unknown query parameter (known: ${documented.join(', ')})`
        : 'unknownParameter: this route takes no query parameters',
    );
  });

  it.each(Object.keys(QUERY_OF).flatMap((route) => parameters(route, 'query').map((p) => [route, p.name as string, p] as const)))(
    '%s ?%s is documented as it is read',
    (route, name, parameter) => {
      // Prepare
      const schema = QUERY_OF[route]!.def.shape[name]! as z.ZodMiniType;
      const documented = normal(parameter.schema as Doc);
      // Act / Assess
      if (documented.type !== 'integer') {
        expect({ name, schema: documented }).toEqual({ name, schema: normal(jsonSchema(schema)) });
        return;
      }
      // A number in a query string is text: the bounds and the default must hold alike on both sides.
      const probes = [documented.minimum - 1, documented.minimum, documented.default, documented.maximum, documented.maximum + 1, 1.5, -1];
      for (const n of probes) expect({ name, n, accepted: accepts(schema, String(n)) }).toEqual({ name, n, accepted: documentedAccepts(documented, n) });
      expect(z.parse(schema, undefined)).toBe(documented.default);
      expect(accepts(schema, 'ten')).toBe(false);
    },
  );
});

describe('the path and the headers', () => {
  const jobIdRoutes = Object.keys(QUERY_OF).filter((route) => route.includes('{jobId}'));

  it.each(jobIdRoutes)('%s: the job id is documented as it is read', (route) => {
    // Prepare
    const [parameter] = parameters(route, 'path');
    // Assess
    expect(parameter?.name).toBe('jobId');
    expect(normal(parameter!.schema as Doc)).toEqual(normal(jsonSchema(jobIdSchema)));
  });

  it('POST /resets: the Idempotency-Key is documented as it is read', () => {
    // Prepare
    const [parameter] = parameters('POST /resets', 'header');
    const documented = parameter!.schema as Doc;
    // Act / Assess: the document says it with min/max lengths, the schema with one pattern
    expect(parameter!.name).toBe('Idempotency-Key');
    for (const key of ['', 'k', 'x'.repeat(255), 'x'.repeat(256), 'two words', 'tab\there', 'ünïcode', '~!@#$%^&*()']) {
      expect({ key, accepted: accepts(idempotencyKeySchema, key) }).toEqual({ key, accepted: documentedAccepts(documented, key) });
    }
  });
});
