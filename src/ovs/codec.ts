/**
 * The one place where OVSDB wire values (RFC 7047 §5.1: atoms, ["uuid",…], ["named-uuid",…],
 * ["set",[…]], ["map",[[k,v],…]]) are converted to and from plain JavaScript values.
 *
 * With column metadata, rows decode to typed shapes (see model.ts); a one-element set sent as
 * a bare atom is accepted everywhere. Without metadata, a generic mapping is used: arrays are
 * sets, plain objects are maps, and uuids must be given as `uuid()` / `namedUuid()`.
 */
import { columnKind, columnSchema, type AtomicType, type ColumnSchema, type TableSchema } from './schema.js';

export type WireAtom = string | number | boolean | ['uuid', string] | ['named-uuid', string];
export type WireValue = WireAtom | ['set', WireAtom[]] | ['map', [WireAtom, WireAtom][]];
export type WireRow = Record<string, WireValue>;

export type Atom = string | number | boolean;
export type Value = Atom | undefined | Atom[] | Record<string, Atom>;

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class OvsdbCodecError extends Error {
  override readonly name = 'OvsdbCodecError';
}

/** Reference to a row inserted earlier in the same transaction (its `uuid-name`). */
export class NamedUuid {
  constructor(readonly name: string) {
    if (!IDENTIFIER.test(name)) throw new OvsdbCodecError(`named uuid must be an identifier: ${JSON.stringify(name)}`);
  }
}

/** Explicit uuid for schema-less writes (typed rows take uuid strings directly). */
export class Uuid {
  constructor(readonly value: string) {
    if (!UUID_RE.test(value)) throw new OvsdbCodecError(`not a uuid: ${JSON.stringify(value)}`);
  }
}

export const namedUuid = (name: string): NamedUuid => new NamedUuid(name);
export const uuid = (value: string): Uuid => new Uuid(value);
export const isUuid = (s: string): boolean => UUID_RE.test(s);
export const isIdentifier = (s: string): boolean => IDENTIFIER.test(s);

function fail(where: string, msg: string): never {
  throw new OvsdbCodecError(`${where}: ${msg}`);
}

export function encodeAtom(type: AtomicType, v: unknown, where: string): WireAtom {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') fail(where, `expected string, got ${describe(v)}`);
      return v;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, `expected integer, got ${describe(v)}`);
      return v;
    case 'real':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `expected real, got ${describe(v)}`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') fail(where, `expected boolean, got ${describe(v)}`);
      return v;
    case 'uuid':
      if (v instanceof NamedUuid) return ['named-uuid', v.name];
      if (v instanceof Uuid) return ['uuid', v.value];
      if (typeof v === 'string' && UUID_RE.test(v)) return ['uuid', v];
      return fail(where, `expected uuid or namedUuid(), got ${describe(v)}`);
  }
}

export function decodeAtom(type: AtomicType, w: unknown, where: string): Atom {
  if (type === 'uuid') {
    if (Array.isArray(w) && w[0] === 'uuid' && typeof w[1] === 'string') return w[1];
    return fail(where, `expected ["uuid",…], got ${describe(w)}`);
  }
  const expected = type === 'real' || type === 'integer' ? 'number' : type;
  if (typeof w !== expected) fail(where, `expected ${type}, got ${describe(w)}`);
  return w as Atom;
}

/** Elements of a wire set, accepting the bare-atom form of a one-element set. */
function wireSetElements(w: unknown): unknown[] {
  if (Array.isArray(w) && w[0] === 'set' && Array.isArray(w[1])) return w[1] as unknown[];
  return [w];
}

function wireMapPairs(w: unknown, where: string): [unknown, unknown][] {
  if (Array.isArray(w) && w[0] === 'map' && Array.isArray(w[1])) return w[1] as [unknown, unknown][];
  return fail(where, `expected ["map",…], got ${describe(w)}`);
}

/** Decodes a wire value of a column into its typed-row shape. */
export function decodeColumn(col: ColumnSchema, w: unknown, where: string): Value {
  switch (columnKind(col)) {
    case 'atom':
      return decodeAtom(col.key, w, where);
    case 'optional': {
      const els = wireSetElements(w);
      if (els.length > 1) fail(where, 'more than one element in a 0..1 column');
      return els.length === 0 ? undefined : decodeAtom(col.key, els[0], where);
    }
    case 'set':
      return wireSetElements(w).map((e) => decodeAtom(col.key, e, where));
    case 'map': {
      const out: Record<string, Atom> = {};
      for (const [k, v] of wireMapPairs(w, where)) {
        out[String(decodeAtom(col.key, k, where))] = decodeAtom(col.value as AtomicType, v, where);
      }
      return out;
    }
  }
}

function encodeSet(type: AtomicType, v: unknown, where: string): ['set', WireAtom[]] {
  if (v === undefined || v === null) return ['set', []];
  const items = Array.isArray(v) ? v : [v];
  return ['set', items.map((e) => encodeAtom(type, e, where))];
}

function encodeMapKey(type: AtomicType, k: string, where: string): WireAtom {
  if (type === 'integer' || type === 'real') {
    const n = Number(k);
    if (k.trim() === '' || !Number.isFinite(n)) fail(where, `map key ${JSON.stringify(k)} is not a number`);
    return encodeAtom(type, n, where);
  }
  if (type === 'boolean') return k === 'true';
  return encodeAtom(type, k, where);
}

function encodeMap(col: ColumnSchema, v: unknown, where: string): ['map', [WireAtom, WireAtom][]] {
  if (v === undefined || v === null) return ['map', []];
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof NamedUuid || v instanceof Uuid) {
    fail(where, `expected a map object, got ${describe(v)}`);
  }
  const pairs: [WireAtom, WireAtom][] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === undefined) continue;
    pairs.push([encodeMapKey(col.key, k, where), encodeAtom(col.value as AtomicType, val, `${where}[${k}]`)]);
  }
  return ['map', pairs];
}

/** Encodes a typed-row value (or a condition value) of a column. */
export function encodeColumn(col: ColumnSchema, v: unknown, where: string): WireValue {
  switch (columnKind(col)) {
    case 'atom':
      return encodeAtom(col.key, v, where);
    case 'optional':
    case 'set':
      return encodeSet(col.key, v, where);
    case 'map':
      return encodeMap(col, v, where);
  }
}

/** Encodes a mutation argument: arithmetic takes an atom; insert/delete a set, a map, or (map delete) a set of keys. */
export function encodeMutationValue(col: ColumnSchema, mutator: string, v: unknown, where: string): WireValue {
  if (mutator !== 'insert' && mutator !== 'delete') return encodeAtom(col.key, v, where);
  if (col.value !== undefined) {
    if (mutator === 'delete' && Array.isArray(v)) return encodeSet(col.key, v, where);
    return encodeMap(col, v, where);
  }
  return encodeSet(col.key, v, where);
}

/** Schema-less encoding: arrays → sets, plain objects → maps, Uuid/NamedUuid → tagged uuids. */
export function encodeGeneric(v: unknown, where: string): WireValue {
  if (v === undefined || v === null) return ['set', []];
  if (Array.isArray(v)) return ['set', v.map((e) => encodeGenericAtom(e, where))];
  if (typeof v === 'object' && !(v instanceof NamedUuid) && !(v instanceof Uuid)) {
    return ['map', Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, encodeGenericAtom(x, `${where}[${k}]`)] as [WireAtom, WireAtom])];
  }
  return encodeGenericAtom(v, where);
}

function encodeGenericAtom(v: unknown, where: string): WireAtom {
  if (v instanceof NamedUuid) return ['named-uuid', v.name];
  if (v instanceof Uuid) return ['uuid', v.value];
  if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  return fail(where, `cannot encode ${describe(v)}`);
}

/** Schema-less decoding: ["uuid",u] → u, sets → arrays, maps → records. */
export function decodeGeneric(w: unknown): Value {
  if (Array.isArray(w)) {
    if (w[0] === 'uuid' || w[0] === 'named-uuid') return String(w[1]);
    if (w[0] === 'set') return (w[1] as unknown[]).map((e) => decodeGeneric(e) as Atom);
    if (w[0] === 'map') {
      const out: Record<string, Atom> = {};
      for (const [k, v] of w[1] as [unknown, unknown][]) out[String(decodeGeneric(k))] = decodeGeneric(v) as Atom;
      return out;
    }
  }
  return w as Atom;
}

export function encodeValue(table: TableSchema | undefined, tableName: string, column: string, v: unknown): WireValue {
  const where = `${tableName}.${column}`;
  if (!table) return encodeGeneric(v, where);
  const col = columnSchema(table, column);
  if (!col) fail(where, 'unknown column');
  return encodeColumn(col, v, where);
}

export function encodeRow(table: TableSchema | undefined, tableName: string, row: object): WireRow {
  const out: WireRow = {};
  for (const [column, v] of Object.entries(row)) out[column] = encodeValue(table, tableName, column, v);
  return out;
}

export function decodeValue(table: TableSchema | undefined, tableName: string, column: string, w: unknown): Value {
  const col = columnSchema(table, column);
  if (!col) return decodeGeneric(w);
  return decodeColumn(col, w, `${tableName}.${column}`);
}

export function decodeRow(table: TableSchema | undefined, tableName: string, row: Record<string, unknown>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [column, w] of Object.entries(row)) out[column] = decodeValue(table, tableName, column, w);
  return out;
}

/** The value a column holds when a row omits it (update2 sends only non-default columns). */
export function defaultValue(col: ColumnSchema): Value {
  switch (columnKind(col)) {
    case 'optional':
      return undefined;
    case 'set':
      return [];
    case 'map':
      return {};
    case 'atom':
      switch (col.key) {
        case 'integer':
        case 'real':
          return 0;
        case 'boolean':
          return false;
        case 'string':
          return '';
        case 'uuid':
          return '00000000-0000-0000-0000-000000000000';
      }
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v instanceof NamedUuid) return `namedUuid(${v.name})`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
