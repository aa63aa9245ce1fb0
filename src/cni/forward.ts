/**
 * The CNI plugin side of the node daemon protocol: when the configuration has `serverSocket`,
 * the plugin sends its whole invocation (CNI_* and OVNIC_* variables, stdin) to the daemon and
 * prints the daemon's answer as its own.
 *
 * Protocol (one request per connection on a unix stream socket):
 *   plugin → daemon   one line: {"v":1,"env":{"CNI_COMMAND":"ADD",...},"stdin":"<network config>"}\n
 *                     (the plugin keeps the connection open: closing it abandons the request)
 *   daemon → plugin   one line: {"v":1,"stdout":"<what the plugin prints>","exitCode":0}\n
 *                     then the daemon closes the connection
 * JSON escapes newlines, so a line is a frame. The daemon runs the same dispatcher and command
 * code as the standalone plugin (src/cni/skel.ts runCni), so stdout is the CNI result or error.
 *
 * Failures of the transport are "try again later" (11): the daemon is not running yet (socket
 * missing, connection refused), restarted during the request (closed without an answer), or
 * answered something unreadable.
 */
import { createConnection } from 'node:net';
import { CniError, CniErrorCode } from './errors.js';
import type { RawEnv } from './env.js';
import type { CniOutcome, ForwardInput } from './skel.js';

export const PROTOCOL_VERSION = 1;

/** Longest frame either side accepts (a GC request lists every valid attachment). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface DaemonRequest {
  v: typeof PROTOCOL_VERSION;
  env: Record<string, string>;
  stdin: string;
}

export interface DaemonResponse {
  v: typeof PROTOCOL_VERSION;
  stdout: string;
  exitCode: number;
}

export interface ForwardOptions {
  /** Give up connecting after this long (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Give up waiting for the answer after this long (default 300000 ms; the daemon bounds its own waits). */
  responseTimeoutMs?: number;
}

/** The variables the daemon needs: the CNI ones and ovnic's own (log settings, test switches). */
export function forwardedEnv(env: RawEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (key.startsWith('CNI_') || key.startsWith('OVNIC_'))) out[key] = value;
  }
  return out;
}

export function encodeRequest(env: RawEnv, stdin: string | Uint8Array): string {
  const text = typeof stdin === 'string' ? stdin : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength).toString('utf8');
  const request: DaemonRequest = { v: PROTOCOL_VERSION, env: forwardedEnv(env), stdin: text };
  return `${JSON.stringify(request)}\n`;
}

/** Parses the daemon's answer; throws a plain Error naming what is wrong. */
export function decodeResponse(text: string): DaemonResponse {
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new Error(`answer is not JSON: ${(err as Error).message}`);
  }
  const r = parsed as Partial<DaemonResponse> | null;
  if (typeof r !== 'object' || r === null) throw new Error('answer is not a JSON object');
  if (r.v !== PROTOCOL_VERSION) throw new Error(`protocol version ${JSON.stringify(r.v)}, expected ${PROTOCOL_VERSION}`);
  if (typeof r.stdout !== 'string' || typeof r.exitCode !== 'number' || !Number.isInteger(r.exitCode)) {
    throw new Error('answer lacks "stdout" (string) or "exitCode" (integer)');
  }
  return { v: PROTOCOL_VERSION, stdout: r.stdout, exitCode: r.exitCode };
}

const unreachable = (socket: string, why: string): CniError =>
  new CniError(
    CniErrorCode.TryAgainLater,
    `ovnic node daemon is not reachable at ${socket}`,
    `${why}; is the ovnic node daemon (ovnic-node DaemonSet, \`ovnic daemon --socket ${socket}\`) running on this node?`,
  );

/** Sends one invocation to the daemon at `socket`; resolves with the daemon's outcome. Transport failures → CniError 11. */
export function forwardToDaemon(socket: string, env: RawEnv, stdin: string | Uint8Array, options: ForwardOptions = {}): Promise<CniOutcome> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const responseTimeoutMs = options.responseTimeoutMs ?? 300_000;
  const request = encodeRequest(env, stdin);
  return new Promise<CniOutcome>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let settled = false;
    const conn = createConnection({ path: socket });
    const finish = (err: CniError | undefined, outcome?: CniOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(outcome as CniOutcome);
    };
    let timer = setTimeout(() => finish(unreachable(socket, `no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    conn.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(new CniError(CniErrorCode.TryAgainLater, `ovnic node daemon at ${socket} did not answer within ${responseTimeoutMs} ms`)),
        responseTimeoutMs,
      );
      conn.write(request);
    });
    conn.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_FRAME_BYTES) {
        finish(new CniError(CniErrorCode.IoFailure, `ovnic node daemon at ${socket} sent an answer larger than ${MAX_FRAME_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    conn.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') {
        finish(new CniError(CniErrorCode.TryAgainLater, `ovnic node daemon at ${socket} closed the connection without answering`, 'the daemon may have restarted; retry'));
        return;
      }
      try {
        const response = decodeResponse(text);
        finish(undefined, { stdout: response.stdout, stderr: '', exitCode: response.exitCode });
      } catch (err) {
        finish(new CniError(CniErrorCode.TryAgainLater, `ovnic node daemon at ${socket} sent an unreadable answer`, (err as Error).message));
      }
    });
    conn.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        finish(unreachable(socket, `${err.code ?? 'error'}: ${err.message}`));
        return;
      }
      finish(new CniError(CniErrorCode.TryAgainLater, `connection to the ovnic node daemon at ${socket} failed`, `${err.code ?? 'error'}: ${err.message}`));
    });
  });
}

/** RunCniOptions.forward for the plugin binary. */
export function forward(input: ForwardInput): Promise<CniOutcome> {
  return forwardToDaemon(input.socket, input.rawEnv, input.stdin);
}
