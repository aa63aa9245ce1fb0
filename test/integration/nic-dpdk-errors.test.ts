/**
 * nicType dpdk-vhostuser where it cannot work, through the built plugin on the plain (non-DPDK)
 * ovs-vswitchd: a clear CNI error and nothing left behind — no OVS port, no socket directory, no
 * IPAM allocation. Both ways OVS tells: the Open_vSwitch row (checked before anything is made)
 * and the Interface `error` column (when the row says nothing, the port is made and rolled back).
 * Also a kernel-datapath bridge, a socket path longer than sun_path, and GC of socket
 * directories. The working case (OVS-DPDK + a vhost-user server) is opt-in: test/integration/dpdk/.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture } from '../../src/sandbox/cni-fixture.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';
import { ensureVhostSocketDir } from '../../src/dpdk/index.js';
import { hostLinkName } from '../../src/cni/ownership.js';
import { sleep } from '../../src/sandbox/stack.js';

let fx: CniFixture;
let socketDir: string;

const conf = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ nicType: 'dpdk-vhostuser', vhostSocketDir: socketDir, ...over });

interface ErrorJson {
  code: number;
  msg: string;
  details?: string;
}

function expectError(r: PluginRun, code: number): ErrorJson {
  expect(r.exitCode, r.stdout).not.toBe(0);
  const json = r.json as unknown as ErrorJson;
  expect(json?.code, `${r.stdout}\n${r.stderr}`).toBe(code);
  return json;
}

/** Stops ovs-vswitchd and clears what it reported (it rewrites iface_types whenever it runs). */
async function forgetIfaceTypes(): Promise<void> {
  await fx.stack.kill('ovs-vswitchd');
  await fx.stack.vsctl('--no-wait', 'clear', 'Open_vSwitch', '.', 'iface_types');
}

async function expectNothingLeft(): Promise<void> {
  expect(await fx.ovnicPorts()).toEqual([]);
  expect(readdirSync(socketDir)).toEqual([]);
  expect(fx.ipamAllocations()).toEqual([]);
}

beforeAll(async () => {
  socketDir = mkdtempSync(join(tmpdir(), 'ovnic-vhu-'));
  fx = await CniFixture.start({ name: 'nodpdk', ipam: 'host-local' });
});

afterAll(async () => {
  await fx?.stop();
  if (socketDir) rmSync(socketDir, { recursive: true, force: true });
});

describe('ADD without OVS-DPDK', () => {
  it('fails with code 50 "OVS has no DPDK support" before creating anything', async () => {
    const pod = await fx.addPod();
    const err = expectError(await fx.run('ADD', pod, conf()), 50);
    expect(err.msg).toBe('OVS has no DPDK support');
    expect(err.details).toContain('ovs-vswitchd is not built with DPDK (dpdk_version=none)');
    expect(err.details).toContain('openvswitch-switch-dpdk');
    await expectNothingLeft();
    expect((await fx.run('DEL', pod, conf())).exitCode).toBe(0);
  });

  it('when the Open_vSwitch row does not tell, the Interface error does: the port is rolled back', async () => {
    const pod = await fx.addPod();
    // A database ovs-vswitchd has not reported its interface types to yet: ADD finds no reason to
    // refuse, plugs the port, and learns from the Interface row once ovs-vswitchd (re)starts.
    await forgetIfaceTypes();
    const adding = fx.run('ADD', pod, conf({ ovnWait: { enabled: true, timeoutMs: 20_000 } }));
    await sleep(1000);
    await fx.stack.restart('ovs-vswitchd');
    const err = expectError(await adding, 50);
    expect(err.msg).toBe('OVS has no DPDK support');
    expect(err.details).toMatch(/cannot create dpdkvhostuserclient port \S+ \(Interface error: "could not open network device \S+ \(Address family not supported by protocol\)"\)/);
    await expectNothingLeft();
  });
});

describe('STATUS', () => {
  it('is 50 for a dpdk-vhostuser network on OVS without DPDK, 0 for a veth network', async () => {
    const err = expectError(await fx.run('STATUS', undefined, conf()), 50);
    expect(err.msg).toBe('OVS has no DPDK support');
    expect((await fx.run('STATUS', undefined, conf({ nicType: 'veth' }))).exitCode).toBe(0);
  });
});

describe('ADD with a configuration that cannot work', () => {
  it('a kernel-datapath bridge: code 7 naming the bridge', async () => {
    const pod = await fx.addPod();
    // --no-wait: there is no kernel datapath here, ovs-vswitchd never finishes creating it
    await fx.stack.vsctl('--no-wait', 'add-br', 'br-kern');
    try {
      const err = expectError(await fx.run('ADD', pod, conf({ bridge: 'br-kern' })), 7);
      expect(err.details).toContain('bridge br-kern has datapath_type "" (the kernel datapath)');
      await expectNothingLeft();
    } finally {
      await fx.stack.vsctl('--no-wait', '--if-exists', 'del-br', 'br-kern');
    }
  });

  it('a socket directory too deep for sun_path: code 7 before anything is created', async () => {
    const pod = await fx.addPod();
    const deep = join(socketDir, 'x'.repeat(90));
    const err = expectError(await fx.run('ADD', pod, conf({ vhostSocketDir: deep })), 7);
    expect(err.details).toMatch(/at most 107 bytes/);
    expect(existsSync(deep)).toBe(false);
    await expectNothingLeft();
  });

  it('a socket directory of another attachment with the same name: code 100, that directory untouched', async () => {
    const pod = await fx.addPod();
    // same 12-character container ID prefix, different container
    const other = { containerId: `${pod.containerId}ff`, ifName: 'eth0', network: 'ovnic-test' };
    const taken = await ensureVhostSocketDir(other, { baseDir: socketDir });
    // get past the DPDK check (see above) to the directory
    await forgetIfaceTypes();
    try {
      expectError(await fx.run('ADD', pod, conf()), 100);
      expect(existsSync(taken.dir)).toBe(true);
      expect(await fx.ovnicPorts()).toEqual([]);
      expect(fx.ipamAllocations()).toEqual([]);
    } finally {
      await fx.stack.restart('ovs-vswitchd');
      rmSync(taken.dir, { recursive: true, force: true });
    }
    await expectNothingLeft();
  });
});

describe('DEL and GC', () => {
  it('DEL removes a socket directory left for the attachment, and is idempotent', async () => {
    const pod = await fx.addPod();
    const left = await ensureVhostSocketDir({ containerId: pod.containerId, ifName: 'eth0', network: 'ovnic-test' }, { baseDir: socketDir });
    expect((await fx.run('DEL', pod, conf())).exitCode).toBe(0);
    expect(existsSync(left.dir)).toBe(false);
    expect((await fx.run('DEL', pod, conf())).exitCode).toBe(0);
    await expectNothingLeft();
  });

  it('GC removes stale ports and orphan socket directories of its network only', async () => {
    const valid = { containerId: 'a00000000001valid', ifName: 'eth0', network: 'ovnic-test' };
    const orphan = { containerId: 'a00000000002orphan', ifName: 'net1', network: 'ovnic-test' };
    const otherNet = { containerId: 'a00000000003other', ifName: 'eth0', network: 'other-net' };
    const stale = { containerId: 'a00000000004stale', ifName: 'eth0', network: 'ovnic-test' };
    for (const att of [valid, orphan, otherNet]) await ensureVhostSocketDir(att, { baseDir: socketDir });
    mkdirSync(join(socketDir, 'not-ours'));
    // a stale vhost-user port of the network, with its directory (as a DPDK node would have them)
    const staleDir = await ensureVhostSocketDir(stale, { baseDir: socketDir });
    const stalePort = hostLinkName(stale.containerId, stale.ifName);
    await fx.stack.vsctl(
      'add-port', 'br-int', stalePort, '--', 'set', 'Interface', stalePort, 'type=dpdkvhostuserclient',
      `options:vhost-server-path=${staleDir.socketPath}`, 'external_ids:vendor=ovnic', `external_ids:ovnic_container_id=${stale.containerId}`,
      'external_ids:ovnic_ifname=eth0', 'external_ids:ovnic_network=ovnic-test', 'external_ids:ovnic_nic_type=dpdk-vhostuser',
    );
    expect(await fx.ovnicPorts()).toEqual([stalePort]);
    const r = await fx.run('GC', undefined, { ...conf({ ipam: undefined }), 'cni.dev/valid-attachments': [{ containerID: valid.containerId, ifname: valid.ifName }] });
    expect(r.exitCode, r.stdout).toBe(0);
    expect(await fx.ovnicPorts()).toEqual([]);
    expect(readdirSync(socketDir).sort()).toEqual(['a00000000001-eth0', 'a00000000003-eth0', 'not-ours']);
    for (const name of readdirSync(socketDir)) rmSync(join(socketDir, name), { recursive: true });
    await expectNothingLeft();
  });
});
