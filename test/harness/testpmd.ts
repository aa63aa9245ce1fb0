/**
 * dpdk-testpmd as a vhost-user server peer standing in for a VM: a `net_virtio_user` vdev in
 * server mode creates the unix socket that an OVS `dpdkvhostuserclient` port connects to, and
 * testpmd forwards every frame it receives straight back (macswap / 5tswap / io).
 *
 * No hugepages and no PCI: `--no-huge -m 256 --no-pci`, a small mbuf pool, 2 lcores (main + one
 * forwarding core, which busy-polls). The binary and its libraries come from
 * scripts/setup-dpdk.sh, located through $OVNIC_TESTPMD / $LD_LIBRARY_PATH or the env file the
 * script writes ($OVNIC_DPDK_TOOLS_DIR/testpmd.env, default /var/cache/ovnic-dpdk).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type ForwardMode = 'macswap' | '5tswap' | 'io' | 'rxonly';

export interface TestpmdOptions {
  /** Socket testpmd creates and listens on (the OVS port's vhost-server-path). */
  socketPath: string;
  /** macswap echoes with MACs swapped; 5tswap also swaps IPs and L4 ports (a UDP echo). */
  forwardMode?: ForwardMode;
  /** DPDK `--file-prefix`; unique per process (default: random). */
  filePrefix?: string;
  /** Seconds between stats blocks (default 1). */
  statsPeriod?: number;
}

export interface TestpmdCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export interface TestpmdTools {
  binary: string;
  ldLibraryPath: string;
}

const DPDK_RUN_DIR = '/var/run/dpdk';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Where dpdk-testpmd is, or undefined when scripts/setup-dpdk.sh has not been run. */
export function findTestpmd(): TestpmdTools | undefined {
  const fromEnv = process.env.OVNIC_TESTPMD;
  if (fromEnv && existsSync(fromEnv)) return { binary: fromEnv, ldLibraryPath: process.env.LD_LIBRARY_PATH ?? '' };
  const envFile = join(process.env.OVNIC_DPDK_TOOLS_DIR ?? '/var/cache/ovnic-dpdk', 'testpmd.env');
  if (!existsSync(envFile)) return undefined;
  const vars = new Map<string, string>();
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const binary = vars.get('OVNIC_TESTPMD');
  if (!binary || !existsSync(binary)) return undefined;
  return { binary, ldLibraryPath: vars.get('LD_LIBRARY_PATH') ?? '' };
}

/** Counter snapshots from testpmd's periodic "NIC statistics for port N" blocks, oldest first. */
export function parseTestpmdStats(output: string): TestpmdCounters[] {
  const snapshots: TestpmdCounters[] = [];
  const blocks = output.split(/NIC statistics for port \d+/).slice(1);
  for (const block of blocks) {
    const rx = /RX-packets:\s*(\d+)\s+RX-missed:\s*\d+\s+RX-bytes:\s*(\d+)/.exec(block);
    const tx = /TX-packets:\s*(\d+)\s+TX-errors:\s*\d+\s+TX-bytes:\s*(\d+)/.exec(block);
    if (!rx || !tx) continue;
    snapshots.push({ rxPackets: Number(rx[1]), rxBytes: Number(rx[2]), txPackets: Number(tx[1]), txBytes: Number(tx[2]) });
  }
  return snapshots;
}

/** Totals of the "Accumulated forward statistics for all ports" block printed on exit. */
export function parseTestpmdForwardTotals(output: string): { rxPackets: number; txPackets: number } | undefined {
  const at = output.lastIndexOf('Accumulated forward statistics');
  if (at < 0) return undefined;
  const m = /RX-packets:\s*(\d+)[\s\S]*?TX-packets:\s*(\d+)/.exec(output.slice(at));
  return m ? { rxPackets: Number(m[1]), txPackets: Number(m[2]) } : undefined;
}

export class Testpmd {
  private out = '';
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private stopped = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly filePrefix: string,
    readonly socketPath: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        this.exitCode = code ?? (sig ? null : 0);
        resolve(code);
      });
      child.once('error', (err) => {
        this.out += `\nspawn error: ${err.message}\n`;
        this.exitCode = null;
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Starts testpmd and resolves once its vhost-user socket listens. */
  static async start(opts: TestpmdOptions, tools: TestpmdTools | undefined = findTestpmd()): Promise<Testpmd> {
    if (!tools) throw new Error('dpdk-testpmd not found: run `bash scripts/setup-dpdk.sh` first');
    const filePrefix = opts.filePrefix ?? `ovnic-tp-${randomBytes(3).toString('hex')}`;
    const args = [
      '-l', '0-1', '--no-huge', '-m', '256', '--no-pci', `--file-prefix=${filePrefix}`,
      `--vdev=net_virtio_user0,path=${opts.socketPath},server=1,queues=1`,
      '--', `--forward-mode=${opts.forwardMode ?? 'macswap'}`, '--total-num-mbufs=8192',
      `--stats-period=${opts.statsPeriod ?? 1}`,
    ];
    const child = spawn(tools.binary, args, {
      env: { ...process.env, LD_LIBRARY_PATH: tools.ldLibraryPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tp = new Testpmd(child, filePrefix, opts.socketPath);
    try {
      await tp.waitForOutput(/waiting for client connection/, START_TIMEOUT_MS);
    } catch (err) {
      await tp.stop();
      throw err;
    }
    return tp;
  }

  /** Waits until the output matches; fails early when testpmd exits. */
  async waitForOutput(re: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.out)) {
      if (!this.running) throw new Error(`dpdk-testpmd exited (code ${this.exitCode}) before ${re}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`dpdk-testpmd: no ${re} within ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The newest periodic counters, or undefined before the first stats block. */
  latestCounters(): TestpmdCounters | undefined {
    return parseTestpmdStats(this.out).at(-1);
  }

  /** Waits for a stats block whose counters satisfy `pred`. */
  async waitForCounters(pred: (c: TestpmdCounters) => boolean, timeoutMs: number): Promise<TestpmdCounters> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const c = this.latestCounters();
      if (c && pred(c)) return c;
      if (!this.running) throw new Error(`dpdk-testpmd exited (code ${this.exitCode}):\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`dpdk-testpmd counters not reached within ${timeoutMs} ms (last ${JSON.stringify(c)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGINT by pid (testpmd prints its totals and closes the port), SIGKILL if it lingers; removes its EAL run dir. Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const pid = this.child.pid;
    if (pid !== undefined && this.running) {
      signal(pid, 'SIGINT');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS));
      if ((await Promise.race([this.exited, timer])) === 'timeout') {
        signal(pid, 'SIGKILL');
        await this.exited;
      }
    }
    rmSync(join(DPDK_RUN_DIR, this.filePrefix), { recursive: true, force: true });
  }

  tail(chars = 3000): string {
    return this.out.slice(-chars);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
