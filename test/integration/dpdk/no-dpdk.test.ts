// A vhost-user port on the plain (non-DPDK) ovs-vswitchd: the errors a CNI ADD must turn into a
// clear "OVS has no DPDK support" instead of a port that silently never works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvnStack } from '../../../src/sandbox/stack.js';
import {
  DpdkError,
  assertVhostUserBridge,
  dpdkSupportProblem,
  ensureVhostSocketDir,
  interpretVhostUserInterface,
  removeVhostSocketDir,
  vhostUserPortSpec,
  vsctlInterfaceSettings,
} from '../../../src/dpdk/index.js';
import { readBridge, readDpdkCapabilities, readInterface, waitForInterface } from './ovs-rows.js';

describe('vhost-user port on ovs-vswitchd without DPDK', () => {
  let stack: OvnStack;
  let baseDir: string;

  beforeAll(async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'ovnic-vhu-'));
    stack = await OvnStack.start({ name: 'nodpdk', ovn: false });
  });
  afterAll(async () => {
    await stack?.stop();
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
  });

  it('tells from the Open_vSwitch row that vhost-user ports cannot work', async () => {
    const caps = await readDpdkCapabilities(stack);
    expect(caps.dpdkVersion).toBe('none');
    expect(caps.ifaceTypes).toContain('internal');
    expect(caps.ifaceTypes).not.toContain('dpdkvhostuserclient');
    const problem = dpdkSupportProblem(caps);
    expect(problem).toBeInstanceOf(DpdkError);
    expect(problem?.code).toBe('DPDK_UNSUPPORTED');
    expect(problem?.message).toMatch(/^OVS has no DPDK support: ovs-vswitchd is not built with DPDK \(dpdk_version=none\)/);
  });

  it('turns the Interface error of a dpdkvhostuserclient port into DPDK_UNSUPPORTED', async () => {
    const att = { containerId: randomBytes(32).toString('hex'), ifName: 'net1' };
    const loc = await ensureVhostSocketDir(att, { baseDir });
    const name = `vhu${randomBytes(3).toString('hex')}`;
    const spec = vhostUserPortSpec({ name, socketPath: loc.socketPath, externalIds: { 'ovnic-test': 'nodpdk', pod: 'ns/pod a', 'k=v': 'x,y' } });
    try {
      await stack.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, ...vsctlInterfaceSettings(spec));
      const iface = await waitForInterface(stack, name, (i) => i.error !== undefined);
      expect(iface.error).toBe(`could not open network device ${name} (Address family not supported by protocol)`);
      expect(iface.ofport).toBe(-1);
      const state = interpretVhostUserInterface(iface);
      expect(state.phase).toBe('failed');
      expect(state.error?.code).toBe('DPDK_UNSUPPORTED');
      expect(state.message).toContain(`OVS has no DPDK support: ovs-vswitchd cannot create dpdkvhostuserclient port ${name}`);
      expect(state.message).toContain(iface.error);
      // the rendered settings round-trip through ovs-vsctl
      const ids = JSON.parse(await stack.vsctl('--format=json', '--columns=external_ids,options', 'list', 'Interface', name)) as {
        data: unknown[][];
      };
      expect(ids.data[0]).toEqual([
        ['map', [['k=v', 'x,y'], ['ovnic-test', 'nodpdk'], ['pod', 'ns/pod a']]],
        ['map', [['vhost-server-path', loc.socketPath]]],
      ]);
    } finally {
      await stack.vsctl('--if-exists', 'del-port', 'br-int', name);
      await removeVhostSocketDir(att, { baseDir });
    }
    expect(await stack.vsctl('--bare', '--columns=name', 'find', 'Interface', `name=${name}`)).toBe('');
    expect(existsSync(loc.dir)).toBe(false);
  });

  it('accepts the netdev br-int and rejects a kernel-datapath bridge', async () => {
    expect(() => assertVhostUserBridge({ name: 'br-int', datapathType: 'netdev' })).not.toThrow();
    assertVhostUserBridge(await readBridge(stack, 'br-int'));
    const br = `brk${randomBytes(3).toString('hex')}`;
    // --no-wait: the kernel datapath does not exist here, so vswitchd never finishes creating it.
    await stack.vsctl('--no-wait', 'add-br', br);
    try {
      const bridge = await readBridge(stack, br);
      expect(bridge.datapathType).toBe('');
      expect(() => assertVhostUserBridge(bridge)).toThrow(
        expect.objectContaining({
          code: 'BRIDGE_NOT_NETDEV',
          message: `bridge ${br} has datapath_type "" (the kernel datapath); dpdkvhostuserclient ports need a userspace bridge (datapath_type=netdev)`,
        }),
      );
    } finally {
      await stack.vsctl('--no-wait', '--if-exists', 'del-br', br);
    }
    expect((await readInterface(stack, 'br-int')).ofport).toBe(65534);
  });
});
