/**
 * bench:cni — what a runtime waits for: the built `bin/ovnic` ADD and DEL (veth, dual stack,
 * OVS port on a private OVS+OVN stack, delegated host-local IPAM), with the OVN binding wait on
 * and off, against Debian's Go `bridge` + `host-local` (/usr/lib/cni) on the same machine in the
 * same run, and the floor `node -e 0`. Every plugin is spawned the same way (clean environment,
 * config on stdin, a fresh netns per container created outside the timing), variants interleaved.
 * Per NIC type (OVN wait on): veth, internal-macvtap, and dpdk-vhostuser on a second stack running
 * ovs-vswitchd-dpdk (skipped when it is not installed or OVNIC_BENCH_DPDK=0).
 *
 * Run: npm run build && npm run bench:cni [-- iterations]. Final line: one JSON object.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvnStack } from '../src/sandbox/stack.js';
import { OVNIC_BIN, REPO_ROOT, SYSTEM_CNI_DIR, cniEnvironment, runPlugin, type CniCall } from '../src/sandbox/plugin.js';
import { PodNetns, randomSuffix } from '../src/sandbox/pods.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CoreV1Api } from '@kubernetes/client-node';
import { startApiServer } from '../test/apiserver/index.js';

const ITERATIONS = Number(process.argv[2] ?? 30);
const DPDK_VSWITCHD = '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk';
const WITH_DPDK = process.env.OVNIC_BENCH_DPDK !== '0' && existsSync(DPDK_VSWITCHD);
const CNI_VERSION = '1.0.0';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const p90 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))] as number;
const round = (x: number): number => Math.round(x * 10) / 10;
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

function hostLocal(dataDir: string, v4: string, v6: string): Record<string, unknown> {
  return {
    type: 'host-local',
    dataDir,
    ranges: [[{ subnet: `${v4}.0/24`, gateway: `${v4}.1` }], [{ subnet: `${v6}::/64`, gateway: `${v6}::1` }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
  };
}

/** One timed spawn of `argv` with the same clean environment the plugins get. */
function timeSpawn(argv: string[]): number {
  const env = cniEnvironment({ command: 'VERSION' });
  const started = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { env, input: '{}', stdio: ['pipe', 'ignore', 'ignore'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

interface Variant {
  name: string;
  binary: string;
  config: (i: number) => Record<string, unknown>;
  call: (command: 'ADD' | 'DEL', i: number, netns: string) => CniCall;
  add: number[];
  del: number[];
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'ovnic.cjs'))) throw new Error('dist/ovnic.cjs is missing: run `npm run build` first');
  const tag = randomSuffix();
  const dataDir = mkdtempSync(join(tmpdir(), 'ovnic-bench-cni-'));
  const bridgeName = `cnib${tag}`;
  const netnsList: PodNetns[] = [];
  const stack = await OvnStack.start({ name: 'bc' });
  let dpdkStack: OvnStack | undefined;
  try {
    if (WITH_DPDK) dpdkStack = await OvnStack.start({ name: 'bcd', dpdk: true });
    for (const s of dpdkStack ? [stack, dpdkStack] : [stack]) {
      await s.nbctl('ls-add', 'ls-bench');
      for (let i = 0; i < ITERATIONS + 1; i++) {
        await s.nbctl('lsp-add', 'ls-bench', `bench${i}.default`, '--', 'lsp-set-addresses', `bench${i}.default`, 'unknown');
      }
    }
    const ovnicVariant = (name: string, wait: boolean, cniVersion = CNI_VERSION, nic: Record<string, unknown> = {}, on: OvnStack = stack): Variant => ({
      name,
      binary: OVNIC_BIN,
      config: () => ({
        cniVersion,
        name: `bench-${name}`,
        type: 'ovnic',
        ovsdb: on.ovsdbRemote,
        ovsNetns: on.netnsPath,
        ovnWait: { enabled: wait, timeoutMs: 10_000 },
        ipam: hostLocal(join(dataDir, name), '10.16.0', 'fd00:10:16'),
        ...nic,
      }),
      call: (command, i, netns) => ({
        command,
        containerId: `${name}${i}x${tag}`,
        netns,
        ifname: 'eth0',
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench${i}`,
        path: [SYSTEM_CNI_DIR],
      }),
      add: [],
      del: [],
    });
    const variants: Variant[] = [
      ovnicVariant('ovnic-wait', true),
      ovnicVariant('ovnic-nowait', false),
      {
        name: 'go-bridge',
        binary: join(SYSTEM_CNI_DIR, 'bridge'),
        config: () => ({
          cniVersion: CNI_VERSION,
          name: 'bench-bridge',
          type: 'bridge',
          bridge: bridgeName,
          isGateway: true,
          ipMasq: false,
          ipam: hostLocal(join(dataDir, 'bridge'), '10.17.0', 'fd00:10:17'),
        }),
        call: (command, i, netns) => ({ command, containerId: `br${i}x${tag}`, netns, ifname: 'eth0', args: 'IgnoreUnknown=1', path: [SYSTEM_CNI_DIR] }),
        add: [],
        del: [],
      },
      ovnicVariant('ovnic-wait-v1.1.0', true, '1.1.0'),
      ovnicVariant('ovnic-macvtap-wait', true, CNI_VERSION, { nicType: 'internal-macvtap', tapDeviceDir: join(dataDir, 'taps') }),
      ...(dpdkStack ? [ovnicVariant('ovnic-dpdk-wait', true, CNI_VERSION, { nicType: 'dpdk-vhostuser', vhostSocketDir: join(dataDir, 'vhu') }, dpdkStack)] : []),
    ];

    const floor: number[] = [];
    const version: number[] = [];
    // iteration 0 warms up (page cache, the Go bridge creates its bridge) and is not counted
    for (let i = 0; i <= ITERATIONS; i++) {
      floor.push(timeSpawn([process.execPath, '-e', '0']));
      version.push(timeSpawn([OVNIC_BIN]));
      for (const v of variants) {
        const ns = await PodNetns.create(`ovnic-bc-${tag}`);
        netnsList.push(ns);
        const add = await runPlugin(v.binary, v.call('ADD', i, ns.path), v.config(i));
        if (add.exitCode !== 0) throw new Error(`${v.name} ADD #${i}: ${add.stdout} ${add.stderr}`);
        const del = await runPlugin(v.binary, v.call('DEL', i, ns.path), v.config(i));
        if (del.exitCode !== 0) throw new Error(`${v.name} DEL #${i}: ${del.stdout} ${del.stderr}`);
        if (i > 0) {
          v.add.push(add.durationMs);
          v.del.push(del.durationMs);
        }
        await ns.remove();
      }
      if (i === 0) {
        floor.length = 0;
        version.length = 0;
      }
    }

    const row = (label: string, xs: number[]): string => `${label.padEnd(34)} median ${median(xs).toFixed(1).padStart(6)} ms   p90 ${p90(xs).toFixed(1).padStart(6)}   min ${Math.min(...xs).toFixed(1).padStart(6)}`;
    process.stdout.write(`CNI ADD/DEL, ${ITERATIONS} runs each, dual stack, host-local IPAM, cniVersion ${CNI_VERSION} unless noted\n`);
    process.stdout.write(`${row('node -e 0 (floor)', floor)}\n${row('ovnic VERSION', version)}\n`);
    for (const v of variants) process.stdout.write(`${row(`${v.name} ADD`, v.add)}\n${row(`${v.name} DEL`, v.del)}\n`);

    const daemonFigures = await benchDaemon(stack, dataDir, tag);
    process.stdout.write(`${row('via daemon, host-local ADD', daemonFigures.ipam.add)}\n${row('via daemon, host-local DEL', daemonFigures.ipam.del)}\n`);
    process.stdout.write(`${row('via daemon, annotations ADD', daemonFigures.annotations.add)}\n${row('via daemon, annotations DEL', daemonFigures.annotations.del)}\n`);

    const m = (name: string, op: 'add' | 'del'): number => round(median((variants.find((v) => v.name === name) as Variant)[op]));
    const bridgeAdd = m('go-bridge', 'add');
    const bridgeDel = m('go-bridge', 'del');
    const summary = {
      bench: 'cni',
      iterations: ITERATIONS,
      cniVersion: CNI_VERSION,
      node_floor_ms: round(median(floor)),
      ovnic_version_ms: round(median(version)),
      ovnic_add_wait_ms: m('ovnic-wait', 'add'),
      ovnic_add_wait_min_ms: round(Math.min(...(variants.find((v) => v.name === 'ovnic-wait') as Variant).add)),
      ovnic_add_nowait_ms: m('ovnic-nowait', 'add'),
      ovnic_del_ms: m('ovnic-wait', 'del'),
      ovnic_add_wait_v110_ms: m('ovnic-wait-v1.1.0', 'add'),
      go_bridge_add_ms: bridgeAdd,
      go_bridge_add_min_ms: round(Math.min(...(variants.find((v) => v.name === 'go-bridge') as Variant).add)),
      go_bridge_add_p90_ms: round(p90((variants.find((v) => v.name === 'go-bridge') as Variant).add)),
      go_bridge_del_ms: bridgeDel,
      ratio_add_wait_vs_bridge: ratio(m('ovnic-wait', 'add'), bridgeAdd),
      ratio_add_nowait_vs_bridge: ratio(m('ovnic-nowait', 'add'), bridgeAdd),
      ratio_add_nowait_minus_floor_vs_bridge: ratio(m('ovnic-nowait', 'add') - round(median(floor)), bridgeAdd),
      ratio_del_vs_bridge: ratio(m('ovnic-wait', 'del'), bridgeDel),
      target_add_le_bridge: m('ovnic-nowait', 'add') <= bridgeAdd,
      add_ms_by_nic_type: {
        veth: m('ovnic-wait', 'add'),
        'internal-macvtap': m('ovnic-macvtap-wait', 'add'),
        'dpdk-vhostuser': dpdkStack ? m('ovnic-dpdk-wait', 'add') : null,
      },
      del_ms_by_nic_type: {
        veth: m('ovnic-wait', 'del'),
        'internal-macvtap': m('ovnic-macvtap-wait', 'del'),
        'dpdk-vhostuser': dpdkStack ? m('ovnic-dpdk-wait', 'del') : null,
      },
      daemon_add_ms: round(median(daemonFigures.ipam.add)),
      daemon_del_ms: round(median(daemonFigures.ipam.del)),
      daemon_add_annotations_ms: round(median(daemonFigures.annotations.add)),
      daemon_del_annotations_ms: round(median(daemonFigures.annotations.del)),
      ratio_daemon_add_vs_standalone: ratio(median(daemonFigures.ipam.add), m('ovnic-wait', 'add')),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    for (const ns of netnsList) await ns.remove();
    try {
      execFileSync('ip', ['link', 'del', bridgeName], { stdio: 'ignore' });
    } catch {
      // never created
    }
    await stack.stop();
    await dpdkStack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The node daemon path: bin/ovnic forwarding to `node dist/ovnic.mjs daemon` (shared OVSDB
// connection, pod cache), with the same host-local IPAM as the standalone variants, and with
// the addresses from pod annotations (pods pre-annotated in the API server test double).

interface DaemonFigures {
  ipam: { add: number[]; del: number[] };
  annotations: { add: number[]; del: number[] };
}

async function benchDaemon(stack: OvnStack, dataDir: string, tag: string): Promise<DaemonFigures> {
  const figures: DaemonFigures = { ipam: { add: [], del: [] }, annotations: { add: [], del: [] } };
  const api = await startApiServer();
  const kubeconfig = join(dataDir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig);
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const socket = join(dataDir, 'daemon.sock');
  const daemon = spawn(
    process.execPath,
    [join(REPO_ROOT, 'dist', 'ovnic.mjs'), 'daemon', '--socket', socket, '--kubeconfig', kubeconfig, '--node', 'bench', '--ovsdb', stack.ovsdbRemote, '--metrics-port', '-1', '--gc-interval', '0'],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OVNIC_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: daemon.stdout as NodeJS.ReadableStream }).once('line', () => resolve());
      void exited.then(() => reject(new Error('ovnic daemon exited before it was ready')));
    });
    for (let i = 0; i <= ITERATIONS; i++) {
      const hex = (i + 2).toString(16).padStart(2, '0');
      await core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: {
            name: `bench${i}`,
            annotations: {
              'ovn.kubernetes.io/allocated': 'true',
              'ovn.kubernetes.io/ip_address': `10.18.0.${i + 2},fd00:10:18::${hex}`,
              'ovn.kubernetes.io/cidr': '10.18.0.0/24,fd00:10:18::/64',
              'ovn.kubernetes.io/gateway': '10.18.0.1,fd00:10:18::1',
              'ovn.kubernetes.io/mac_address': `0a:00:00:10:18:${hex}`,
              'ovn.kubernetes.io/routed': 'true',
            },
          },
          spec: { nodeName: 'bench', containers: [{ name: 'c', image: 'pause' }] },
        },
      });
    }
    const base = { cniVersion: CNI_VERSION, type: 'ovnic', serverSocket: socket, ovsdb: stack.ovsdbRemote, ovsNetns: stack.netnsPath, ovnWait: { enabled: true, timeoutMs: 10_000 } };
    const modes = [
      { key: 'ipam' as const, config: { ...base, name: 'bench-daemon-ipam', ipam: hostLocal(join(dataDir, 'daemon'), '10.19.0', 'fd00:10:19') } },
      { key: 'annotations' as const, config: { ...base, name: 'bench-daemon-ann' } },
    ];
    for (let i = 0; i <= ITERATIONS; i++) {
      for (const mode of modes) {
        const ns = await PodNetns.create(`ovnic-bd-${tag}`);
        try {
          const call = (command: 'ADD' | 'DEL'): CniCall => ({
            command,
            containerId: `d${mode.key}${i}x${tag}`,
            netns: ns.path,
            ifname: 'eth0',
            args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench${i}`,
            path: [SYSTEM_CNI_DIR],
          });
          const add = await runPlugin(OVNIC_BIN, call('ADD'), mode.config);
          if (add.exitCode !== 0) throw new Error(`daemon ${mode.key} ADD #${i}: ${add.stdout}`);
          const del = await runPlugin(OVNIC_BIN, call('DEL'), mode.config);
          if (del.exitCode !== 0) throw new Error(`daemon ${mode.key} DEL #${i}: ${del.stdout}`);
          if (i > 0) {
            figures[mode.key].add.push(add.durationMs);
            figures[mode.key].del.push(del.durationMs);
          }
        } finally {
          await ns.remove();
        }
      }
    }
  } finally {
    daemon.kill('SIGTERM');
    await exited;
    await api.close();
  }
  return figures;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:cni failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
