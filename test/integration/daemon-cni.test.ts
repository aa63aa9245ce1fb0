/**
 * The plugin forwarding to `ovnic daemon` (real OVS/OVN, the API server double, the real
 * client-node in the daemon): ADD waits by watch for the pod annotations written after it began,
 * then configures the NIC from them (pods ping each other over OVN); a timeout names the pod, the
 * provider and the missing keys and leaves nothing behind; DEL is idempotent; Multus providers
 * (<nad>.<ns>.ovn, <nad>.<ns>.ovn.<ifname>), port_name, CHECK, STATUS and the metrics.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonFixture, NODE } from './daemon-fixture.js';
import { V4, V6, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import { cniEnvironment, type PluginRun } from '../../src/sandbox/plugin.js';
import type { PodNetns } from '../../src/sandbox/pods.js';
import { hostLinkName } from '../../src/cni/ownership.js';

let d: DaemonFixture;

interface ErrorJson {
  code: number;
  msg: string;
  details?: string;
}

function expectOk(r: PluginRun): Record<string, unknown> {
  expect(r.exitCode, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r.json ?? {};
}

function expectError(r: PluginRun, code: number): ErrorJson {
  expect(r.exitCode, r.stdout).toBe(1);
  const json = r.json as unknown as ErrorJson;
  expect(json?.code, r.stdout).toBe(code);
  return json;
}

const ns = (pod: FixturePod): PodNetns => pod.netns as PodNetns;

async function podLinks(pod: FixturePod): Promise<string[]> {
  return (await ns(pod).ip<Array<{ ifname: string }>>('link', 'show')).map((l) => l.ifname).sort();
}

async function addresses(pod: FixturePod, ifname: string): Promise<{ mac: string; ips: string[] }> {
  const [link] = await ns(pod).ip<Array<{ address: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>('addr', 'show', 'dev', ifname);
  return { mac: link?.address ?? '', ips: (link?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort() };
}

/** Starts ADD, waits until the daemon is serving it, lets it wait a little more. (Wrapped: awaiting a bare promise would wait for ADD.) */
async function addWaitingForAnnotations(pod: FixturePod): Promise<{ running: Promise<PluginRun> }> {
  const before = (await d.metric('ovnic_cni_requests_in_flight', { command: 'ADD' })) ?? 0;
  const running = d.run('ADD', pod);
  await d.until('the daemon to serve the ADD', async () => ((await d.metric('ovnic_cni_requests_in_flight', { command: 'ADD' })) ?? 0) > before);
  await new Promise((r) => setTimeout(r, 300));
  return { running };
}

beforeAll(async () => {
  d = await DaemonFixture.start({ name: 'dcni', annotationTimeout: '20s' });
}, 120_000);

afterAll(async () => {
  if (process.env.OVNIC_DEBUG_DAEMON) {
    console.log(d?.api.requests.map((x) => `${x.verb} ${x.path ?? ''} ${x.status ?? ''}`).join('\n'));
    console.log(d?.daemon?.stderr());
  }
  await d?.stop();
});

describe('ADD waits for the annotations by watch', () => {
  let a: FixturePod;
  let b: FixturePod;

  beforeAll(async () => {
    a = await d.fx.addPod('alpha');
    b = await d.fx.addPod('beta');
    await d.createPod(a);
    await d.createPod(b);
  });

  it('annotations written after ADD began: ADD completes with the annotated addresses, MAC and routes', async () => {
    const waitsBefore = await d.metric('ovnic_cni_annotation_wait_seconds_count', { outcome: 'ready' });
    const { running } = await addWaitingForAnnotations(a);
    // the controller allocates in two steps, as Kube-OVN does: addresses, then the route
    await d.annotate(a, { ...d.kubeOvnAnnotations(a), 'ovn.kubernetes.io/routed': null });
    await new Promise((r) => setTimeout(r, 200));
    await d.annotate(a, { 'ovn.kubernetes.io/routed': 'true' });
    const result = expectOk(await running);

    expect(result.ips).toEqual([
      { address: `${a.ipv4}/${V4.len}`, gateway: V4.gateway, interface: 1 },
      { address: `${a.ipv6}/${V6.len}`, gateway: V6.gateway, interface: 1 },
    ]);
    expect(result.routes).toEqual([{ dst: '0.0.0.0/0', gw: V4.gateway }, { dst: '::/0', gw: V6.gateway }]);
    expect((result.interfaces as Array<{ name: string; mac: string }>)[1]).toMatchObject({ name: 'eth0', mac: a.mac });
    expect(await addresses(a, 'eth0')).toEqual({ mac: a.mac, ips: [`${a.ipv4}/${V4.len}`, `${a.ipv6}/${V6.len}`].sort() });
    const ids = await d.fx.externalIds(hostLinkName(a.containerId, 'eth0'));
    expect(ids).toMatchObject({ 'iface-id': 'alpha.default', pod_name: 'alpha', pod_namespace: 'default', ovnic_nic_type: 'veth', 'ovn-installed': 'true' });
    expect(ids.ovnic_pod_uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await d.metric('ovnic_cni_annotation_wait_seconds_count', { outcome: 'ready' })).toBe((waitsBefore ?? 0) + 1);
    expect(await d.metric('ovnic_cni_annotation_wait_seconds_sum', { outcome: 'ready' })).toBeGreaterThan(0.4);
  });

  let addB: Record<string, unknown>;

  it('annotations already there: ADD goes straight through; the pods ping each other over OVN', async () => {
    await d.annotate(b, d.kubeOvnAnnotations(b));
    addB = expectOk(await d.run('ADD', b));
    expect(await ns(a).ping(b.ipv4, 3)).toBeGreaterThan(0);
    expect(await ns(b).ping(a.ipv6, 3)).toBeGreaterThan(0);
  });

  it('CHECK through the daemon passes with the ADD result, fails for a wrong iface-id', async () => {
    const add = addB;
    expectOk(await d.run('CHECK', b, { prevResult: add }));
    await d.annotate(b, { 'ovn.kubernetes.io/port_name': 'someone-else' });
    await new Promise((r) => setTimeout(r, 200));
    const err = expectError(await d.run('CHECK', b, { prevResult: add }), 101);
    expect(err.details).toContain('expected "someone-else"');
    await d.annotate(b, { 'ovn.kubernetes.io/port_name': null });
  });

  it('DEL through the daemon removes the port and the links, and is idempotent', async () => {
    expectOk(await d.run('DEL', a));
    expect(await d.fx.ovnicPorts()).toEqual([hostLinkName(b.containerId, 'eth0')]);
    expect(await podLinks(a)).toEqual(['lo']);
    expectOk(await d.run('DEL', a));
    expectOk(await d.run('DEL', a, {}, { netns: '' }));
    expect(await d.fx.hostVeths()).toEqual([hostLinkName(b.containerId, 'eth0')]);
  });
});

describe('ADD gives up with a clear error and leaves nothing', () => {
  it('annotations never complete: code 11 naming pod, provider, interface and the missing keys', async () => {
    const pod = await d.fx.addPod('never');
    await d.createPod(pod, { 'ovn.kubernetes.io/logical_switch': d.fx.logicalSwitch, 'ovn.kubernetes.io/ip_address': pod.ipv4 });
    const before = (await d.fx.ovnicPorts()).length;
    const started = Date.now();
    const err = expectError(await d.run('ADD', pod, { annotationTimeoutMs: 1500 }), 11);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(err.msg).toMatch(/^timed out after 1\d{3} ms waiting for the addresses of pod default\/never \(provider "ovn", interface eth0\)$/);
    expect(err.details).toContain('missing ovn.kubernetes.io/allocated="true", ovn.kubernetes.io/mac_address, ovn.kubernetes.io/routed="true", ovn.kubernetes.io/cidr.');
    expect(err.details).toContain('kube-ovn-controller');
    expect((await d.fx.ovnicPorts()).length).toBe(before);
    expect(await podLinks(pod)).toEqual(['lo']);
    expect(await d.fx.hostVeths()).not.toContain(hostLinkName(pod.containerId, 'eth0'));
    expect(await d.metric('ovnic_cni_annotation_wait_seconds_count', { outcome: 'timeout' })).toBeGreaterThanOrEqual(1);
  });

  it('a pod of another node (or not created): the error says it is not in the pod cache of this node', async () => {
    const pod = await d.fx.addPod('elsewhere');
    await d.createPod(pod, {}, 'node2');
    const err = expectError(await d.run('ADD', pod, { annotationTimeoutMs: 500 }), 11);
    expect(err.details).toBe(`pod default/elsewhere is not in the node daemon's pod cache (pods of node ${NODE})`);
    expect(await podLinks(pod)).toEqual(['lo']);
  });

  it('a re-created pod (the runtime asks for another uid): waits for that pod, names both uids', async () => {
    const pod = await d.fx.addPod('recreated');
    await d.createPod(pod, d.kubeOvnAnnotations(pod));
    const err = expectError(await d.run('ADD', pod, { annotationTimeoutMs: 500 }, { args: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=recreated;K8S_POD_UID=00000000-0000-0000-0000-000000000001` }), 11);
    expect(err.details).toMatch(/has uid [0-9a-f-]{36}, the runtime asked for uid 00000000-0000-0000-0000-000000000001/);
  });

  it('the plugin killed while ADD waits: the daemon abandons the wait (nothing is created later)', async () => {
    const pod = await d.fx.addPod('abandoned');
    await d.createPod(pod);
    const aborted = (await d.metric('ovnic_cni_annotation_wait_seconds_count', { outcome: 'aborted' })) ?? 0;
    const plugin = spawn(d.bin, [], { env: cniEnvironment(d.call('ADD', pod)), stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => plugin.once('exit', resolve));
    plugin.stdin.end(JSON.stringify(d.conf()));
    await d.until('the daemon to serve the ADD', async () => ((await d.metric('ovnic_cni_requests_in_flight', { command: 'ADD' })) ?? 0) > 0);
    plugin.kill('SIGKILL');
    await exited;
    await d.until('the daemon to abandon the wait', async () => ((await d.metric('ovnic_cni_annotation_wait_seconds_count', { outcome: 'aborted' })) ?? 0) > aborted);
    await d.annotate(pod, d.kubeOvnAnnotations(pod));
    await new Promise((r) => setTimeout(r, 500));
    expect(await d.fx.ovnicPorts()).not.toContain(hostLinkName(pod.containerId, 'eth0'));
    expect(await podLinks(pod)).toEqual(['lo']);
  });
});

describe('Multus NADs, port_name, NIC types', () => {
  const nad = 'attachnet1.mec-nets.ovn';
  let vm: FixturePod;

  beforeAll(async () => {
    vm = await d.fx.addPod('multi', { lsp: false });
    await d.createPod(vm);
  });

  it('the same NAD attached twice (net1, net2): <provider>.<ifname> keys, iface-id <pod>.<ns>.<provider>.<ifname>, no default route', async () => {
    const net1 = { mac: '0a:00:00:10:16:a1', ipv4: `${V4.prefix}161`, ipv6: `${V6.prefix}a1` };
    const net2 = { mac: '0a:00:00:10:16:a2', ipv4: `${V4.prefix}162`, ipv6: `${V6.prefix}a2` };
    for (const [ifname, n] of [['net1', net1], ['net2', net2]] as const) {
      await d.fx.addLsp({ ...vm, lsp: `multi.default.${nad}.${ifname}`, ...n }, true);
      await d.annotate(vm, d.kubeOvnAnnotations({ ...vm, ...n }, `${nad}.${ifname}`, { routed: 'false' }));
    }
    const conf = { name: 'attachnet1', provider: nad };
    const r1 = expectOk(await d.run('ADD', vm, conf, { ifname: 'net1' }));
    const r2 = expectOk(await d.run('ADD', vm, conf, { ifname: 'net2' }));
    expect(r1.routes ?? []).toEqual([]);
    expect(r1.ips).toEqual([{ address: `${net1.ipv4}/${V4.len}`, interface: 1 }, { address: `${net1.ipv6}/${V6.len}`, interface: 1 }]);
    expect(r2.ips).toEqual([{ address: `${net2.ipv4}/${V4.len}`, interface: 1 }, { address: `${net2.ipv6}/${V6.len}`, interface: 1 }]);
    expect(await addresses(vm, 'net1')).toEqual({ mac: net1.mac, ips: [`${net1.ipv4}/${V4.len}`, `${net1.ipv6}/${V6.len}`].sort() });
    expect(await addresses(vm, 'net2')).toEqual({ mac: net2.mac, ips: [`${net2.ipv4}/${V4.len}`, `${net2.ipv6}/${V6.len}`].sort() });
    const ports = await d.fx.ovnicPorts();
    const ifaceIds = await Promise.all(ports.map(async (p) => (await d.fx.externalIds(p))['iface-id']));
    expect(ifaceIds).toEqual(expect.arrayContaining([`multi.default.${nad}.net1`, `multi.default.${nad}.net2`]));
    for (const ifname of ['net1', 'net2']) expectOk(await d.run('DEL', vm, conf, { ifname }));
  });

  it('a bound NicPort: port_name chooses the logical switch port', async () => {
    const n = { mac: '0a:00:00:10:16:b1', ipv4: `${V4.prefix}171`, ipv6: `${V6.prefix}b1` };
    const lsp = 'np-web.default.lsp';
    await d.fx.addLsp({ ...vm, lsp, ...n }, true);
    const provider = 'attachnet2.mec-nets.ovn';
    await d.annotate(vm, d.kubeOvnAnnotations({ ...vm, ...n }, provider, { port_name: lsp }));
    const conf = { name: 'attachnet2', provider };
    expectOk(await d.run('ADD', vm, conf, { ifname: 'net3' }));
    const port = hostLinkName(vm.containerId, 'net3');
    expect((await d.fx.externalIds(port))['iface-id']).toBe(lsp);
    expectOk(await d.run('DEL', vm, conf, { ifname: 'net3' }));
  });

  it('pod_nic_type internal-macvtap: the daemon plugs an OVS internal port and a macvtap with the annotated MAC', async () => {
    const n = { mac: '0a:00:00:10:16:c1', ipv4: `${V4.prefix}181`, ipv6: `${V6.prefix}c1` };
    const provider = 'attachnet3.mec-nets.ovn';
    await d.fx.addLsp({ ...vm, lsp: `multi.default.${provider}`, ...n }, true);
    await d.annotate(vm, d.kubeOvnAnnotations({ ...vm, ...n }, provider, { pod_nic_type: 'internal-macvtap' }));
    mkdirSync(`${d.dir}/tap`, { recursive: true });
    const conf = { name: 'attachnet3', provider, guestOwnsAddresses: true, tapDeviceDir: `${d.dir}/tap` };
    const r = expectOk(await d.run('ADD', vm, conf, { ifname: 'net4' }));
    const port = hostLinkName(vm.containerId, 'net4');
    const ids = await d.fx.externalIds(port);
    expect(ids).toMatchObject({ 'iface-id': `multi.default.${provider}`, ovnic_nic_type: 'internal-macvtap' });
    expect((await d.fx.stack.vsctl('get', 'Interface', port, 'type')).trim()).toBe('internal');
    const [link] = await ns(vm).ip<Array<{ address: string; linkinfo?: { info_kind: string } }>>('-d', 'link', 'show', 'dev', 'net4');
    expect([link?.address, link?.linkinfo?.info_kind]).toEqual([n.mac, 'macvtap']);
    expect((r.ips as Array<{ address: string }>).map((ip) => ip.address)).toEqual([`${n.ipv4}/${V4.len}`, `${n.ipv6}/${V6.len}`]);
    expect(await d.metric('ovnic_cni_op_duration_seconds_count', { command: 'ADD', nic_type: 'internal-macvtap' })).toBe(1);
    expectOk(await d.run('DEL', vm, conf, { ifname: 'net4' }));
    expect(await d.fx.ovnicPorts()).not.toContain(port);
    expect(await podLinks(vm)).toEqual(['lo']);
  });

  it('pod_nic_type sriov: code 2 at once (no wait)', async () => {
    const provider = 'attachnet4.mec-nets.ovn';
    await d.annotate(vm, d.kubeOvnAnnotations(vm, provider, { pod_nic_type: 'sriov' }));
    const started = Date.now();
    const err = expectError(await d.run('ADD', vm, { name: 'attachnet4', provider }, { ifname: 'net5' }), 2);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.msg).toContain(`${provider}.kubernetes.io/pod_nic_type="sriov"`);
  });
});

describe('STATUS and metrics', () => {
  it('STATUS through the daemon succeeds when OVSDB is connected and the pod cache synced', async () => {
    expectOk(await d.run('STATUS', undefined));
  });

  it('without K8S_POD_NAME, annotation addressing is refused with code 7', async () => {
    const pod = await d.fx.addPod('plain');
    const err = expectError(await d.run('ADD', pod, {}, { args: '' }), 7);
    expect(err.msg).toBe('addresses from pod annotations need K8S_POD_NAME and K8S_POD_NAMESPACE in CNI_ARGS');
  });

  it('/metrics: op latency per command and NIC type, errors by code, OVSDB state, pod cache; /readyz ready', async () => {
    const { status, body } = await d.http('/metrics');
    expect(status).toBe(200);
    expect(await d.metric('ovnic_cni_op_duration_seconds_count', { command: 'ADD', nic_type: 'veth' })).toBeGreaterThanOrEqual(3);
    expect(await d.metric('ovnic_cni_op_duration_seconds_count', { command: 'DEL', nic_type: 'veth' })).toBeGreaterThanOrEqual(3);
    expect(body).toMatch(/^ovnic_cni_op_duration_seconds_bucket\{command="ADD",nic_type="veth",le="0\.5"\} \d+$/m);
    expect(await d.metric('ovnic_cni_errors_total', { command: 'ADD', code: '11' })).toBeGreaterThanOrEqual(3);
    expect(await d.metric('ovnic_cni_errors_total', { command: 'ADD', code: '7' })).toBe(1);
    expect(await d.metric('ovnic_ovsdb_connected', { remote: d.fx.stack.ovsdbRemote })).toBe(1);
    expect(await d.metric('ovnic_daemon_pods_synced')).toBe(1);
    expect((await d.http('/readyz')).status).toBe(200);
    expect((await d.http('/healthz')).status).toBe(200);
  });
});
