import { describe, expect, it } from 'vitest';
import { formatExclusions, formatIpValue, IpamError, parseKubeOvnSubnet, parseSubnetSpec, type SubnetInput } from '../../src/ipam/index.js';

function subnetError(input: SubnetInput | unknown, kube = false): IpamError {
  try {
    if (kube) parseKubeOvnSubnet(input);
    else parseSubnetSpec(input as SubnetInput);
  } catch (err) {
    expect(err).toBeInstanceOf(IpamError);
    return err as IpamError;
  }
  throw new Error('expected an IpamError');
}

const kubeOvnSubnet = {
  apiVersion: 'kubeovn.io/v1',
  kind: 'Subnet',
  metadata: { name: 'attachnet10', resourceVersion: '42' },
  spec: {
    cidrBlock: '172.17.0.0/16,fd00:17::/64',
    excludeIps: ['172.17.0.1', '172.17.0.10..172.17.0.20', 'fd00:17::1', 'fd00:17::100..fd00:17::1ff'],
    gateway: '172.17.0.1,fd00:17::1',
    provider: 'attachnet10.mec-nets.ovn',
    vpc: 'vpc-a',
    protocol: 'Dual',
    natOutgoing: true,
    gatewayType: 'distributed',
  },
};

describe('Kube-OVN Subnet → SubnetSpec', () => {
  it('reads a dual-stack Subnet object', () => {
    const spec = parseKubeOvnSubnet(kubeOvnSubnet);
    expect(spec.name).toBe('attachnet10');
    expect(spec.protocol).toBe('Dual');
    expect(spec.cidrBlock).toBe('172.17.0.0/16,fd00:17::/64');
    expect(spec.gateway).toBe('172.17.0.1,fd00:17::1');
    expect(spec.provider).toBe('attachnet10.mec-nets.ovn');
    expect(spec.vpc).toBe('vpc-a');
    expect(spec.v4?.cidr.prefix).toBe(16);
    expect(spec.v6?.cidr.prefix).toBe(64);
    expect(formatExclusions(spec)).toEqual(['172.17.0.1', '172.17.0.10..172.17.0.20', 'fd00:17::1', 'fd00:17::100..fd00:17::1ff']);
    expect(spec.warnings).toEqual([]);
  });

  it('defaults the gateway to the first usable address, provider to "ovn", vpc to "ovn-cluster"', () => {
    const spec = parseSubnetSpec({ name: 's', cidrBlock: '10.16.0.0/16,fd00:10:16::/64' });
    expect(spec.gateway).toBe('10.16.0.1,fd00:10:16::1');
    expect(spec.provider).toBe('ovn');
    expect(spec.vpc).toBe('ovn-cluster');
    // /31 and /127: the network address is usable and is the first one.
    expect(parseSubnetSpec({ name: 'p', cidrBlock: '10.0.0.4/31' }).gateway).toBe('10.0.0.4');
    expect(parseSubnetSpec({ name: 'p6', cidrBlock: 'fd00::4/127' }).gateway).toBe('fd00::4');
  });

  it('fills in the missing family of a one-family gateway on a dual-stack subnet', () => {
    expect(parseSubnetSpec({ name: 's', cidrBlock: '10.0.0.0/24,fd00::/120', gateway: '10.0.0.254' }).gateway).toBe('10.0.0.254,fd00::1');
    expect(parseSubnetSpec({ name: 's', cidrBlock: '10.0.0.0/24,fd00::/120', gateway: 'FD00::FE' }).gateway).toBe('10.0.0.1,fd00::fe');
  });

  it('single-stack subnets', () => {
    const v4 = parseSubnetSpec({ name: 'a', cidrBlock: '10.0.0.0/24' });
    expect(v4.protocol).toBe('IPv4');
    expect(v4.v6).toBeUndefined();
    const v6 = parseSubnetSpec({ name: 'b', cidrBlock: 'fd00::/64', protocol: 'IPv6' });
    expect(v6.protocol).toBe('IPv6');
    expect(v6.v4).toBeUndefined();
  });

  it('masks host bits in cidrBlock as Kube-OVN does', () => {
    expect(parseSubnetSpec({ name: 's', cidrBlock: '10.0.0.9/24, fd00::9/64' }).cidrBlock).toBe('10.0.0.0/24,fd00::/64');
  });

  it('keeps exclusions as clipped, merged ranges and warns about ignored entries', () => {
    const spec = parseSubnetSpec({
      name: 's',
      cidrBlock: '10.0.0.0/24',
      excludeIps: ['10.0.0.200..10.0.1.50', '10.0.0.5', '10.0.0.6..10.0.0.8', '10.0.0.7', '192.168.0.1', 'fd00::1', '9.0.0.0..10.0.0.2'],
    });
    expect(formatExclusions(spec)).toEqual(['10.0.0.0..10.0.0.2', '10.0.0.5..10.0.0.8', '10.0.0.200..10.0.0.255']);
    expect(spec.warnings).toEqual([
      'excludeIps entry "192.168.0.1" ignored: outside 10.0.0.0/24',
      'excludeIps entry "fd00::1" ignored: the subnet has no IPv6 CIDR',
    ]);
    // A /64-wide exclusion stays one range.
    const v6 = parseSubnetSpec({ name: 'v6', cidrBlock: 'fd00::/48', excludeIps: ['fd00::..fd00:0:0:ffff:ffff:ffff:ffff:ffff'] });
    expect(v6.v6?.exclusions).toHaveLength(1);
    expect(formatIpValue(6, v6.v6?.exclusions[0]?.last ?? 0n)).toBe('fd00::ffff:ffff:ffff:ffff:ffff');
  });

  it.each<[string, SubnetInput, string]>([
    ['empty cidrBlock', { name: 's', cidrBlock: '' }, 'cidrBlock is empty (MAC-only subnets are not supported)'],
    ['bad CIDR', { name: 's', cidrBlock: '10.0.0.0/33' }, 'prefix length 33 is greater than 32'],
    ['three CIDRs', { name: 's', cidrBlock: '10.0.0.0/24,fd00::/64,10.1.0.0/24' }, 'more than two CIDRs'],
    ['two v4 CIDRs', { name: 's', cidrBlock: '10.0.0.0/24,10.1.0.0/24' }, 'two IPv4 CIDRs; dual stack needs one of each'],
    ['v6 first', { name: 's', cidrBlock: 'fd00::/64,10.0.0.0/24' }, 'must list the IPv4 CIDR first'],
    ['/32', { name: 's', cidrBlock: '10.0.0.1/32' }, '10.0.0.1/32 leaves no address to assign besides the gateway'],
    ['/128', { name: 's', cidrBlock: '10.0.0.0/24,fd00::1/128' }, 'fd00::1/128 leaves no address'],
    ['loopback', { name: 's', cidrBlock: '127.0.0.0/8' }, 'is loopback'],
    ['multicast', { name: 's', cidrBlock: '224.1.0.0/16' }, 'is multicast'],
    ['link-local v6', { name: 's', cidrBlock: 'fe80::/64' }, 'is link-local'],
    ['unspecified', { name: 's', cidrBlock: '0.0.0.0/8' }, 'unspecified'],
    ['protocol mismatch', { name: 's', cidrBlock: '10.0.0.0/24', protocol: 'Dual' }, 'protocol "Dual" does not match cidrBlock "10.0.0.0/24" (IPv4)'],
    ['MAC-only protocol', { name: 's', cidrBlock: '10.0.0.0/24', protocol: 'Mac' }, 'not supported'],
    ['gateway outside', { name: 's', cidrBlock: '10.0.0.0/24', gateway: '10.0.1.1' }, 'gateway 10.0.1.1 is not inside 10.0.0.0/24'],
    ['gateway = network', { name: 's', cidrBlock: '10.0.0.0/24', gateway: '10.0.0.0' }, 'is the network address of 10.0.0.0/24'],
    ['gateway = broadcast', { name: 's', cidrBlock: '10.0.0.0/24', gateway: '10.0.0.255' }, 'is the broadcast address'],
    ['gateway = v6 network', { name: 's', cidrBlock: 'fd00::/64', gateway: 'fd00::' }, 'is the network address of fd00::/64'],
    ['gateway family missing', { name: 's', cidrBlock: '10.0.0.0/24', gateway: 'fd00::1' }, 'gateway fd00::1 is IPv6 but the subnet has no IPv6 CIDR'],
    ['two v4 gateways', { name: 's', cidrBlock: '10.0.0.0/24,fd00::/64', gateway: '10.0.0.1,10.0.0.2' }, 'names two IPv4 addresses'],
    ['bad gateway', { name: 's', cidrBlock: '10.0.0.0/24', gateway: '10.0.0.x' }, 'gateway: invalid IP address "10.0.0.x"'],
    ['bad exclusion', { name: 's', cidrBlock: '10.0.0.0/24', excludeIps: ['10.0.0.9..10.0.0.5'] }, 'excludeIps: invalid IP range "10.0.0.9..10.0.0.5": start is after end'],
    ['mixed exclusion', { name: 's', cidrBlock: '10.0.0.0/24', excludeIps: ['10.0.0.1..fd00::1'] }, 'mixes IPv4 and IPv6'],
    ['empty name', { name: '', cidrBlock: '10.0.0.0/24' }, 'subnet name is empty'],
  ])('refuses %s', (_what, input, message) => {
    const err = subnetError(input);
    expect(err.reason).toBe('InvalidSubnet');
    expect(err.message).toContain(message);
    if (input.name) expect(err.message).toContain(`subnet "${input.name}"`);
  });

  it('allows a /31 gateway on either address and the v6 all-ones address as gateway (as Kube-OVN does)', () => {
    expect(parseSubnetSpec({ name: 's', cidrBlock: '10.0.0.4/31', gateway: '10.0.0.5' }).gateway).toBe('10.0.0.5');
    expect(parseSubnetSpec({ name: 's', cidrBlock: 'fd00::/120', gateway: 'fd00::ff' }).gateway).toBe('fd00::ff');
  });

  it('validates the shape of a Kube-OVN object', () => {
    expect(subnetError(null, true).message).toContain('not an object');
    expect(subnetError({ spec: { cidrBlock: '10.0.0.0/24' } }, true).message).toContain('no metadata.name');
    expect(subnetError({ metadata: { name: 'x' } }, true).message).toContain('has no spec');
    expect(subnetError({ metadata: { name: 'x' }, spec: { cidrBlock: 5 } }, true).message).toContain('spec.cidrBlock must be a string');
    expect(subnetError({ metadata: { name: 'x' }, spec: { cidrBlock: '10.0.0.0/24', excludeIps: '10.0.0.2' } }, true).message).toContain(
      'spec.excludeIps must be a list of strings',
    );
    expect(subnetError({ metadata: { name: 'x' }, spec: { cidrBlock: '10.0.0.0/24', excludeIps: [7] } }, true).message).toContain(
      'excludeIps entry 7 is not a string',
    );
  });
});
