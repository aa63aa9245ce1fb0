/**
 * OVSDB client (RFC 7047): transact with typed operations, monitors kept in replicas, locks,
 * and — for long-running callers — reconnect with backoff to one of several remotes, preferring
 * the raft leader, with monitors resumed (`monitor_cond_since`) or fully resynced.
 *
 * The transact path needs no `get_schema`: typed operations carry generated schema metadata.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../util/log.js';
import { logger } from '../util/log.js';
import { isIdentifier } from './codec.js';
import { OvsdbNotLeaderError, leadershipProblem } from './cluster.js';
import { SERVER, type Srv } from './models/index.js';
import { OvsdbDisconnectedError, OvsdbRpcError, OvsdbTimeoutError, OvsdbUsageError } from './errors.js';
import type { DatabaseModel, TableMap } from './model.js';
import { Monitor, ZERO_UUID, type MonitorMethod, type MonitorRequests, type MonitorTableRequest } from './monitor.js';
import { checkResults, type Operation, type ResultsOf, type WireOperation } from './ops.js';
import { splitRemotes } from './remote.js';
import { RpcConnection } from './rpc.js';
import { parseSchema, type DbSchema } from './schema.js';
import type { Condition } from './model.js';

export interface ClientOptions {
  connectTimeoutMs?: number;
  /** Per-request timeout; 0 (default) waits as long as the connection lives. */
  requestTimeoutMs?: number;
  /** Keepalive echo interval (default 5000 ms); 0 disables. */
  keepaliveIntervalMs?: number;
  /** Reconnect after the connection is lost (default true). */
  reconnect?: boolean;
  /** First and maximum reconnect delay (default 100 ms and 5000 ms, doubling). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /**
   * Only use a server where the clustered database is connected and the leader
   * (checked through `_Server`). Default: true when several remotes are given.
   */
  leaderOnly?: boolean;
  /** Database whose raft leadership matters (default: every clustered database on the server). */
  database?: string;
  log?: Logger;
}

export interface ClientEvents {
  connected: [remote: string];
  disconnected: [error: Error];
  reconnected: [remote: string];
  /** A monitor was resumed after reconnect (`resumed` false: full resync). */
  resynced: [monitorId: string, resumed: boolean];
  locked: [lockId: string];
  stolen: [lockId: string];
  error: [error: Error];
}

export interface TransactOptions {
  timeoutMs?: number;
}

export interface WaitForOptions<R> {
  where?: readonly Condition<R>[];
  columns?: readonly (Exclude<keyof R, '_uuid'> & string)[];
}

type DbRef = string | DatabaseModel<object>;

const SERVER_WATCH_ID = 'ovnic_server_watch';

const dbName = (db: DbRef): string => (typeof db === 'string' ? db : db.name);

export class OvsdbClient extends EventEmitter<ClientEvents> {
  private conn: RpcConnection | undefined;
  private readonly remotes: string[];
  private nextRemote = 0;
  private closedByUser = false;
  private reconnecting: Promise<void> | undefined;
  private readonly monitors = new Map<string, Monitor<object>>();
  private monitorSeq = 0;
  private readonly schemas = new Map<string, DbSchema>();
  private readonly wantedLocks = new Set<string>();
  private serverWatch: Monitor<object> | undefined;
  private readonly log: Logger;
  private readonly opts: Required<Omit<ClientOptions, 'log' | 'database'>> & { database: string | undefined };

  private constructor(remotes: string[], opts: ClientOptions) {
    super();
    this.remotes = remotes;
    this.log = opts.log ?? logger('ovsdb');
    this.opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 0,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5000,
      reconnect: opts.reconnect ?? true,
      backoffMinMs: opts.backoffMinMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 5000,
      leaderOnly: opts.leaderOnly ?? remotes.length > 1,
      database: opts.database,
    };
  }

  /**
   * Connects to the first usable remote. `remote` is one remote, a list, or a comma-separated
   * list (`unix:/run/ovn/ovnnb_db.sock`, `tcp:10.0.0.1:6641,tcp:10.0.0.2:6641`).
   */
  static async connect(remote: string | readonly string[], opts: ClientOptions = {}): Promise<OvsdbClient> {
    const client = new OvsdbClient(splitRemotes(remote), opts);
    // While a raft election runs no member is leader: keep trying until the connect timeout.
    const deadline = Date.now() + client.opts.connectTimeoutMs;
    let delay = client.opts.backoffMinMs;
    for (;;) {
      try {
        await client.establish(1);
        return client;
      } catch (err) {
        if (!(err instanceof NoUsableRemoteError) || !err.leaderMissing || Date.now() + delay > deadline) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, client.opts.backoffMaxMs);
      }
    }
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.closed;
  }

  /** Remote of the current connection. */
  get remote(): string | undefined {
    return this.conn?.remote;
  }

  /** Resolves when connected (immediately, or after the running reconnect, within `timeoutMs` if given). */
  async ready(timeoutMs?: number): Promise<void> {
    if (this.connected) return;
    const reconnecting = this.reconnecting;
    if (!reconnecting) throw new OvsdbDisconnectedError(this.closedByUser ? 'client closed' : 'not connected');
    if (timeoutMs === undefined) return reconnecting;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OvsdbTimeoutError(`not reconnected within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([reconnecting, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async listDbs(): Promise<string[]> {
    return this.request<string[]>('list_dbs', []);
  }

  /** The raw RFC 7047 schema JSON. */
  async getSchemaJson(db: string): Promise<unknown> {
    return this.request('get_schema', [db]);
  }

  /** Schema metadata, fetched once per client. */
  async getSchema(db: string): Promise<DbSchema> {
    const cached = this.schemas.get(db);
    if (cached) return cached;
    const schema = parseSchema(await this.getSchemaJson(db));
    this.schemas.set(db, schema);
    return schema;
  }

  async echo(...params: unknown[]): Promise<unknown[]> {
    return this.request<unknown[]>('echo', params);
  }

  /**
   * Runs operations as one transaction. Resolves with each operation's decoded result;
   * rejects with OvsdbOperationError when an operation or the commit fails.
   */
  async transact<const O extends readonly Operation<unknown>[]>(db: DbRef, ops: O, opts: TransactOptions = {}): Promise<ResultsOf<O>> {
    const raw = await this.transactRaw(dbName(db), ops.map((o) => o.wire), opts);
    return ops.map((o, i) => o.decode(raw[i] as Record<string, unknown>)) as ResultsOf<O>;
  }

  /** Transaction with wire-format operations; per-operation errors still throw. */
  async transactRaw(db: string, ops: readonly WireOperation[], opts: TransactOptions = {}): Promise<unknown[]> {
    const results = await this.request<unknown[]>('transact', [db, ...ops], opts.timeoutMs);
    checkResults(db, ops, results);
    return results;
  }

  /**
   * Starts a monitor on `db` and fills its replica with the initial rows. Uses
   * `monitor_cond_since`, falling back to `monitor_cond`, then `monitor` (no server-side `where`).
   */
  async monitor<T extends object = TableMap>(
    db: DatabaseModel<T> | string,
    requests: MonitorRequests<T>,
    opts: { method?: MonitorMethod } = {},
  ): Promise<Monitor<T>> {
    const name = dbName(db);
    const schema = typeof db === 'string' ? await this.getSchema(db) : db.schema;
    const id = `m${++this.monitorSeq}`;
    const m = new Monitor<T>(id, name, schema, requests, (mon) => this.cancelMonitor(mon as unknown as Monitor<object>));
    if (opts.method) m.method = opts.method;
    this.monitors.set(id, m as unknown as Monitor<object>);
    try {
      await this.startMonitor(this.requireConn(), m as unknown as Monitor<object>, false);
    } catch (err) {
      this.monitors.delete(id);
      throw err;
    }
    return m;
  }

  /**
   * Resolves with the first row of `table` for which `predicate` holds, driven by monitor
   * updates. Uses an existing monitor of the table when there is one, else a temporary one
   * (narrowed by `opts.where`/`opts.columns`) that is cancelled afterwards.
   */
  async waitFor<T extends object, K extends keyof T & string>(
    db: DatabaseModel<T>,
    table: K,
    predicate: (row: T[K]) => boolean,
    timeoutMs: number,
    opts: WaitForOptions<T[K]> = {},
  ): Promise<T[K]> {
    for (const m of this.monitors.values()) {
      const req = (m.requests as Record<string, unknown>)[table];
      if (m.db === db.name && m.active && req !== undefined && opts.where === undefined && opts.columns === undefined) {
        return (m as unknown as Monitor<T>).waitFor(table, predicate, timeoutMs);
      }
    }
    const started = Date.now();
    const req: MonitorTableRequest<T[K]> = {};
    if (opts.where) req.where = opts.where;
    if (opts.columns) req.columns = opts.columns;
    const m = await this.monitor(db, { [table]: req } as unknown as MonitorRequests<T>);
    try {
      return await m.waitFor(table, predicate, Math.max(0, timeoutMs - (Date.now() - started)));
    } finally {
      await m.cancel().catch(() => undefined);
    }
  }

  /** Requests a lock; resolves true if granted now (else a later `locked` event). */
  async lock(id: string): Promise<boolean> {
    return this.lockOp('lock', id);
  }

  /** Takes a lock from its owner (who gets `stolen`); always granted. */
  async steal(id: string): Promise<boolean> {
    return this.lockOp('steal', id);
  }

  async unlock(id: string): Promise<void> {
    checkLockId(id);
    this.wantedLocks.delete(id);
    await this.request('unlock', [id]);
  }

  /** Closes the connection for good; pending requests fail with OvsdbDisconnectedError. */
  close(): void {
    this.closedByUser = true;
    for (const m of this.monitors.values()) void m.cancel().catch(() => undefined);
    this.monitors.clear();
    this.conn?.close();
    this.conn = undefined;
  }

  private async lockOp(method: 'lock' | 'steal', id: string): Promise<boolean> {
    checkLockId(id);
    this.wantedLocks.add(id);
    const r = await this.request<{ locked: boolean }>(method, [id]);
    return r.locked;
  }

  private requireConn(): RpcConnection {
    if (!this.conn || this.conn.closed) {
      throw new OvsdbDisconnectedError(this.closedByUser ? 'client closed' : 'not connected (reconnecting)');
    }
    return this.conn;
  }

  private request<R>(method: string, params: unknown[], timeoutMs?: number): Promise<R> {
    let conn: RpcConnection;
    try {
      conn = this.requireConn();
    } catch (err) {
      return Promise.reject(err);
    }
    return conn.request<R>(method, params, timeoutMs ?? (this.opts.requestTimeoutMs || undefined));
  }

  /** Connects to a usable remote, trying each in turn, `rounds` times over the list. */
  private async establish(rounds: number): Promise<void> {
    const errors: string[] = [];
    let leaderMissing = false;
    for (let i = 0; i < rounds * this.remotes.length; i++) {
      if (this.closedByUser) throw new OvsdbDisconnectedError('client closed');
      const remote = this.remotes[this.nextRemote] as string;
      this.nextRemote = (this.nextRemote + 1) % this.remotes.length;
      let conn: RpcConnection | undefined;
      try {
        conn = await RpcConnection.open(remote, {
          connectTimeoutMs: this.opts.connectTimeoutMs,
          keepaliveIntervalMs: this.opts.keepaliveIntervalMs,
          log: this.log,
        });
        conn.onNotification((method, params) => this.onNotification(method, params));
        if (this.opts.leaderOnly) await this.watchLeadership(conn);
        await this.adopt(conn);
        this.emit('connected', remote);
        return;
      } catch (err) {
        conn?.close('not usable');
        if (err instanceof OvsdbNotLeaderError) leaderMissing = true;
        errors.push(err instanceof OvsdbNotLeaderError ? err.message : `${remote}: ${(err as Error).message}`);
        this.log.debug({ remote, err: (err as Error).message }, 'ovsdb remote not usable');
      }
    }
    throw new NoUsableRemoteError(`no usable OVSDB remote: ${errors.join('; ')}`, leaderMissing);
  }

  /** Makes `conn` current: routes notifications, restores monitors and locks. */
  private async adopt(conn: RpcConnection): Promise<void> {
    const previous = this.conn;
    this.conn = conn;
    try {
      for (const m of this.monitors.values()) if (m.active) await this.startMonitor(conn, m, previous !== undefined);
      for (const id of this.wantedLocks) {
        const r = await conn.request<{ locked: boolean }>('lock', [id]);
        if (r.locked) this.emit('locked', id);
      }
    } catch (err) {
      this.conn = previous;
      throw err;
    }
    conn.onClose((err) => this.onConnectionLost(conn, err));
  }

  /**
   * Monitors `_Server.Database` on a fresh connection: refuses the server unless it is the
   * connected raft leader, and later drops the connection (so we reconnect elsewhere) when it
   * stops being one.
   */
  private async watchLeadership(conn: RpcConnection): Promise<void> {
    const watch = new Monitor<Srv.Tables>(SERVER_WATCH_ID, '_Server', SERVER.schema, {
      Database: { columns: ['name', 'model', 'connected', 'leader'] },
    }, async () => undefined);
    watch.method = 'monitor_cond';
    const previous = this.serverWatch;
    this.serverWatch = watch as unknown as Monitor<object>;
    try {
      await this.startMonitor(conn, watch as unknown as Monitor<object>, false);
    } catch (err) {
      this.serverWatch = previous;
      // Servers without _Server (before OVS 2.9) are standalone.
      if (err instanceof OvsdbRpcError && /unknown database/i.test(JSON.stringify(err.error))) return;
      throw err;
    }
    const problem = leadershipProblem(watch.replica.rows('Database'), this.opts.database);
    if (problem) {
      this.serverWatch = previous;
      throw new OvsdbNotLeaderError(`${conn.remote}: ${problem}`);
    }
    watch.replica.onChange(() => {
      const now = leadershipProblem(watch.replica.rows('Database'), this.opts.database);
      if (now && conn === this.conn) {
        this.log.info({ remote: conn.remote, reason: now }, 'ovsdb server no longer usable, reconnecting');
        conn.close(now);
      }
    });
  }

  private onConnectionLost(conn: RpcConnection, err: Error): void {
    if (conn !== this.conn || this.closedByUser) return;
    this.log.warn({ remote: conn.remote, reason: err.message }, 'ovsdb connection lost');
    this.emit('disconnected', err);
    if (!this.opts.reconnect) return;
    this.reconnecting = this.reconnectLoop().finally(() => {
      this.reconnecting = undefined;
    });
    this.reconnecting.catch(() => undefined);
  }

  private async reconnectLoop(): Promise<void> {
    let delay = this.opts.backoffMinMs;
    while (!this.closedByUser) {
      await sleep(delay);
      if (this.closedByUser) break;
      try {
        await this.establish(1);
        this.emit('reconnected', this.conn?.remote ?? '');
        return;
      } catch (err) {
        this.log.debug({ err: (err as Error).message, delayMs: delay }, 'ovsdb reconnect failed');
        delay = Math.min(delay * 2, this.opts.backoffMaxMs);
      }
    }
    throw new OvsdbDisconnectedError('client closed');
  }

  private async startMonitor(conn: RpcConnection, m: Monitor<object>, resume: boolean): Promise<void> {
    const order: MonitorMethod[] = m.method ? [m.method] : ['monitor_cond_since', 'monitor_cond', 'monitor'];
    m.hold();
    try {
      for (const method of order) {
        const wire = m.wireRequests(method);
        try {
          if (method === 'monitor_cond_since') {
            const since = resume && m.lastTxnId ? m.lastTxnId : ZERO_UUID;
            const [found, lastTxnId, updates] = await conn.request<[boolean, string, unknown]>(
              method, [m.db, m.id, wire, since],
            );
            m.method = method;
            m.lastTxnId = lastTxnId;
            if (found && resume) m.replica.apply(updates, 2);
            else m.replica.resync(updates, 2);
            if (resume) this.emit('resynced', m.id, found);
          } else {
            const updates = await conn.request<unknown>(method, [m.db, m.id, wire]);
            m.method = method;
            m.replica.resync(updates, method === 'monitor' ? 1 : 2);
            if (resume) this.emit('resynced', m.id, false);
          }
          return;
        } catch (err) {
          if (m.method || !isUnknownMethod(err) || method === 'monitor') throw err;
          this.log.debug({ method }, 'ovsdb server lacks monitor method, falling back');
        }
      }
    } finally {
      m.release();
    }
  }

  private async cancelMonitor(m: Monitor<object>): Promise<void> {
    this.monitors.delete(m.id);
    if (!this.connected) return;
    await this.request('monitor_cancel', [m.id]).catch((err: unknown) => {
      if (!(err instanceof OvsdbDisconnectedError)) throw err;
    });
  }

  private onNotification(method: string, params: unknown[]): void {
    switch (method) {
      case 'update':
      case 'update2':
      case 'update3': {
        const id = String(params[0]);
        const m = id === SERVER_WATCH_ID ? this.serverWatch : this.monitors.get(id);
        m?.notify(method, params);
        return;
      }
      case 'locked':
        this.emit('locked', String(params[0]));
        return;
      case 'stolen':
        this.emit('stolen', String(params[0]));
        return;
      default:
        this.log.debug({ method }, 'ovsdb: ignoring notification');
    }
  }
}

class NoUsableRemoteError extends OvsdbDisconnectedError {
  constructor(
    message: string,
    readonly leaderMissing: boolean,
  ) {
    super(message);
  }
}

function checkLockId(id: string): void {
  if (!isIdentifier(id)) throw new OvsdbUsageError(`lock id must be an identifier: ${JSON.stringify(id)}`);
}

function isUnknownMethod(err: unknown): boolean {
  return err instanceof OvsdbRpcError && /unknown method|not supported|unknown request/i.test(JSON.stringify(err.error));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

