import { describe, expect, it } from 'vitest';
import { assertVhostUserBridge, dpdkSupportProblem, interpretVhostUserInterface } from '../../src/dpdk/index.js';

// iface_types as reported by OVS 3.1 with and without DPDK
const PLAIN_TYPES = ['afxdp', 'afxdp-nonpmd', 'bareudp', 'erspan', 'geneve', 'gre', 'gtpu', 'internal', 'ip6erspan', 'ip6gre', 'lisp', 'patch', 'stt', 'system', 'tap', 'vxlan'];
const DPDK_TYPES = [...PLAIN_TYPES, 'dpdk', 'dpdkvhostuser', 'dpdkvhostuserclient'];

describe('dpdkSupportProblem', () => {
  it('is undefined when vhost-user client ports are available', () => {
    expect(dpdkSupportProblem({ ifaceTypes: DPDK_TYPES, dpdkInitialized: true, dpdkVersion: 'DPDK 22.11.11' })).toBeUndefined();
  });

  it('cannot tell before ovs-vswitchd has filled iface_types', () => {
    expect(dpdkSupportProblem({ ifaceTypes: [], dpdkInitialized: false })).toBeUndefined();
    expect(dpdkSupportProblem({})).toBeUndefined();
  });

  it('reports a vswitchd built without DPDK', () => {
    const e = dpdkSupportProblem({ ifaceTypes: PLAIN_TYPES, dpdkInitialized: false, dpdkVersion: 'none' });
    expect(e?.code).toBe('DPDK_UNSUPPORTED');
    expect(e?.message).toMatch(/^OVS has no DPDK support: ovs-vswitchd is not built with DPDK \(dpdk_version=none\)/);
    expect(e?.message).toContain('openvswitch-switch-dpdk');
  });

  it('reports a DPDK build whose DPDK is not initialized', () => {
    const e = dpdkSupportProblem({ ifaceTypes: PLAIN_TYPES, dpdkInitialized: false, dpdkVersion: 'DPDK 22.11.11' });
    expect(e?.code).toBe('DPDK_UNSUPPORTED');
    expect(e?.message).toMatch(/has DPDK 22\.11\.11 but DPDK is not initialized \(dpdk_initialized=false\)/);
    expect(e?.message).toContain('other_config:dpdk-init=true');
  });
});

describe('assertVhostUserBridge', () => {
  it('accepts netdev and rejects the kernel datapath', () => {
    expect(() => assertVhostUserBridge({ name: 'br-int', datapathType: 'netdev' })).not.toThrow();
    expect(() => assertVhostUserBridge({ name: 'br-int', datapathType: '' })).toThrow(
      'bridge br-int has datapath_type "" (the kernel datapath); dpdkvhostuserclient ports need a userspace bridge (datapath_type=netdev)',
    );
    expect(() => assertVhostUserBridge({ name: 'br0', datapathType: 'system' })).toThrow(
      expect.objectContaining({ code: 'BRIDGE_NOT_NETDEV', message: expect.stringContaining('datapath_type "system";') }),
    );
    expect(() => assertVhostUserBridge({ name: 'br0' })).toThrow(expect.objectContaining({ code: 'BRIDGE_NOT_NETDEV' }));
  });
});

describe('interpretVhostUserInterface', () => {
  // rows as OVS 3.1 / DPDK 22.11 reports them
  it('reports DPDK_UNSUPPORTED for the plain vswitchd error', () => {
    const error = 'could not open network device vhu1 (Address family not supported by protocol)';
    const s = interpretVhostUserInterface({ name: 'vhu1', type: 'dpdkvhostuserclient', error, ofport: -1, status: {} });
    expect(s.phase).toBe('failed');
    expect(s.error?.code).toBe('DPDK_UNSUPPORTED');
    expect(s.message).toBe(
      `OVS has no DPDK support: ovs-vswitchd cannot create dpdkvhostuserclient port vhu1 (Interface error: "${error}"); ` +
        'run the DPDK build of ovs-vswitchd (Debian: openvswitch-switch-dpdk) with other_config:dpdk-init=true',
    );
  });

  it('reports other interface errors as PORT_FAILED with the OVS text', () => {
    const s = interpretVhostUserInterface({ name: 'vhu1', error: 'vhu1: some failure', ofport: -1 });
    expect(s.error?.code).toBe('PORT_FAILED');
    expect(s.message).toBe('OVS reports an error for vhost-user port vhu1: vhu1: some failure');
    expect(interpretVhostUserInterface({ name: 'vhu1', ofport: -1 }).error?.code).toBe('PORT_FAILED');
  });

  it('is pending until ovs-vswitchd has configured the interface', () => {
    expect(interpretVhostUserInterface({ name: 'vhu1', status: {} }).phase).toBe('pending');
  });

  it('waits for the server while OVS reconnects', () => {
    const s = interpretVhostUserInterface({ name: 'vhu1', ofport: 1, linkState: 'down', status: { mode: 'client', status: 'disconnected' } });
    expect(s.phase).toBe('waiting-for-server');
    expect(s.error).toBeUndefined();
  });

  it('flags a port without vhost-server-path (OVS shows mode=server)', () => {
    const s = interpretVhostUserInterface({ name: 'vhu2', ofport: 2, linkState: 'down', status: { mode: 'server', status: 'disconnected' } });
    expect(s.phase).toBe('failed');
    expect(s.message).toContain('has no vhost-server-path');
  });

  it('is connected when the link is up', () => {
    const status = {
      features: '0x0000000950008000', mode: 'client', num_of_vrings: '2', numa: '0',
      socket: '/tmp/x/sock', status: 'connected', vring_0_size: '256', vring_1_size: '256',
    };
    const s = interpretVhostUserInterface({ name: 'vhu1', ofport: 1, linkState: 'up', status });
    expect(s).toEqual({ phase: 'connected', message: 'vhost-user port vhu1 is connected to /tmp/x/sock', vhost: status });
  });
});
