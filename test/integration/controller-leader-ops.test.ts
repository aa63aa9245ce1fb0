/** OpsServer over real HTTP on loopback: /metrics in Prometheus text format, /healthz and /readyz codes. */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { OpsServer, type ProbeResult } from '../../src/controller/http.js';
import { PROMETHEUS_CONTENT_TYPE, Registry } from '../../src/util/metrics.js';

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('OpsServer', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(health: () => Promise<ProbeResult>, ready: () => Promise<ProbeResult>, registry = new Registry()): Promise<number> {
    server = new OpsServer({ port: 0, host: '127.0.0.1', registry, health, ready, probeTimeoutMs: 200 });
    return server.start();
  }

  it('serves the registry in Prometheus text format', async () => {
    const registry = new Registry();
    registry.counter('ovnic_reconcile_total', 'Reconciles').inc({ result: 'ok' }, 3);
    registry.gauge('ovnic_queue_depth', 'Queue depth').set({}, 7);
    registry.histogram('ovnic_reconcile_seconds', 'Reconcile latency', [0.1, 1]).observe({}, 0.05);
    const port = await start(async () => ({ ok: true }), async () => ({ ok: true }), registry);
    expect(port).toBeGreaterThan(0);
    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(res.body).toBe([
      '# HELP ovnic_reconcile_total Reconciles', '# TYPE ovnic_reconcile_total counter', 'ovnic_reconcile_total{result="ok"} 3',
      '# HELP ovnic_queue_depth Queue depth', '# TYPE ovnic_queue_depth gauge', 'ovnic_queue_depth 7',
      '# HELP ovnic_reconcile_seconds Reconcile latency', '# TYPE ovnic_reconcile_seconds histogram',
      'ovnic_reconcile_seconds_bucket{le="0.1"} 1', 'ovnic_reconcile_seconds_bucket{le="1"} 1', 'ovnic_reconcile_seconds_bucket{le="+Inf"} 1',
      'ovnic_reconcile_seconds_sum 0.05', 'ovnic_reconcile_seconds_count 1', '',
    ].join('\n'));
    // Later changes show up: the text is rendered per request.
    registry.gauge('ovnic_queue_depth', 'Queue depth').set({}, 0);
    expect((await get(port, '/metrics')).body).toContain('ovnic_queue_depth 0');
  });

  it('answers /healthz and /readyz 200 or 503 with the detail, following the checks', async () => {
    let ready: ProbeResult = { ok: false, detail: 'not leader: waiting for the Lease' };
    const port = await start(async () => ({ ok: true }), async () => ready);
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: 'not leader: waiting for the Lease\n' });
    ready = { ok: true, detail: 'informers synced' };
    expect(await get(port, '/readyz')).toMatchObject({ status: 200, body: 'ok: informers synced\n' });
    expect(await get(port, '/readyz?verbose')).toMatchObject({ status: 200 });
    expect(await get(port, '/readyz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('treats a throwing or hanging check as failed', async () => {
    const port = await start(async () => {
      throw new Error('OVSDB connection lost');
    }, () => new Promise<ProbeResult>(() => undefined));
    expect(await get(port, '/healthz')).toMatchObject({ status: 503, body: 'check failed: OVSDB connection lost\n' });
    expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: 'check timed out after 200 ms\n' });
  });

  it('answers 404 for other paths and 405 for other methods; close() frees the port', async () => {
    const port = await start(async () => ({ ok: true }), async () => ({ ok: true }));
    expect((await get(port, '/nope')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    await server?.close();
    server = undefined;
    await expect(get(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    const again = new OpsServer({ port, host: '127.0.0.1', registry: new Registry(), health: async () => ({ ok: true }), ready: async () => ({ ok: true }) });
    expect(await again.start()).toBe(port);
    await again.close();
  });
});
