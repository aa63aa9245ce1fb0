/**
 * OVSDB schema metadata in the compact form the codec needs: per column the atomic key
 * (and value, for maps) type and the min/max cardinality. Produced either by
 * scripts/gen-models.mjs (committed models) or at runtime from a `get_schema` reply.
 */

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface ColumnSchema {
  readonly key: AtomicType;
  /** Present for map columns. */
  readonly value?: AtomicType;
  readonly min: number;
  /** `Infinity` for "unlimited". */
  readonly max: number;
  /** Table referenced by uuid keys (or values), when the schema names one. */
  readonly ref?: string;
}

export interface TableSchema {
  readonly columns: Readonly<Record<string, ColumnSchema>>;
  readonly isRoot?: boolean;
  readonly indexes?: readonly (readonly string[])[];
}

export interface DbSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: Readonly<Record<string, TableSchema>>;
}

/** How a column's value is represented in a typed row. */
export type ColumnKind = 'atom' | 'optional' | 'set' | 'map';

export function columnKind(col: ColumnSchema): ColumnKind {
  if (col.value !== undefined) return 'map';
  if (col.min === 1 && col.max === 1) return 'atom';
  if (col.min === 0 && col.max === 1) return 'optional';
  return 'set';
}

const UUID_COLUMN: ColumnSchema = { key: 'uuid', min: 1, max: 1 };
const VERSION_COLUMN: ColumnSchema = { key: 'uuid', min: 1, max: 1 };

/** Column metadata including the implicit `_uuid` and `_version` columns. */
export function columnSchema(table: TableSchema | undefined, column: string): ColumnSchema | undefined {
  if (column === '_uuid') return UUID_COLUMN;
  if (column === '_version') return VERSION_COLUMN;
  return table?.columns[column];
}

const ATOMIC_TYPES = new Set<string>(['integer', 'real', 'boolean', 'string', 'uuid']);

interface RawBaseType {
  type?: unknown;
  refTable?: unknown;
}

function parseBase(raw: unknown, where: string): { type: AtomicType; ref?: string } {
  const type = typeof raw === 'string' ? raw : (raw as RawBaseType | null)?.type;
  if (typeof type !== 'string' || !ATOMIC_TYPES.has(type)) throw new Error(`schema: bad base type at ${where}`);
  const ref = typeof raw === 'object' && raw !== null ? (raw as RawBaseType).refTable : undefined;
  return typeof ref === 'string' ? { type: type as AtomicType, ref } : { type: type as AtomicType };
}

/** Parses one RFC 7047 <type> into compact column metadata. */
export function parseColumnType(raw: unknown, where: string): ColumnSchema {
  if (typeof raw === 'string' || (typeof raw === 'object' && raw !== null && !('key' in raw))) {
    const base = parseBase(raw, where);
    return base.ref ? { key: base.type, min: 1, max: 1, ref: base.ref } : { key: base.type, min: 1, max: 1 };
  }
  const t = raw as { key: unknown; value?: unknown; min?: unknown; max?: unknown };
  const key = parseBase(t.key, `${where}.key`);
  const value = t.value === undefined ? undefined : parseBase(t.value, `${where}.value`);
  const min = typeof t.min === 'number' ? t.min : 1;
  const max = t.max === 'unlimited' ? Infinity : typeof t.max === 'number' ? t.max : 1;
  const ref = key.ref ?? value?.ref;
  return {
    key: key.type,
    ...(value ? { value: value.type } : {}),
    min,
    max,
    ...(ref ? { ref } : {}),
  };
}

/** Parses a full `get_schema` reply (or an .ovsschema file) into compact metadata. */
export function parseSchema(raw: unknown): DbSchema {
  const s = raw as { name?: unknown; version?: unknown; tables?: Record<string, { columns?: Record<string, { type: unknown }>; isRoot?: unknown; indexes?: unknown }> };
  if (typeof s?.name !== 'string' || typeof s.tables !== 'object' || s.tables === null) {
    throw new Error('schema: not an OVSDB schema');
  }
  const tables: Record<string, TableSchema> = {};
  for (const [tname, t] of Object.entries(s.tables)) {
    const columns: Record<string, ColumnSchema> = {};
    for (const [cname, c] of Object.entries(t.columns ?? {})) columns[cname] = parseColumnType(c.type, `${tname}.${cname}`);
    tables[tname] = {
      columns,
      ...(t.isRoot === true ? { isRoot: true } : {}),
      ...(Array.isArray(t.indexes) ? { indexes: t.indexes as string[][] } : {}),
    };
  }
  return { name: s.name, version: typeof s.version === 'string' ? s.version : '', tables };
}
