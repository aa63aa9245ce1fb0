import { describe, expect, it } from 'vitest';
import { pruneAndDefault, validateAgainstSchema } from '../apiserver/schema.js';
import type { JsonObject, SchemaProps } from '../apiserver/types.js';

const schema: SchemaProps = {
  type: 'object',
  required: ['spec'],
  properties: {
    spec: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 5 },
        mode: { type: 'string', enum: ['a', 'b'], default: 'a' },
        mac: { type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' },
        ip: { type: 'string', format: 'ipv4' },
        count: { type: 'integer', minimum: 1, maximum: 10 },
        port: { 'x-kubernetes-int-or-string': true },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        opt: { type: 'string', nullable: true },
        nested: { type: 'object', properties: { inner: { type: 'integer', default: 7 } } },
      },
    },
    status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { phase: { type: 'string' } } },
  },
};

function check(obj: JsonObject): string[] {
  pruneAndDefault(obj, schema);
  return validateAgainstSchema(obj, schema).map((c) => `${c.field}: ${c.message}`);
}

describe('CRD structural schema subset', () => {
  it('prunes unknown fields, keeps preserved ones and the envelope, drops non-nullable nulls, defaults', () => {
    const obj: JsonObject = {
      apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n', anything: 1 },
      spec: { name: 'ok', unknown: 1, ip: null, opt: null, nested: {}, labels: { a: 'b' } },
      status: { phase: 'P', extra: { deep: true } },
      topLevelUnknown: true,
    };
    expect(check(obj)).toEqual([]);
    expect(obj).toEqual({
      apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n', anything: 1 },
      spec: { name: 'ok', mode: 'a', opt: null, nested: { inner: 7 }, labels: { a: 'b' } },
      status: { phase: 'P', extra: { deep: true } },
    });
  });

  it('reports every violation with upstream wording', () => {
    const errors = check({
      spec: { name: 'toolong', mode: 'c', mac: 'zz', ip: '999.1.1.1', count: 1.5, port: true, tags: ['a', 'b', 'c'], labels: { a: 1 } },
    });
    expect(errors).toEqual([
      'spec.name: Too long: may not be more than 5 bytes',
      'spec.mode: Unsupported value: "c": supported values: "a", "b"',
      'spec.mac: Invalid value: "zz": spec.mac in body should match \'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$\'',
      'spec.ip: Invalid value: "999.1.1.1": spec.ip in body must be of type ipv4: "999.1.1.1"',
      'spec.count: Invalid value: "number": spec.count in body must be of type integer: "number"',
      'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
      'spec.tags: Too many: 3: must have at most 2 items',
      'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
    ]);
    expect(check({})).toEqual(['spec: Required value']);
    expect(check({ spec: { name: '', count: 0 } })).toEqual([
      'spec.name: Invalid value: "": spec.name in body should be at least 1 chars long',
      'spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1',
    ]);
  });
});
