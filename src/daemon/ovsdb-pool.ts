/**
 * Long-lived OVSDB connections of the node daemon, one per remote, shared by every CNI request:
 * connected in the background (retrying with backoff until the first connection succeeds),
 * reconnected by the client after a loss. A request borrows the connection through ports().
 */
import { OvsdbClient, OvsdbUsageError } from '../ovs/index.js';
import { OvsPorts } from '../nic/ovs-port.js';
import type { Logger } from '../util/log.js';

export interface OvsdbPoolOptions {
  log: Logger;
  /** Called on every connection state change (metrics). */
  onState?: (remote: string, connected: boolean) => void;
  /** First and maximum delay between attempts of the first connection (default 100 ms, 5000 ms). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface RemoteState {
  remote: string;
  connected: boolean;
  /** The last connection failure, while not connected. */
  error?: string;
}

class PooledRemote {
  client: OvsdbClient | undefined;
  lastError: string | undefined;
  /** The remote can never work (unsupported form): no retries. */
  private unsupported = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly remote: string,
    private readonly opts: OvsdbPoolOptions,
  ) {
    void this.connectLoop();
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Resolves when connected, within timeoutMs; rejects with the last failure otherwise. */
  async ready(timeoutMs: number): Promise<OvsdbClient> {
    if (this.unsupported) throw new OvsdbUsageError(this.lastError ?? 'unsupported remote');
    const client = this.client;
    if (client) {
      if (client.connected) return client;
      try {
        await client.ready(timeoutMs);
        return client;
      } catch (err) {
        throw new Error(`not connected (reconnecting): ${(err as Error).message}`);
      }
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`not connected within ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
    });
    if (this.unsupported) throw new OvsdbUsageError(this.lastError ?? 'unsupported remote');
    if (!this.client) throw new Error(this.lastError ?? 'not connected');
    return this.client;
  }

  private async connectLoop(): Promise<void> {
    const { log } = this.opts;
    let delay = this.opts.backoffMinMs ?? 100;
    const max = this.opts.backoffMaxMs ?? 5000;
    while (!this.closed) {
      try {
        const client = await OvsdbClient.connect(this.remote, {
          connectTimeoutMs: 2000,
          reconnect: true,
          keepaliveIntervalMs: 5000,
          backoffMaxMs: 2000,
          leaderOnly: false,
          log,
        });
        if (this.closed) {
          client.close();
          break;
        }
        this.client = client;
        this.lastError = undefined;
        client.on('disconnected', (err) => {
          this.lastError = err.message;
          this.opts.onState?.(this.remote, false);
        });
        client.on('reconnected', () => {
          this.lastError = undefined;
          this.opts.onState?.(this.remote, true);
        });
        this.opts.onState?.(this.remote, true);
        log.info({ remote: this.remote }, 'OVSDB connected');
        break;
      } catch (err) {
        this.lastError = (err as Error).message;
        if (err instanceof OvsdbUsageError) {
          this.unsupported = true;
          log.error({ remote: this.remote, err: this.lastError }, 'OVSDB remote not supported');
          break;
        }
        log.warn({ remote: this.remote, err: this.lastError, retryMs: delay }, 'OVSDB not reachable, retrying');
        this.opts.onState?.(this.remote, false);
        await new Promise<void>((resolve) => {
          this.wakeRetry = resolve;
          this.retryTimer = setTimeout(resolve, delay);
        });
        delay = Math.min(delay * 2, max);
      }
    }
    for (const wake of [...this.waiters]) wake();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    this.client?.close();
    this.client = undefined;
  }
}

export class OvsdbPool {
  private readonly remotes = new Map<string, PooledRemote>();

  constructor(private readonly opts: OvsdbPoolOptions) {}

  /** Starts connecting to `remote` (once); later calls are no-ops. */
  ensure(remote: string): void {
    if (!this.remotes.has(remote)) this.remotes.set(remote, new PooledRemote(remote, this.opts));
  }

  /** The shared connection to `remote` for one operation (close() on it is a no-op). Throws when not connected within `timeoutMs`. */
  async ports(remote: string, timeoutMs = 5000): Promise<OvsPorts> {
    this.ensure(remote);
    const client = await (this.remotes.get(remote) as PooledRemote).ready(timeoutMs);
    return OvsPorts.over(client);
  }

  connected(remote: string): boolean {
    return this.remotes.get(remote)?.connected ?? false;
  }

  state(): RemoteState[] {
    return [...this.remotes.values()].map((r) => {
      const s: RemoteState = { remote: r.remote, connected: r.connected };
      if (!r.connected && r.lastError !== undefined) s.error = r.lastError;
      return s;
    });
  }

  stateOf(remote: string): RemoteState | undefined {
    return this.state().find((s) => s.remote === remote);
  }

  close(): void {
    for (const r of this.remotes.values()) r.close();
    this.remotes.clear();
  }
}
