/**
 * The node daemon's CNI socket: a unix stream socket speaking the one-request-per-connection
 * line protocol of src/cni/forward.ts. A plugin that closes its side before the answer is
 * written fires the request's AbortSignal (a waiting ADD gives up).
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { CniError, CniErrorCode } from '../cni/errors.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type DaemonRequest, type DaemonResponse } from '../cni/forward.js';
import { CURRENT_VERSION } from '../cni/version.js';
import type { Logger } from '../util/log.js';

export type RequestHandler = (request: DaemonRequest, signal: AbortSignal) => Promise<DaemonResponse>;

/** A request frame → DaemonRequest; throws a plain Error naming what is wrong. */
export function decodeRequest(line: string): DaemonRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new Error(`request is not JSON: ${(err as Error).message}`);
  }
  const r = parsed as Partial<DaemonRequest> | null;
  if (typeof r !== 'object' || r === null) throw new Error('request is not a JSON object');
  if (r.v !== PROTOCOL_VERSION) throw new Error(`protocol version ${JSON.stringify(r.v)}, this daemon speaks ${PROTOCOL_VERSION}`);
  if (typeof r.stdin !== 'string') throw new Error('request lacks "stdin" (string)');
  if (typeof r.env !== 'object' || r.env === null || Array.isArray(r.env)) throw new Error('request lacks "env" (object)');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.env)) {
    if (typeof v !== 'string') throw new Error(`env.${k} is not a string`);
    env[k] = v;
  }
  return { v: PROTOCOL_VERSION, env, stdin: r.stdin };
}

export function errorResponse(err: CniError): DaemonResponse {
  return { v: PROTOCOL_VERSION, stdout: `${JSON.stringify(err.toJson(CURRENT_VERSION))}\n`, exitCode: 1 };
}

/** Refuses to take over a socket another live daemon answers on; removes a stale one. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process is serving ${path}`);
  unlinkSync(path);
}

export class CniSocketServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    readonly path: string,
    private readonly handle: RequestHandler,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    await clearStaleSocket(this.path);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o660);
    server.on('error', (err) => this.log.error({ err: err.message }, 'CNI socket error'));
    this.server = server;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** Stops accepting; waits up to `graceMs` for requests being served, then drops their connections. */
  async close(graceMs = 10_000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    await closed;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    const chunks: Buffer[] = [];
    let size = 0;
    let started = false;
    const abort = new AbortController();
    socket.on('close', () => {
      this.sockets.delete(socket);
      abort.abort();
    });
    // the plugin keeps its side open until the answer: an end before it means the plugin went away
    socket.on('error', () => undefined);
    const start = (frame: Buffer): void => {
      if (started) return;
      started = true;
      const served = this.serve(socket, frame.toString('utf8'), abort.signal);
      this.pending.add(served);
      void served.finally(() => this.pending.delete(served));
    };
    socket.on('data', (chunk: Buffer) => {
      if (started) return;
      const nl = chunk.indexOf(0x0a);
      chunks.push(nl >= 0 ? chunk.subarray(0, nl) : chunk);
      size += chunk.length;
      if (nl >= 0) start(Buffer.concat(chunks));
      else if (size > MAX_FRAME_BYTES) {
        started = true;
        this.reply(socket, errorResponse(new CniError(CniErrorCode.IoFailure, `request larger than ${MAX_FRAME_BYTES} bytes`)));
      }
    });
    socket.on('end', () => {
      if (started) abort.abort();
      else start(Buffer.concat(chunks));
    });
  }

  private async serve(socket: Socket, line: string, signal: AbortSignal): Promise<void> {
    let request: DaemonRequest;
    try {
      request = decodeRequest(line);
    } catch (err) {
      this.reply(socket, errorResponse(new CniError(CniErrorCode.DecodingFailure, 'malformed request to the ovnic node daemon', (err as Error).message)));
      return;
    }
    let response: DaemonResponse;
    try {
      response = await this.handle(request, signal);
    } catch (err) {
      this.log.error({ err }, 'request handler failed');
      response = errorResponse(new CniError(CniErrorCode.Internal, 'ovnic node daemon failed', (err as Error).message));
    }
    this.reply(socket, response);
  }

  private reply(socket: Socket, response: DaemonResponse): void {
    if (socket.destroyed) return;
    socket.end(`${JSON.stringify(response)}\n`);
  }
}
