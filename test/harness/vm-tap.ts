/**
 * Drives test/harness/vm-tap.py: a process that opens a macvtap's character device as a
 * hypervisor would and speaks ARP, ICMP, ND and ICMPv6 on it (Node cannot issue TUNSETIFF).
 * The process runs inside a netns (`ip netns exec`), as a VM launcher in the pod would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'vm-tap.py');

export interface VmTapOptions {
  /** The char device node to open. */
  device: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  /** Run inside this netns (name under /run/netns). */
  netns?: string;
  /** clear: TUNSETIFF without IFF_VNET_HDR (default); strip: keep the 10-byte virtio_net_hdr and strip it. */
  vnetHdr?: 'clear' | 'strip';
}

export interface PingAnswer {
  cmd: 'ping4' | 'ping6';
  dst: string;
  src: string;
  ok: boolean;
  peerMac?: string;
  rttMs?: number;
  error?: string;
}

export interface VmTapStats {
  arpReplies: number;
  naSent: number;
  echo4Replies: number;
  echo6Replies: number;
  framesIn: number;
  framesOut: number;
}

const ANSWER_TIMEOUT_MS = 15_000;

export class VmTap {
  private out = '';
  private err = '';
  private readonly lines: Record<string, unknown>[] = [];
  private waiter: (() => void) | undefined;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    /** vnet header size in use (0 when cleared). */
    public vnetHdr = 0,
  ) {
    child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      this.waiter?.();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.err += d.toString();
    });
    child.on('exit', () => {
      this.exited = true;
      this.waiter?.();
    });
  }

  static async start(opts: VmTapOptions): Promise<VmTap> {
    const args = [SCRIPT, opts.device, opts.mac, opts.ipv4, opts.ipv6, '--vnet-hdr', opts.vnetHdr ?? 'clear'];
    const child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, 'python3', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const vm = new VmTap(child);
    try {
      const ready = await vm.next();
      if (ready.event !== 'ready') throw new Error(`vm-tap: unexpected first line ${JSON.stringify(ready)}`);
      vm.vnetHdr = Number(ready.vnetHdr);
    } catch (err) {
      await vm.stop();
      throw err;
    }
    return vm;
  }

  ping4(dst: string, src?: string): Promise<PingAnswer> {
    return this.command(`ping4 ${dst}${src ? ` ${src}` : ''}`) as Promise<unknown> as Promise<PingAnswer>;
  }

  ping6(dst: string, src?: string): Promise<PingAnswer> {
    return this.command(`ping6 ${dst}${src ? ` ${src}` : ''}`) as Promise<unknown> as Promise<PingAnswer>;
  }

  async stats(): Promise<VmTapStats> {
    return (await this.command('stats')) as unknown as VmTapStats;
  }

  /** Ends the process (quit, then SIGKILL if it lingers). Never throws. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.stdin?.end('quit\n');
    const deadline = Date.now() + 3000;
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private async command(line: string): Promise<Record<string, unknown>> {
    this.child.stdin?.write(`${line}\n`);
    return this.next();
  }

  private async next(): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (this.lines.length === 0) {
      if (this.exited) throw new Error(`vm-tap exited: ${this.err.trim()}`);
      if (Date.now() > deadline) throw new Error(`vm-tap did not answer within ${ANSWER_TIMEOUT_MS} ms: ${this.err.trim()}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 200);
      });
      this.waiter = undefined;
    }
    return this.lines.shift() as Record<string, unknown>;
  }
}
