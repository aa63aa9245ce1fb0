/**
 * A private Open vSwitch + OVN stack in its own directory: ovsdb-server (Open_vSwitch),
 * ovs-vswitchd on the userspace datapath inside its own network namespace, OVN NB and SB
 * ovsdb-servers, ovn-northd and ovn-controller, with a `br-int` netdev bridge.
 *
 * Used by the test suite and by `npm run sandbox`. Several stacks can run at once: each has
 * its own run directory and its own vswitchd netns (the userspace datapath creates fixed-name
 * tap devices such as `ovs-netdev`, which would collide in a shared namespace).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface StackOptions {
  /** Directory for db/run/log files; a fresh temp dir when omitted. */
  dir?: string;
  /** Short tag used in the netns and chassis names. */
  name?: string;
  /** Start NB/SB/northd/ovn-controller (default true). */
  ovn?: boolean;
  /** Also listen for NB on tcp 127.0.0.1 (random port). */
  nbTcp?: boolean;
  /** Run the DPDK build of ovs-vswitchd (no hugepages). */
  dpdk?: boolean;
  /** Remove the directory on stop (default: true when `dir` was not given). */
  removeDir?: boolean;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

const DAEMON_EXIT_TIMEOUT_MS = 3000;
const DPDK_VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk';
const COMMON = ['--detach', '--no-chdir', '-vconsole:off'];

export class OvnStack {
  readonly runDir: string;
  readonly logDir: string;
  readonly dbDir: string;
  readonly systemId: string;
  readonly netns: string;
  /** OVSDB remote of the Open_vSwitch database. */
  readonly ovsdbRemote: string;
  readonly nbRemote: string;
  readonly sbRemote: string;
  nbTcpRemote: string | undefined;
  private stopped = false;
  private readonly removeDir: boolean;

  private constructor(
    readonly dir: string,
    readonly options: Required<Pick<StackOptions, 'ovn' | 'nbTcp' | 'dpdk'>>,
    removeDir: boolean,
    tag: string,
  ) {
    this.runDir = join(dir, 'run');
    this.logDir = join(dir, 'log');
    this.dbDir = join(dir, 'db');
    this.systemId = `chassis-${tag}`;
    this.netns = `ovnic-sb-${tag}`;
    this.ovsdbRemote = `unix:${join(this.runDir, 'db.sock')}`;
    this.nbRemote = `unix:${join(this.runDir, 'ovnnb_db.sock')}`;
    this.sbRemote = `unix:${join(this.runDir, 'ovnsb_db.sock')}`;
    this.removeDir = removeDir;
  }

  /** Path of the vswitchd network namespace, as a CNI config's `ovsNetns` wants it. */
  get netnsPath(): string {
    return `/run/netns/${this.netns}`;
  }

  static async start(opts: StackOptions = {}): Promise<OvnStack> {
    const tag = (opts.name ?? 's') + randomBytes(3).toString('hex');
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ovnic-stack-'));
    const stack = new OvnStack(
      dir,
      { ovn: opts.ovn ?? true, nbTcp: opts.nbTcp ?? false, dpdk: opts.dpdk ?? false },
      opts.removeDir ?? opts.dir === undefined,
      tag,
    );
    try {
      await stack.boot();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** Environment under which ovs-vsctl, ovn-nbctl, ovn-sbctl and ovs-appctl find this stack. */
  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      OVS_RUNDIR: this.runDir,
      OVS_LOGDIR: this.logDir,
      OVS_DBDIR: this.dbDir,
      OVS_SYSCONFDIR: join(this.dir, 'etc'),
      OVN_RUNDIR: this.runDir,
      OVN_LOGDIR: this.logDir,
      OVN_DBDIR: this.dbDir,
      OVN_SYSCONFDIR: join(this.dir, 'etc'),
      OVN_NB_DB: this.nbRemote,
      OVN_SB_DB: this.sbRemote,
    };
  }

  async tool(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<ToolResult> {
    try {
      const { stdout, stderr } = await execFileAsync(cmd, [...args], { env: this.env(), timeout: timeoutMs });
      return { stdout, stderr };
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  async vsctl(...args: string[]): Promise<string> {
    return (await this.tool('ovs-vsctl', ['--timeout=20', `--db=${this.ovsdbRemote}`, ...args])).stdout.trim();
  }

  async nbctl(...args: string[]): Promise<string> {
    return (await this.tool('ovn-nbctl', ['--timeout=20', `--db=${this.nbRemote}`, ...args])).stdout.trim();
  }

  async sbctl(...args: string[]): Promise<string> {
    return (await this.tool('ovn-sbctl', ['--timeout=20', `--db=${this.sbRemote}`, ...args])).stdout.trim();
  }

  /** Runs a command inside the vswitchd network namespace. */
  async inNetns(cmd: string, args: readonly string[]): Promise<string> {
    return (await this.tool('ip', ['netns', 'exec', this.netns, cmd, ...args])).stdout.trim();
  }

  private async boot(): Promise<void> {
    for (const d of [this.runDir, this.logDir, this.dbDir, join(this.dir, 'etc')]) mkdirSync(d, { recursive: true });
    await this.tool('ip', ['netns', 'add', this.netns]);
    await this.tool('ip', ['-n', this.netns, 'link', 'set', 'lo', 'up']);

    await this.startOvsdbServer();
    await this.vsctl(
      '--no-wait', 'init', '--', 'set', 'Open_vSwitch', '.',
      `external_ids:system-id=${this.systemId}`,
      'other_config:userspace-tso-enable=true',
      `external_ids:ovn-remote=${this.sbRemote}`,
      'external_ids:ovn-encap-type=geneve',
      'external_ids:ovn-encap-ip=127.0.0.1',
      'external_ids:ovn-bridge=br-int',
      'external_ids:ovn-bridge-datapath-type=netdev',
    );
    if (this.options.dpdk) {
      await this.vsctl(
        '--no-wait', 'set', 'Open_vSwitch', '.', 'other_config:dpdk-init=true',
        `other_config:dpdk-extra=--no-huge --legacy-mem --no-pci -m 512 --file-prefix=${this.netns}`,
        'other_config:pmd-maxsleep=10000',
      );
    }
    await this.startVswitchd();
    if (this.options.dpdk) {
      await this.vsctl('wait-until', 'Open_vSwitch', '.', 'dpdk_initialized=true');
    }
    await this.vsctl(
      '--may-exist', 'add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev',
      'fail-mode=secure', 'other_config:disable-in-band=true',
    );
    if (!this.options.ovn) return;

    for (const db of ['nb', 'sb'] as const) {
      await this.tool('ovsdb-tool', ['create', join(this.dbDir, `ovn${db}_db.db`), `/usr/share/ovn/ovn-${db}.ovsschema`]);
      await this.startOvnDb(db);
    }
    await this.nbctl('--no-wait', 'init');
    await this.tool('ovn-northd', [
      `--pidfile=${this.pidfile('ovn-northd')}`, `--unixctl=${this.ctl('ovn-northd')}`,
      `--log-file=${join(this.logDir, 'ovn-northd.log')}`,
      `--ovnnb-db=${this.nbRemote}`, `--ovnsb-db=${this.sbRemote}`, ...COMMON,
    ]);
    // ovn-controller 23.03 rejects --unixctl; its control socket is ovn-controller.<pid>.ctl
    await this.tool('ovn-controller', [
      this.ovsdbRemote, `--pidfile=${this.pidfile('ovn-controller')}`,
      `--log-file=${join(this.logDir, 'ovn-controller.log')}`, ...COMMON,
    ]);
    // --wait=hv returns at once while the chassis is not yet registered: wait for it first.
    await this.sbctl('wait-until', 'Chassis', this.systemId);
    await this.nbctl('--wait=hv', 'sync');
  }

  private pidfile(name: string): string {
    return join(this.runDir, `${name}.pid`);
  }

  private ctl(name: string): string {
    return join(this.runDir, `${name}.ctl`);
  }

  private async startOvsdbServer(): Promise<void> {
    const db = join(this.dbDir, 'conf.db');
    if (!existsSync(db)) await this.tool('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema']);
    await this.tool('ovsdb-server', [
      db, `--remote=punix:${join(this.runDir, 'db.sock')}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
      `--pidfile=${this.pidfile('ovsdb-server')}`, `--unixctl=${this.ctl('ovsdb-server')}`,
      `--log-file=${join(this.logDir, 'ovsdb-server.log')}`, ...COMMON,
    ]);
  }

  private async startVswitchd(): Promise<void> {
    const binary = this.options.dpdk ? DPDK_VSWITCHD : 'ovs-vswitchd';
    await this.tool('ip', [
      'netns', 'exec', this.netns, binary, this.ovsdbRemote,
      `--pidfile=${this.pidfile('ovs-vswitchd')}`, `--unixctl=${this.ctl('ovs-vswitchd')}`,
      `--log-file=${join(this.logDir, 'ovs-vswitchd.log')}`, ...COMMON,
    ], 60_000);
  }

  private async startOvnDb(db: 'nb' | 'sb'): Promise<void> {
    const name = `ovn${db}_db`;
    const args = [
      join(this.dbDir, `${name}.db`), `--pidfile=${this.pidfile(name)}`, `--unixctl=${this.ctl(name)}`,
      `--log-file=${join(this.logDir, `ovsdb-server-${db}.log`)}`, `--remote=punix:${join(this.runDir, `${name}.sock`)}`,
    ];
    if (db === 'nb' && this.options.nbTcp) {
      const port = this.nbTcpRemote ? Number(this.nbTcpRemote.split(':').pop()) : 0;
      args.push(`--remote=ptcp:${port}:127.0.0.1`);
    }
    await this.tool('ovsdb-server', [...args, ...COMMON]);
    if (db === 'nb' && this.options.nbTcp && !this.nbTcpRemote) {
      this.nbTcpRemote = `tcp:127.0.0.1:${await this.boundTcpPort(name)}`;
    }
  }

  private async boundTcpPort(name: string): Promise<number> {
    const log = join(this.logDir, 'ovsdb-server-nb.log');
    for (let i = 0; i < 100; i++) {
      const m = existsSync(log) ? /listening on port (\d+)/.exec(readFileSync(log, 'utf8')) : null;
      if (m) return Number(m[1]);
      await sleep(20);
    }
    throw new Error(`${name}: tcp listening port not found in ${log}`);
  }

  private readPid(name: string): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidfile(name), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops one daemon (by pid, waiting until it is gone). Used to inject server failures. */
  async kill(daemon: 'ovsdb-server' | 'ovs-vswitchd' | 'ovnnb_db' | 'ovnsb_db' | 'ovn-northd' | 'ovn-controller'): Promise<void> {
    const pid = this.readPid(daemon);
    if (pid === undefined) return;
    signal(pid, 'SIGTERM');
    await waitGone(pid);
  }

  /** Restarts a daemon previously stopped with kill(), on the same database file and sockets. */
  async restart(daemon: 'ovsdb-server' | 'ovs-vswitchd' | 'ovnnb_db' | 'ovnsb_db'): Promise<void> {
    if (daemon === 'ovsdb-server') await this.startOvsdbServer();
    else if (daemon === 'ovs-vswitchd') await this.startVswitchd();
    else await this.startOvnDb(daemon === 'ovnnb_db' ? 'nb' : 'sb');
  }

  /** Stops every daemon by pid, removes the netns and (optionally) the directory. Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Read pids first: the daemons delete their pidfiles on exit.
    const order = ['ovn-controller', 'ovn-northd', 'ovnnb_db', 'ovnsb_db', 'ovs-vswitchd', 'ovsdb-server'];
    const pids = order.map((n) => [n, this.readPid(n)] as const);
    const vswitchd = this.readPid('ovs-vswitchd');
    if (vswitchd !== undefined) {
      // --cleanup removes the datapath tap devices (ovs-netdev, br-int, internal ports).
      await this.tool('ovs-appctl', ['-t', this.ctl('ovs-vswitchd'), 'exit', '--cleanup'], 5000).catch(() => undefined);
    }
    for (const [, pid] of pids) if (pid !== undefined) signal(pid, 'SIGTERM');
    await Promise.all(pids.map(([, pid]) => (pid === undefined ? undefined : waitGone(pid))));
    await this.tool('ip', ['netns', 'del', this.netns]).catch(() => undefined);
    if (this.options.dpdk) rmSync(`/var/run/dpdk/${this.netns}`, { recursive: true, force: true });
    if (this.removeDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True while the process runs; a zombie (exited, not yet reaped by init) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + DAEMON_EXIT_TIMEOUT_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + DAEMON_EXIT_TIMEOUT_MS;
  while (alive(pid) && Date.now() < killDeadline) await sleep(10);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
