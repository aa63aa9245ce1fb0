/**
 * One JSON-RPC 1.0 session with an OVSDB server over a stream socket (RFC 7047 §4): request ids,
 * replies to the server's `echo`, our own keepalive `echo`, and notifications (update*, locked,
 * stolen) handed to a callback. A connection is single-use: once closed, open a new one.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { OvsdbDisconnectedError, OvsdbRpcError, OvsdbTimeoutError } from './errors.js';
import { JsonStreamFramer } from './framer.js';
import { openSocket } from './remote.js';

export interface RpcOptions {
  connectTimeoutMs?: number;
  /** Send an echo after this much inbound silence; the peer is dead after twice as much. 0 disables. */
  keepaliveIntervalMs?: number;
  log?: Logger;
}

export type NotificationHandler = (method: string, params: unknown[]) => void;

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Message {
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

export class RpcConnection {
  private readonly framer = new JsonStreamFramer();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastInbound = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private closeError: Error | undefined;
  private readonly closeHandlers: ((err: Error) => void)[] = [];
  private notificationHandler: NotificationHandler = () => undefined;

  private constructor(
    readonly remote: string,
    private readonly socket: Socket,
    private readonly log: Logger,
    keepaliveIntervalMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(new OvsdbDisconnectedError(`${remote}: ${err.message}`)));
    socket.on('close', () => this.shutdown(new OvsdbDisconnectedError(`${remote}: connection closed`)));
    if (keepaliveIntervalMs > 0) {
      this.keepaliveTimer = setInterval(() => this.keepalive(keepaliveIntervalMs), keepaliveIntervalMs);
      this.keepaliveTimer.unref();
    }
  }

  static async open(remote: string, opts: RpcOptions = {}): Promise<RpcConnection> {
    const socket = await openSocket(remote, opts.connectTimeoutMs ?? 5000);
    const log = opts.log ?? silentLogger;
    log.debug({ remote }, 'ovsdb connected');
    return new RpcConnection(remote, socket, log, opts.keepaliveIntervalMs ?? 5000);
  }

  get closed(): boolean {
    return this.closeError !== undefined;
  }

  onNotification(handler: NotificationHandler): void {
    this.notificationHandler = handler;
  }

  /** Called once, with the reason, when the connection ends (including close()). */
  onClose(handler: (err: Error) => void): void {
    if (this.closeError) handler(this.closeError);
    else this.closeHandlers.push(handler);
  }

  request<R = unknown>(method: string, params: unknown[], timeoutMs?: number): Promise<R> {
    if (this.closeError) return Promise.reject(this.closeError);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = timeoutMs
        ? setTimeout(() => {
          this.pending.delete(id);
          reject(new OvsdbTimeoutError(`${this.remote}: ${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs)
        : undefined;
      this.pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject, timer });
      this.send({ method, params, id });
    });
  }

  /** Closes the connection; pending requests fail with OvsdbDisconnectedError. */
  close(reason = 'closed by client'): void {
    this.shutdown(new OvsdbDisconnectedError(`${this.remote}: ${reason}`));
    this.socket.destroy();
  }

  private send(msg: object): void {
    const text = JSON.stringify(msg);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ remote: this.remote, send: truncate(text) }, 'ovsdb >');
    this.socket.write(text);
  }

  private onData(chunk: Buffer): void {
    this.lastInbound = Date.now();
    let messages: unknown[];
    try {
      messages = this.framer.push(chunk);
    } catch (err) {
      this.log.warn({ remote: this.remote, err }, 'ovsdb protocol error');
      this.close(`protocol error: ${(err as Error).message}`);
      return;
    }
    for (const m of messages) this.dispatch(m as Message);
  }

  private dispatch(msg: Message): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ remote: this.remote, recv: truncate(JSON.stringify(msg)) }, 'ovsdb <');
    if (typeof msg.method === 'string') {
      const params = Array.isArray(msg.params) ? (msg.params as unknown[]) : [];
      if (msg.id !== null && msg.id !== undefined) {
        // A request from the server: echo is the only one RFC 7047 defines.
        if (msg.method === 'echo') this.send({ id: msg.id, result: params, error: null });
        else this.send({ id: msg.id, result: null, error: `unknown method ${msg.method}` });
        return;
      }
      try {
        this.notificationHandler(msg.method, params);
      } catch (err) {
        this.log.error({ remote: this.remote, err, method: msg.method }, 'ovsdb notification handler failed');
      }
      return;
    }
    if (typeof msg.id !== 'number') return; // reply to our keepalive echo, or unknown
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.error !== null && msg.error !== undefined) p.reject(new OvsdbRpcError(p.method, msg.error));
    else p.resolve(msg.result);
  }

  private keepalive(intervalMs: number): void {
    const silence = Date.now() - this.lastInbound;
    if (silence >= 2 * intervalMs) {
      this.log.warn({ remote: this.remote, silenceMs: silence }, 'ovsdb peer not answering keepalive');
      this.close(`no reply to keepalive for ${silence} ms`);
    } else if (silence >= intervalMs) {
      this.send({ method: 'echo', params: [], id: 'keepalive' });
    }
  }

  private shutdown(err: Error): void {
    if (this.closeError) return;
    this.closeError = err;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.log.debug({ remote: this.remote, reason: err.message }, 'ovsdb connection closed');
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new OvsdbDisconnectedError(`${p.method} interrupted, outcome unknown: ${err.message}`));
    }
    this.pending.clear();
    for (const h of this.closeHandlers.splice(0)) h(err);
  }
}

function truncate(s: string): string {
  return s.length > 2000 ? `${s.slice(0, 2000)}…(${s.length} bytes)` : s;
}
