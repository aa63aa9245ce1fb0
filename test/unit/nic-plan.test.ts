import { describe, expect, it } from 'vitest';
import { addressesWithoutIpam, generateMac, inSubnet, ownPartOf, routesFor } from '../../src/nic/plan.js';
import { ADD_STEPS, faultHookFromEnv } from '../../src/nic/faults.js';
import { CniError } from '../../src/cni/errors.js';

describe('generateMac', () => {
  it('derives 0a:58:<ipv4> from the IPv4 address', () => {
    expect(generateMac([{ address: 'fd00::5/64' }, { address: '10.16.0.5/24' }], 'c1', 'eth0')).toBe('0a:58:0a:10:00:05');
  });

  it('hashes (containerID, ifname) into a locally administered unicast MAC without IPv4', () => {
    const mac = generateMac([{ address: 'fd00::5/64' }], 'c1', 'eth0');
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    expect(first & 0x02).toBe(0x02);
    expect(first & 0x01).toBe(0);
    expect(generateMac([], 'c1', 'eth0')).toBe(generateMac([], 'c1', 'eth0'));
    expect(generateMac([], 'c1', 'eth1')).not.toBe(generateMac([], 'c1', 'eth0'));
  });
});

describe('addressesWithoutIpam', () => {
  it('keeps prefixes and gives bare addresses a host prefix', () => {
    expect(addressesWithoutIpam([{ address: '10.0.0.2', family: 4 }, { address: 'fd00::2', prefix: 64, family: 6 }])).toEqual([
      { address: '10.0.0.2/32' },
      { address: 'fd00::2/64' },
    ]);
  });
});

describe('routesFor', () => {
  const ips = [
    { address: '10.0.0.2/24', gateway: '10.0.0.1' },
    { address: 'fd00::2/64', gateway: 'fd00::1' },
  ];

  it('uses the IPAM routes when there are some', () => {
    expect(routesFor([{ dst: '0.0.0.0/0' }], ips)).toEqual([{ dst: '0.0.0.0/0' }]);
  });

  it('adds a default route per family through its gateway otherwise', () => {
    expect(routesFor([], ips)).toEqual([
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
      { dst: '::/0', gw: 'fd00::1' },
    ]);
    expect(routesFor([], [{ address: '10.0.0.2/24' }])).toEqual([]);
  });
});

describe('inSubnet', () => {
  it.each([
    ['10.0.0.1', '10.0.0.2/24', true],
    ['10.0.1.1', '10.0.0.2/24', false],
    ['10.0.0.1', '10.0.0.2/32', false],
    ['fd00::1', 'fd00::2/64', true],
    ['fd00:0:0:1::1', 'fd00::2/64', false],
    ['fd00::1', '10.0.0.2/8', false],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.0/120', true],
    ['10.0.0.1', '0.0.0.0/0', true],
  ])('%s in %s: %s', (address, cidr, expected) => {
    expect(inSubnet(address, cidr)).toBe(expected);
  });
});

describe('ownPartOf', () => {
  it('picks the interface, its addresses and the routes through its subnets out of a chained result', () => {
    const prev = {
      interfaces: [{ name: 'net0', sandbox: '/ns' }, { name: 'h1' }, { name: 'eth0', mac: '0a:00:00:00:00:01', sandbox: '/ns' }],
      ips: [
        { address: '192.0.2.5/24', interface: 0 },
        { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 },
        { address: 'fd00::2/64', interface: 2 },
      ],
      routes: [{ dst: '198.51.100.0/24', gw: '192.0.2.1' }, { dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }],
      dns: {},
    };
    const own = ownPartOf(prev, 'eth0', '/ns');
    expect(own.iface?.mac).toBe('0a:00:00:00:00:01');
    expect(own.ips.map((i) => i.address)).toEqual(['10.0.0.2/24', 'fd00::2/64']);
    expect(own.routes.map((r) => r.dst)).toEqual(['0.0.0.0/0', '::/0']);
    expect(ownPartOf(prev, 'eth0', '/other').iface).toBeUndefined();
  });
});

describe('faultHookFromEnv', () => {
  it('is a no-op unless OVNIC_TEST_FAULTS=1', () => {
    const hook = faultHookFromEnv({ OVNIC_FAULT_INJECT: 'link' });
    for (const step of ADD_STEPS) expect(() => hook(step)).not.toThrow();
  });

  it('throws at exactly the armed step', () => {
    const hook = faultHookFromEnv({ OVNIC_TEST_FAULTS: '1', OVNIC_FAULT_INJECT: 'ovs-port' });
    expect(() => hook('link')).not.toThrow();
    expect(() => hook('ovs-port')).toThrow(CniError);
  });

  it('rejects unknown step names when armed', () => {
    expect(() => faultHookFromEnv({ OVNIC_TEST_FAULTS: '1', OVNIC_FAULT_INJECT: 'nope' })).toThrow(/unknown OVNIC_FAULT_INJECT/);
  });
});
