/**
 * A monitor session on one database: the request as given by the caller, the protocol method
 * the server accepted, the last transaction id seen (for `monitor_cond_since` resume), and the
 * replica the updates are applied to.
 */
import { encodeValue } from './codec.js';
import { OvsdbTimeoutError, OvsdbUsageError } from './errors.js';
import type { Condition, TableMap } from './model.js';
import { Replica } from './replica.js';
import { columnSchema, type DbSchema } from './schema.js';

export type MonitorMethod = 'monitor_cond_since' | 'monitor_cond' | 'monitor';

export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}

export interface MonitorTableRequest<R> {
  /** Columns to replicate (default: all). */
  columns?: readonly (Exclude<keyof R, '_uuid'> & string)[];
  /** Server-side row filter (monitor_cond); all conditions must hold. */
  where?: readonly Condition<R>[];
  select?: MonitorSelect;
}

/** Table → what to monitor; `true` means all rows and columns. */
export type MonitorRequests<T extends object> = { [K in keyof T & string]?: MonitorTableRequest<T[K]> | true };

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export class Monitor<T extends object = TableMap> {
  readonly replica: Replica<T>;
  /** Protocol method in use; chosen on the first successful request. */
  method: MonitorMethod | undefined;
  lastTxnId: string | undefined;
  private cancelled = false;
  /**
   * Notifications that arrive while the (re)start request is in flight. The reply is handled
   * after the socket's other messages of the same read, so later updates must wait for it.
   */
  private held: { method: string; params: unknown[] }[] | undefined;

  constructor(
    readonly id: string,
    readonly db: string,
    readonly schema: DbSchema | undefined,
    readonly requests: MonitorRequests<T>,
    private readonly cancelFn: (m: Monitor<T>) => Promise<void>,
  ) {
    const columns: Record<string, readonly string[] | undefined> = {};
    for (const [table, req] of Object.entries(requests) as [string, MonitorTableRequest<object> | true | undefined][]) {
      if (req === undefined) continue;
      if (schema && !schema.tables[table]) throw new OvsdbUsageError(`${db}: unknown table ${table}`);
      columns[table] = req === true ? undefined : req.columns;
    }
    this.replica = new Replica<T>(schema, columns);
  }

  get active(): boolean {
    return !this.cancelled;
  }

  /** Starts holding updates until release() (call before sending the monitor request). */
  hold(): void {
    this.held = [];
  }

  /** Stops holding and applies the held updates in arrival order. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const n of held) this.notify(n.method, n.params);
  }

  /** Applies an update/update2/update3 notification addressed to this monitor. */
  notify(method: string, params: unknown[]): void {
    if (this.cancelled) return;
    if (this.held) {
      this.held.push({ method, params });
      return;
    }
    if (method === 'update3') {
      this.lastTxnId = String(params[1]);
      this.replica.apply(params[2], 2);
    } else {
      this.replica.apply(params[1], method === 'update' ? 1 : 2);
    }
  }

  /** The monitor-cond-requests object (or monitor-requests for plain `monitor`). */
  wireRequests(method: MonitorMethod): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [table, req] of Object.entries(this.requests) as [string, MonitorTableRequest<object> | true | undefined][]) {
      if (req === undefined) continue;
      const r: Record<string, unknown> = {};
      if (req !== true) {
        const ts = this.schema?.tables[table];
        if (req.columns) {
          for (const c of req.columns) if (ts && !columnSchema(ts, c)) throw new OvsdbUsageError(`${table}.${c}: unknown column`);
          r.columns = [...req.columns];
        }
        if (req.select) r.select = req.select;
        if (req.where && method !== 'monitor') {
          r.where = req.where.map(([c, fn, v]: readonly [string, string, unknown]) => [c, fn, encodeValue(ts, table, c, v)]);
        }
      }
      out[table] = method === 'monitor' ? r : [r];
    }
    return out;
  }

  /** Stops the monitor on the server and detaches the replica. */
  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    await this.cancelFn(this);
  }

  /**
   * Resolves with the first row of `table` satisfying `predicate` — now or after a later update —
   * or rejects with OvsdbTimeoutError after `timeoutMs`.
   */
  waitFor<K extends keyof T & string>(table: K, predicate: (row: T[K]) => boolean, timeoutMs: number): Promise<T[K]> {
    const now = this.replica.find(table, predicate);
    if (now) return Promise.resolve(now);
    return new Promise<T[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new OvsdbTimeoutError(`${this.db}: no ${table} row matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.replica.onChange((c) => {
        if (c.table !== table || !c.new) return;
        const row = c.new as T[K];
        if (!predicate(row)) return;
        clearTimeout(timer);
        off();
        resolve(row);
      });
    });
  }
}
