import { describe, expect, it } from 'vitest';
import { formatIp, ipv4Broadcast, maskBytes, parseCidr, parseIp, parseMac, formatMac } from '../../src/netlink/ip.js';

describe('IP text <-> bytes', () => {
  it('parses IPv4', () => {
    expect(parseIp('10.16.0.2')).toEqual({ family: 4, bytes: Buffer.from([10, 16, 0, 2]), address: '10.16.0.2' });
  });

  it('parses IPv6 forms to the same 16 bytes', () => {
    const expected = Buffer.from('fd000010001600000000000000000002', 'hex');
    for (const text of ['fd00:10:16::2', 'FD00:0010:0016:0000:0000:0000:0000:0002', 'fd00:10:16:0:0:0:0:2']) {
      expect(parseIp(text).bytes).toEqual(expected);
      expect(parseIp(text).address).toBe('fd00:10:16::2');
    }
    expect(parseIp('::').bytes).toEqual(Buffer.alloc(16));
    expect(parseIp('::1').address).toBe('::1');
    expect(parseIp('fe80::').address).toBe('fe80::');
  });

  it('handles embedded IPv4 and prints v4-mapped addresses the usual way', () => {
    expect(parseIp('::ffff:10.0.0.1').bytes).toEqual(Buffer.from('00000000000000000000ffff0a000001', 'hex'));
    expect(parseIp('::ffff:10.0.0.1').address).toBe('::ffff:10.0.0.1');
    expect(parseIp('64:ff9b::192.0.2.33').address).toBe('64:ff9b::c000:221');
  });

  it('formats per RFC 5952: longest zero run, first on a tie, no single-group compression', () => {
    expect(formatIp(Buffer.from('20010db8000000010000000000000001', 'hex'))).toBe('2001:db8:0:1::1');
    expect(formatIp(Buffer.from('20010db8000000000001000000000001', 'hex'))).toBe('2001:db8::1:0:0:1');
    expect(formatIp(Buffer.from('20010db8000100010001000100010001', 'hex'))).toBe('2001:db8:1:1:1:1:1:1');
    expect(formatIp(Buffer.from('20010db8000000010001000100010000', 'hex'))).toBe('2001:db8:0:1:1:1:1:0');
  });

  it('rejects invalid addresses, zones and bad byte lengths', () => {
    for (const bad of ['10.0.0', '10.0.0.256', 'fe80::1%eth0', 'x', '', '1::2::3']) {
      expect(() => parseIp(bad), bad).toThrow(/invalid IP address/);
    }
    expect(() => formatIp(Buffer.alloc(5))).toThrow(/4 or 16 bytes/);
  });
});

describe('CIDR', () => {
  it('parses prefix lengths and defaults a bare address to a host prefix', () => {
    expect(parseCidr('10.16.0.2/24')).toMatchObject({ family: 4, address: '10.16.0.2', prefixLength: 24 });
    expect(parseCidr('fd00::2/64')).toMatchObject({ family: 6, prefixLength: 64 });
    expect(parseCidr('10.0.0.1').prefixLength).toBe(32);
    expect(parseCidr('::1').prefixLength).toBe(128);
  });

  it('rejects out-of-range or malformed prefixes', () => {
    for (const bad of ['10.0.0.1/33', 'fd00::/129', '10.0.0.1/', '10.0.0.1/2x', '10.0.0.1/-1']) {
      expect(() => parseCidr(bad), bad).toThrow(/invalid prefix length/);
    }
  });

  it('computes network and broadcast addresses', () => {
    expect(formatIp(maskBytes(Buffer.from([10, 16, 3, 77]), 22))).toBe('10.16.0.0');
    expect(formatIp(ipv4Broadcast(Buffer.from([10, 16, 3, 77]), 22))).toBe('10.16.3.255');
    expect(formatIp(ipv4Broadcast(Buffer.from([10, 16, 3, 77]), 32))).toBe('10.16.3.77');
    expect(formatIp(maskBytes(parseIp('fd00:10:16::2').bytes, 48))).toBe('fd00:10:16::');
  });
});

describe('MAC', () => {
  it('round-trips and lower-cases', () => {
    expect(formatMac(parseMac('0A:00:00:00:00:FF'))).toBe('0a:00:00:00:00:ff');
  });

  it('rejects malformed and multicast MACs', () => {
    expect(() => parseMac('0a:00:00:00:00')).toThrow(/invalid MAC/);
    expect(() => parseMac('0a-00-00-00-00-01')).toThrow(/invalid MAC/);
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow(/multicast/);
  });
});
