/**
 * The CNI spec's rules for an interface plugin (SPEC 1.1, anchors §3) against the built plugin on
 * real netns + OVS + OVN, with Debian's host-local as the delegated IPAM (its allocations are
 * files, so a leak is visible): result conformance, ADD on an existing CNI_IFNAME, DEL in every
 * missing-resource case, ADD→DEL→ADD, CHECK, GC, STATUS, prevResult chaining, the OVN wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, V4, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import { runPlugin, type PluginRun } from '../../src/sandbox/plugin.js';
import type { PodNetns } from '../../src/sandbox/pods.js';

let fx: CniFixture;

beforeAll(async () => {
  fx = await CniFixture.start({ name: 'lc', ipam: 'host-local' });
});

afterAll(async () => {
  await fx?.stop();
});

const ns = (pod: FixturePod): PodNetns => pod.netns as PodNetns;

function expectOk(r: PluginRun): void {
  expect(r.exitCode, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

function expectError(r: PluginRun, code: number): { code: number; msg: string; details?: string } {
  expect(r.exitCode, r.stdout).not.toBe(0);
  const json = r.json as { code: number; msg: string; details?: string };
  expect(json, r.stdout).toBeDefined();
  expect(json.code, r.stdout).toBe(code);
  return json;
}

interface Link {
  ifname: string;
  address: string;
  mtu: number;
  operstate: string;
}

async function links(pod: FixturePod): Promise<Link[]> {
  return ns(pod).ip<Link[]>('link', 'show');
}

async function globalAddresses(pod: FixturePod): Promise<string[]> {
  const out = await ns(pod).ip<Array<{ addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>('addr', 'show', 'dev', 'eth0');
  return (out[0]?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();
}

/** Nothing of `pod`'s attachment is left: no OVS port, no host veth, no eth0, no IPAM allocation. */
async function expectNothingLeft(pod: FixturePod | undefined, others: { ports?: number; veths?: number; allocations?: number } = {}): Promise<void> {
  const ports = await fx.ovnicPorts();
  expect(ports.length, `ports: ${ports.join(', ')}`).toBe(others.ports ?? 0);
  expect((await fx.hostVeths()).length).toBe(others.veths ?? 0);
  expect(fx.ipamAllocations().length, fx.ipamAllocations().join(', ')).toBe(others.allocations ?? 0);
  if (pod?.netns) expect((await links(pod)).map((l) => l.ifname)).not.toContain(pod.ifname);
}

describe('ADD', () => {
  it('returns a conformant result and builds what it reports', async () => {
    const pod = await fx.addPod();
    const r = await fx.run('ADD', pod, { mtu: 1400 });
    expectOk(r);
    const result = r.json as {
      cniVersion: string;
      interfaces: Array<{ name: string; mac: string; mtu?: number; sandbox?: string }>;
      ips: Array<{ address: string; gateway?: string; interface: number }>;
      routes: Array<{ dst: string; gw?: string }>;
    };
    expect(result.cniVersion).toBe('1.1.0');
    const host = result.interfaces.find((i) => !i.sandbox);
    const inPod = result.interfaces.find((i) => i.sandbox === ns(pod).path);
    expect(host).toBeDefined();
    expect(inPod?.name).toBe('eth0');
    expect(inPod?.mac).toBe(pod.mac);
    expect(result.ips).toHaveLength(2);
    for (const ip of result.ips) expect(result.interfaces[ip.interface]).toBe(inPod);
    expect(result.routes.map((x) => x.dst).sort()).toEqual(['0.0.0.0/0', '::/0']);

    const eth0 = (await links(pod)).find((l) => l.ifname === 'eth0');
    expect(eth0?.address).toBe(pod.mac);
    expect(eth0?.mtu).toBe(1400);
    expect(eth0?.operstate).toBe('UP');
    expect(await globalAddresses(pod)).toEqual(result.ips.map((i) => i.address).sort());
    const lo = (await links(pod)).find((l) => l.ifname === 'lo');
    expect(lo?.operstate).toBe('UNKNOWN');
    const v4default = await ns(pod).ip<Array<{ gateway: string }>>('route', 'show', 'default');
    expect(v4default[0]?.gateway).toBe(V4.gateway);

    expect(await fx.hostVeths()).toEqual([host?.name]);
    const ids = await fx.externalIds(host?.name as string);
    expect(ids).toMatchObject({
      'iface-id': pod.lsp,
      pod_name: pod.name,
      pod_namespace: 'default',
      pod_netns: ns(pod).path,
      vendor: 'ovnic',
      ovnic_container_id: pod.containerId,
      ovnic_ifname: 'eth0',
      ovnic_network: fx.network,
      ovnic_nic_type: 'veth',
      ovnic_ipam_type: 'host-local',
      'ovn-installed': 'true',
    });
    expect(ids.ip?.split(',').sort()).toEqual(result.ips.map((i) => i.address.split('/')[0]).sort());
    expect(await fx.stack.nbctl('get', 'Logical_Switch_Port', pod.lsp, 'up')).toBe('true');

    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('formats the result for 0.3.1, 0.4.0 and 1.0.0 requests', async () => {
    for (const version of ['0.3.1', '0.4.0', '1.0.0']) {
      const pod = await fx.addPod();
      const r = await fx.run('ADD', pod, { cniVersion: version });
      expectOk(r);
      const json = r.json as { cniVersion: string; ips: Array<{ version?: string }>; interfaces: Array<{ mtu?: number }> };
      expect(json.cniVersion).toBe(version);
      if (version === '1.0.0') expect(json.ips.every((ip) => ip.version === undefined)).toBe(true);
      else expect(json.ips.map((ip) => ip.version).sort()).toEqual(['4', '6']);
      expectOk(await fx.run('DEL', pod, { cniVersion: version }));
    }
    await expectNothingLeft(undefined);
  });

  it('fails when CNI_IFNAME already exists in the netns and leaves nothing behind', async () => {
    const pod = await fx.addPod();
    await ns(pod).exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'foreign0']);
    const r = await fx.run('ADD', pod);
    const err = expectError(r, 100);
    expect(err.msg).toContain('"eth0" already exists');
    const eth0 = (await links(pod)).filter((l) => l.ifname === 'eth0');
    expect(eth0).toHaveLength(1);
    expect(await fx.ovnicPorts()).toEqual([]);
    expect(await fx.hostVeths()).toEqual([]);
    expect(fx.ipamAllocations()).toEqual([]);
    // the runtime's DEL after a failed ADD succeeds and does not touch the foreign device
    expectOk(await fx.run('DEL', pod));
    expect((await links(pod)).filter((l) => l.ifname === 'eth0')).toHaveLength(1);
  });

  it('fails with code 8 for a netns path that does not exist, leaving no IPAM allocation', async () => {
    const pod = await fx.addPod();
    const r = await fx.run('ADD', pod, {}, { netns: '/run/netns/ovnic-no-such-netns' });
    expectError(r, 8);
    expect(fx.ipamAllocations()).toEqual([]);
    expect(await fx.ovnicPorts()).toEqual([]);
  });

  it('chains after a prevResult: its interfaces and addresses come first, indices shifted', async () => {
    const pod = await fx.addPod();
    const prevResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net0', sandbox: ns(pod).path }],
      ips: [{ address: '192.0.2.5/24', interface: 0 }],
      routes: [{ dst: '198.51.100.0/24', gw: '192.0.2.1' }],
      dns: { nameservers: ['192.0.2.53'] },
    };
    const r = await fx.run('ADD', pod, { prevResult });
    expectOk(r);
    const json = r.json as { interfaces: Array<{ name: string }>; ips: Array<{ address: string; interface: number }>; routes: Array<{ dst: string }>; dns: { nameservers: string[] } };
    expect(json.interfaces[0]?.name).toBe('net0');
    expect(json.interfaces.map((i) => i.name)).toContain('eth0');
    expect(json.ips[0]).toEqual({ address: '192.0.2.5/24', interface: 0 });
    const eth0Index = json.interfaces.findIndex((i) => i.name === 'eth0');
    expect(json.ips.slice(1).every((ip) => ip.interface === eth0Index)).toBe(true);
    expect(json.routes[0]?.dst).toBe('198.51.100.0/24');
    expect(json.dns.nameservers).toEqual(['192.0.2.53']);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('ADD → DEL → ADD on the same attachment works and reuses the names', async () => {
    const pod = await fx.addPod();
    const first = await fx.run('ADD', pod);
    expectOk(first);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
    const second = await fx.run('ADD', pod);
    expectOk(second);
    const hostName = (r: PluginRun): string | undefined => (r.json as { interfaces: Array<{ name: string; sandbox?: string }> }).interfaces.find((i) => !i.sandbox)?.name;
    expect(hostName(second)).toBe(hostName(first));
    expect(await fx.ovnicPorts()).toEqual([hostName(second)]);
    expect(await fx.stack.vsctl('get', 'Interface', hostName(second) as string, 'external_ids:ovn-installed')).toBe('"true"');
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('takes iface-id away from a stale interface of an earlier sandbox of the same pod', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    const [oldPort] = await fx.ovnicPorts();
    const newSandbox = { ...pod, containerId: `${pod.containerId.slice(0, 10)}beef`, netns: await fx.netns() };
    expectOk(await fx.run('ADD', newSandbox));
    const ports = await fx.ovnicPorts();
    expect(ports).toHaveLength(2);
    const newPort = ports.find((p) => p !== oldPort) as string;
    expect((await fx.externalIds(oldPort as string))['iface-id']).toBeUndefined();
    expect((await fx.externalIds(newPort))['iface-id']).toBe(pod.lsp);
    expectOk(await fx.run('DEL', pod));
    expectOk(await fx.run('DEL', newSandbox));
    await expectNothingLeft(pod);
  });
});

describe('OVN binding wait', () => {
  it('times out with code 11 naming the timeout when the logical switch port is missing, leaving nothing', async () => {
    const pod = await fx.addPod('nolsp', { lsp: false });
    const r = await fx.run('ADD', pod, { ovnWait: { enabled: true, timeoutMs: 700 } });
    const err = expectError(r, 11);
    expect(err.msg).toContain('700 ms');
    expect(err.details).toContain(pod.lsp);
    expect(err.details).toContain('ovn-installed');
    await expectNothingLeft(pod);
    expectOk(await fx.run('DEL', pod));
  });

  it('is skipped with ovnWait.enabled=false: ADD succeeds without a logical switch port', async () => {
    const pod = await fx.addPod('nolsp2', { lsp: false });
    expectOk(await fx.run('ADD', pod, { ovnWait: { enabled: false } }));
    const [port] = await fx.ovnicPorts();
    expect(Number(await fx.stack.vsctl('get', 'Interface', port as string, 'ofport'))).toBeGreaterThan(0);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });
});

describe('DEL', () => {
  it('succeeds again and again', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    for (let i = 0; i < 3; i++) expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('succeeds with an empty CNI_NETNS and still removes port, host link and allocation', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    expectOk(await fx.run('DEL', pod, {}, { netns: '' }));
    await expectNothingLeft({ ...pod, netns: undefined });
  });

  it('succeeds when the netns is gone', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    const path = ns(pod).path;
    await ns(pod).remove();
    expectOk(await fx.run('DEL', pod, {}, { netns: path }));
    await expectNothingLeft({ ...pod, netns: undefined });
  });

  it('succeeds when the host link is already gone', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    const [port] = await fx.ovnicPorts();
    await fx.stack.inNetns('ip', ['link', 'del', port as string]);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('succeeds when the OVS port is already gone, and removes the links', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    const [port] = await fx.ovnicPorts();
    await fx.stack.vsctl('del-port', 'br-int', port as string);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('succeeds when the IPAM allocation is already released', async () => {
    const pod = await fx.addPod();
    expectOk(await fx.run('ADD', pod));
    const ipamConf = fx.config(pod) as { ipam: Record<string, unknown> };
    expectOk(await runPlugin('/usr/lib/cni/host-local', fx.call('DEL', pod), { cniVersion: '1.0.0', name: fx.network, ipam: ipamConf.ipam }));
    expect(fx.ipamAllocations()).toEqual([]);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('succeeds for an attachment that never existed, with no prevResult', async () => {
    const pod = await fx.addPod('ghost', { lsp: false });
    expectOk(await fx.run('DEL', pod));
    expectOk(await fx.run('DEL', pod, {}, { netns: '' }));
  });

  it('succeeds after a failed ADD', async () => {
    const pod = await fx.addPod('failed', { lsp: false });
    expectError(await fx.run('ADD', pod, { ovnWait: { enabled: true, timeoutMs: 300 } }), 11);
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });
});

describe('CHECK', () => {
  it('passes right after ADD and names a removed address', async () => {
    const pod = await fx.addPod();
    const add = await fx.run('ADD', pod);
    expectOk(add);
    expectOk(await fx.run('CHECK', pod, { prevResult: add.json }));
    const v4 = (add.json as { ips: Array<{ address: string }> }).ips.find((i) => i.address.includes('.'))?.address as string;
    await ns(pod).exec('ip', ['addr', 'del', v4, 'dev', 'eth0']);
    const err = expectError(await fx.run('CHECK', pod, { prevResult: add.json }), 101);
    expect(err.details).toContain(`address ${v4} is missing`);
    expectOk(await fx.run('DEL', pod));
  });

  it('names a changed MAC and MTU, a removed default route and a missing OVS port', async () => {
    const pod = await fx.addPod();
    const add = await fx.run('ADD', pod, { mtu: 1400 });
    expectOk(add);
    await ns(pod).exec('ip', ['link', 'set', 'eth0', 'address', '0a:00:00:00:99:99', 'mtu', '1300']);
    await ns(pod).exec('ip', ['route', 'del', 'default']);
    let err = expectError(await fx.run('CHECK', pod, { mtu: 1400, prevResult: add.json }), 101);
    expect(err.details).toContain('MAC 0a:00:00:00:99:99');
    expect(err.details).toContain('MTU 1300, expected 1400');
    expect(err.details).toContain('route 0.0.0.0/0');
    const [port] = await fx.ovnicPorts();
    await fx.stack.vsctl('del-port', 'br-int', port as string);
    err = expectError(await fx.run('CHECK', pod, { mtu: 1400, prevResult: add.json }), 101);
    expect(err.details).toContain('no OVS port is recorded');
    expectOk(await fx.run('DEL', pod));
    await expectNothingLeft(pod);
  });

  it('needs a prevResult (code 7)', async () => {
    const pod = await fx.addPod();
    expectError(await fx.run('CHECK', pod), 7);
  });
});

describe('GC', () => {
  it('removes attachments not listed as valid (port, host link, allocation), keeps the valid ones and other networks', async () => {
    const keep = await fx.addPod();
    const leak = await fx.addPod();
    const other = await fx.addPod();
    expectOk(await fx.run('ADD', keep));
    expectOk(await fx.run('ADD', leak));
    expectOk(await fx.run('ADD', other, { name: 'other-net' }));
    expect(await fx.ovnicPorts()).toHaveLength(3);
    expect(fx.ipamAllocations()).toHaveLength(4);

    const r = await fx.run('GC', undefined, { 'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }] });
    expectOk(r);
    expect(r.stdout).toBe('');
    const ports = await fx.ovnicPorts();
    expect(ports).toHaveLength(2);
    expect((await Promise.all(ports.map((p) => fx.externalIds(p)))).map((ids) => ids.ovnic_container_id).sort()).toEqual([keep.containerId, other.containerId].sort());
    expect(await fx.hostVeths()).toHaveLength(2);
    expect((await links(leak)).map((l) => l.ifname)).not.toContain('eth0');
    expect((await links(keep)).map((l) => l.ifname)).toContain('eth0');
    expect(fx.ipamAllocations()).toHaveLength(2);

    // the legacy key name is accepted too
    expectOk(await fx.run('GC', undefined, { 'cni.dev/attachments': [] }));
    expect(await fx.ovnicPorts()).toHaveLength(1);
    expectOk(await fx.run('DEL', other, { name: 'other-net' }));
    await expectNothingLeft(keep);
  });
});

describe('STATUS', () => {
  it('is 0 when OVSDB answers and the bridge exists', async () => {
    expectOk(await fx.run('STATUS', undefined));
  });

  it('is 50 when the bridge is missing', async () => {
    const err = expectError(await fx.run('STATUS', undefined, { bridge: 'br-missing' }), 50);
    expect(err.msg).toContain('br-missing');
  });

  it('is 50 when OVSDB is unreachable', async () => {
    expectError(await fx.run('STATUS', undefined, { ovsdb: 'unix:/run/ovnic-no-such/db.sock' }), 50);
    await fx.stack.kill('ovsdb-server');
    try {
      const err = expectError(await fx.run('STATUS', undefined), 50);
      expect(err.msg).toContain('OVSDB');
      // ADD cannot work either: try again later, nothing allocated
      const pod = await fx.addPod('down', { lsp: false });
      expectError(await fx.run('ADD', pod), 11);
      expect(fx.ipamAllocations()).toEqual([]);
      expect((await links(pod)).map((l) => l.ifname)).not.toContain('eth0');
    } finally {
      await fx.stack.restart('ovsdb-server');
    }
    expectOk(await fx.run('STATUS', undefined));
  });
});
