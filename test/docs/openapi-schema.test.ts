/** The schema check the OpenAPI test relies on refuses what it must (else that test could not fail). */
import { validate } from '../support/openapi-schema';

const doc = {
  components: {
    schemas: {
      Thing: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'state'],
        properties: {
          id: { type: 'string', pattern: '^t-\\d+$' },
          state: { type: 'string', enum: ['on', 'off'] },
          at: { type: 'string', format: 'date-time' },
          n: { type: 'integer', minimum: 0 },
          tags: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};
const thing = { $ref: '#/components/schemas/Thing' };

describe('validate (OpenAPI schema subset)', () => {
  it('accepts a value that fits', () => {
    // Act / Assess
    expect(validate(doc, thing, { id: 't-1', state: 'on', at: '2026-01-05T09:00:00.000Z', n: 3, tags: ['a'] })).toEqual([]);
  });

  it.each([
    ['an extra property', { id: 't-1', state: 'on', extra: 1 }, /extra is not in the schema/],
    ['a missing required property', { id: 't-1' }, /state is missing/],
    ['a value outside the enum', { id: 't-1', state: 'maybe' }, /not one of/],
    ['a string off its pattern', { id: 'x', state: 'on' }, /does not match/],
    ['a malformed date-time', { id: 't-1', state: 'on', at: 'yesterday' }, /date-time/],
    ['a fraction for an integer', { id: 't-1', state: 'on', n: 1.5 }, /expected integer/],
    ['a number below its minimum', { id: 't-1', state: 'on', n: -1 }, /below 0/],
    ['a wrong item type', { id: 't-1', state: 'on', tags: [1] }, /tags\[0\]: expected a string/],
    ['a non-object', 'thing', /expected an object/],
  ])('refuses %s', (_what, value, message) => {
    // Act
    const errors = validate(doc, thing, value);
    // Assess
    expect(errors.join('\n')).toMatch(message);
  });

  it('refuses a schema keyword it does not implement rather than pass it', () => {
    // Act
    const errors = validate(doc, { type: 'string', oneOf: [] }, 'x');
    // Assess
    expect(errors).toEqual([expect.stringMatching(/oneOf/)]);
  });
});
