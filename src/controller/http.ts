/**
 * The controller's operations endpoint: GET /metrics (Prometheus text format), /healthz (liveness) and
 * /readyz (readiness). A probe answers 200 "ok" or 503 with its detail; a probe that throws or takes longer
 * than probeTimeoutMs counts as failed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, type Registry } from '../util/metrics.js';

export interface ProbeResult {
  ok: boolean;
  detail?: string;
}

export interface OpsServerOptions {
  port: number;
  /** Default 0.0.0.0 (probes come from the kubelet on the pod IP). */
  host?: string;
  registry: Registry;
  health: () => Promise<ProbeResult>;
  ready: () => Promise<ProbeResult>;
  /** Default 5000. */
  probeTimeoutMs?: number;
}

const TEXT = 'text/plain; charset=utf-8';

export class OpsServer {
  private server: Server | undefined;

  constructor(private readonly opts: OpsServerOptions) {}

  /** Listens; resolves with the bound port (useful with port 0). */
  async start(): Promise<number> {
    if (this.server !== undefined) throw new Error('OpsServer already started');
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      this.send(res, 405, TEXT, 'method not allowed\n', head, { Allow: 'GET, HEAD' });
      return;
    }
    try {
      switch (path) {
        case '/metrics':
          this.send(res, 200, PROMETHEUS_CONTENT_TYPE, this.opts.registry.render(), head);
          return;
        case '/healthz':
        case '/livez':
          await this.probe(res, this.opts.health, head);
          return;
        case '/readyz':
          await this.probe(res, this.opts.ready, head);
          return;
        default:
          this.send(res, 404, TEXT, 'not found\n', head);
      }
    } catch (err) {
      this.send(res, 500, TEXT, `${(err as Error).message}\n`, head);
    }
  }

  private async probe(res: ServerResponse, check: () => Promise<ProbeResult>, head: boolean): Promise<void> {
    const result = await this.runProbe(check);
    const body = result.ok ? `ok${result.detail ? `: ${result.detail}` : ''}\n` : `${result.detail ?? 'not ok'}\n`;
    this.send(res, result.ok ? 200 : 503, TEXT, body, head);
  }

  private async runProbe(check: () => Promise<ProbeResult>): Promise<ProbeResult> {
    const ms = this.opts.probeTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: `check timed out after ${ms} ms` }), ms);
    });
    try {
      return await Promise.race([Promise.resolve().then(check), timeout]);
    } catch (err) {
      return { ok: false, detail: `check failed: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  private send(res: ServerResponse, code: number, type: string, body: string, head: boolean, extra: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
    res.end(head ? undefined : body);
  }
}
