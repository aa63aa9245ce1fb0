import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidProviderError, isDnsLabel, nadFromProvider, nadNetworkName, podInterfaceName, providerAnnotationKey, vmInterfaceName,
} from '../../src/controller/bind-names.js';

describe('bind names', () => {
  it('derives the NAD from <nad>.<ns>.ovn and <nad>.<ns>.ovn.<ifname>', () => {
    expect(nadFromProvider('attachnet1.mec-nets.ovn')).toEqual({ name: 'attachnet1', namespace: 'mec-nets' });
    expect(nadFromProvider('attachnet1.mec-nets.ovn.net2')).toEqual({ name: 'attachnet1', namespace: 'mec-nets', ifName: 'net2' });
    expect(nadNetworkName(nadFromProvider('attachnet1.mec-nets.ovn'))).toBe('mec-nets/attachnet1');
  });

  it.each([
    ['ovn', '3 or 4'],
    ['attachnet1.mec-nets', '3 or 4'],
    ['attachnet1.mec-nets.ovn.a.b', '3 or 4'],
    ['attachnet1.mec-nets.kube-ovn', 'not an OVN provider'],
    ['attachnet1.mec-nets', '3 or 4'],
    ['Attach.mec-nets.ovn', 'invalid NAD name'],
    ['a.MEC.ovn', 'invalid namespace'],
    ['a.b.ovn.this-name-is-too-long', 'invalid interface name'],
  ])('rejects provider %s', (provider, why) => {
    expect(() => nadFromProvider(provider)).toThrow(InvalidProviderError);
    expect(() => nadFromProvider(provider)).toThrow(why);
  });

  it('names the VM interface np-<nicport>, a DNS label of at most 63 chars, deterministically', () => {
    expect(vmInterfaceName('nicport1')).toBe('np-nicport1');
    const dotted = vmInterfaceName('nic.port.1');
    expect(dotted).toMatch(/^np-nic-port-1-[0-9a-f]{8}$/);
    expect(vmInterfaceName('nic.port.1')).toBe(dotted);
    expect(vmInterfaceName('nic-port-1')).not.toBe(dotted);
    const long = vmInterfaceName('x'.repeat(61));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(isDnsLabel(long)).toBe(true);
    expect(long).not.toBe(vmInterfaceName(`${'x'.repeat(60)}y`));
    for (const name of ['a', 'a.b', 'x'.repeat(253), 'UPPER', 'a--.b']) expect(isDnsLabel(vmInterfaceName(name))).toBe(true);
  });

  it('names the pod interface as KubeVirt does: pod + 11 hex of sha256(network name)', () => {
    const expected = `pod${createHash('sha256').update('np-nicport1').digest('hex').slice(0, 11)}`;
    expect(podInterfaceName('np-nicport1')).toBe(expected);
    expect(expected).toHaveLength(14);
  });

  it('builds provider-scoped annotation keys', () => {
    expect(providerAnnotationKey('attachnet1.mec-nets.ovn', 'ip_address')).toBe('attachnet1.mec-nets.ovn.kubernetes.io/ip_address');
  });
});
