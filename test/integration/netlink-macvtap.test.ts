import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCharDevice, Netns, Rtnl, type MacvlanMode } from '../../src/netlink/index.js';

const run = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const lowerNs = `nlt-ml-${tag}`;
const podNs = `nlt-mp-${tag}`;
const otherNs = `nlt-mo-${tag}`;
const LOWER = 'low0';

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
  mtu: number;
  linkinfo?: { info_kind: string; info_data?: { mode?: string } };
}

async function ipLink(ns: string, name: string): Promise<IpLink | undefined> {
  const { stdout } = await run('ip', ['-j', '-d', '-n', ns, 'link', 'show']);
  return (JSON.parse(stdout) as IpLink[]).find((l) => l.ifname === name);
}

/** The char device number as the namespace's own sysfs shows it (independent of our code). */
async function sysfsDev(ns: string, name: string): Promise<string> {
  const dir = `/sys/class/net/${name}/macvtap`;
  const tap = (await run('ip', ['netns', 'exec', ns, 'ls', dir])).stdout.trim();
  return (await run('ip', ['netns', 'exec', ns, 'cat', `${dir}/${tap}/dev`])).stdout.trim();
}

describe('macvtap / macvlan created directly in a pod netns', () => {
  let lower: Rtnl;
  let pod: Rtnl;
  let podNetns: Netns;
  let lowerIndex: number;
  let lowerMac: string;
  let scratch: string;

  beforeAll(async () => {
    for (const ns of [lowerNs, podNs, otherNs]) await run('ip', ['netns', 'add', ns]);
    // a tap as the lower device: what an OVS internal port is on the userspace datapath
    await run('ip', ['-n', lowerNs, 'tuntap', 'add', 'dev', LOWER, 'mode', 'tap']);
    lower = Rtnl.open(`/run/netns/${lowerNs}`);
    podNetns = Netns.open(`/run/netns/${podNs}`);
    pod = Rtnl.open(podNetns);
    const low = await lower.getLink(LOWER);
    lowerIndex = low!.index;
    lowerMac = low!.mac;
    scratch = mkdtempSync(join(tmpdir(), 'nlt-tap-'));
  });

  afterEach(async () => {
    for (const link of await pod.listLinks()) if (link.name !== 'lo') await pod.deleteLink(link.index);
    await lower.setMac(lowerIndex, lowerMac);
  });

  afterAll(async () => {
    pod?.close();
    podNetns?.close();
    lower?.close();
    for (const ns of [podNs, otherNs, lowerNs]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it.each<MacvlanMode>(['bridge', 'vepa', 'private'])('macvtap mode %s: requested name, MAC, MTU and mode', async (mode) => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode, mac: '0a:00:00:00:00:10', mtu: 1400, netnsFd: podNetns.fd, up: true });
    const seen = await ipLink(podNs, 'mvt0');
    expect(seen).toMatchObject({ address: '0a:00:00:00:00:10', mtu: 1400, linkinfo: { info_kind: 'macvtap', info_data: { mode } } });
    expect(await ipLink(lowerNs, 'mvt0')).toBeUndefined();
    expect(await pod.getLink('mvt0')).toMatchObject({ kind: 'macvtap', macvlanMode: mode, mac: '0a:00:00:00:00:10', up: true, linkIndex: lowerIndex });
  });

  it('passthru: the macvtap and its lower device both carry the requested MAC', async () => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'passthru', mac: '0a:00:00:00:00:11', netnsFd: podNetns.fd });
    expect(await ipLink(podNs, 'mvt0')).toMatchObject({ address: '0a:00:00:00:00:11', linkinfo: { info_data: { mode: 'passthru' } } });
    expect((await ipLink(lowerNs, LOWER))?.address).toBe('0a:00:00:00:00:11');
  });

  it('passthru: a failed creation puts the lower MAC back', async () => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: podNetns.fd });
    const before = (await ipLink(lowerNs, LOWER))?.address;
    await expect(
      lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'passthru', mac: '0a:00:00:00:00:12', netnsFd: podNetns.fd }),
    ).rejects.toMatchObject({ code: 'EEXIST' });
    expect((await ipLink(lowerNs, LOWER))?.address).toBe(before);
  });

  it('finds the tap char device from the macvtap netns, makes the node, and the node opens', async () => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', mac: '0a:00:00:00:00:13', netnsFd: podNetns.fd, up: true });
    const link = await pod.getLink('mvt0');
    const tap = pod.macvtapDevice('mvt0');
    expect(tap).toMatchObject({ path: `/dev/tap${link!.index}`, ifindex: link!.index });
    expect(`${tap.major}:${tap.minor}`).toBe(await sysfsDev(podNs, 'mvt0'));

    const node = join(scratch, 'tap-a');
    expect(ensureCharDevice(node, tap.major, tap.minor)).toBe('created');
    expect(ensureCharDevice(node, tap.major, tap.minor)).toBe('exists');
    const stat = statSync(node);
    expect(stat.isCharacterDevice()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    const fd = openSync(node, constants.O_RDWR | constants.O_NONBLOCK);
    closeSync(fd);

    expect(() => ensureCharDevice(node, tap.major, tap.minor + 1)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(ensureCharDevice(node, tap.major, tap.minor + 1, { replace: true, mode: 0o666 })).toBe('replaced');
    expect(statSync(node).mode & 0o777).toBe(0o666);
  });

  it('reads the right device when two namespaces have a macvtap with the same ifindex', async () => {
    // devtmpfs names nodes tap<ifindex>; ifindexes are per netns, so /dev/tapN is ambiguous
    const other = Netns.open(`/run/netns/${otherNs}`);
    const otherRtnl = Rtnl.open(other);
    try {
      await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: podNetns.fd });
      await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: other.fd });
      const a = pod.macvtapDevice('mvt0');
      const b = otherRtnl.macvtapDevice('mvt0');
      expect(`${a.major}:${a.minor}`).toBe(await sysfsDev(podNs, 'mvt0'));
      expect(`${b.major}:${b.minor}`).toBe(await sysfsDev(otherNs, 'mvt0'));
      expect(a.minor).not.toBe(b.minor);
    } finally {
      await otherRtnl.deleteLink('mvt0');
      otherRtnl.close();
      other.close();
    }
  });

  it('macvlan bridge in the pod netns', async () => {
    await lower.createMacvlan({ name: 'net1', lowerIndex, mode: 'bridge', mac: '0a:00:00:00:00:14', netnsFd: podNetns.fd });
    expect(await ipLink(podNs, 'net1')).toMatchObject({ address: '0a:00:00:00:00:14', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } } });
    expect(() => pod.macvtapDevice('net1')).toThrow(/not a macvtap/);
  });

  it('typed errors: name taken, missing lower device, MTU above the lower', async () => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: podNetns.fd });
    await expect(lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: podNetns.fd })).rejects.toMatchObject({
      code: 'EEXIST',
      message: expect.stringMatching(/create macvtap "mvt0" \(mode bridge\)/),
    });
    await expect(lower.createMacvtap({ name: 'mvt1', lowerIndex: 999999, mode: 'bridge', netnsFd: podNetns.fd })).rejects.toMatchObject({
      code: 'ENODEV',
    });
    await expect(lower.createMacvtap({ name: 'mvt1', lowerIndex, mode: 'bridge', mtu: 9000, netnsFd: podNetns.fd })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    expect((await pod.listLinks()).map((l) => l.name).sort()).toEqual(['lo', 'mvt0']);
  });

  it('deletes the macvtap and its tap device with it; deleting again is a no-op', async () => {
    await lower.createMacvtap({ name: 'mvt0', lowerIndex, mode: 'bridge', netnsFd: podNetns.fd });
    expect(pod.macvtapDevice('mvt0').major).toBeGreaterThan(0);
    expect(await pod.deleteLink('mvt0')).toBe(true);
    expect(() => pod.macvtapDevice('mvt0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(await pod.deleteLink('mvt0')).toBe(false);
    expect(await lower.getLink(LOWER)).toBeDefined();
  });
});
