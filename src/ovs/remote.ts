/** OVSDB remote strings as the OVS tools spell them: `unix:/path`, `tcp:host:port`, `tcp:[v6]:port`. */
import { connect, type Socket } from 'node:net';
import { OvsdbDisconnectedError, OvsdbUsageError } from './errors.js';

export type Remote = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseRemote(remote: string): Remote {
  if (remote.startsWith('unix:')) {
    const path = remote.slice(5);
    if (!path) throw new OvsdbUsageError(`bad remote ${JSON.stringify(remote)}: empty path`);
    return { kind: 'unix', path };
  }
  const m = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(remote);
  if (m) {
    const port = Number(m[3]);
    if (port > 0 && port < 65536) return { kind: 'tcp', host: (m[1] ?? m[2]) as string, port };
  }
  throw new OvsdbUsageError(`bad remote ${JSON.stringify(remote)}: expected unix:PATH or tcp:HOST:PORT`);
}

/** Splits a comma-separated remote list (as in OVN_NB_DB) into remotes. */
export function splitRemotes(remotes: string | readonly string[]): string[] {
  const list = typeof remotes === 'string' ? remotes.split(',') : [...remotes];
  const out = list.map((r) => r.trim()).filter(Boolean);
  if (out.length === 0) throw new OvsdbUsageError('no OVSDB remote given');
  for (const r of out) parseRemote(r);
  return out;
}

/** Opens a stream socket to the remote, failing after `timeoutMs`. */
export function openSocket(remote: string, timeoutMs: number): Promise<Socket> {
  const r = parseRemote(remote);
  return new Promise((resolve, reject) => {
    const sock = r.kind === 'unix' ? connect({ path: r.path }) : connect({ host: r.host, port: r.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new OvsdbDisconnectedError(`${remote}: connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      if (r.kind === 'tcp') sock.setNoDelay(true);
      resolve(sock);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new OvsdbDisconnectedError(`${remote}: ${err.message}`));
    };
    sock.once('error', onError);
  });
}
