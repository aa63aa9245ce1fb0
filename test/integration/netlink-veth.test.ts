import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Netns, NetlinkError, Rtnl, type LinkInfo } from '../../src/netlink/index.js';

const run = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const hostNs = `nlt-vh-${tag}`;
const podNs = `nlt-vp-${tag}`;

interface IpLink {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
  link_netnsid?: number;
  linkinfo?: { info_kind: string };
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; nodad?: boolean; tentative?: boolean; broadcast?: string }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
  flags: string[];
}

async function ipJson<T>(ns: string, ...args: string[]): Promise<T> {
  return JSON.parse((await run('ip', ['-j', '-d', '-n', ns, ...args])).stdout || '[]') as T;
}

async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<IpLink[]>(ns, 'link', 'show')).map((l) => l.ifname);
}

describe('veth with the peer created directly in a pod netns', () => {
  let host: Rtnl;
  let pod: Rtnl;
  let podNetns: Netns;
  let n = 0;
  const next = (): string => `nlt${tag}${n++}`;

  beforeAll(async () => {
    await run('ip', ['netns', 'add', hostNs]);
    await run('ip', ['netns', 'add', podNs]);
    host = Rtnl.open(`/run/netns/${hostNs}`);
    podNetns = Netns.open(`/run/netns/${podNs}`);
    pod = Rtnl.open(podNetns);
  });

  afterEach(async () => {
    // every veth lives in both namespaces: removing the host ends removes the pod ends
    for (const link of await host.listLinks()) if (link.kind === 'veth') await host.deleteLink(link.index);
  });

  afterAll(async () => {
    pod?.close();
    podNetns?.close();
    host?.close();
    await run('ip', ['netns', 'del', hostNs]).catch(() => undefined);
    await run('ip', ['netns', 'del', podNs]).catch(() => undefined);
  });

  async function attach(hostName: string, ifname = 'eth0'): Promise<{ hostEnd: LinkInfo; podEnd: LinkInfo }> {
    const hostEnd = await host.createVeth({
      name: hostName,
      up: true,
      peer: { name: ifname, netnsFd: podNetns.fd, mac: '0a:00:00:00:00:02', mtu: 1400 },
    });
    const podEnd = await pod.getLink(ifname);
    if (!podEnd) throw new Error('pod end missing');
    return { hostEnd, podEnd };
  }

  it('creates the pair with the pod end named, addressed and sized as asked, in the pod netns only', async () => {
    const hostName = next();
    const { hostEnd, podEnd } = await attach(hostName);

    const [seen] = await ipJson<IpLink[]>(podNs, 'link', 'show', 'eth0');
    expect(seen).toMatchObject({ ifname: 'eth0', address: '0a:00:00:00:00:02', mtu: 1400, linkinfo: { info_kind: 'veth' } });
    expect(seen?.link_netnsid).toBeDefined();
    const [hostSeen] = await ipJson<IpLink[]>(hostNs, 'link', 'show', hostName);
    expect(hostSeen).toMatchObject({ ifname: hostName, mtu: 1500, linkinfo: { info_kind: 'veth' } });
    expect(hostSeen?.flags).toContain('UP');
    expect(await linkNames(hostNs)).not.toContain('eth0');

    expect(podEnd).toMatchObject({ name: 'eth0', mac: '0a:00:00:00:00:02', mtu: 1400, up: false, kind: 'veth' });
    expect(hostEnd).toMatchObject({ name: hostName, up: true, kind: 'veth', linkIndex: podEnd.index });
    expect(podEnd.linkIndex).toBe(hostEnd.index);
    expect(hostEnd.linkNetnsId).toBeDefined();
  });

  it('configures dual-stack addresses (IPv6 without DAD) and default routes per family', async () => {
    const { podEnd } = await attach(next());
    const eth0 = podEnd.index;
    await pod.setUp(1);
    await pod.setUp(eth0);
    await pod.addAddress(eth0, '10.16.0.2/24');
    await pod.addAddress(eth0, 'fd00:10:16::2/64', { nodad: true });
    await pod.addRoute({ dst: 'default', gateway: '10.16.0.1', index: eth0 });
    await pod.addRoute({ dst: '::/0', gateway: 'fd00:10:16::1', index: eth0 });
    await pod.addRoute({ dst: '10.96.0.0/12', gateway: '10.16.0.1', index: eth0, metric: 50 });

    const [addrs] = await ipJson<IpAddr[]>(podNs, 'addr', 'show', 'dev', 'eth0');
    const v4 = addrs?.addr_info.find((a) => a.family === 'inet');
    const v6 = addrs?.addr_info.find((a) => a.family === 'inet6' && a.local.startsWith('fd00'));
    expect(v4).toMatchObject({ local: '10.16.0.2', prefixlen: 24, broadcast: '10.16.0.255' });
    expect(v6).toMatchObject({ local: 'fd00:10:16::2', prefixlen: 64, nodad: true });
    expect(v6?.tentative).toBeUndefined();

    const v4Default = await ipJson<IpRoute[]>(podNs, '-4', 'route', 'show', 'default');
    const v6Default = await ipJson<IpRoute[]>(podNs, '-6', 'route', 'show', 'default');
    expect(v4Default).toEqual([expect.objectContaining({ dst: 'default', gateway: '10.16.0.1', dev: 'eth0' })]);
    expect(v6Default).toEqual([expect.objectContaining({ dst: 'default', gateway: 'fd00:10:16::1', dev: 'eth0' })]);
    expect(await ipJson<IpRoute[]>(podNs, '-4', 'route', 'show', '10.96.0.0/12')).toEqual([
      expect.objectContaining({ gateway: '10.16.0.1', metric: 50 }),
    ]);

    const ours = await pod.listAddresses({ index: eth0 });
    expect(ours.map((a) => a.cidr)).toEqual(expect.arrayContaining(['10.16.0.2/24', 'fd00:10:16::2/64']));
    expect(ours.find((a) => a.cidr === 'fd00:10:16::2/64')).toMatchObject({ family: 6, nodad: true, tentative: false });
    const routes = await pod.listRoutes({ index: eth0 });
    expect(routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ family: 4, dst: '0.0.0.0/0', gateway: '10.16.0.1' }),
        expect.objectContaining({ family: 6, dst: '::/0', gateway: 'fd00:10:16::1' }),
        expect.objectContaining({ family: 4, dst: '10.96.0.0/12', metric: 50 }),
        expect.objectContaining({ family: 4, dst: '10.16.0.0/24', src: '10.16.0.2' }),
      ]),
    );
    expect((await pod.listRoutes({ family: 6 })).every((r) => r.family === 6)).toBe(true);

    expect(await pod.deleteRoute({ dst: 'default', family: 6 })).toBe(true);
    expect(await pod.deleteRoute({ dst: 'default', family: 6 })).toBe(false);
    expect(await pod.deleteRoute({ dst: '10.96.0.0/12', index: eth0 })).toBe(true);
    expect(await ipJson<IpRoute[]>(podNs, '-6', 'route', 'show', 'default')).toEqual([]);
    expect(await pod.deleteAddress(eth0, 'fd00:10:16::2/64')).toBe(true);
    expect(await pod.deleteAddress(eth0, 'fd00:10:16::2/64')).toBe(false);
    expect((await pod.listAddresses({ index: eth0, family: 6 })).map((a) => a.address)).not.toContain('fd00:10:16::2');
  });

  it('fails with EEXIST when the pod interface name is taken, and creates nothing', async () => {
    await attach(next());
    const hostName = next();
    const attempt = host.createVeth({ name: hostName, peer: { name: 'eth0', netnsFd: podNetns.fd } });
    await expect(attempt).rejects.toBeInstanceOf(NetlinkError);
    await expect(attempt).rejects.toMatchObject({ code: 'EEXIST', errno: 17 });
    expect(await linkNames(hostNs)).not.toContain(hostName);
    expect((await linkNames(podNs)).filter((name) => name === 'eth0')).toHaveLength(1);
  });

  it('fails with EEXIST when the host name is taken, and creates nothing', async () => {
    const hostName = next();
    await attach(hostName);
    await expect(host.createVeth({ name: hostName, peer: { name: 'net1', netnsFd: podNetns.fd } })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(await linkNames(podNs)).not.toContain('net1');
  });

  it('rejects bad input before talking to the kernel', async () => {
    const hostName = next();
    await expect(host.createVeth({ name: hostName, peer: { name: 'eth0', mac: '01:00:5e:00:00:01' } })).rejects.toThrow(/multicast/);
    await expect(host.createVeth({ name: hostName, peer: { name: 'eth0', mtu: 20 } })).rejects.toThrow(/invalid MTU/);
    await expect(host.createVeth({ name: 'a-name-too-long-0', peer: { name: 'eth0' } })).rejects.toThrow(/invalid interface name/);
    await expect(pod.addAddress(1, '10.0.0.1/40')).rejects.toThrow(/invalid prefix length/);
    await expect(pod.addRoute({ dst: '10.0.0.0/8', gateway: 'fd00::1' })).rejects.toThrow(/not IPv6/);
    await expect(pod.addRoute({ dst: 'default' })).rejects.toThrow(/needs a family or a gateway/);
    expect(await linkNames(hostNs)).not.toContain(hostName);
  });

  it('treats missing things as absent: lookup → undefined, delete → false', async () => {
    expect(await pod.getLink('nope0')).toBeUndefined();
    expect(await pod.getLinkByIndex(999999)).toBeUndefined();
    expect(await pod.deleteLink('nope0')).toBe(false);
    expect(await pod.deleteLink(999999)).toBe(false);
    expect(await pod.deleteAddress(999999, '10.1.1.1/24')).toBe(false);
    expect(await pod.deleteRoute({ dst: '10.123.0.0/16' })).toBe(false);
  });

  it('reports typed kernel errors: duplicate address, unreachable gateway; replace and onlink work', async () => {
    const { podEnd } = await attach(next());
    const eth0 = podEnd.index;
    await pod.setUp(eth0);
    await pod.addAddress(eth0, '10.17.0.2/24');
    await expect(pod.addAddress(eth0, '10.17.0.2/24')).rejects.toMatchObject({ code: 'EEXIST' });
    await pod.addAddress(eth0, '10.17.0.2/24', { replace: true });
    await expect(pod.addRoute({ dst: 'default', gateway: '192.168.77.1', index: eth0 })).rejects.toMatchObject({
      code: 'ENETUNREACH',
      message: expect.stringMatching(/route default via 192\.168\.77\.1/),
    });
    await pod.addRoute({ dst: 'default', gateway: '192.168.77.1', index: eth0, onlink: true });
    const [route] = await ipJson<IpRoute[]>(podNs, '-4', 'route', 'show', 'default');
    expect(route).toMatchObject({ gateway: '192.168.77.1', flags: ['onlink'] });
    await expect(pod.addRoute({ dst: 'default', gateway: '192.168.77.1', index: eth0, onlink: true })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    await pod.addRoute({ dst: 'default', gateway: '10.17.0.1', index: eth0, replace: true });
    expect(await ipJson<IpRoute[]>(podNs, '-4', 'route', 'show', 'default')).toEqual([
      expect.objectContaining({ gateway: '10.17.0.1' }),
    ]);
  });

  it('IPv6 on an interface with disable_ipv6=1 fails with EACCES until the sysctl is cleared', async () => {
    const { podEnd } = await attach(next());
    pod.setSysctl('net.ipv6.conf.eth0.disable_ipv6', 1);
    await expect(pod.addAddress(podEnd.index, 'fd00:18::2/64', { nodad: true })).rejects.toMatchObject({ code: 'EACCES' });
    pod.setSysctl('net.ipv6.conf.eth0.disable_ipv6', 0);
    await pod.addAddress(podEnd.index, 'fd00:18::2/64', { nodad: true });
    expect((await pod.listAddresses({ index: podEnd.index, family: 6 })).map((a) => a.cidr)).toContain('fd00:18::2/64');
  });

  it('changes MAC, MTU, state and name, and lists links', async () => {
    const { podEnd } = await attach(next());
    await pod.setLink(podEnd.index, { mac: '0a:00:00:00:00:09', mtu: 1300, up: true, name: 'net9' });
    const [seen] = await ipJson<IpLink[]>(podNs, 'link', 'show', 'net9');
    expect(seen).toMatchObject({ address: '0a:00:00:00:00:09', mtu: 1300 });
    expect(seen?.flags).toContain('UP');
    await pod.setDown(podEnd.index);
    await pod.setMac(podEnd.index, '0a:00:00:00:00:0a');
    await pod.setMtu(podEnd.index, 1450);
    expect(await pod.getLinkByIndex(podEnd.index)).toMatchObject({ name: 'net9', up: false, mac: '0a:00:00:00:00:0a', mtu: 1450 });
    expect((await pod.listLinks()).map((l) => l.name)).toEqual(expect.arrayContaining(['lo', 'net9']));
    await expect(pod.setLink(podEnd.index, { name: 'lo' })).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringMatching(/name=lo/) });
  });

  it('turns tx checksum offload off as `ethtool -K tx off` would', async () => {
    await attach(next());
    expect(pod.getTxChecksum('eth0')).toBe(true);
    pod.setTxChecksum('eth0', false);
    expect(pod.getTxChecksum('eth0')).toBe(false);
    const features = (await run('ip', ['netns', 'exec', podNs, 'ethtool', '-k', 'eth0'])).stdout;
    expect(features).toMatch(/^tx-checksumming: off$/m);
    expect(() => pod.setTxChecksum('nope0', false)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });

  it('deleting the host end removes the pod end', async () => {
    const hostName = next();
    await attach(hostName);
    expect(await host.deleteLink(hostName)).toBe(true);
    expect(await pod.getLink('eth0')).toBeUndefined();
    expect(await host.deleteLink(hostName)).toBe(false);
  });
});
