/**
 * internal-macvtap leaves nothing behind: a fault after each ADD step, a taken CNI_IFNAME, a bad
 * tapDeviceDir; DEL in every missing-resource case (twice, netns gone, no CNI_NETNS, OVS port
 * removed by hand, ovs-vswitchd down so the internal device lingers); CHECK finds what differs;
 * GC removes stale attachments and tap device directories whose port is gone. Nothing left means:
 * no ovnic OVS port, no internal device in the vswitchd netns, only `lo` in the pod netns, an
 * empty tap device directory and no host-local allocation.
 */
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';
import type { PodNetns } from '../../src/sandbox/pods.js';
import { ADD_STEPS } from '../../src/nic/faults.js';
import { hostLinkName } from '../../src/cni/ownership.js';
import { TAP_RESULT_KEY, type TapResultExtension } from '../../src/nic/internal-macvtap.js';

let fx: CniFixture;
let tapDir: string;

const ns = (pod: FixturePod): PodNetns => pod.netns as PodNetns;
const conf = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ nicType: 'internal-macvtap', tapDeviceDir: tapDir, ...over });
const faults = (step: string): Record<string, string> => ({ OVNIC_TEST_FAULTS: '1', OVNIC_FAULT_INJECT: step });

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
  expect(r.exitCode, r.stdout).not.toBe(0);
  const json = r.json as unknown as ErrorJson;
  expect(json?.code, r.stdout).toBe(code);
  return json;
}

/** Internal port devices (named `…_h`) in the vswitchd netns. */
async function internalDevices(): Promise<string[]> {
  const links = JSON.parse(await fx.stack.inNetns('ip', ['-j', 'link', 'show'])) as Array<{ ifname: string }>;
  return links.map((l) => l.ifname).filter((n) => n.endsWith('_h')).sort();
}

async function podLinks(pod: FixturePod): Promise<string[]> {
  return (await ns(pod).ip<Array<{ ifname: string }>>('link', 'show')).map((l) => l.ifname);
}

async function expectNothingLeft(pod?: FixturePod): Promise<void> {
  expect(await fx.ovnicPorts()).toEqual([]);
  expect(await internalDevices()).toEqual([]);
  expect(readdirSync(tapDir)).toEqual([]);
  expect(fx.ipamAllocations()).toEqual([]);
  if (pod?.netns) expect(await podLinks(pod)).toEqual(['lo']);
}

async function addOk(pod: FixturePod, over: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const result = expectOk(await fx.run('ADD', pod, conf(over)));
  expect(await fx.ovnicPorts()).toContain(hostLinkName(pod.containerId, pod.ifname));
  return result;
}

beforeAll(async () => {
  tapDir = mkdtempSync(join(tmpdir(), 'ovnic-taps-'));
  fx = await CniFixture.start({ name: 'mvl', ipam: 'host-local' });
});

afterAll(async () => {
  await fx?.stop();
  if (tapDir) rmSync(tapDir, { recursive: true, force: true });
});

describe('ADD failures leave nothing behind', () => {
  for (const step of ADD_STEPS) {
    it(`injected fault after "${step}"; DEL then succeeds and a real ADD works`, async () => {
      const pod = await fx.addPod();
      const r = await fx.run('ADD', pod, conf(), { extraEnv: faults(step) });
      expect(expectError(r, 999).msg).toBe(`injected fault after step "${step}"`);
      await expectNothingLeft(pod);
      expectOk(await fx.run('DEL', pod, conf()));
      await addOk(pod);
      expectOk(await fx.run('DEL', pod, conf()));
      await expectNothingLeft(pod);
    });
  }

  it('CNI_IFNAME already in the netns: code 100, the existing link untouched', async () => {
    const pod = await fx.addPod();
    await ns(pod).exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
    expect(expectError(await fx.run('ADD', pod, conf()), 100).msg).toContain('"eth0" already exists');
    expect((await podLinks(pod)).sort()).toEqual(['eth0', 'lo', 'other0']);
    await ns(pod).exec('ip', ['link', 'del', 'eth0']);
    await expectNothingLeft(pod);
  });

  it('a relative tapDeviceDir: code 7 before anything is created', async () => {
    const pod = await fx.addPod();
    expect(expectError(await fx.run('ADD', pod, conf({ tapDeviceDir: 'taps' })), 7).msg).toContain('"tapDeviceDir"');
    await expectNothingLeft(pod);
  });

  it('passthru mode fault after the macvtap: the internal port (whose MAC it changed) goes too', async () => {
    const pod = await fx.addPod();
    expectError(await fx.run('ADD', pod, conf({ macvtapMode: 'passthru' }), { extraEnv: faults('container-config') }), 999);
    await expectNothingLeft(pod);
  });
});

describe('DEL', () => {
  it('is idempotent: a second DEL succeeds and changes nothing', async () => {
    const pod = await fx.addPod();
    await addOk(pod);
    expectOk(await fx.run('DEL', pod, conf()));
    await expectNothingLeft(pod);
    expectOk(await fx.run('DEL', pod, conf()));
    await expectNothingLeft(pod);
  });

  it('with the netns already gone (path missing) and with no CNI_NETNS', async () => {
    const a = await fx.addPod();
    const b = await fx.addPod();
    await addOk(a);
    await addOk(b);
    await ns(a).remove();
    expectOk(await fx.run('DEL', a, conf()));
    await ns(b).remove();
    expectOk(await fx.run('DEL', b, conf(), { netns: '' }));
    await expectNothingLeft();
  });

  it('with the OVS port removed by hand: the node directory still goes', async () => {
    const pod = await fx.addPod();
    await addOk(pod);
    await fx.stack.vsctl('del-port', 'br-int', hostLinkName(pod.containerId, pod.ifname));
    expectOk(await fx.run('DEL', pod, conf()));
    await expectNothingLeft(pod);
  });
});

describe('CHECK', () => {
  it('passes on a fresh attachment and names what differs afterwards', async () => {
    const pod = await fx.addPod();
    const result = await addOk(pod);
    const check = (over: Record<string, unknown> = {}): Promise<PluginRun> => fx.run('CHECK', pod, { ...conf(over), prevResult: result });
    expectOk(await check());

    // the configuration now asks for another mode
    expect(expectError(await check({ macvtapMode: 'private' }), 101).details).toContain('mode bridge, expected private');

    // the node was removed
    const node = (result[TAP_RESULT_KEY] as TapResultExtension).node;
    unlinkSync(node);
    expect(expectError(await check(), 101).details).toContain(`tap device node ${node} is missing`);

    // the macvtap was removed
    await ns(pod).exec('ip', ['link', 'del', 'eth0']);
    const details = expectError(await check(), 101).details ?? '';
    expect(details).toContain('interface "eth0" is missing');

    expectOk(await fx.run('DEL', pod, conf()));
    await expectNothingLeft(pod);
  });
});

describe('GC', () => {
  it('removes stale attachments (port, internal device, macvtap, node, allocation) and keeps valid ones', async () => {
    const keep = await fx.addPod();
    const stale = await fx.addPod();
    await addOk(keep);
    await addOk(stale);
    expect(readdirSync(tapDir)).toHaveLength(2);
    expectOk(await fx.run('GC', undefined, { ...conf(), 'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }] }));
    expect(await fx.ovnicPorts()).toEqual([hostLinkName(keep.containerId, 'eth0')]);
    expect(await internalDevices()).toEqual([hostLinkName(keep.containerId, 'eth0')]);
    expect(await podLinks(stale)).toEqual(['lo']);
    expect(await podLinks(keep)).toContain('eth0');
    expect(readdirSync(tapDir)).toEqual([`${keep.containerId.slice(0, 12)}-eth0`]);
    expect(fx.ipamAllocations()).toHaveLength(2);
    expectOk(await fx.run('DEL', keep, conf()));
    await expectNothingLeft(keep);
  });

  it('removes a node directory whose OVS port is gone, and leaves other networks alone', async () => {
    const orphan = await fx.addPod();
    const otherNet = await fx.addPod();
    await addOk(orphan);
    await addOk(otherNet, { name: 'other-net' });
    await fx.stack.vsctl('del-port', 'br-int', hostLinkName(orphan.containerId, 'eth0'));
    expect(readdirSync(tapDir)).toHaveLength(2);
    expectOk(await fx.run('GC', undefined, { ...conf(), 'cni.dev/valid-attachments': [] }));
    expect(readdirSync(tapDir)).toEqual([`${otherNet.containerId.slice(0, 12)}-eth0`]);
    expectOk(await fx.run('DEL', orphan, conf()));
    expectOk(await fx.run('DEL', otherNet, conf({ name: 'other-net' })));
    await expectNothingLeft();
  });
});

describe('ovs-vswitchd down', () => {
  it('DEL deletes the internal device ovs-vswitchd left behind; after a restart the node is clean', async () => {
    const pod = await fx.addPod();
    await addOk(pod);
    const device = hostLinkName(pod.containerId, 'eth0');
    await fx.stack.kill('ovs-vswitchd');
    try {
      // the tap is persistent: it outlives the daemon, and so does the macvtap on it
      expect(await internalDevices()).toEqual([device]);
      expect(await podLinks(pod)).toContain('eth0');
      expectOk(await fx.run('DEL', pod, conf()));
      expect(await internalDevices()).toEqual([]);
      expect(await podLinks(pod)).toEqual(['lo']);
    } finally {
      await fx.stack.restart('ovs-vswitchd');
    }
    await expectNothingLeft(pod);
    await addOk(pod);
    expectOk(await fx.run('DEL', pod, conf()));
    await expectNothingLeft(pod);
  });
});
