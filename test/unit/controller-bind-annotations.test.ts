import { describe, expect, it } from 'vitest';
import {
  annotationPatch, annotationRemoval, chooseAnnotationScope, findAnnotationScope, providerAnnotationValues,
} from '../../src/controller/bind-annotations.js';

const P = 'attachnet1.mec-nets.ovn';
const MAC = '02:00:00:00:00:01';
const input = { mac: MAC, ipv4: '10.0.0.5', ipv6: 'fd00::5', cidr: '10.0.0.0/24,fd00::/64', gateway: '10.0.0.1,fd00::1', logicalSwitch: 'subnet1' };

describe('provider annotations', () => {
  it('has Kube-OVN values: dual stack "v4,v6", default router ovn-cluster, veth-pair, allocated and routed', () => {
    expect(providerAnnotationValues(input)).toEqual({
      allocated: 'true', cidr: '10.0.0.0/24,fd00::/64', gateway: '10.0.0.1,fd00::1', ip_address: '10.0.0.5,fd00::5',
      logical_router: 'ovn-cluster', logical_switch: 'subnet1', mac_address: MAC, pod_nic_type: 'veth-pair', routed: 'true',
    });
    expect(providerAnnotationValues({ ...input, ipv4: undefined, logicalRouter: 'vpc1' })).toMatchObject({ ip_address: 'fd00::5', logical_router: 'vpc1' });
    expect(providerAnnotationValues({ ...input, lspName: 'nicport1.vms.attachnet1.mec-nets.ovn' }).port_name).toBe('nicport1.vms.attachnet1.mec-nets.ovn');
  });

  it('patches only what differs', () => {
    const values = providerAnnotationValues(input);
    const full = annotationPatch({}, P, values);
    expect(Object.keys(full)).toHaveLength(9);
    expect(full[`${P}.kubernetes.io/ip_address`]).toBe('10.0.0.5,fd00::5');
    const current = { ...full, [`${P}.kubernetes.io/routed`]: 'false', other: 'x' };
    expect(annotationPatch(current, P, values)).toEqual({ [`${P}.kubernetes.io/routed`]: 'true' });
    expect(annotationPatch(full, P, values)).toEqual({});
  });

  it('uses the provider scope when free or ours, else <provider>.<podIf>, else reports the conflict', () => {
    expect(chooseAnnotationScope({}, P, 'podabc', MAC, false)).toEqual({ scope: P });
    expect(chooseAnnotationScope({ [`${P}.kubernetes.io/mac_address`]: MAC.toUpperCase() }, P, 'podabc', MAC, false)).toEqual({ scope: P });
    const taken = { [`${P}.kubernetes.io/mac_address`]: '02:00:00:00:00:02', [`${P}.kubernetes.io/ip_address`]: '10.0.0.6' };
    expect(chooseAnnotationScope(taken, P, 'podabc', MAC, false)).toEqual({ scope: `${P}.podabc` });
    const both = { ...taken, [`${P}.podabc.kubernetes.io/mac_address`]: '02:00:00:00:00:03' };
    expect(chooseAnnotationScope(both, P, 'podabc', MAC, false)).toMatchObject({ conflict: expect.stringContaining('02:00:00:00:00:02') });
    expect(chooseAnnotationScope({ [`${P}.podabc.kubernetes.io/mac_address`]: '02:00:00:00:00:02' }, `${P}.podabc`, 'podabc', MAC, true)).toHaveProperty('conflict');
    expect(chooseAnnotationScope({ [`${P}.kubernetes.io/ip_address`]: '10.0.0.9' }, P, 'podabc', MAC, false)).toEqual({ scope: `${P}.podabc` });
  });

  it('finds our scope by MAC and removes only present keys', () => {
    const ann = { [`${P}.podabc.kubernetes.io/mac_address`]: MAC, [`${P}.podabc.kubernetes.io/ip_address`]: '10.0.0.5', [`${P}.podabc.kubernetes.io/port_name`]: 'np', [`${P}.kubernetes.io/mac_address`]: '02:00:00:00:00:02' };
    expect(findAnnotationScope(ann, P, 'podabc', MAC)).toBe(`${P}.podabc`);
    expect(findAnnotationScope(ann, P, 'podabc', '02:00:00:00:00:09')).toBeUndefined();
    expect(annotationRemoval(ann, `${P}.podabc`)).toEqual({ [`${P}.podabc.kubernetes.io/ip_address`]: null, [`${P}.podabc.kubernetes.io/mac_address`]: null, [`${P}.podabc.kubernetes.io/port_name`]: null });
  });
});
