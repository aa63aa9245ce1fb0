/**
 * Typed database descriptors. A generated model module exports one `DatabaseModel<Tables>`
 * per schema, where `Tables` maps each table name to its row interface. Rows use plain
 * JavaScript shapes: atoms as-is, uuids as strings, 0..1 columns as `T | undefined`,
 * sets as arrays and maps as records.
 */
import type { NamedUuid } from './codec.js';
import type { DbSchema } from './schema.js';

/** Every row carries its uuid. */
export interface BaseRow {
  _uuid: string;
}

/** Table name → row type. */
export type TableMap = { [table: string]: BaseRow };

export interface DatabaseModel<T extends object = TableMap> {
  readonly name: string;
  readonly schema: DbSchema;
  /** Type-level only: carries the table map. */
  readonly tables?: T;
}

export function defineDatabase<T extends object>(schema: DbSchema): DatabaseModel<T> {
  return { name: schema.name, schema };
}

export type TableName<T> = keyof T & string;
export type RowOf<T, K extends keyof T> = T[K];

/** A value a caller may write into a column: uuid strings may also be named uuids of the same transaction. */
type WriteAtom<A> = A extends string ? (string extends A ? string | NamedUuid : A) : A;
export type WriteValue<V> = V extends readonly (infer E)[]
  ? readonly WriteAtom<E>[] | WriteAtom<E>
  : V extends Record<string, infer M>
    ? Readonly<Record<string, WriteAtom<M>>>
    : WriteAtom<V>;

/** Columns of a row as given to insert/update; `_uuid`/`_version` are server-owned. */
export type WriteRow<R> = { [C in Exclude<keyof R, '_uuid' | '_version'>]?: WriteValue<R[C]> };

export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
export type Condition<R> = {
  [C in keyof R & string]: readonly [C, ConditionFunction, WriteValue<R[C]>];
}[keyof R & string];

export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
/** Map columns also accept a list of keys for `delete`. */
type MutateValue<V> = V extends readonly unknown[]
  ? WriteValue<V>
  : V extends Record<string, unknown>
    ? WriteValue<V> | readonly string[]
    : WriteValue<V>;
export type Mutation<R> = {
  [C in Exclude<keyof R, '_uuid' | '_version'> & string]: readonly [C, Mutator, MutateValue<R[C]>];
}[Exclude<keyof R, '_uuid' | '_version'> & string];
