/**
 * In-memory copy of monitored tables, kept current by applying `update` (RFC 7047 §4.1.6),
 * `update2` and `update3` table-updates. Rows are typed (decoded with the schema) and keyed by
 * uuid; every applied row change is reported to listeners.
 */
import { decodeColumn, decodeGeneric, decodeValue, defaultValue, type Atom, type Value } from './codec.js';
import { columnKind, columnSchema, type ColumnSchema, type DbSchema } from './schema.js';
import type { TableMap } from './model.js';

export type ChangeKind = 'insert' | 'modify' | 'delete';

export interface RowChange<T extends object = TableMap, K extends keyof T = keyof T> {
  table: K & string;
  uuid: string;
  kind: ChangeKind;
  /** Row before the change (absent for insert). */
  old?: T[K];
  /** Row after the change (absent for delete). */
  new?: T[K];
}

export type ChangeListener<T extends object> = (change: RowChange<T>) => void;

type Row = Record<string, Value>;
type PlainChange = { table: string; uuid: string; kind: ChangeKind; old?: Row; new?: Row };
type WireRowUpdate = Record<string, Record<string, unknown> | null | undefined>;
type TableUpdates = Record<string, Record<string, WireRowUpdate>>;

export class Replica<T extends object = TableMap> {
  private readonly data = new Map<string, Map<string, Row>>();
  private readonly listeners = new Set<ChangeListener<T>>();
  private batch: PlainChange[] | undefined;

  /** `columns[table]`: monitored columns (undefined = all schema columns). */
  constructor(
    private readonly schema: DbSchema | undefined,
    private readonly columns: Readonly<Record<string, readonly string[] | undefined>>,
  ) {
    for (const t of Object.keys(columns)) this.data.set(t, new Map());
  }

  get tables(): string[] {
    return [...this.data.keys()];
  }

  has(table: string): boolean {
    return this.data.has(table);
  }

  /** Rows of a monitored table, keyed by uuid. Do not mutate. */
  table<K extends keyof T & string>(table: K): ReadonlyMap<string, T[K]> {
    const t = this.data.get(table);
    if (!t) throw new Error(`table ${table} is not monitored`);
    return t as unknown as ReadonlyMap<string, T[K]>;
  }

  get<K extends keyof T & string>(table: K, uuid: string): T[K] | undefined {
    return this.table(table).get(uuid);
  }

  rows<K extends keyof T & string>(table: K, predicate?: (row: T[K]) => boolean): T[K][] {
    const all = [...this.table(table).values()];
    return predicate ? all.filter(predicate) : all;
  }

  find<K extends keyof T & string>(table: K, predicate: (row: T[K]) => boolean): T[K] | undefined {
    for (const row of this.table(table).values()) if (predicate(row)) return row;
    return undefined;
  }

  onChange(listener: ChangeListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies `update` (version 1) or `update2`/`update3` (version 2) table-updates. */
  apply(updates: unknown, version: 1 | 2): void {
    if (typeof updates !== 'object' || updates === null) return;
    // The whole batch lands before listeners run, so rows referenced by a change are present.
    this.batch = [];
    try {
      for (const [table, rows] of Object.entries(updates as TableUpdates)) {
        const t = this.data.get(table);
        if (!t) continue;
        for (const [uuid, u] of Object.entries(rows)) {
          if (version === 1) this.applyV1(table, t, uuid, u);
          else this.applyV2(table, t, uuid, u);
        }
      }
    } finally {
      const changes = this.batch;
      this.batch = undefined;
      for (const c of changes) this.emit(c);
    }
  }

  /**
   * Replaces the whole content with a fresh initial snapshot (after a reconnect without a
   * usable transaction id), reporting the differences as row changes.
   */
  resync(initial: unknown, version: 1 | 2): void {
    const before = new Map([...this.data].map(([t, rows]) => [t, new Map(rows)]));
    for (const rows of this.data.values()) rows.clear();
    const quiet = new Set(this.listeners);
    this.listeners.clear();
    try {
      this.apply(initial, version);
    } finally {
      for (const l of quiet) this.listeners.add(l);
    }
    const changes: PlainChange[] = [];
    for (const [table, rows] of this.data) {
      const old = before.get(table) ?? new Map<string, Row>();
      for (const [uuid, row] of rows) {
        const prev = old.get(uuid);
        if (!prev) changes.push({ table, uuid, kind: 'insert', new: row });
        else if (!sameRow(prev, row)) changes.push({ table, uuid, kind: 'modify', old: prev, new: row });
      }
      for (const [uuid, prev] of old) if (!rows.has(uuid)) changes.push({ table, uuid, kind: 'delete', old: prev });
    }
    for (const c of changes) this.emit(c);
  }

  clear(): void {
    for (const rows of this.data.values()) rows.clear();
  }

  private applyV1(table: string, t: Map<string, Row>, uuid: string, u: WireRowUpdate): void {
    const prev = t.get(uuid);
    if (!u.new) {
      if (prev) this.remove(table, t, uuid, prev);
      return;
    }
    const row = prev ? { ...prev } : this.emptyRow(table, uuid);
    for (const [c, w] of Object.entries(u.new)) row[c] = this.decode(table, c, w);
    this.store(table, t, uuid, prev, row);
  }

  private applyV2(table: string, t: Map<string, Row>, uuid: string, u: WireRowUpdate): void {
    const prev = t.get(uuid);
    if ('delete' in u) {
      if (prev) this.remove(table, t, uuid, prev);
      return;
    }
    const full = u.initial ?? u.insert;
    if (full) {
      const row = this.emptyRow(table, uuid);
      for (const [c, w] of Object.entries(full)) row[c] = this.decode(table, c, w);
      this.store(table, t, uuid, prev, row);
      return;
    }
    if (u.modify) {
      const row = prev ? { ...prev } : this.emptyRow(table, uuid);
      for (const [c, w] of Object.entries(u.modify)) row[c] = this.applyDiff(table, c, row[c], w);
      this.store(table, t, uuid, prev, row);
    }
  }

  private store(table: string, t: Map<string, Row>, uuid: string, prev: Row | undefined, row: Row): void {
    t.set(uuid, row);
    this.batch?.push(prev ? { table, uuid, kind: 'modify', old: prev, new: row } : { table, uuid, kind: 'insert', new: row });
  }

  private remove(table: string, t: Map<string, Row>, uuid: string, prev: Row): void {
    t.delete(uuid);
    this.batch?.push({ table, uuid, kind: 'delete', old: prev });
  }

  private emit(change: PlainChange): void {
    for (const l of this.listeners) {
      try {
        l(change as unknown as RowChange<T>);
      } catch {
        // a failing listener must not break the replica or other listeners
      }
    }
  }

  private col(table: string, column: string): ColumnSchema | undefined {
    return columnSchema(this.schema?.tables[table], column);
  }

  private decode(table: string, column: string, w: unknown): Value {
    return decodeValue(this.schema?.tables[table], table, column, w);
  }

  private emptyRow(table: string, uuid: string): Row {
    const row: Row = { _uuid: uuid };
    const ts = this.schema?.tables[table];
    if (!ts) return row;
    for (const c of this.columns[table] ?? Object.keys(ts.columns)) {
      const col = ts.columns[c];
      if (col) row[c] = defaultValue(col);
    }
    return row;
  }

  /**
   * update2 "modify": for sets that may hold more than one value the diff is the symmetric
   * difference; for maps, a pair with an existing key and equal value removes it, a different
   * value replaces it, a new key adds it; other columns (including 0..1) carry the new value.
   */
  private applyDiff(table: string, column: string, current: Value, w: unknown): Value {
    const col = this.col(table, column);
    if (!col) return decodeGeneric(w);
    const kind = columnKind(col);
    const diff = decodeColumn(col, w, `${table}.${column}`);
    switch (kind) {
      case 'atom':
      case 'optional':
        // Columns holding at most one value carry the new value, not a difference.
        return diff;
      case 'set':
        return toggle((current as Atom[] | undefined) ?? [], diff as Atom[]);
      case 'map': {
        const next: Record<string, Atom> = { ...((current as Record<string, Atom> | undefined) ?? {}) };
        for (const [k, v] of Object.entries(diff as Record<string, Atom>)) {
          if (k in next && next[k] === v) delete next[k];
          else next[k] = v;
        }
        return next;
      }
    }
  }
}

function toggle(current: Atom[], diff: Atom[]): Atom[] {
  const out = [...current];
  for (const e of diff) {
    const i = out.indexOf(e);
    if (i >= 0) out.splice(i, 1);
    else out.push(e);
  }
  return out;
}

function sameRow(a: Row, b: Row): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).sort().join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}
