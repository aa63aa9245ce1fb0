/**
 * Structural-schema handling of CustomResources as apiextensions-apiserver does it, for a subset of OpenAPI v3:
 * 1. pruning: fields not declared in `properties` are dropped, unless `x-kubernetes-preserve-unknown-fields`
 *    is set (or `additionalProperties` gives a schema for the values); `apiVersion`, `kind`, `metadata` at
 *    the root are always kept;
 * 2. `null` is dropped where the schema is not `nullable` (before defaulting, as upstream);
 * 3. defaulting: an absent property with a `default` gets a copy of it (only inside objects that exist);
 * 4. validation of `type` (object, array, string, integer, number, boolean; `x-kubernetes-int-or-string`),
 *    `required`, `enum`, `pattern`, `minLength`/`maxLength`, `minimum`/`maximum` (+ exclusive),
 *    `multipleOf`, `minItems`/`maxItems`, `minProperties`/`maxProperties`, `items`, `additionalProperties`,
 *    and `format` for date-time, date, ipv4, ipv6, cidr, mac, uuid, hostname (other formats are not checked,
 *    as upstream ignores unknown ones).
 * Not supported: allOf/anyOf/oneOf/not, CEL `x-kubernetes-validations`, list-type/map-keys uniqueness,
 * metadata schemas. Messages follow upstream's wording so they read the same in conditions and logs.
 */
import { isIP } from 'node:net';
import { deepEqual, jsonClone } from './json.js';
import type { StatusCause } from './status.js';
import { isObject, type JsonObject, type SchemaProps } from './types.js';

const ROOT_KEEP = new Set(['apiVersion', 'kind', 'metadata']);

function preserves(schema: SchemaProps): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true;
}

/** Prunes unknown fields, drops non-nullable nulls and applies defaults, in place. */
export function pruneAndDefault(obj: JsonObject, schema: SchemaProps): void {
  walkObject(obj, schema, true);
}

function walkValue(value: unknown, schema: SchemaProps): void {
  if (isObject(value)) walkObject(value, schema, false);
  else if (Array.isArray(value) && schema.items !== undefined) {
    for (const item of value) walkValue(item, schema.items);
  }
}

function walkObject(obj: JsonObject, schema: SchemaProps, root: boolean): void {
  const props = schema.properties ?? {};
  const additional = isObject(schema.additionalProperties) ? (schema.additionalProperties as SchemaProps) : undefined;
  for (const key of Object.keys(obj)) {
    if (root && ROOT_KEEP.has(key)) continue;
    const propSchema = props[key] ?? additional;
    if (propSchema === undefined) {
      const embeddedKeep = schema['x-kubernetes-embedded-resource'] === true && ROOT_KEEP.has(key);
      if (!preserves(schema) && schema.additionalProperties !== true && !embeddedKeep) delete obj[key];
      continue;
    }
    if (obj[key] === null && propSchema.nullable !== true) {
      delete obj[key];
      continue;
    }
    walkValue(obj[key], propSchema);
  }
  for (const [key, propSchema] of Object.entries(props)) {
    if (obj[key] === undefined && propSchema.default !== undefined) {
      obj[key] = jsonClone(propSchema.default);
      walkValue(obj[key], propSchema);
    }
  }
}

type Cause = StatusCause;

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? 'null';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: unknown, schema: SchemaProps): boolean {
  if (schema['x-kubernetes-int-or-string'] === true) return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
  switch (schema.type) {
    case undefined: return true;
    case 'object': return isObject(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'number': return typeof value === 'number';
    case 'boolean': return typeof value === 'boolean';
    default: return true;
  }
}

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  datetime: (s) => FORMATS['date-time']?.(s) ?? false,
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  ipv4: (s) => isIP(s) === 4,
  ipv6: (s) => isIP(s) === 6,
  cidr: (s) => {
    const m = /^(.+)\/(\d{1,3})$/.exec(s);
    if (m === null) return false;
    const family = isIP(m[1] as string);
    const bits = Number(m[2]);
    return family !== 0 && bits <= (family === 4 ? 32 : 128);
  },
  mac: (s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s),
  uuid: (s) => /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(s),
  hostname: (s) => s.length <= 255 && /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/.test(s),
};

/** Validates `obj` against `schema`; returns upstream-worded causes (empty when valid). */
export function validateAgainstSchema(obj: JsonObject, schema: SchemaProps): Cause[] {
  const causes: Cause[] = [];
  validateObjectFields(obj, schema, '', causes, true);
  return causes;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function validateObjectFields(obj: JsonObject, schema: SchemaProps, path: string, causes: Cause[], root: boolean): void {
  for (const req of schema.required ?? []) {
    if (root && ROOT_KEEP.has(req)) continue;
    if (obj[req] === undefined) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: join(path, req) });
  }
  const count = Object.keys(obj).length;
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${count}: ${path || 'body'} in body should have at least ${schema.minProperties} properties`, field: path });
  }
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    causes.push({ reason: 'FieldValueTooMany', message: `Too many: ${count}: must have at most ${schema.maxProperties} items`, field: path });
  }
  const additional = isObject(schema.additionalProperties) ? (schema.additionalProperties as SchemaProps) : undefined;
  for (const [key, value] of Object.entries(obj)) {
    if (root && ROOT_KEEP.has(key)) continue;
    const propSchema = schema.properties?.[key] ?? additional;
    if (propSchema !== undefined && value !== undefined) validateValue(value, propSchema, join(path, key), causes);
  }
}

function validateValue(value: unknown, schema: SchemaProps, path: string, causes: Cause[]): void {
  if (value === null) {
    if (schema.nullable !== true) causes.push({ reason: 'FieldValueTypeInvalid', message: `Invalid value: "null": ${path} in body must be of type ${schema.type ?? 'object'}: "null"`, field: path });
    return;
  }
  if (!typeMatches(value, schema)) {
    const expected = schema['x-kubernetes-int-or-string'] === true ? 'integer,string' : (schema.type as string);
    causes.push({ reason: 'FieldValueTypeInvalid', message: `Invalid value: "${typeName(value)}": ${path} in body must be of type ${expected}: "${typeName(value)}"`, field: path });
    return;
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => deepEqual(e, value))) {
    causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${quote(value)}: supported values: ${schema.enum.map(quote).join(', ')}`, field: path });
  }
  if (typeof value === 'string') validateString(value, schema, path, causes);
  else if (typeof value === 'number') validateNumber(value, schema, path, causes);
  else if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${value.length}: ${path} in body should have at least ${schema.minItems} items`, field: path });
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      causes.push({ reason: 'FieldValueTooMany', message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`, field: path });
    }
    if (schema.items !== undefined) value.forEach((item, i) => validateValue(item, schema.items as SchemaProps, `${path}[${i}]`, causes));
  } else if (isObject(value)) {
    validateObjectFields(value, schema, path, causes, false);
  }
}

function validateString(value: string, schema: SchemaProps, path: string, causes: Cause[]): void {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    causes.push({ reason: 'FieldValueTooLong', message: `Too long: may not be more than ${schema.maxLength} bytes`, field: path });
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${quote(value)}: ${path} in body should be at least ${schema.minLength} chars long`, field: path });
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${quote(value)}: ${path} in body should match '${schema.pattern}'`, field: path });
  }
  const check = schema.format === undefined ? undefined : FORMATS[schema.format];
  if (check !== undefined && !check(value)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${quote(value)}: ${path} in body must be of type ${schema.format}: ${quote(value)}`, field: path });
  }
}

function validateNumber(value: number, schema: SchemaProps, path: string, causes: Cause[]): void {
  if (schema.minimum !== undefined) {
    const bad = schema.exclusiveMinimum === true ? value <= schema.minimum : value < schema.minimum;
    if (bad) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${path} in body should be greater than ${schema.exclusiveMinimum === true ? '' : 'or equal to '}${schema.minimum}`, field: path });
  }
  if (schema.maximum !== undefined) {
    const bad = schema.exclusiveMaximum === true ? value >= schema.maximum : value > schema.maximum;
    if (bad) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${path} in body should be less than ${schema.exclusiveMaximum === true ? '' : 'or equal to '}${schema.maximum}`, field: path });
  }
  if (schema.multipleOf !== undefined && schema.multipleOf !== 0 && !Number.isInteger(value / schema.multipleOf)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${path} in body should be a multiple of ${schema.multipleOf}`, field: path });
  }
}
