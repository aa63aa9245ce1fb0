/**
 * `npm run bench:controller`: 5,000 NicPorts on one dual-stack Kube-OVN subnet.
 *
 * Set-up: a bare OVN_Northbound ovsdb-server (with the subnet's logical switch, as Kube-OVN makes it),
 * the Kubernetes API server double in this process, and the controller in a child process (plain node
 * running bench/controller-child.ts bundled exactly as the build bundles dist/ovnic-controller.mjs),
 * so its peak RSS is measured alone.
 *
 * 1. Converge: with the controller running, 5,000 NicPorts are created through the API (real
 *    client-node, 32 at a time); measured until every LSP exists in NB and every NicPort's status was
 *    written (phase0.1). Checked afterwards: addresses unique, NB ports equal the statuses.
 * 2. Restart: the controller is stopped and started over the 5,000 unchanged NicPorts; counted until it
 *    reconciled them all: NB write transactions (its own counter and an independent NB monitor) and
 *    Kubernetes writes (status and others).
 * Peak RSS (VmHWM) of each controller process. Targets: converge ≤ 30 s, restart NB writes 0, RSS ≤ 200 MB.
 * The last line printed is one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { build, type BuildOptions } from 'esbuild';
// @ts-expect-error plain JS build helper without types
import { controllerBundleOptions } from '../scripts/controller-bundle.mjs';
import { PooledKubeConfig } from '../src/controller/kube.js';
import type { NicPort } from '../src/controller/nicport.js';
import { NB, OvsdbClient, nbOps } from '../src/ovs/index.js';
import { silentLogger } from '../src/util/log.js';
import { startApiServer, type ApiServer } from '../test/apiserver/index.js';
import { NB_SCHEMA, OvsdbServers } from '../test/harness/ovsdb-server.js';

const N = Number(process.env.OVNIC_BENCH_NICPORTS ?? 5000);
const WORKERS = Number(process.env.OVNIC_BENCH_WORKERS ?? 16);
const CREATE_CONCURRENCY = 32;
const SUBNET = 'bench-sn';
const NAMESPACES = ['default', 'tenant-a', 'tenant-b', 'tenant-c'];
const NP = { group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports' };
const root = join(import.meta.dirname, '..');

interface Child {
  proc: ChildProcess;
  port: number;
}

async function bundleChild(): Promise<string> {
  const dir = join(root, 'node_modules', '.cache', 'ovnic-bench');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'controller-child.mjs');
  // bundled as the build bundles dist/ovnic-controller.mjs
  await build(controllerBundleOptions(join(root, 'bench', 'controller-child.ts'), outfile) as BuildOptions);
  return outfile;
}

async function startChild(script: string, env: NodeJS.ProcessEnv): Promise<Child> {
  const proc = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    lines.once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    proc.once('exit', (code) => reject(new Error(`controller exited early (${code})`)));
  });
  return { proc, port };
}

/** Peak resident set (VmHWM) in MB (10^6 bytes). */
function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round((kib * 1024) / 1e5) / 10;
}

async function stopChild(c: Child): Promise<void> {
  const exited = new Promise<void>((resolve) => c.proc.once('exit', () => resolve()));
  c.proc.kill('SIGTERM');
  await exited;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function sum(m: Map<string, number>, prefix: string): number {
  let s = 0;
  for (const [k, v] of m) if (k === prefix || k.startsWith(`${prefix}{`)) s += v;
  return s;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the controller has reconciled at least `min` keys and its queue stayed empty for a while. */
async function drained(port: number, min: number, timeoutMs: number): Promise<void> {
  let quietSince = 0;
  await until(async () => {
    const m = await scrape(port);
    const done = sum(m, 'ovnic_controller_reconcile_seconds_count');
    const depth = sum(m, 'ovnic_controller_queue_depth');
    if (done >= min && depth === 0) {
      if (quietSince === 0) quietSince = Date.now();
      return Date.now() - quietSince > 1500;
    }
    quietSince = 0;
    return false;
  }, timeoutMs, 'controller to drain its queue', 200);
}

function statusWrites(api: ApiServer): number {
  return api.writeRequests({ resource: 'nicports', subresource: 'status' }).length;
}

async function main(): Promise<void> {
  const servers = new OvsdbServers('benchctl');
  const dir = mkdtempSync(join(tmpdir(), 'ovnic-benchctl-'));
  let api: ApiServer | undefined;
  let child: Child | undefined;
  let nb: OvsdbClient | undefined;
  try {
    const script = await bundleChild();
    const srv = await servers.standalone('nb', NB_SCHEMA);
    nb = await OvsdbClient.connect(srv.remote, { log: silentLogger });
    await nb.transact(NB, [nbOps.insert('Logical_Switch', { name: SUBNET, other_config: { subnet: '10.128.0.0/16' } })]);
    const monitor = await nb.monitor(NB, { Logical_Switch_Port: { columns: ['name', 'addresses', 'external_ids'] } });
    let nbChanges = 0;
    monitor.replica.onChange(() => {
      nbChanges++;
    });

    api = await startApiServer({ crdFiles: ['deploy/crds/nicports.kubevirt.chinaunicom.com.yaml'], historySize: 50_000 });
    for (const ns of NAMESPACES.slice(1)) api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.seed({
      apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name: SUBNET },
      spec: { protocol: 'Dual', cidrBlock: '10.128.0.0/16,fd00:128::/112', provider: 'attachnet1.mec-nets.ovn', excludeIps: ['10.128.0.1..10.128.0.9'], vpc: 'ovn-cluster' },
    });
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    const env = { BENCH_KUBECONFIG: kubeconfig, BENCH_NB: srv.remote, BENCH_WORKERS: String(WORKERS) };

    // ---- 1. converge -------------------------------------------------------------------------
    child = await startChild(script, env);
    await until(async () => (await fetch(`http://127.0.0.1:${child?.port}/readyz`)).status === 200, 30_000, 'controller ready');
    const kc = PooledKubeConfig.from(api.kubeConfig());
    const co = kc.makeApiClient(CustomObjectsApi);
    const t0 = performance.now();
    let next = 0;
    const creator = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const ns = NAMESPACES[i % NAMESPACES.length] as string;
        await co.createNamespacedCustomObject({
          ...NP, namespace: ns,
          body: { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name: `np-${i}` }, spec: { subnet: SUBNET, cni: 'kube-ovn', network_type: 'bridge' } },
        });
      }
    };
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, creator));
    const createdMs = performance.now() - t0;
    const statusDone = new Set<string>();
    let scanned = 0;
    await until(() => {
      const reqs = api?.requests ?? [];
      for (; scanned < reqs.length; scanned++) {
        const r = reqs[scanned];
        if (r?.resource === 'nicports.kubevirt.chinaunicom.com' && r.subresource === 'status' && r.status === 200) statusDone.add(`${r.namespace}/${r.name}`);
      }
      return statusDone.size >= N && monitor.replica.table('Logical_Switch_Port').size >= N;
    }, 300_000, 'all LSPs and statuses', 20);
    const convergeMs = performance.now() - t0;
    await drained(child.port, N, 120_000);
    const firstMetrics = await scrape(child.port);
    const firstRss = peakRssMb(child.proc.pid);

    // verify: every NicPort phase0.1, addresses unique, NB equals status
    const nps = api.list('nicports') as NicPort[];
    const v4 = new Set<string>();
    const macs = new Set<string>();
    const ports = new Map([...monitor.replica.table('Logical_Switch_Port').values()].map((p) => [p.name, p]));
    let mismatched = 0;
    for (const np of nps) {
      if (np.status?.stat !== 'phase0.1') mismatched++;
      v4.add(np.status?.ipv4 ?? '');
      macs.add(np.status?.mac ?? '');
      const lsp = ports.get(np.status?.logicalSwitchPort ?? '');
      if (lsp?.addresses[0] !== `${np.status?.mac} ${np.status?.ipv4} ${np.status?.ipv6}`) mismatched++;
    }
    if (nps.length !== N || v4.size !== N || macs.size !== N || mismatched !== 0 || ports.size !== N) {
      throw new Error(`verification failed: ${nps.length} NicPorts, ${v4.size} distinct v4, ${macs.size} MACs, ${ports.size} ports, ${mismatched} mismatched`);
    }
    const convergeStatusWrites = statusWrites(api);
    const convergeNbTxns = sum(firstMetrics, 'ovnic_controller_nb_transactions_total{result="ok"}');
    console.log(`converge: ${N} NicPorts created in ${(createdMs / 1000).toFixed(1)} s; all LSPs + statuses after ${(convergeMs / 1000).toFixed(1)} s; `
      + `${convergeNbTxns} NB transactions, ${convergeStatusWrites} status writes, peak RSS ${firstRss} MB`);

    // ---- 2. restart over unchanged NicPorts ---------------------------------------------------
    await stopChild(child);
    child = undefined;
    const writesBefore = api.writeRequests().length;
    const statusBefore = statusWrites(api);
    const nbChangesBefore = nbChanges;
    const t1 = performance.now();
    child = await startChild(script, env);
    await until(async () => (await fetch(`http://127.0.0.1:${child?.port}/readyz`)).status === 200, 60_000, 'controller ready after restart');
    const readyMs = performance.now() - t1;
    await drained(child.port, N, 120_000);
    const restartMs = performance.now() - t1;
    const restartMetrics = await scrape(child.port);
    const restartRss = peakRssMb(child.proc.pid);
    const restartNbTxns = sum(restartMetrics, 'ovnic_controller_nb_transactions_total');
    const restartNbChanges = nbChanges - nbChangesBefore;
    const restartWrites = api.writeRequests().length - writesBefore;
    const restartStatusWrites = statusWrites(api) - statusBefore;
    console.log(`restart: ready after ${(readyMs / 1000).toFixed(1)} s, all ${N} reconciled after ${(restartMs / 1000).toFixed(1)} s; `
      + `${restartNbTxns} NB transactions (${restartNbChanges} NB row changes seen), ${restartWrites} API writes (${restartStatusWrites} status), peak RSS ${restartRss} MB`);
    await stopChild(child);
    child = undefined;

    const result = {
      bench: 'controller',
      nicports: N,
      workers: WORKERS,
      createSeconds: round(createdMs / 1000),
      convergeSeconds: round(convergeMs / 1000),
      convergeNbTransactions: convergeNbTxns,
      convergeStatusWrites,
      restartReadySeconds: round(readyMs / 1000),
      restartSeconds: round(restartMs / 1000),
      restartNbTransactions: restartNbTxns,
      restartNbRowChanges: restartNbChanges,
      restartApiWrites: restartWrites,
      restartStatusWrites,
      peakRssMb: Math.max(firstRss, restartRss),
      targets: { convergeSeconds: 30, restartNbTransactions: 0, peakRssMb: 200 },
      met: convergeMs / 1000 <= 30 && restartNbTxns === 0 && Math.max(firstRss, restartRss) <= 200,
    };
    console.log(JSON.stringify(result));
  } finally {
    if (child) await stopChild(child).catch(() => undefined);
    nb?.close();
    await api?.close();
    await servers.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

await main();
