/**
 * Bare ovsdb-server processes for client tests: a standalone database on its own unix socket
 * (optionally tcp), or a raft cluster of N members on 127.0.0.1. Every process is tracked by
 * pid and stopped in stop(), which never throws.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';

const run = promisify(execFile);

export const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface ServerProcess {
  name: string;
  db: string;
  sock: string;
  remote: string;
  /** tcp remote when started with tcp */
  tcpRemote?: string;
  pidfile: string;
  ctl: string;
  log: string;
  pid?: number;
  extraArgs: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OvsdbServers {
  readonly dir: string;
  readonly servers: ServerProcess[] = [];

  constructor(tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `ovnic-ovsdb-${tag}-`));
  }

  private proc(name: string, db: string): ServerProcess {
    const p: ServerProcess = {
      name,
      db,
      sock: join(this.dir, `${name}.sock`),
      remote: `unix:${join(this.dir, `${name}.sock`)}`,
      pidfile: join(this.dir, `${name}.pid`),
      ctl: join(this.dir, `${name}.ctl`),
      log: join(this.dir, `${name}.log`),
      extraArgs: [],
    };
    this.servers.push(p);
    return p;
  }

  /** A standalone database server. */
  async standalone(name: string, schema: string, opts: { tcp?: boolean } = {}): Promise<ServerProcess> {
    const p = this.proc(name, join(this.dir, `${name}.db`));
    await run('ovsdb-tool', ['create', p.db, schema]);
    if (opts.tcp) {
      const port = await freePort();
      p.extraArgs.push(`--remote=ptcp:${port}:127.0.0.1`);
      p.tcpRemote = `tcp:127.0.0.1:${port}`;
    }
    await this.start(p);
    return p;
  }

  /** A raft cluster of `n` members serving `schema`; returns members in creation order. */
  async cluster(prefix: string, schema: string, n: number): Promise<ServerProcess[]> {
    const members: ServerProcess[] = [];
    const ports: number[] = [];
    for (let i = 0; i < n; i++) ports.push(await freePort());
    const schemaName = (JSON.parse(readFileSync(schema, 'utf8')) as { name: string }).name;
    for (let i = 0; i < n; i++) {
      const p = this.proc(`${prefix}${i + 1}`, join(this.dir, `${prefix}${i + 1}.db`));
      const local = `tcp:127.0.0.1:${ports[i]}`;
      if (i === 0) await run('ovsdb-tool', ['create-cluster', p.db, schema, local]);
      else await run('ovsdb-tool', ['join-cluster', p.db, schemaName, local, `tcp:127.0.0.1:${ports[0]}`]);
      members.push(p);
    }
    for (const p of members) await this.start(p);
    return members;
  }

  async start(p: ServerProcess): Promise<void> {
    await run('ovsdb-server', [
      p.db, `--remote=punix:${p.sock}`, ...p.extraArgs, `--pidfile=${p.pidfile}`, `--unixctl=${p.ctl}`,
      `--log-file=${p.log}`, '--detach', '--no-chdir', '-vconsole:off',
    ]);
    p.pid = Number(readFileSync(p.pidfile, 'utf8').trim());
    for (let i = 0; i < 200 && !existsSync(p.sock); i++) await sleep(10);
  }

  /** Stops one server by pid (SIGKILL when `hard`) and waits until it is gone. */
  async kill(p: ServerProcess, hard = false): Promise<void> {
    const pid = p.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, hard ? 'SIGKILL' : 'SIGTERM');
    } catch {
      // already gone
    }
    for (let i = 0; i < 300 && alive(pid); i++) await sleep(10);
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      for (let i = 0; i < 300 && alive(pid); i++) await sleep(10);
    }
    p.pid = undefined;
    rmSync(p.sock, { force: true });
  }

  /** `ovsdb-client` against one server. */
  async client(p: ServerProcess, ...args: string[]): Promise<string> {
    const { stdout } = await run('ovsdb-client', [args[0] as string, p.remote, ...args.slice(1)], { timeout: 20_000 });
    return stdout;
  }

  /** `cluster/status` of a raft member, as text. */
  async clusterStatus(p: ServerProcess, dbName: string): Promise<string> {
    const { stdout } = await run('ovs-appctl', ['-t', p.ctl, 'cluster/status', dbName], { timeout: 10_000 });
    return stdout;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((p) => this.kill(p).catch(() => undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until every member reports itself a cluster member and one of them is leader. */
export async function waitClusterFormed(servers: OvsdbServers, members: readonly ServerProcess[], dbName: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(members.map((m) => servers.clusterStatus(m, dbName).catch(() => '')));
    const joined = statuses.every((s) => /Status: cluster member/.test(s));
    const leaders = statuses.filter((s) => /Role: leader/.test(s)).length;
    if (joined && leaders === 1) return;
    if (Date.now() > deadline) throw new Error(`raft cluster did not form:\n${statuses.join('\n---\n')}`);
    await sleep(100);
  }
}
