// OVS-DPDK end to end: a dpdkvhostuserclient port built from src/dpdk connects to a vhost-user
// server (dpdk-testpmd standing in for a VM) and frames flow both ways.
// Opt-in (heavy on 2 cores: the OVS PMD thread and testpmd's forwarding core busy-poll):
//   bash scripts/setup-dpdk.sh && npm run test:dpdk
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvnStack } from '../../../src/sandbox/stack.js';
import {
  assertVhostUserBridge,
  dpdkSupportProblem,
  ensureVhostSocketDir,
  interpretVhostUserInterface,
  removeVhostSocketDir,
  vhostUserPortSpec,
  vsctlInterfaceSettings,
  type VhostAttachment,
} from '../../../src/dpdk/index.js';
import { Testpmd, findTestpmd } from '../../harness/testpmd.js';
import { readBridge, readDpdkCapabilities, waitForInterface } from './ovs-rows.js';

const enabled = process.env.OVNIC_TEST_DPDK === '1';

const BRIDGE_IP = '192.0.2.1';
const PEER_IP = '192.0.2.2';
const PEER_MAC = '02:00:00:00:00:02';

describe.skipIf(!enabled)('OVS-DPDK vhost-user port with a testpmd server', () => {
  let stack: OvnStack;
  let baseDir: string;
  let testpmd: Testpmd | undefined;
  const att: VhostAttachment = { containerId: randomBytes(32).toString('hex'), ifName: 'net1', network: 'dpdk-test' };
  const port = `vhu${randomBytes(3).toString('hex')}`;
  const bridge = 'br-dpdk';

  beforeAll(async () => {
    if (!findTestpmd()) throw new Error('dpdk-testpmd not found: run `bash scripts/setup-dpdk.sh` first');
    baseDir = mkdtempSync(join(tmpdir(), 'ovnic-vhu-'));
    stack = await OvnStack.start({ name: 'dpdk', ovn: false, dpdk: true });
  });
  afterAll(async () => {
    await testpmd?.stop();
    await stack?.stop();
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
  });

  it('runs ovs-vswitchd with DPDK initialized and vhost-user client ports available', async () => {
    const caps = await readDpdkCapabilities(stack);
    expect(caps.dpdkInitialized).toBe(true);
    expect(caps.dpdkVersion).toMatch(/^DPDK \d+\.\d+/);
    expect(caps.ifaceTypes).toContain('dpdkvhostuserclient');
    expect(dpdkSupportProblem(caps)).toBeUndefined();
  });

  it('connects to the server, forwards a UDP echo both ways, and goes down when the server stops', async () => {
    await stack.vsctl('add-br', bridge, '--', 'set', 'Bridge', bridge, 'datapath_type=netdev');
    assertVhostUserBridge(await readBridge(stack, bridge));

    const loc = await ensureVhostSocketDir(att, { baseDir });
    const spec = vhostUserPortSpec({ name: port, socketPath: loc.socketPath, txRetriesMax: 4, externalIds: { 'ovnic-test': 'dpdk' } });
    await stack.vsctl('add-port', bridge, port, '--', 'set', 'Interface', port, ...vsctlInterfaceSettings(spec));

    const before = interpretVhostUserInterface(await waitForInterface(stack, port, (i) => i.ofport !== undefined));
    expect(before.phase).toBe('waiting-for-server');
    expect(before.vhost).toMatchObject({ mode: 'client', status: 'disconnected' });

    // 5tswap swaps MACs, IPs and UDP ports: the echo of a datagram from BRIDGE_IP:p to PEER_IP:6000
    // arrives back as a reply from PEER_IP:6000, which a connected UDP socket receives.
    const started = Date.now();
    testpmd = await Testpmd.start({ socketPath: loc.socketPath, forwardMode: '5tswap' });
    const up = await waitForInterface(stack, port, (i) => i.linkState === 'up', 15_000);
    const upMs = Date.now() - started;
    const connected = interpretVhostUserInterface(up);
    expect(connected.phase).toBe('connected');
    expect(connected.vhost).toMatchObject({ mode: 'client', status: 'connected', socket: loc.socketPath });

    await stack.tool('ovs-ofctl', ['del-flows', bridge]);
    await stack.tool('ovs-ofctl', ['add-flow', bridge, `in_port=LOCAL,actions=output:${port}`]);
    await stack.tool('ovs-ofctl', ['add-flow', bridge, `in_port=${port},actions=output:LOCAL`]);
    await stack.inNetns('ip', ['link', 'set', bridge, 'up']);
    // The bridge tap leaves checksums to offload; testpmd echoes them as they are, so compute them in software.
    await stack.inNetns('ethtool', ['-K', bridge, 'tx', 'off']);
    await stack.inNetns('ip', ['addr', 'add', `${BRIDGE_IP}/24`, 'dev', bridge]);
    await stack.inNetns('ip', ['neigh', 'replace', PEER_IP, 'lladdr', PEER_MAC, 'dev', bridge]);

    const payload = `ovnic-vhost-${randomBytes(4).toString('hex')}`;
    expect(await udpEcho(stack.netns, payload)).toContain(payload);

    const counters = await testpmd.waitForCounters((c) => c.rxPackets >= 1 && c.txPackets >= 1, 5_000);
    expect(counters.txPackets).toBe(counters.rxPackets);
    const flows = (await stack.tool('ovs-ofctl', ['dump-flows', bridge])).stdout;
    // frames that came back out of the vhost-user port
    expect(flows).toMatch(new RegExp(`n_packets=[1-9]\\d*,.* in_port=${up.ofport} actions=LOCAL`));

    const rss = { vswitchdKb: rssKb(stack.runDir, 'ovs-vswitchd'), testpmdKb: testpmd.pid ? rssOfPid(testpmd.pid) : undefined };
    console.info(`vhost-user: link up ${upMs} ms after testpmd start; testpmd rx=${counters.rxPackets} tx=${counters.txPackets}; RSS ${JSON.stringify(rss)}`);

    const prefix = testpmd.filePrefix;
    await testpmd.stop();
    expect(existsSync(`/var/run/dpdk/${prefix}`)).toBe(false);
    const down = interpretVhostUserInterface(await waitForInterface(stack, port, (i) => i.linkState === 'down'));
    expect(down.phase).toBe('waiting-for-server');

    await stack.vsctl('del-port', bridge, port);
    expect(await removeVhostSocketDir(att, { baseDir })).toBe(true);
    expect(existsSync(loc.dir)).toBe(false);
  });
});

/** Sends one datagram from BRIDGE_IP inside the netns to PEER_IP:6000 and returns what comes back. */
async function udpEcho(netns: string, payload: string): Promise<string> {
  const srcPort = String(20_000 + Math.floor(Math.random() * 20_000));
  const nc = spawn('ip', ['netns', 'exec', netns, 'nc', '-u', '-s', BRIDGE_IP, '-p', srcPort, PEER_IP, '6000'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let received = '';
  let errors = '';
  nc.stdout.on('data', (d: Buffer) => (received += d.toString()));
  nc.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  try {
    nc.stdin.write(`${payload}\n`);
    const deadline = Date.now() + 5_000;
    while (!received.includes(payload) && Date.now() < deadline && nc.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (errors) throw new Error(`nc: ${errors}`);
    return received;
  } finally {
    nc.kill('SIGTERM');
  }
}

function rssKb(runDir: string, daemon: string): number | undefined {
  try {
    return rssOfPid(Number(readFileSync(join(runDir, `${daemon}.pid`), 'utf8').trim()));
  } catch {
    return undefined;
  }
}

function rssOfPid(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
