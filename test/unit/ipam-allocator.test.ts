import { describe, expect, it } from 'vitest';
import { IpamError, type IpamErrorReason, parseIp, parseIpRequest, parseSubnetSpec, SubnetAllocator, type SubnetInput } from '../../src/ipam/index.js';

function subnet(input: Partial<SubnetInput> & { cidrBlock: string }): SubnetAllocator {
  return new SubnetAllocator(parseSubnetSpec({ name: 'net1', ...input }));
}

function failure(fn: () => unknown): IpamError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IpamError);
    return err as IpamError;
  }
  throw new Error('expected an IpamError');
}

function snapshot(sub: SubnetAllocator): unknown {
  return { reservations: sub.reservations().sort((a, b) => (a.ip < b.ip ? -1 : 1)), stats: sub.stats() };
}

describe('allocation order', () => {
  it('hands out the lowest free address, skipping gateway and exclusions, never network/broadcast', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/29', excludeIps: ['10.0.0.3..10.0.0.4'] });
    // usable .1-.6; .1 gateway; .3-.4 excluded → .2, .5, .6
    const got = ['a', 'b', 'c'].map((o) => sub.allocate(o).v4);
    expect(got).toEqual(['10.0.0.2', '10.0.0.5', '10.0.0.6']);
    const err = failure(() => sub.allocate('d'));
    expect(err.reason).toBe('Exhausted');
    expect(err.message).toBe('no free IPv4 address left in subnet net1 (10.0.0.0/29: 3 assignable, 3 in use)');
    // Releasing the middle one makes it the next one handed out.
    expect(sub.release('b')).toEqual(['10.0.0.5']);
    expect(sub.allocate('d').v4).toBe('10.0.0.5');
  });

  it('reuses the lowest released address first (deterministic)', () => {
    const sub = subnet({ cidrBlock: 'fd00::/120' });
    for (const o of ['a', 'b', 'c', 'd']) sub.allocate(o);
    sub.release('c');
    sub.release('a');
    expect(sub.allocate('e').v6).toBe('fd00::2');
    expect(sub.allocate('f').v6).toBe('fd00::4');
    expect(sub.allocate('g').v6).toBe('fd00::6');
  });

  it('/31 and /127: one address left after the gateway', () => {
    const v4 = subnet({ cidrBlock: '10.0.0.4/31' });
    expect(v4.allocate('a').v4).toBe('10.0.0.5');
    expect(failure(() => v4.allocate('b')).reason).toBe('Exhausted');
    const v6 = subnet({ cidrBlock: 'fd00::4/127', gateway: 'fd00::5' });
    expect(v6.allocate('a').v6).toBe('fd00::4');
    expect(failure(() => v6.allocate('b')).reason).toBe('Exhausted');
  });

  it('/30 and /126: two usable, one is the gateway', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/30,fd00::/126' });
    expect(sub.allocate('a').ips).toEqual(['10.0.0.2', 'fd00::2']);
    expect(failure(() => sub.allocate('b')).reason).toBe('Exhausted');
  });

  it('does not hand out the IPv6 subnet-router anycast or last address (Kube-OVN range)', () => {
    const sub = subnet({ cidrBlock: 'fd00::/126', gateway: 'fd00::2' });
    expect(sub.allocate('a').v6).toBe('fd00::1');
    expect(failure(() => sub.allocate('b')).reason).toBe('Exhausted');
  });

  it('counts a /64 without expanding it', () => {
    const sub = subnet({ cidrBlock: 'fd00:1::/64', excludeIps: ['fd00:1::100..fd00:1::1ff'] });
    for (let i = 0; i < 1000; i++) sub.allocate(`o${i}`);
    const [stats] = sub.stats();
    expect(stats).toEqual({
      subnet: 'net1',
      family: 6,
      cidr: 'fd00:1::/64',
      used: 1000,
      free: (1n << 64n) - 2n - 1n - 256n - 1000n,
      size: (1n << 64n) - 2n,
      reserved: 257n,
    });
    // Allocation jumped over the excluded range.
    expect(sub.ownerOf('fd00:1::ff')).toBeDefined();
    expect(sub.ownerOf('fd00:1::100')).toBeUndefined();
    expect(sub.ownerOf('fd00:1::200')).toBeDefined();
  });
});

describe('reserving a given address', () => {
  const cases: Array<[string, IpamErrorReason, string]> = [
    ['10.0.1.5', 'OutOfRange', '10.0.1.5 is outside subnet net1 (10.0.0.0/24)'],
    ['10.0.0.0', 'NotAssignable', '10.0.0.0 cannot be assigned: it is the network address of subnet net1 (10.0.0.0/24)'],
    ['10.0.0.255', 'NotAssignable', 'it is the broadcast address of subnet net1'],
    ['10.0.0.1', 'IsGateway', '10.0.0.1 is the gateway of subnet net1 (10.0.0.0/24)'],
    ['10.0.0.12', 'Excluded', '10.0.0.12 is in excludeIps (10.0.0.10..10.0.0.20) of subnet net1 (10.0.0.0/24)'],
    ['fd00::', 'NotAssignable', 'fd00:: cannot be assigned: it is the subnet-router anycast address of subnet net1 (fd00::/120)'],
    ['fd00::ff', 'NotAssignable', 'the last address, which Kube-OVN never assigns,'],
    ['fd00::1:1', 'OutOfRange', 'fd00::1:1 is outside subnet net1 (fd00::/120)'],
    ['fd00::1', 'IsGateway', 'fd00::1 is the gateway'],
    ['fd00::f0', 'Excluded', 'fd00::f0 is in excludeIps (fd00::f0)'],
  ];
  it.each(cases)('%s → %s', (ip, reason, message) => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120', excludeIps: ['10.0.0.10..10.0.0.20', 'fd00::f0'] });
    const before = snapshot(sub);
    const err = failure(() => sub.allocate('nicport/ns/a', ip));
    expect(err.reason).toBe(reason);
    expect(err.message).toContain(message);
    expect(err.detail).toMatchObject({ subnet: 'net1', owner: 'nicport/ns/a' });
    expect(snapshot(sub)).toEqual(before);
    expect(sub.check('nicport/ns/a', ip)?.reason).toBe(reason);
  });

  it('InUse names the holder; the same owner again is idempotent', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24' });
    const first = sub.allocate('nicport/ns/a', '10.0.0.50');
    expect(first.created).toEqual(['10.0.0.50']);
    const again = sub.allocate('nicport/ns/a', '10.0.0.50');
    expect(again).toEqual({ ...first, created: [] });
    expect(sub.reserve('10.0.0.50', 'nicport/ns/a')).toBe(false);
    const err = failure(() => sub.allocate('nicport/ns/b', '10.0.0.50'));
    expect(err.reason).toBe('InUse');
    expect(err.message).toBe('10.0.0.50 in subnet net1 is already held by nicport/ns/a');
    expect(err.detail.holder).toBe('nicport/ns/a');
    expect(sub.check('nicport/ns/b', '10.0.0.50')?.reason).toBe('InUse');
    expect(sub.check('nicport/ns/a', '10.0.0.50')).toBeUndefined();
  });

  it('an address allocated as lowest-free is not handed out again', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24' });
    sub.reserve('10.0.0.2', 'x');
    expect(sub.allocate('y').v4).toBe('10.0.0.3');
    expect(sub.isUsed('10.0.0.2')).toBe(true);
    expect(sub.isUsed('10.0.0.4')).toBe(false);
  });

  it('a family the subnet lacks is FamilyNotInSubnet', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24' });
    const err = failure(() => sub.allocate('a', '10.0.0.5,fd00::5'));
    expect(err.reason).toBe('FamilyNotInSubnet');
    expect(err.message).toBe('fd00::5 is IPv6 but subnet net1 (10.0.0.0/24) has no IPv6 CIDR');
    expect(sub.reservations()).toEqual([]);
  });

  it('bad request strings are InvalidInput and change nothing', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    for (const [req, msg] of [
      ['10.0.0.5,10.0.0.6', 'names two IPv4 addresses'],
      ['10.0.0.5,', 'has an empty element'],
      ['10.0.0.5,fd00::5,10.0.0.6', 'more than two addresses'],
      ['10.0.0.500', 'octet 500 is greater than 255'],
    ] as const) {
      const err = failure(() => sub.allocate('a', req));
      expect(err.reason).toBe('InvalidInput');
      expect(err.message).toContain(msg);
    }
    expect(failure(() => sub.allocate('', undefined)).message).toBe('owner key is empty');
    expect(sub.reservations()).toEqual([]);
  });
});

describe('dual stack', () => {
  it('allocates both families together and reports them v4 first', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    const a = sub.allocate('nicport/ns/a');
    expect(a).toEqual({
      subnet: 'net1',
      owner: 'nicport/ns/a',
      v4: '10.0.0.2',
      v6: 'fd00::2',
      ips: ['10.0.0.2', 'fd00::2'],
      created: ['10.0.0.2', 'fd00::2'],
      released: [],
    });
  });

  it('rolls the IPv4 reservation back when IPv6 fails (no half allocation)', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/126', gateway: '10.0.0.1,fd00::1' });
    sub.allocate('first'); // takes fd00::2, the only free v6
    const before = snapshot(sub);
    const err = failure(() => sub.allocate('second'));
    expect(err.reason).toBe('Exhausted');
    expect(err.message).toContain('no free IPv6 address left');
    expect(snapshot(sub)).toEqual(before);
    expect(sub.ownerOf('10.0.0.3')).toBeUndefined();
    expect(sub.addressesOf('second')).toEqual([]);
    // Also with a user-given v4 and a bad v6.
    const err2 = failure(() => sub.allocate('third', '10.0.0.77,fd00::2'));
    expect(err2.reason).toBe('InUse');
    expect(sub.ownerOf('10.0.0.77')).toBeUndefined();
    expect(snapshot(sub)).toEqual(before);
  });

  it('auto-allocates the family the request does not name', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    expect(sub.allocate('a', '10.0.0.40').ips).toEqual(['10.0.0.40', 'fd00::2']);
    expect(sub.allocate('b', 'fd00::40').ips).toEqual(['10.0.0.2', 'fd00::40']);
    expect(sub.allocate('c', ['fd00::41', '10.0.0.41']).ips).toEqual(['10.0.0.41', 'fd00::41']);
    expect(sub.allocate('d', ' 10.0.0.42 , FD00::42 ').ips).toEqual(['10.0.0.42', 'fd00::42']);
  });

  it('is idempotent per owner and moves the owner when the request changes', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    const a = sub.allocate('a');
    expect(sub.allocate('a')).toEqual({ ...a, created: [] });
    // A request for a new v4: the new one is taken, the old one released, v6 kept.
    const moved = sub.allocate('a', '10.0.0.99');
    expect(moved.ips).toEqual(['10.0.0.99', a.v6]);
    expect(moved.created).toEqual(['10.0.0.99']);
    expect(moved.released).toEqual([a.v4]);
    expect(sub.ownerOf(a.v4 as string)).toBeUndefined();
    expect(sub.addressesOf('a')).toEqual(['10.0.0.99', a.v6]);
  });

  it('a failed move keeps the owner on its old addresses', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    const a = sub.allocate('a');
    sub.allocate('b', '10.0.0.50');
    expect(failure(() => sub.allocate('a', '10.0.0.50')).reason).toBe('InUse');
    expect(sub.addressesOf('a')).toEqual(a.ips);
  });

  it('prepare/rollback undoes exactly what was created; prepare/commit releases stale ones', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    sub.allocate('a', '10.0.0.10,fd00::10');
    const before = snapshot(sub);
    const p = sub.prepare('a', '10.0.0.11'); // v4 moves, v6 stays
    expect(sub.addressesOf('a')).toEqual(['10.0.0.10', '10.0.0.11', 'fd00::10']);
    p.rollback();
    expect(snapshot(sub)).toEqual(before);
    expect(() => p.commit()).toThrow('already committed or rolled back');
    const q = sub.prepare('a', '10.0.0.11');
    q.commit();
    expect(sub.addressesOf('a')).toEqual(['10.0.0.11', 'fd00::10']);
  });
});

describe('release', () => {
  it('releases by owner and by address, checking the owner when given', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/24,fd00::/120' });
    sub.allocate('a');
    sub.reserve('10.0.0.30', 'a'); // an owner may hold several (e.g. an LSP)
    sub.allocate('b');
    expect(sub.addressesOf('a')).toEqual(['10.0.0.2', '10.0.0.30', 'fd00::2']);
    const err = failure(() => sub.releaseIp('10.0.0.30', 'b'));
    expect(err.reason).toBe('NotOwner');
    expect(err.message).toBe('10.0.0.30 in subnet net1 is held by a, not b');
    expect(sub.releaseIp('10.0.0.30', 'a')).toBe(true);
    expect(sub.releaseIp('10.0.0.30')).toBe(false);
    expect(sub.releaseIp('fd00::99')).toBe(false);
    expect(sub.release('a')).toEqual(['10.0.0.2', 'fd00::2']);
    expect(sub.release('a')).toEqual([]);
    expect(sub.hasOwner('a')).toBe(false);
    expect(sub.hasOwner('b')).toBe(true);
    expect([...sub.owners()]).toEqual(['b']);
  });

  it('releasing an address held inside excludeIps does not make it allocatable', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/29', excludeIps: ['10.0.0.2..10.0.0.5'] });
    expect(sub.reserve('10.0.0.3', 'kube-ovn/pod.ns', { allowExcluded: true })).toBe(true);
    expect(sub.stats()[0]?.used).toBe(1);
    expect(sub.stats()[0]?.free).toBe(1n); // only .6
    sub.release('kube-ovn/pod.ns');
    expect(sub.stats()[0]?.free).toBe(1n);
    expect(sub.allocate('x').v4).toBe('10.0.0.6');
    expect(failure(() => sub.allocate('y')).reason).toBe('Exhausted');
  });

  it('check() reports exhaustion without changing anything', () => {
    const sub = subnet({ cidrBlock: '10.0.0.0/30' });
    expect(sub.check('a')).toBeUndefined();
    sub.allocate('a');
    expect(sub.check('a')).toBeUndefined(); // already holds one
    expect(sub.check('b')?.reason).toBe('Exhausted');
    expect(sub.reservations()).toHaveLength(1);
  });
});

describe('parseIpRequest', () => {
  it('accepts one or both families as string or list', () => {
    expect(parseIpRequest(undefined)).toEqual({});
    expect(parseIpRequest('')).toEqual({});
    expect(parseIpRequest('10.0.0.5')).toEqual({ v4: parseIp('10.0.0.5') });
    expect(parseIpRequest('fd00::5,10.0.0.5')).toEqual({ v4: parseIp('10.0.0.5'), v6: parseIp('fd00::5') });
    expect(parseIpRequest(['fd00::5'])).toEqual({ v6: parseIp('fd00::5') });
  });

  it('rejects two of one family and non-strings', () => {
    expect(() => parseIpRequest('fd00::5,fd00::6')).toThrow('names two IPv6 addresses');
    expect(() => parseIpRequest([5 as unknown as string])).toThrow('every element must be a string');
  });
});
