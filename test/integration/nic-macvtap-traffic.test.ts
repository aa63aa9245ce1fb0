/**
 * nicType internal-macvtap on real OVS/OVN through the built plugin: an OVS internal port with a
 * macvtap on it inside the pod netns. A "VM" process opens the macvtap's character device (the
 * node ovnic made from the major:minor it read in the pod netns) and exchanges ARP/ICMP and
 * ND/ICMPv6 with a veth pod over OVN, in both directions, with port_security on both logical
 * switch ports (a spoofed source from the VM gets no answer). Also: passthru mode with the
 * vnet header kept, and addresses on the macvtap itself (no fd open: the pod's own stack uses it).
 */
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, V4, V6, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import { TcpEchoServer, tcpExchange, type PodNetns } from '../../src/sandbox/pods.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';
import { hostLinkName } from '../../src/cni/ownership.js';
import { TAP_RESULT_KEY, type TapResultExtension } from '../../src/nic/internal-macvtap.js';
import { VmTap } from '../harness/vm-tap.js';

let fx: CniFixture;
let tapDir: string;
let peer: FixturePod;
const vms: VmTap[] = [];

const ns = (pod: FixturePod): PodNetns => pod.netns as PodNetns;

interface Result {
  interfaces: Array<{ name: string; mac?: string; mtu?: number; sandbox?: string }>;
  ips: Array<{ address: string; gateway?: string; interface: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
  [TAP_RESULT_KEY]?: TapResultExtension;
}

interface IpLink {
  ifname: string;
  address: string;
  flags: string[];
  linkinfo?: { info_kind: string; info_data?: { mode?: string } };
}

function expectOk(r: PluginRun): Result {
  expect(r.exitCode, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r.json as unknown as Result;
}

function macvtapConf(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { nicType: 'internal-macvtap', tapDeviceDir: tapDir, ...over };
}

async function podLink(pod: FixturePod): Promise<IpLink | undefined> {
  return (await ns(pod).ip<IpLink[]>('-d', 'link', 'show')).find((l) => l.ifname === pod.ifname);
}

async function startVm(pod: FixturePod, tap: TapResultExtension, vnetHdr: 'clear' | 'strip' = 'clear'): Promise<VmTap> {
  const vm = await VmTap.start({ device: tap.node, mac: pod.mac, ipv4: pod.ipv4, ipv6: pod.ipv6, netns: ns(pod).name, vnetHdr });
  vms.push(vm);
  return vm;
}

beforeAll(async () => {
  tapDir = mkdtempSync(join(tmpdir(), 'ovnic-taps-'));
  fx = await CniFixture.start({ name: 'mvt' });
  peer = await fx.addPod('peer');
  expectOk(await fx.run('ADD', peer));
});

afterAll(async () => {
  for (const vm of vms) await vm.stop();
  await fx?.stop();
  if (tapDir) rmSync(tapDir, { recursive: true, force: true });
});

describe('guest-owned addresses, bridge mode: a VM on the macvtap char device', () => {
  let vmPod: FixturePod;
  let result: Result;
  let vm: VmTap;

  beforeAll(async () => {
    vmPod = await fx.addPod('vm1');
    result = expectOk(await fx.run('ADD', vmPod, macvtapConf({ guestOwnsAddresses: true })));
  });

  it('reports the internal port, the macvtap and its tap device, and builds them', async () => {
    const portName = hostLinkName(vmPod.containerId, vmPod.ifname);
    expect(result.interfaces[0]).toMatchObject({ name: portName });
    expect(result.interfaces[0]?.sandbox).toBeUndefined();
    expect(result.interfaces[1]).toMatchObject({ name: 'eth0', mac: vmPod.mac, sandbox: ns(vmPod).path });
    // the guest owns its addresses: reported for it, not configured in the pod
    expect(result.ips.map((ip) => ip.address).sort()).toEqual([`${vmPod.ipv4}/${V4.len}`, `${vmPod.ipv6}/${V6.len}`].sort());
    for (const ip of result.ips) expect(ip.interface).toBe(1);

    const iface = JSON.parse(await fx.stack.vsctl('--format=json', '--columns=type,ofport', 'list', 'Interface', portName)) as { data: unknown[][] };
    expect(iface.data[0]?.[0]).toBe('internal');
    expect(iface.data[0]?.[1]).toBeGreaterThan(0);
    const ids = await fx.externalIds(portName);
    expect(ids).toMatchObject({
      'iface-id': vmPod.lsp,
      vendor: 'ovnic',
      ovnic_container_id: vmPod.containerId,
      ovnic_ifname: 'eth0',
      ovnic_nic_type: 'internal-macvtap',
      'ovn-installed': 'true',
    });
    const hostDev = JSON.parse(await fx.stack.inNetns('ip', ['-j', '-d', 'link', 'show', portName])) as Array<{ flags: string[]; linkinfo: { info_kind: string } }>;
    expect(hostDev[0]?.linkinfo.info_kind).toBe('tun');
    expect(hostDev[0]?.flags).toContain('UP');

    const link = await podLink(vmPod);
    expect(link).toMatchObject({ address: vmPod.mac, linkinfo: { info_kind: 'macvtap', info_data: { mode: 'bridge' } } });
    expect(link?.flags).toEqual(expect.arrayContaining(['UP', 'ALLMULTI']));
    const addrs = await ns(vmPod).ip<Array<{ addr_info: Array<{ scope: string }> }>>('addr', 'show', 'dev', 'eth0');
    expect(addrs[0]?.addr_info.filter((a) => a.scope === 'global')).toEqual([]);

    const tap = result[TAP_RESULT_KEY] as TapResultExtension;
    const ifindex = Number((await ns(vmPod).exec('cat', ['/sys/class/net/eth0/ifindex'])).stdout.trim());
    const sysDev = (await ns(vmPod).exec('cat', [`/sys/class/net/eth0/macvtap/tap${ifindex}/dev`])).stdout.trim();
    expect(tap).toMatchObject({ ifname: 'eth0', sandbox: ns(vmPod).path, device: `/dev/tap${ifindex}`, ifindex });
    expect(`${tap.major}:${tap.minor}`).toBe(sysDev);
    expect(tap.node).toBe(join(tapDir, `${vmPod.containerId.slice(0, 12)}-eth0`, 'tap'));
    const stat = lstatSync(tap.node);
    expect(stat.isCharacterDevice()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it('the VM resolves the peer by ARP and ND and pings it over IPv4 and IPv6', async () => {
    vm = await startVm(vmPod, result[TAP_RESULT_KEY] as TapResultExtension);
    expect(vm.vnetHdr).toBe(0);
    const v4 = await vm.ping4(peer.ipv4);
    expect(v4, JSON.stringify(v4)).toMatchObject({ ok: true, peerMac: peer.mac });
    const v6 = await vm.ping6(peer.ipv6);
    expect(v6, JSON.stringify(v6)).toMatchObject({ ok: true, peerMac: peer.mac });
  });

  it('the peer pings the VM over IPv4 and IPv6 and the VM answers', async () => {
    // OVN's logical switch answers ARP and neighbour solicitations for the VM's LSP addresses itself
    await ns(peer).exec('ip', ['neigh', 'flush', 'all']);
    const before = await vm.stats();
    expect(await ns(peer).ping(vmPod.ipv4, 3)).toBeGreaterThan(0);
    expect(await ns(peer).ping(vmPod.ipv6, 3)).toBeGreaterThan(0);
    const after = await vm.stats();
    expect(after.echo4Replies).toBeGreaterThan(before.echo4Replies);
    expect(after.echo6Replies).toBeGreaterThan(before.echo6Replies);
  });

  it('port_security on the VM port drops a spoofed source (v4 and v6) while the real one works', async () => {
    const spoof4 = await vm.ping4(peer.ipv4, `${V4.prefix}99`);
    expect(spoof4.ok, JSON.stringify(spoof4)).toBe(false);
    const spoof6 = await vm.ping6(peer.ipv6, `${V6.prefix}99`);
    expect(spoof6.ok, JSON.stringify(spoof6)).toBe(false);
    expect((await vm.ping4(peer.ipv4)).ok).toBe(true);
    expect((await vm.ping6(peer.ipv6)).ok).toBe(true);
  });

  it('CHECK passes, and DEL removes the port, the internal device, the macvtap and the node', async () => {
    const check = await fx.run('CHECK', vmPod, { ...macvtapConf({ guestOwnsAddresses: true }), prevResult: result });
    expect(check.exitCode, check.stdout).toBe(0);
    await vm.stop();
    expectOk(await fx.run('DEL', vmPod, macvtapConf({ guestOwnsAddresses: true })));
    const portName = hostLinkName(vmPod.containerId, vmPod.ifname);
    expect(await fx.ovnicPorts()).not.toContain(portName);
    expect(await fx.stack.inNetns('ip', ['-j', 'link', 'show'])).not.toContain(portName);
    expect(await podLink(vmPod)).toBeUndefined();
    expect(() => lstatSync((result[TAP_RESULT_KEY] as TapResultExtension).node)).toThrow();
  });
});

describe('passthru mode, vnet header kept', () => {
  it('the VM strips the 10-byte virtio_net_hdr and talks to the peer both ways', async () => {
    const vmPod = await fx.addPod('vm2');
    const result = expectOk(await fx.run('ADD', vmPod, macvtapConf({ guestOwnsAddresses: true, macvtapMode: 'passthru' })));
    const link = await podLink(vmPod);
    expect(link).toMatchObject({ address: vmPod.mac, linkinfo: { info_data: { mode: 'passthru' } } });
    // passthru: the internal port carries the attachment's MAC too
    expect(result.interfaces[0]?.mac).toBe(vmPod.mac);

    const vm = await startVm(vmPod, result[TAP_RESULT_KEY] as TapResultExtension, 'strip');
    expect(vm.vnetHdr).toBe(10);
    expect((await vm.ping4(peer.ipv4)).ok).toBe(true);
    expect((await vm.ping6(peer.ipv6)).ok).toBe(true);
    await ns(peer).exec('ip', ['neigh', 'flush', 'all']);
    expect(await ns(peer).ping(vmPod.ipv4, 3)).toBeGreaterThan(0);
    expect(await ns(peer).ping(vmPod.ipv6, 3)).toBeGreaterThan(0);
    await vm.stop();
    expectOk(await fx.run('DEL', vmPod, macvtapConf({ guestOwnsAddresses: true, macvtapMode: 'passthru' })));
    expect(await fx.ovnicPorts()).toEqual([hostLinkName(peer.containerId, peer.ifname)]);
  });
});

describe('addresses on the macvtap (no VM): the pod itself uses it', () => {
  it('pings and TCP over IPv4 and IPv6 with the veth pod', async () => {
    const pod = await fx.addPod('mv3');
    const result = expectOk(await fx.run('ADD', pod, macvtapConf({ macvtapMode: 'vepa', mtu: 1400 })));
    expect(result.interfaces[1]).toMatchObject({ name: 'eth0', mtu: 1400, sandbox: ns(pod).path });
    const link = await podLink(pod);
    expect(link?.flags).not.toContain('ALLMULTI');
    expect(link?.linkinfo?.info_data?.mode).toBe('vepa');
    const addrs = await ns(pod).ip<Array<{ addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>('addr', 'show', 'dev', 'eth0');
    expect(addrs[0]?.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual(
      [`${pod.ipv4}/${V4.len}`, `${pod.ipv6}/${V6.len}`].sort(),
    );
    expect(await ns(pod).ping(peer.ipv4, 3)).toBeGreaterThan(0);
    expect(await ns(pod).ping(peer.ipv6, 3)).toBeGreaterThan(0);
    const server = await TcpEchoServer.start(ns(peer), 8081, 'peer');
    try {
      expect(await tcpExchange(ns(pod), peer.ipv4, 8081, 'macvtap v4')).toContain('MACVTAP V4');
      expect(await tcpExchange(ns(pod), peer.ipv6, 8081, 'macvtap v6')).toContain('MACVTAP V6');
    } finally {
      await server.stop();
    }
    const check = await fx.run('CHECK', pod, { ...macvtapConf({ macvtapMode: 'vepa', mtu: 1400 }), prevResult: result });
    expect(check.exitCode, check.stdout).toBe(0);
    expectOk(await fx.run('DEL', pod, macvtapConf({ macvtapMode: 'vepa', mtu: 1400 })));
  });
});
