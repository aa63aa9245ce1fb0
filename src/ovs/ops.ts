/**
 * Typed builders for the RFC 7047 §5.2 transaction operations. Each builder encodes its
 * arguments immediately (so bad input fails before anything is sent) and knows how to decode
 * its own result: insert → the new row's uuid, select → typed rows, update/mutate/delete →
 * the row count, wait/comment/assert → nothing.
 */
import {
  NamedUuid,
  decodeRow,
  encodeGeneric,
  encodeMutationValue,
  encodeRow,
  encodeValue,
  isIdentifier,
  type WireValue,
} from './codec.js';
import { OvsdbOperationError, OvsdbUsageError } from './errors.js';
import { columnSchema, type TableSchema } from './schema.js';
import type { Condition, DatabaseModel, Mutation, TableMap, WriteRow } from './model.js';

export type WireOperation = { op: string } & Record<string, unknown>;

export interface Operation<R> {
  readonly wire: WireOperation;
  decode(result: Record<string, unknown>): R;
}

export type ResultOf<O> = O extends Operation<infer R> ? R : never;
export type ResultsOf<T extends readonly Operation<unknown>[]> = { -readonly [K in keyof T]: ResultOf<T[K]> };

export type WaitUntil = '==' | '!=';

export class OpBuilder<T extends object = TableMap> {
  constructor(readonly db: DatabaseModel<T>) {}

  private table(name: string): TableSchema | undefined {
    const t = this.db.schema.tables[name];
    if (!t && Object.keys(this.db.schema.tables).length > 0) {
      throw new OvsdbUsageError(`${this.db.name}: unknown table ${name}`);
    }
    return t;
  }

  private where(name: string, t: TableSchema | undefined, conditions: readonly (readonly [string, string, unknown])[]): unknown[] {
    return conditions.map(([column, fn, value]) => {
      if (t && !columnSchema(t, column)) throw new OvsdbUsageError(`${name}.${column}: unknown column`);
      // "includes"/"excludes" on a map compare against a partial map; same encoding as the column.
      return [column, fn, encodeValue(t, name, column, value)];
    });
  }

  insert<K extends keyof T & string>(table: K, row: WriteRow<T[K]>, uuidName?: string | NamedUuid): Operation<string> {
    const t = this.table(table);
    const wire: WireOperation = { op: 'insert', table, row: encodeRow(t, table, row) };
    if (uuidName !== undefined) {
      const name = uuidName instanceof NamedUuid ? uuidName.name : uuidName;
      if (!isIdentifier(name)) throw new OvsdbUsageError(`uuid-name must be an identifier: ${JSON.stringify(name)}`);
      wire['uuid-name'] = name;
    }
    return { wire, decode: (r) => (r.uuid as [string, string])[1] };
  }

  select<K extends keyof T & string, C extends keyof T[K] & string = keyof T[K] & string>(
    table: K,
    where: readonly Condition<T[K]>[] = [],
    columns?: readonly C[],
  ): Operation<Pick<T[K], C>[]> {
    const t = this.table(table);
    const wire: WireOperation = { op: 'select', table, where: this.where(table, t, where) };
    if (columns) wire.columns = this.columns(table, t, columns);
    return {
      wire,
      decode: (r) => (r.rows as Record<string, unknown>[]).map((row) => decodeRow(t, table, row) as unknown as Pick<T[K], C>),
    };
  }

  update<K extends keyof T & string>(table: K, where: readonly Condition<T[K]>[], row: WriteRow<T[K]>): Operation<number> {
    const t = this.table(table);
    return { wire: { op: 'update', table, where: this.where(table, t, where), row: encodeRow(t, table, row) }, decode: count };
  }

  mutate<K extends keyof T & string>(
    table: K,
    where: readonly Condition<T[K]>[],
    mutations: readonly Mutation<T[K]>[],
  ): Operation<number> {
    const t = this.table(table);
    const encoded = mutations.map(([column, mutator, value]: readonly [string, string, unknown]) => {
      const where = `${table}.${column}`;
      if (!t) return [column, mutator, encodeGeneric(value, where)];
      const col = columnSchema(t, column);
      if (!col) throw new OvsdbUsageError(`${where}: unknown column`);
      return [column, mutator, encodeMutationValue(col, mutator, value, where)];
    });
    return { wire: { op: 'mutate', table, where: this.where(table, t, where), mutations: encoded }, decode: count };
  }

  delete<K extends keyof T & string>(table: K, where: readonly Condition<T[K]>[]): Operation<number> {
    const t = this.table(table);
    return { wire: { op: 'delete', table, where: this.where(table, t, where) }, decode: count };
  }

  /**
   * Blocks (up to `timeoutMs`, 0 = check once) until the rows matching `where`, projected on
   * `columns`, are (`==`) or are not (`!=`) exactly `rows`.
   */
  wait<K extends keyof T & string>(
    table: K,
    where: readonly Condition<T[K]>[],
    columns: readonly (keyof T[K] & string)[],
    until: WaitUntil,
    rows: readonly WriteRow<T[K]>[],
    timeoutMs?: number,
  ): Operation<void> {
    const t = this.table(table);
    const wire: WireOperation = {
      op: 'wait',
      table,
      where: this.where(table, t, where),
      columns: this.columns(table, t, columns),
      until,
      rows: rows.map((r) => encodeRow(t, table, r)),
    };
    if (timeoutMs !== undefined) wire.timeout = timeoutMs;
    return { wire, decode: none };
  }

  comment(text: string): Operation<void> {
    return { wire: { op: 'comment', comment: text }, decode: none };
  }

  /** Fails the transaction unless this session owns `lock`. */
  assert(lock: string): Operation<void> {
    if (!isIdentifier(lock)) throw new OvsdbUsageError(`lock id must be an identifier: ${JSON.stringify(lock)}`);
    return { wire: { op: 'assert', lock }, decode: none };
  }

  private columns(table: string, t: TableSchema | undefined, columns: readonly string[]): string[] {
    for (const c of columns) if (t && !columnSchema(t, c)) throw new OvsdbUsageError(`${table}.${c}: unknown column`);
    return [...columns];
  }
}

function count(r: Record<string, unknown>): number {
  return r.count as number;
}

function none(): void {
  return undefined;
}

export function opsFor<T extends object>(db: DatabaseModel<T>): OpBuilder<T> {
  return new OpBuilder(db);
}

/** Builder for a database without generated models: generic encoding, no column checks. */
export function untypedOps(dbName: string): OpBuilder<TableMap> {
  return new OpBuilder<TableMap>({ name: dbName, schema: { name: dbName, version: '', tables: {} } });
}

/** Throws the first per-operation error, or the commit error reported after the last operation. */
export function checkResults(db: string, ops: readonly WireOperation[], results: unknown[]): void {
  if (!Array.isArray(results)) throw new OvsdbOperationError(db, 0, undefined, 'malformed reply', undefined, []);
  for (let i = 0; i < results.length; i++) {
    const r = results[i] as { error?: unknown; details?: unknown } | null;
    if (r && typeof r.error === 'string') {
      throw new OvsdbOperationError(
        db, i, ops[i]?.op, r.error, typeof r.details === 'string' ? r.details : undefined, results,
      );
    }
  }
  if (results.length < ops.length) {
    throw new OvsdbOperationError(db, results.length, ops[results.length]?.op, 'missing result', undefined, results);
  }
}

export type { WireValue };
