// nicType dpdk-vhostuser end to end through the built plugin on OVS-DPDK with OVN: ADD makes a
// dpdkvhostuserclient port bound to its logical switch port; dpdk-testpmd (a vhost-user server
// standing in for the VM) listens on the socket from the result, the port's link goes up, and a
// veth pod on the same logical switch exchanges UDP with the "VM" over OVN (testpmd 5tswap echoes
// every datagram back from the VM's address). DEL removes the port and the socket directory.
// Opt-in (heavy on 2 cores): bash scripts/setup-dpdk.sh && npm run test:dpdk
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnStack } from '../../../src/sandbox/stack.js';
import { PodNetns } from '../../../src/sandbox/pods.js';
import { SYSTEM_CNI_DIR, runPlugin, type CniCall, type PluginRun } from '../../../src/sandbox/plugin.js';
import { buildPrivatePlugin, type PrivateBuild } from '../../../src/sandbox/private-build.js';
import { hostLinkName } from '../../../src/cni/ownership.js';
import { ADD_STEPS } from '../../../src/nic/faults.js';
import { Testpmd, findTestpmd } from '../../harness/testpmd.js';
import { readInterface, waitForInterface } from './ovs-rows.js';

const enabled = process.env.OVNIC_TEST_DPDK === '1';

const LS = 'ls-dpdk';
const NETWORK = 'ovnic-dpdk';

interface Attachment {
  name: string;
  containerId: string;
  ifname: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  netns: PodNetns;
}

interface Result {
  interfaces: Array<{ name: string; mac?: string; sandbox?: string; socketPath?: string }>;
  ips: Array<{ address: string; interface: number }>;
}

describe.skipIf(!enabled)('dpdk-vhostuser through the CNI plugin on OVS-DPDK', () => {
  let stack: OvnStack;
  let build: PrivateBuild;
  let socketDir: string;
  let testpmd: Testpmd | undefined;
  const pods: Attachment[] = [];
  let vm: Attachment;
  let peer: Attachment;

  async function pod(name: string, n: number, ifname: string): Promise<Attachment> {
    const p: Attachment = {
      name,
      containerId: randomBytes(16).toString('hex'),
      ifname,
      mac: `0a:00:00:20:16:${n.toString(16).padStart(2, '0')}`,
      ipv4: `10.20.0.${n}`,
      ipv6: `fd00:20::${n.toString(16)}`,
      netns: await PodNetns.create('ovnic-dp'),
    };
    pods.push(p);
    const addresses = `${p.mac} ${p.ipv4} ${p.ipv6}`;
    await stack.nbctl('lsp-add', LS, `${name}.default`, '--', 'lsp-set-addresses', `${name}.default`, addresses, '--', 'lsp-set-port-security', `${name}.default`, addresses);
    return p;
  }

  function config(p: Attachment, over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.1.0',
      name: NETWORK,
      type: 'ovnic',
      bridge: 'br-int',
      ovsdb: stack.ovsdbRemote,
      ovsNetns: stack.netnsPath,
      nicType: 'dpdk-vhostuser',
      vhostSocketDir: socketDir,
      ovnWait: { enabled: true, timeoutMs: 20_000 },
      ipam: { type: 'static', routes: [{ dst: '0.0.0.0/0', gw: '10.20.0.1' }, { dst: '::/0', gw: 'fd00:20::1' }] },
      runtimeConfig: { mac: p.mac, ips: [`${p.ipv4}/24`, `${p.ipv6}/64`] },
      ...over,
    };
  }

  function run(command: CniCall['command'], p: Attachment, over: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}): Promise<PluginRun> {
    const call: CniCall = {
      extraEnv,
      command,
      containerId: p.containerId,
      ifname: p.ifname,
      netns: p.netns.path,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name}`,
      path: [SYSTEM_CNI_DIR],
    };
    return runPlugin(build.bin, call, config(p, over));
  }

  beforeAll(async () => {
    if (!findTestpmd()) throw new Error('dpdk-testpmd not found: run `bash scripts/setup-dpdk.sh` first');
    build = await buildPrivatePlugin();
    // short: the socket path must fit in sun_path
    socketDir = mkdtempSync(join(tmpdir(), 'vhu-'));
    stack = await OvnStack.start({ name: 'dpcni', dpdk: true });
    await stack.nbctl('ls-add', LS);
    vm = await pod('vm', 10, 'net1');
    peer = await pod('peer', 11, 'eth0');
  });

  afterAll(async () => {
    await testpmd?.stop();
    for (const p of pods) await p.netns.remove();
    await stack?.stop();
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
    build?.remove();
  });

  let result: Result;
  const portName = (): string => hostLinkName(vm.containerId, vm.ifname);

  it('STATUS reports the network available', async () => {
    const r = await run('STATUS', vm);
    expect(r.exitCode, r.stdout).toBe(0);
  });

  it('ADD makes a dpdkvhostuserclient port bound to OVN and a socket directory; the result has socketPath', async () => {
    const started = Date.now();
    const r = await run('ADD', vm);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    console.info(`dpdk-vhostuser ADD (no server yet, OVN binding waited for): ${Date.now() - started} ms wall, plugin ${r.durationMs.toFixed(1)} ms`);
    result = r.json as unknown as Result;
    const socketPath = join(socketDir, `${vm.containerId.slice(0, 12)}-net1`, 'net1');
    expect(result.interfaces).toEqual([
      { name: portName(), socketPath },
      { name: 'net1', mac: vm.mac, sandbox: vm.netns.path, socketPath },
    ]);
    expect(result.ips.map((ip) => ip.interface)).toEqual([1, 1]);

    const iface = await readInterface(stack, portName());
    expect(iface).toMatchObject({ type: 'dpdkvhostuserclient', linkState: 'down' });
    expect(iface.error).toBeUndefined();
    expect(iface.status).toMatchObject({ mode: 'client', status: 'disconnected' });
    const options = JSON.parse(await stack.vsctl('--format=json', '--columns=options,external_ids', 'list', 'Interface', portName())) as { data: unknown[][] };
    expect(options.data[0]?.[0]).toEqual(['map', [['vhost-server-path', socketPath]]]);
    const ids = Object.fromEntries((options.data[0]?.[1] as [string, [string, string][]])[1]);
    expect(ids).toMatchObject({ 'iface-id': 'vm.default', vendor: 'ovnic', ovnic_nic_type: 'dpdk-vhostuser', 'ovn-installed': 'true' });
    expect(readdirSync(join(socketDir, `${vm.containerId.slice(0, 12)}-net1`))).toEqual(['.ovnic-attachment']);
    // nothing in the pod netns: the guest owns its addresses
    expect((await vm.netns.ip<Array<{ ifname: string }>>('link', 'show')).map((l) => l.ifname)).toEqual(['lo']);

    const check = await run('CHECK', vm, { prevResult: result });
    expect(check.exitCode, check.stdout).toBe(0);
  });

  it('a vhost-user server on the socket brings the link up, and a veth pod exchanges UDP with it over OVN', async () => {
    const p = await run('ADD', peer, { nicType: 'veth' });
    expect(p.exitCode, p.stdout).toBe(0);
    // testpmd echoes frames as they are: the pod must send complete checksums
    await peer.netns.exec('ethtool', ['-K', 'eth0', 'tx', 'off']);

    const socketPath = result.interfaces[1]?.socketPath as string;
    const started = Date.now();
    testpmd = await Testpmd.start({ socketPath, forwardMode: '5tswap' });
    const up = await waitForInterface(stack, portName(), (i) => i.linkState === 'up', 20_000);
    console.info(`dpdk-vhostuser link up ${Date.now() - started} ms after testpmd start`);
    expect(up.status).toMatchObject({ mode: 'client', status: 'connected', socket: socketPath });

    const payload = `ovnic-cni-vhost-${randomBytes(4).toString('hex')}`;
    expect(await udpExchange(peer.netns, peer.ipv4, vm.ipv4, payload)).toContain(payload);
    expect(await udpExchange(peer.netns, peer.ipv6, vm.ipv6, `${payload}-v6`)).toContain(`${payload}-v6`);
    const counters = await testpmd.waitForCounters((c) => c.rxPackets >= 2 && c.txPackets >= 2, 10_000);
    console.info(`testpmd rx=${counters.rxPackets} tx=${counters.txPackets}; ovs-vswitchd-dpdk RSS ${rssKb(stack.runDir)} kB`);

    const check = await run('CHECK', vm, { prevResult: result });
    expect(check.exitCode, check.stdout).toBe(0);
  });

  it('DEL removes the port and the socket directory; a new ADD of it is then removed by GC', async () => {
    const dir = join(socketDir, `${vm.containerId.slice(0, 12)}-net1`);
    const del = await run('DEL', vm);
    expect(del.exitCode, del.stdout).toBe(0);
    expect(await stack.vsctl('--bare', '--columns=name', 'find', 'Interface', `name=${portName()}`)).toBe('');
    expect(existsSync(dir)).toBe(false);
    const again = await run('DEL', vm);
    expect(again.exitCode, again.stdout).toBe(0);
    await testpmd?.stop();
    testpmd = undefined;

    const readd = await run('ADD', vm);
    expect(readd.exitCode, readd.stdout).toBe(0);
    expect(existsSync(dir)).toBe(true);
    const gc = await run('GC', vm, { 'cni.dev/valid-attachments': [{ containerID: peer.containerId, ifname: peer.ifname }] });
    expect(gc.exitCode, gc.stdout).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(await stack.vsctl('--bare', '--columns=name', 'find', 'Interface', 'external_ids:vendor=ovnic')).toBe(hostLinkName(peer.containerId, peer.ifname));

    expect((await run('DEL', peer, { nicType: 'veth' })).exitCode).toBe(0);
    expect(readdirSync(socketDir)).toEqual([]);
    expect(await stack.vsctl('--bare', '--columns=name', 'find', 'Interface', 'external_ids:vendor=ovnic')).toBe('');
  });

  it('a fault after each ADD step leaves no port and no socket directory', async () => {
    for (const step of ADD_STEPS) {
      const r = await run('ADD', vm, {}, { OVNIC_TEST_FAULTS: '1', OVNIC_FAULT_INJECT: step });
      expect(r.exitCode, `${step}: ${r.stdout}`).toBe(1);
      expect((r.json as { msg?: string } | undefined)?.msg).toBe(`injected fault after step "${step}"`);
      expect(await stack.vsctl('--bare', '--columns=name', 'find', 'Interface', 'external_ids:vendor=ovnic'), step).toBe('');
      expect(readdirSync(socketDir), step).toEqual([]);
    }
  });
});

/** One UDP datagram from `src` in `netns` to dst:6000; returns what comes back (5tswap: from dst:6000). */
async function udpExchange(netns: PodNetns, src: string, dst: string, payload: string): Promise<string> {
  const srcPort = String(20_000 + Math.floor(Math.random() * 20_000));
  const family = dst.includes(':') ? '-6' : '-4';
  const nc = spawn('ip', ['netns', 'exec', netns.name, 'nc', family, '-u', '-s', src, '-p', srcPort, dst, '6000'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let received = '';
  let errors = '';
  nc.stdout.on('data', (d: Buffer) => (received += d.toString()));
  nc.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  try {
    const deadline = Date.now() + 8_000;
    // the first datagram may go while ARP/ND is still resolving: resend until the echo comes
    while (!received.includes(payload) && Date.now() < deadline && nc.exitCode === null) {
      nc.stdin.write(`${payload}\n`);
      await new Promise((r) => setTimeout(r, 300));
    }
    if (errors) throw new Error(`nc: ${errors}`);
    return received;
  } finally {
    nc.kill('SIGTERM');
  }
}

function rssKb(runDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(runDir, 'ovs-vswitchd.pid'), 'utf8').trim());
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
