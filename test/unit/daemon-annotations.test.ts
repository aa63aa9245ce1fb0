import { describe, expect, it } from 'vitest';
import { CniError } from '../../src/cni/errors.js';
import { parseNetConf } from '../../src/cni/config.js';
import { attachmentIdentity } from '../../src/cni/ownership.js';
import {
  annotationKey, annotationScope, nicTypeFromAnnotation, parseRoutes, podNicTypeHint, resolvePodAddressing, type AddressingQuery,
} from '../../src/daemon/annotations.js';

const query = (over: Partial<AddressingQuery> = {}): AddressingQuery => ({
  provider: 'ovn', ifname: 'eth0', confNicType: 'veth', podName: 'web', podNamespace: 'prod', ...over,
});

/** Kube-OVN's annotations of one provider (dual stack, allocated and routed). */
function kubeOvn(scope: string, over: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    allocated: 'true',
    cidr: '10.16.0.0/16,fd00:10:16::/64',
    gateway: '10.16.0.1,fd00:10:16::1',
    ip_address: '10.16.0.5,fd00:10:16::5',
    logical_router: 'ovn-cluster',
    logical_switch: 'ovn-default',
    mac_address: '00:00:00:4A:B2:9C',
    pod_nic_type: 'veth-pair',
    routed: 'true',
    ...over,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[annotationKey(scope, k)] = v;
  return out;
}

describe('resolvePodAddressing: the default network (provider ovn, eth0)', () => {
  it('complete annotations: addresses with the subnet prefixes and gateways, default routes, MAC, iface-id <pod>.<ns>', () => {
    const s = resolvePodAddressing(kubeOvn('ovn'), query());
    expect(s.ready).toBe(true);
    if (!s.ready) return;
    expect(s.addressing).toEqual({
      scope: 'ovn',
      mac: '00:00:00:4a:b2:9c',
      ips: [{ address: '10.16.0.5/16', gateway: '10.16.0.1' }, { address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }, { dst: '::/0', gw: 'fd00:10:16::1' }],
      nicType: 'veth',
      ifaceId: 'web.prod',
      defaultRoute: true,
      logicalSwitch: 'ovn-default',
    });
  });

  it('no annotations at all: waits for allocated, mac_address and routed (eth0 carries the default route)', () => {
    const s = resolvePodAddressing(undefined, query());
    expect(s).toEqual({
      ready: false,
      scope: 'ovn',
      missing: ['ovn.kubernetes.io/allocated="true"', 'ovn.kubernetes.io/mac_address', 'ovn.kubernetes.io/routed="true"'],
      problems: [],
    });
  });

  it('allocated but not routed yet: not ready, names routed', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { routed: undefined }), query());
    expect(s.ready).toBe(false);
    if (s.ready) return;
    expect(s.missing).toEqual(['ovn.kubernetes.io/routed="true"']);
  });

  it('an address outside every cidr, a bad MAC, a bad gateway are problems (the controller may still fix them)', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { ip_address: '10.17.0.5', mac_address: 'ff:ff:ff:ff:ff:ff', gateway: 'nope' }), query());
    expect(s.ready).toBe(false);
    if (s.ready) return;
    expect(s.problems).toEqual([
      'ovn.kubernetes.io/mac_address="ff:ff:ff:ff:ff:ff" is not a unicast MAC address',
      'ovn.kubernetes.io/gateway entry "nope" is not an IP address',
      'ovn.kubernetes.io/ip_address address 10.17.0.5 is in none of ovn.kubernetes.io/cidr="10.16.0.0/16,fd00:10:16::/64"',
    ]);
  });

  it('ip_address without cidr waits for cidr', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { cidr: undefined }), query());
    expect(s.ready === false && s.missing).toEqual(['ovn.kubernetes.io/cidr']);
  });

  it('MAC only (allocated, mac, no ip/cidr): ready without addresses', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { ip_address: undefined, cidr: undefined, gateway: undefined }), query());
    expect(s.ready && s.addressing.ips).toEqual([]);
    expect(s.ready && s.addressing.routes).toEqual([]);
  });

  it('single stack v6', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { ip_address: 'fd00:10:16::7', cidr: 'fd00:10:16::/64', gateway: 'fd00:10:16::1' }), query());
    expect(s.ready && s.addressing.ips).toEqual([{ address: 'fd00:10:16::7/64', gateway: 'fd00:10:16::1' }]);
    expect(s.ready && s.addressing.routes).toEqual([{ dst: '::/0', gw: 'fd00:10:16::1' }]);
  });

  it('default_route=false: no gateways, no default routes, routed not required', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { default_route: 'false', routed: undefined }), query());
    expect(s.ready).toBe(true);
    if (!s.ready) return;
    expect(s.addressing.ips).toEqual([{ address: '10.16.0.5/16' }, { address: 'fd00:10:16::5/64' }]);
    expect(s.addressing.routes).toEqual([]);
  });

  it('custom routes are kept; the default route is added for families they do not cover', () => {
    const s = resolvePodAddressing(kubeOvn('ovn', { routes: '[{"dst":"0.0.0.0/0","gw":"10.16.0.254"},{"dst":"192.168.0.0/16","gw":"10.16.0.1"}]' }), query());
    expect(s.ready && s.addressing.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.16.0.254' },
      { dst: '192.168.0.0/16', gw: '10.16.0.1' },
      { dst: '::/0', gw: 'fd00:10:16::1' },
    ]);
  });

  it('port_name chooses the iface-id; virtualmachine names it after the VM', () => {
    const p = resolvePodAddressing({ ...kubeOvn('ovn'), 'ovn.kubernetes.io/port_name': 'np1.prod.lsp' }, query());
    expect(p.ready && p.addressing.ifaceId).toBe('np1.prod.lsp');
    const vm = resolvePodAddressing({ ...kubeOvn('ovn'), 'ovn.kubernetes.io/virtualmachine': 'vm1' }, query());
    expect(vm.ready && vm.addressing.ifaceId).toBe('vm1.prod');
  });

  it('keys of another provider do not count', () => {
    const s = resolvePodAddressing(kubeOvn('attachnet1.mec-nets.ovn'), query());
    expect(s.ready).toBe(false);
  });
});

describe('Multus: provider <nad>.<ns>.ovn and <nad>.<ns>.ovn.<ifname>', () => {
  const nad = 'attachnet1.mec-nets.ovn';

  it('a NAD attachment: keys and iface-id of the provider; a secondary NIC has no default route', () => {
    const s = resolvePodAddressing(kubeOvn(nad, { routed: undefined }), query({ provider: nad, ifname: 'net1' }));
    expect(s.ready).toBe(true);
    if (!s.ready) return;
    expect(s.addressing.scope).toBe(nad);
    expect(s.addressing.ifaceId).toBe('web.prod.attachnet1.mec-nets.ovn');
    expect(s.addressing.defaultRoute).toBe(false);
    expect(s.addressing.routes).toEqual([]);
    expect(s.addressing.ips).toEqual([{ address: '10.16.0.5/16' }, { address: 'fd00:10:16::5/64' }]);
  });

  it('the same NAD attached twice: each interface uses its <provider>.<ifname> keys and iface-id', () => {
    const ann = {
      ...kubeOvn(`${nad}.net1`, { ip_address: '10.16.0.21,fd00:10:16::21', mac_address: '00:00:00:00:00:21' }),
      ...kubeOvn(`${nad}.net2`, { ip_address: '10.16.0.22,fd00:10:16::22', mac_address: '00:00:00:00:00:22' }),
    };
    const net1 = resolvePodAddressing(ann, query({ provider: nad, ifname: 'net1' }));
    const net2 = resolvePodAddressing(ann, query({ provider: nad, ifname: 'net2' }));
    expect(net1.ready && [net1.addressing.scope, net1.addressing.ifaceId, net1.addressing.mac, net1.addressing.ips[0]?.address]).toEqual([
      `${nad}.net1`, 'web.prod.attachnet1.mec-nets.ovn.net1', '00:00:00:00:00:21', '10.16.0.21/16',
    ]);
    expect(net2.ready && [net2.addressing.scope, net2.addressing.ifaceId, net2.addressing.mac]).toEqual([
      `${nad}.net2`, 'web.prod.attachnet1.mec-nets.ovn.net2', '00:00:00:00:00:22',
    ]);
  });

  it('the per-interface form wins over the provider form once any of its keys exists', () => {
    const partial = { ...kubeOvn(nad), [annotationKey(`${nad}.net1`, 'ip_address')]: '10.16.0.30' };
    expect(annotationScope(partial, nad, 'net1')).toBe(`${nad}.net1`);
    expect(annotationScope(partial, nad, 'net2')).toBe(nad);
    const s = resolvePodAddressing(partial, query({ provider: nad, ifname: 'net1' }));
    expect(s.ready === false && s.missing).toContain(`${nad}.net1.kubernetes.io/allocated="true"`);
  });

  it('a configuration whose provider already names the interface is used as is', () => {
    const s = resolvePodAddressing(kubeOvn(`${nad}.net1`), query({ provider: `${nad}.net1`, ifname: 'net1' }));
    expect(s.ready && s.addressing.ifaceId).toBe('web.prod.attachnet1.mec-nets.ovn.net1');
  });

  it('the network configuration accepts both provider forms and the plugin derives iface-id <pod>.<ns>.<provider>', () => {
    for (const provider of [nad, `${nad}.net1`]) {
      const conf = parseNetConf({ cniVersion: '1.0.0', name: 'attachnet1', type: 'ovnic', provider, serverSocket: '/run/ovnic/daemon.sock' }, '1.0.0', 'ADD');
      expect(conf.provider).toBe(provider);
      expect(conf.serverSocket).toBe('/run/ovnic/daemon.sock');
      const id = attachmentIdentity({ containerId: 'c'.repeat(64), ifname: 'net1', network: conf.name, provider: conf.provider, podName: 'web', podNamespace: 'prod' });
      expect(id.ifaceId).toBe(`web.prod.${provider}`);
    }
  });
});

describe('pod_nic_type', () => {
  it('veth-pair (Kube-OVN default) and absence keep the network nicType; ovnic names and dpdk-port choose', () => {
    expect(nicTypeFromAnnotation(undefined, 'internal-macvtap')).toBe('internal-macvtap');
    expect(nicTypeFromAnnotation('veth-pair', 'internal-macvtap')).toBe('internal-macvtap');
    expect(nicTypeFromAnnotation('veth-pair', 'veth')).toBe('veth');
    expect(nicTypeFromAnnotation('veth', 'dpdk-vhostuser')).toBe('veth');
    expect(nicTypeFromAnnotation('internal-macvtap', 'veth')).toBe('internal-macvtap');
    expect(nicTypeFromAnnotation('dpdk-vhostuser', 'veth')).toBe('dpdk-vhostuser');
    expect(nicTypeFromAnnotation('dpdk-port', 'veth')).toBe('dpdk-vhostuser');
  });

  it('sriov and other types: CniError 2 naming the value (waiting cannot fix it)', () => {
    expect(() => nicTypeFromAnnotation('sriov', 'veth')).toThrow(CniError);
    try {
      resolvePodAddressing(kubeOvn('ovn', { pod_nic_type: 'sriov' }), query());
      expect.unreachable();
    } catch (err) {
      expect((err as CniError).code).toBe(2);
      expect((err as CniError).msg).toContain('ovn.kubernetes.io/pod_nic_type="sriov"');
    }
  });

  it('the annotated type is applied for every nicType', () => {
    for (const t of ['veth', 'internal-macvtap', 'dpdk-vhostuser'] as const) {
      const s = resolvePodAddressing(kubeOvn('ovn', { pod_nic_type: t }), query());
      expect(s.ready && s.addressing.nicType).toBe(t);
    }
  });

  it('DEL hint: the cached pod type, the conf type on any doubt', () => {
    expect(podNicTypeHint(kubeOvn('ovn', { pod_nic_type: 'dpdk-vhostuser' }), 'ovn', 'eth0', 'veth')).toBe('dpdk-vhostuser');
    expect(podNicTypeHint(kubeOvn('ovn', { pod_nic_type: 'sriov' }), 'ovn', 'eth0', 'veth')).toBe('veth');
    expect(podNicTypeHint(undefined, 'ovn', 'eth0', 'internal-macvtap')).toBe('internal-macvtap');
  });
});

describe('parseRoutes', () => {
  it('reads Kube-OVN routes and rejects malformed ones', () => {
    expect(parseRoutes('[{"dst":"10.0.0.0/8","gw":"10.16.0.1"},{"dst":"fd00::/8"}]')).toEqual([{ dst: '10.0.0.0/8', gw: '10.16.0.1' }, { dst: 'fd00::/8' }]);
    expect(parseRoutes('{')).toMatch(/not JSON/);
    expect(parseRoutes('{}')).toMatch(/JSON list/);
    expect(parseRoutes('[{"dst":"10.0.0.0"}]')).toMatch(/no valid "dst"/);
    expect(parseRoutes('[{"dst":"10.0.0.0/8","gw":"fd00::1"}]')).toMatch(/gw/);
  });
});
