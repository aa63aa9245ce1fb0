/**
 * runController(): kubeconfig file, NB remote, leader election on a Lease, the ops endpoint
 * (/healthz, /readyz, /metrics with the controller's metrics), a NicPort converging, clean stop that
 * releases the Lease; and `main()` argument errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, runController, type RunEnd } from '../../src/controller/main.js';
import { silentLogger } from '../../src/util/log.js';
import { ControllerBed, eventually } from './controller-fixture.js';

describe('ovnic controller entry point', () => {
  let bed: ControllerBed;
  let dir: string;

  beforeAll(async () => {
    bed = await ControllerBed.start('ctm');
    dir = mkdtempSync(join(tmpdir(), 'ovnic-ctl-'));
    await bed.subnet({ name: 'sn-m', cidrBlock: '10.50.0.0/24' });
  });

  afterAll(async () => {
    await bed?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs with leader election, serves probes and metrics, reconciles, stops cleanly and releases the Lease', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    bed.api.writeKubeconfig(kubeconfig);
    const abort = new AbortController();
    let port = 0;
    const run: Promise<RunEnd> = runController({
      kubeconfig,
      nbRemotes: bed.stack.nbRemote,
      metricsPort: 0,
      metricsHost: '127.0.0.1',
      leaseNamespace: 'kube-system',
      identity: 'ctl-test-1',
      leaseDurationSec: 4,
      renewDeadlineSec: 3,
      retryPeriodSec: 1,
      signal: abort.signal,
      log: silentLogger,
      onListening: (p) => {
        port = p;
      },
    });
    try {
      await eventually(() => port !== 0);
      const get = async (path: string): Promise<{ status: number; body: string }> => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: r.status, body: await r.text() };
      };
      await eventually(async () => (await get('/readyz')).status === 200 && (await get('/healthz')).status === 200, 15_000, 'ready');
      const lease = await eventually(() => bed.api.get('leases', 'kube-system', 'ovnic-controller'));
      expect((lease.spec as { holderIdentity?: string }).holderIdentity).toBe('ctl-test-1');

      await bed.createNicPort('default', 'via-main', { subnet: 'sn-m' });
      await eventually(() => bed.nicPort('default', 'via-main')?.status?.stat === 'phase0.1', 15_000, 'NicPort converged');
      const metrics = (await get('/metrics')).body;
      expect(metrics).toMatch(/ovnic_controller_reconcile_seconds_count\{result="ok"\} [1-9]/);
      expect(metrics).toMatch(/ovnic_controller_nb_transactions_total\{result="ok"\} [1-9]/);
      expect(metrics).toContain('ovnic_controller_ipam_used{family="ipv4",subnet="sn-m"} 1');
      expect(metrics).toContain('ovnic_controller_ipam_free{family="ipv4",subnet="sn-m"} 252');
      expect(metrics).toContain('ovnic_controller_queue_depth');
      expect(metrics).toContain('ovnic_leader_is_leader');
    } finally {
      abort.abort();
    }
    expect(await run).toBe('stopped');
    const released = bed.api.get('leases', 'kube-system', 'ovnic-controller');
    expect((released?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '').toBe('');
  });

  it('main() refuses unknown options and bad values with exit code 2', async () => {
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await main(['--bogus'])).toBe(2);
      expect(await main(['--workers', 'many'])).toBe(2);
      expect(await main(['--leader-elect', 'maybe'])).toBe(2);
    } finally {
      process.stderr.write = stderr;
    }
  });
});
