/**
 * Network namespaces standing in for pods, and the traffic checks run between them: ping and a
 * TCP echo exchange (a small node server/client started inside the netns with `ip netns exec`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, [...args], { timeout: timeoutMs });
    return { stdout, stderr };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

export function randomSuffix(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

export class PodNetns {
  private removed = false;

  private constructor(readonly name: string) {}

  /** `ip netns add <prefix>-<random>` with lo down (the plugin brings it up). */
  static async create(prefix: string): Promise<PodNetns> {
    const name = `${prefix}-${randomSuffix()}`;
    await run('ip', ['netns', 'add', name]);
    return new PodNetns(name);
  }

  /** CNI_NETNS for this pod. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  exec(cmd: string, args: readonly string[], timeoutMs?: number): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** `ip -j <args>` inside the netns, parsed. */
  async ip<T = unknown>(...args: string[]): Promise<T> {
    const { stdout } = await run('ip', ['-n', this.name, '-j', ...args]);
    return JSON.parse(stdout || '[]') as T;
  }

  /** `count` pings to `address` (from `source` if given); resolves with the received count (never throws on loss). */
  async ping(address: string, count = 2, timeoutS = 2, source?: string): Promise<number> {
    const args = [...(address.includes(':') ? ['-6'] : []), '-c', String(count), '-W', String(timeoutS), '-i', '0.2'];
    if (source) args.push('-I', source);
    args.push(address);
    try {
      const { stdout } = await this.exec('ping', args, (count * timeoutS + 5) * 1000);
      return receivedOf(stdout);
    } catch (err) {
      return receivedOf((err as Error).message);
    }
  }

  /** Deletes the netns (links inside go with it). Idempotent, never throws. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

function receivedOf(pingOutput: string): number {
  const m = /(\d+) (?:packets )?received/.exec(pingOutput);
  return m ? Number(m[1]) : 0;
}

const SERVER_SCRIPT = `
const net = require('node:net');
const server = net.createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    if (buf.includes('\\n')) { s.end('echo from ' + process.env.OVNIC_POD + ': ' + buf.trim().toUpperCase() + ' via ' + s.localAddress + '\\n'); }
  });
  s.on('error', () => {});
});
server.listen({ host: '::', port: Number(process.argv[1]), ipv6Only: false }, () => process.stdout.write('listening\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

const CLIENT_SCRIPT = `
const net = require('node:net');
const [host, port, message] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) }, () => s.write(message + '\\n'));
let reply = '';
s.on('data', (d) => { reply += d; });
s.on('end', () => { process.stdout.write(reply); process.exit(0); });
s.on('error', (e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });
setTimeout(() => { process.stderr.write('timed out\\n'); process.exit(2); }, Number(process.env.OVNIC_TCP_TIMEOUT_MS || 5000));
`;

export class TcpEchoServer {
  private constructor(private readonly child: ChildProcess) {}

  /** A TCP server inside `pod` on [::]:port (IPv4 and IPv6) answering each line with an echo. */
  static start(pod: PodNetns, port: number, label = pod.name): Promise<TcpEchoServer> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', pod.name, process.execPath, '-e', SERVER_SCRIPT, String(port)], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OVNIC_POD: label },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`TCP server in ${pod.name} did not start: ${err.trim()}`));
      }, 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('listening')) {
          clearTimeout(timer);
          resolve(new TcpEchoServer(child));
        }
      });
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`TCP server in ${pod.name} exited with ${code}: ${err.trim()}`));
      });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Connects from `pod` to host:port, sends `message`, returns the server's reply. */
export async function tcpExchange(pod: PodNetns, host: string, port: number, message: string): Promise<string> {
  const { stdout } = await pod.exec(process.execPath, ['-e', CLIENT_SCRIPT, host, String(port), message], 15_000);
  return stdout.trim();
}
