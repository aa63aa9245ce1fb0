import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  cidrContains,
  cidrSize,
  compareIp,
  firstUsable,
  formatCidr,
  formatIp,
  formatIpRange,
  isIp,
  IpamError,
  lastAddress,
  lastUsable,
  networkAddress,
  offsetIp,
  parseCidr,
  parseIp,
  parseIpRange,
  usableRange,
} from '../../src/ipam/index.js';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IpamError);
    return `${(err as IpamError).reason}: ${(err as IpamError).message}`;
  }
  throw new Error('expected an IpamError');
}

describe('IPv4 parse/format', () => {
  it('round-trips boundary values', () => {
    expect(parseIp('0.0.0.0')).toEqual({ family: 4, value: 0n });
    expect(parseIp('255.255.255.255')).toEqual({ family: 4, value: 0xffffffffn });
    expect(parseIp('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(formatIp({ family: 4, value: 0xc0a80101n })).toBe('192.168.1.1');
    expect(formatIp({ family: 4, value: 0xffffffffn })).toBe('255.255.255.255');
  });

  it.each([
    ['10.0.0', 'expected 4 dot-separated octets, found 3'],
    ['10.0.0.0.1', 'expected 4 dot-separated octets, found 5'],
    ['10.0.0.256', 'octet 256 is greater than 255'],
    ['10.0.0.1000', 'octet "1000" is greater than 255'],
    ['10.0.0.01', 'octet "01" has a leading zero'],
    ['10..0.1', 'empty octet'],
    ['10.0.0.x', 'octet "x" is not a decimal number'],
    ['10.0.0.-1', 'octet "-1" is not a decimal number'],
    [' 10.0.0.1', 'surrounding whitespace'],
    ['', 'empty string'],
    ['hello', 'neither an IPv4'],
  ])('rejects %j with a clear reason', (text, why) => {
    const msg = reasonOf(() => parseIp(text));
    expect(msg).toContain('InvalidInput');
    expect(msg).toContain(JSON.stringify(text));
    expect(msg).toContain(why);
    expect(isIp(text)).toBe(false);
  });
});

describe('IPv6 parse/format (RFC 5952)', () => {
  it.each([
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // a tie: the first run
    ['2001:DB8::A:b', '2001:db8::a:b'], // lowercase
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1::', '1::'],
    ['::2:0:0:0:0:0:3', '0:2::3'],
    ['fd00:10::0:5', 'fd00:10::5'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // IPv4-mapped in mixed notation
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
    expect(canonicalIp(canonical)).toBe(canonical);
    expect(parseIp(canonical)).toEqual(parseIp(input));
  });

  it('parses values exactly', () => {
    expect(parseIp('::')).toEqual({ family: 6, value: 0n });
    expect(parseIp('::1').value).toBe(1n);
    expect(parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').value).toBe((1n << 128n) - 1n);
    expect(parseIp('fd00::1:0').value).toBe((0xfd00n << 112n) | 0x10000n);
  });

  it.each([
    ['1::2::3', '"::" may appear only once'],
    ['1:2:3:4:5:6:7:8:9', 'expected 8 groups, found 9'],
    ['1:2:3:4:5:6:7', 'expected 8 groups, found 7'],
    ['1:2:3:4::5:6:7:8', 'too many groups around "::"'],
    ['12345::', 'more than 4 hex digits'],
    ['g::1', 'group "g" is not hexadecimal'],
    [':1::2', 'empty group'],
    ['1::2:', 'empty group'],
    [':::', 'empty group'],
    ['fe80::1%eth0', 'zone index'],
    ['1.2.3.4::', 'only allowed as the last part'],
    ['::1.2.3.4:5', 'only allowed as the last part'],
    ['::1.2.3.256', 'embedded IPv4 "1.2.3.256": octet 256 is greater than 255'],
  ])('rejects %j: %s', (text, why) => {
    expect(reasonOf(() => parseIp(text))).toContain(why);
  });
});

describe('compare, offset', () => {
  it('orders IPv4 before IPv6, then numerically', () => {
    const sorted = ['fd00::1', '10.0.0.2', '::', '10.0.0.10', '9.255.255.255'].map(parseIp).sort(compareIp).map(formatIp);
    expect(sorted).toEqual(['9.255.255.255', '10.0.0.2', '10.0.0.10', '::', 'fd00::1']);
  });

  it('offsets within the family and refuses to leave it', () => {
    expect(formatIp(offsetIp(parseIp('10.0.0.255'), 1n))).toBe('10.0.1.0');
    expect(formatIp(offsetIp(parseIp('fd00::ffff'), 1n))).toBe('fd00::1:0');
    expect(reasonOf(() => offsetIp(parseIp('255.255.255.255'), 1n))).toContain('leaves the IPv4 address space');
    expect(reasonOf(() => offsetIp(parseIp('::'), -1n))).toContain('leaves the IPv6 address space');
  });
});

describe('CIDR', () => {
  it('parses and formats', () => {
    const c = parseCidr('10.1.0.0/16');
    expect(c).toEqual({ family: 4, network: 0x0a010000n, prefix: 16 });
    expect(formatCidr(c)).toBe('10.1.0.0/16');
    expect(formatCidr(parseCidr('FD00:0:0::/64'))).toBe('fd00::/64');
    expect(formatCidr(parseCidr('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(formatCidr(parseCidr('::/0'))).toBe('::/0');
  });

  it('rejects host bits unless asked to mask them', () => {
    expect(reasonOf(() => parseCidr('10.0.0.7/24'))).toContain('host bits are set; the network is 10.0.0.0/24');
    expect(formatCidr(parseCidr('10.0.0.7/24', { allowHostBits: true }))).toBe('10.0.0.0/24');
    expect(formatCidr(parseCidr('fd00::1/64', { allowHostBits: true }))).toBe('fd00::/64');
  });

  it.each([
    ['10.0.0.0', 'missing "/prefix-length"'],
    ['10.0.0.0/33', 'prefix length 33 is greater than 32 for IPv4'],
    ['fd00::/129', 'prefix length 129 is greater than 128 for IPv6'],
    ['10.0.0.0/08', 'not a plain decimal number'],
    ['10.0.0.0/', 'not a plain decimal number'],
    ['10.0.0.0/+8', 'not a plain decimal number'],
    ['10.0.0.0/8/8', 'more than one "/"'],
    ['10.0.0/8', 'address part: expected 4 dot-separated octets'],
    ['', 'empty string'],
  ])('rejects %j: %s', (text, why) => {
    const msg = reasonOf(() => parseCidr(text));
    expect(msg).toContain(`invalid CIDR ${JSON.stringify(text)}`);
    expect(msg).toContain(why);
  });

  it('contains, size, network and last address', () => {
    const c = parseCidr('192.168.4.0/22');
    expect(cidrContains(c, parseIp('192.168.4.0'))).toBe(true);
    expect(cidrContains(c, parseIp('192.168.7.255'))).toBe(true);
    expect(cidrContains(c, parseIp('192.168.8.0'))).toBe(false);
    expect(cidrContains(c, parseIp('192.168.3.255'))).toBe(false);
    expect(cidrContains(c, parseIp('::ffff:192.168.4.1'))).toBe(false); // another family
    expect(cidrSize(c)).toBe(1024n);
    expect(formatIp(networkAddress(c))).toBe('192.168.4.0');
    expect(formatIp(lastAddress(c))).toBe('192.168.7.255');
    const v6 = parseCidr('fd00:1::/64');
    expect(cidrSize(v6)).toBe(1n << 64n);
    expect(formatIp(lastAddress(v6))).toBe('fd00:1::ffff:ffff:ffff:ffff');
    expect(cidrSize(parseCidr('::/0'))).toBe(1n << 128n);
    expect(cidrSize(parseCidr('0.0.0.0/0'))).toBe(1n << 32n);
  });

  it.each([
    ['10.0.0.0/24', '10.0.0.1', '10.0.0.254', 254n],
    ['10.0.0.0/30', '10.0.0.1', '10.0.0.2', 2n],
    ['10.0.0.4/31', '10.0.0.4', '10.0.0.5', 2n], // point-to-point: both usable
    ['10.0.0.9/32', '10.0.0.9', '10.0.0.9', 1n],
    ['fd00::/64', 'fd00::1', 'fd00::ffff:ffff:ffff:fffe', (1n << 64n) - 2n],
    ['fd00::/126', 'fd00::1', 'fd00::2', 2n],
    ['fd00::4/127', 'fd00::4', 'fd00::5', 2n],
    ['fd00::9/128', 'fd00::9', 'fd00::9', 1n],
  ])('usable range of %s is %s..%s', (cidrText, first, last, count) => {
    const c = parseCidr(cidrText);
    expect(formatIp(firstUsable(c))).toBe(first);
    expect(formatIp(lastUsable(c))).toBe(last);
    const r = usableRange(c);
    expect(r.last - r.first + 1n).toBe(count);
  });
});

describe('IP ranges (excludeIps syntax)', () => {
  it('parses single addresses and a..b', () => {
    expect(parseIpRange('10.0.0.5')).toEqual({ family: 4, first: 0x0a000005n, last: 0x0a000005n });
    expect(parseIpRange('10.0.0.5..10.0.0.9')).toEqual({ family: 4, first: 0x0a000005n, last: 0x0a000009n });
    expect(formatIpRange(parseIpRange('FD00::1..fd00::00ff'))).toBe('fd00::1..fd00::ff');
    expect(formatIpRange(parseIpRange('10.0.0.5..10.0.0.5'))).toBe('10.0.0.5');
  });

  it('rejects mixed families, reversed ranges and junk', () => {
    expect(reasonOf(() => parseIpRange('10.0.0.9..10.0.0.5'))).toContain('start is after end');
    expect(reasonOf(() => parseIpRange('10.0.0.1..fd00::1'))).toContain('mixes IPv4 and IPv6');
    expect(reasonOf(() => parseIpRange('10.0.0.1..10.0.0.2..10.0.0.3'))).toContain('more than one ".."');
    expect(reasonOf(() => parseIpRange('10.0.0.1..'))).toContain('empty string');
  });
});
