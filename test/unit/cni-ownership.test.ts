import { describe, expect, it } from 'vitest';
import {
  attachmentIdentity,
  attachmentKey,
  buildExternalIds,
  containerTempLinkName,
  fnv1a64Hex,
  hostLinkName,
  ifaceIdFor,
  isStale,
  parseOwnership,
} from '../../src/cni/ownership.js';

const cid = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('iface-id (Kube-OVN PodNameToPortName)', () => {
  it('provider ovn → <pod>.<ns>', () => expect(ifaceIdFor('web', 'prod', 'ovn')).toBe('web.prod'));
  it('other provider → <pod>.<ns>.<provider>', () => expect(ifaceIdFor('web', 'prod', 'net1.prod.ovn')).toBe('web.prod.net1.prod.ovn'));
});

describe('attachmentIdentity', () => {
  const common = { containerId: cid, ifname: 'eth0', network: 'ovnic', provider: 'ovn' };
  it('Kubernetes pod', () => {
    expect(attachmentIdentity({ ...common, podName: 'web-0', podNamespace: 'prod', podUid: 'u-1' })).toEqual({
      ...common,
      source: 'kubernetes',
      podName: 'web-0',
      podNamespace: 'prod',
      podUid: 'u-1',
      ifaceId: 'web-0.prod',
    });
  });
  it('podman: K8S_POD_NAME only → namespace default', () => {
    expect(attachmentIdentity({ ...common, podName: 'web' })).toMatchObject({ source: 'named', podName: 'web', podNamespace: 'default', ifaceId: 'web.default' });
  });
  it('no pod name → <cid[:12]>.<ifname>[.<provider>]', () => {
    const id = attachmentIdentity({ ...common, ifname: 'net1', provider: 'blue' });
    expect(id).toMatchObject({ source: 'container', ifaceId: '0123456789ab.net1.blue' });
    expect(id.podName).toBeUndefined();
    expect(id.podNamespace).toBeUndefined();
  });
});

describe('external_ids', () => {
  const identity = attachmentIdentity({ containerId: cid, ifname: 'eth0', network: 'ovnic', provider: 'ovn', podName: 'web-0', podNamespace: 'prod', podUid: 'u-1' });

  it('builds the Kube-OVN keys plus ovnic ownership', () => {
    expect(buildExternalIds({ identity, netns: '/run/netns/p', nicType: 'veth', ipamType: 'host-local', ips: ['10.0.0.5/24', 'fd00::5/64'] })).toEqual({
      'iface-id': 'web-0.prod',
      pod_name: 'web-0',
      pod_namespace: 'prod',
      pod_netns: '/run/netns/p',
      ip: '10.0.0.5,fd00::5',
      vendor: 'ovnic',
      ovnic_container_id: cid,
      ovnic_ifname: 'eth0',
      ovnic_network: 'ovnic',
      ovnic_nic_type: 'veth',
      ovnic_ipam_type: 'host-local',
      ovnic_pod_uid: 'u-1',
    });
  });

  it('omits what is unknown', () => {
    const anon = attachmentIdentity({ containerId: 'c1', ifname: 'eth0', network: 'n', provider: 'ovn' });
    expect(buildExternalIds({ identity: anon, netns: '', nicType: 'veth', ips: [] })).toEqual({
      'iface-id': 'c1.eth0',
      vendor: 'ovnic',
      ovnic_container_id: 'c1',
      ovnic_ifname: 'eth0',
      ovnic_network: 'n',
      ovnic_nic_type: 'veth',
    });
  });

  it('accepts extra keys but not overrides', () => {
    expect(buildExternalIds({ identity, netns: '', nicType: 'dpdk-vhostuser', ips: [], extra: { ovnic_socket: '/s' } }).ovnic_socket).toBe('/s');
    expect(() => buildExternalIds({ identity, netns: '', nicType: 'veth', ips: [], extra: { vendor: 'x' } })).toThrow(/reserved/);
  });

  it('parses back what it built (object or Map)', () => {
    const ids = buildExternalIds({ identity, netns: '/run/netns/p', nicType: 'veth', ipamType: 'static', ips: ['10.0.0.5/24'] });
    const expected = {
      containerId: cid,
      ifname: 'eth0',
      network: 'ovnic',
      nicType: 'veth',
      ipamType: 'static',
      ifaceId: 'web-0.prod',
      podName: 'web-0',
      podNamespace: 'prod',
      podUid: 'u-1',
      netns: '/run/netns/p',
      ips: ['10.0.0.5'],
      externalIds: ids,
    };
    expect(parseOwnership(ids)).toEqual(expected);
    expect(parseOwnership(new Map(Object.entries(ids)))).toEqual(expected);
  });

  it('ignores ports that are not ovnic\'s', () => {
    expect(parseOwnership({ 'iface-id': 'a.b', vendor: 'kube-ovn', pod_name: 'a' })).toBeUndefined();
    expect(parseOwnership({ vendor: 'ovnic', ovnic_ifname: 'eth0' })).toBeUndefined();
    expect(parseOwnership({})).toBeUndefined();
  });

  it('isStale: only this network, only attachments not listed', () => {
    const rec = parseOwnership(buildExternalIds({ identity, netns: '', nicType: 'veth', ips: [] }));
    if (!rec) throw new Error('unparsed');
    expect(isStale(rec, 'ovnic', new Set())).toBe(true);
    expect(isStale(rec, 'ovnic', new Set([attachmentKey(cid, 'eth0')]))).toBe(false);
    expect(isStale(rec, 'other-net', new Set())).toBe(false);
    expect(isStale(rec, 'ovnic', new Set([attachmentKey(cid, 'eth1')]))).toBe(true);
  });
});

describe('link names', () => {
  it('eth0 with a hex container ID → Kube-OVN <cid[:12]>_h', () => {
    expect(hostLinkName(cid, 'eth0')).toBe('0123456789ab_h');
    expect(containerTempLinkName(cid, 'eth0')).toBe('0123456789ab_c');
  });
  it('other ifnames and IDs → o<hash12>_h, deterministic', () => {
    const a = hostLinkName(cid, 'net1');
    expect(a).toMatch(/^o[0-9a-f]{12}_h$/);
    expect(hostLinkName(cid, 'net1')).toBe(a);
    expect(hostLinkName('my-container', 'eth0')).toMatch(/^o[0-9a-f]{12}_h$/);
    expect(hostLinkName('ABCDEF0123456789', 'eth0')).toMatch(/^o/);
  });
  it('every name fits IFNAMSIZ and distinct attachments get distinct names', () => {
    const names = new Set<string>();
    let n = 0;
    for (let i = 0; i < 2000; i++) {
      const id = i % 2 ? fnv1a64Hex(String(i)).repeat(4) : `ctr-${i}`;
      for (const ifname of ['eth0', 'eth1', 'net1', 'a'.repeat(15)]) {
        const name = hostLinkName(id, ifname);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(15);
        names.add(name);
        n++;
      }
    }
    expect(names.size).toBe(n);
  });
  it('fnv1a64 matches the reference vectors', () => {
    expect(fnv1a64Hex('')).toBe('cbf29ce484222325');
    expect(fnv1a64Hex('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex('foobar')).toBe('85944171f73967e8');
  });
});
