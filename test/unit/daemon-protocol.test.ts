/**
 * The plugin ↔ daemon line protocol: frames, and the plugin's transport failures (code 11) against
 * real unix sockets served by this test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CniError } from '../../src/cni/errors.js';
import { decodeResponse, encodeRequest, forwardToDaemon, forwardedEnv } from '../../src/cni/forward.js';
import { runCni } from '../../src/cni/skel.js';
import { decodeRequest } from '../../src/daemon/server.js';
import type { CniHandlers } from '../../src/cni/skel.js';

const dir = mkdtempSync(join(tmpdir(), 'ovnic-proto-'));
let seq = 0;
const servers: Server[] = [];

afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(onLine: (line: string, socket: Socket) => void): Promise<string> {
  const path = join(dir, `s${seq++}.sock`);
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) onLine(buf.slice(0, nl), socket);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return path;
}

async function caught(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    return err as CniError;
  }
  throw new Error('no error');
}

describe('frames', () => {
  it('a request carries the CNI_* and OVNIC_* variables and stdin, one line; the daemon decodes it', () => {
    const line = encodeRequest({ CNI_COMMAND: 'ADD', CNI_ARGS: 'K8S_POD_NAME=a', OVNIC_LOG_LEVEL: 'debug', PATH: '/bin', HOME: '/root', K: undefined }, '{"a":\n1}');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(decodeRequest(line.slice(0, -1))).toEqual({ v: 1, env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'K8S_POD_NAME=a', OVNIC_LOG_LEVEL: 'debug' }, stdin: '{"a":\n1}' });
    expect(forwardedEnv({ CNI_PATH: '/opt/cni/bin', LANG: 'C' })).toEqual({ CNI_PATH: '/opt/cni/bin' });
  });

  it('malformed requests and answers are named', () => {
    expect(() => decodeRequest('x')).toThrow(/not JSON/);
    expect(() => decodeRequest('{"v":2,"env":{},"stdin":""}')).toThrow(/protocol version 2/);
    expect(() => decodeRequest('{"v":1,"env":{"A":1},"stdin":""}')).toThrow(/env.A/);
    expect(() => decodeRequest('{"v":1,"env":[],"stdin":""}')).toThrow(/env/);
    expect(() => decodeRequest('{"v":1,"env":{}}')).toThrow(/stdin/);
    expect(decodeResponse('{"v":1,"stdout":"x","exitCode":0}\n')).toEqual({ v: 1, stdout: 'x', exitCode: 0 });
    expect(() => decodeResponse('{"v":1,"stdout":"x"}')).toThrow(/exitCode/);
    expect(() => decodeResponse('[]')).toThrow(/protocol version|object/);
  });
});

describe('forwardToDaemon', () => {
  it('passes the daemon answer through unchanged', async () => {
    const path = await serve((line, socket) => {
      const req = JSON.parse(line) as { env: Record<string, string> };
      socket.end(`${JSON.stringify({ v: 1, stdout: `got ${req.env.CNI_COMMAND}\n`, exitCode: 3 })}\n`);
    });
    expect(await forwardToDaemon(path, { CNI_COMMAND: 'DEL' }, '{}')).toEqual({ stdout: 'got DEL\n', stderr: '', exitCode: 3 });
  });

  it('no socket → 11 naming the socket and the daemon', async () => {
    const err = await caught(forwardToDaemon(join(dir, 'missing.sock'), { CNI_COMMAND: 'ADD' }, '{}'));
    expect(err.code).toBe(11);
    expect(err.msg).toBe(`ovnic node daemon is not reachable at ${join(dir, 'missing.sock')}`);
    expect(err.details).toMatch(/ENOENT.*ovnic-node DaemonSet/);
  });

  it('closed without an answer → 11; garbage → 11; no answer in time → 11', async () => {
    const closing = await serve((_line, socket) => socket.end());
    expect((await caught(forwardToDaemon(closing, {}, '{}'))).msg).toMatch(/closed the connection without answering/);
    const garbage = await serve((_line, socket) => socket.end('hello\n'));
    const g = await caught(forwardToDaemon(garbage, {}, '{}'));
    expect([g.code, g.msg]).toEqual([11, expect.stringMatching(/unreadable answer/)]);
    const silent = await serve(() => undefined);
    const s = await caught(forwardToDaemon(silent, {}, '{}', { responseTimeoutMs: 200 }));
    expect([s.code, s.msg]).toEqual([11, expect.stringMatching(/did not answer within 200 ms/)]);
  });

  it('runCni forwards when the configuration has serverSocket, after validating it; without, runs the handlers', async () => {
    const path = await serve((_line, socket) => socket.end(`${JSON.stringify({ v: 1, stdout: 'from daemon\n', exitCode: 0 })}\n`));
    let handled = 0;
    const handlers = { status: async () => void handled++ } as unknown as CniHandlers;
    const env = { CNI_COMMAND: 'STATUS', CNI_PATH: '/usr/lib/cni' };
    const forward = async (input: { socket: string; rawEnv: Record<string, string | undefined>; stdin: string | Uint8Array }) =>
      forwardToDaemon(input.socket, input.rawEnv, input.stdin);
    const withSocket = await runCni(env, JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'ovnic', serverSocket: path }), { handlers, forward });
    expect(withSocket.stdout).toBe('from daemon\n');
    expect(handled).toBe(0);
    const bad = await runCni(env, JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'ovnic', serverSocket: 'relative' }), { handlers, forward });
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 7 });
    const down = await runCni(env, JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'ovnic', serverSocket: join(dir, 'gone.sock') }), { handlers, forward });
    expect([down.exitCode, JSON.parse(down.stdout).code]).toEqual([1, 11]);
    const standalone = await runCni(env, JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'ovnic' }), { handlers, forward });
    expect([standalone.exitCode, handled]).toEqual([0, 1]);
  });
});
