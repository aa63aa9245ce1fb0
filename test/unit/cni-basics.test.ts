import { describe, expect, it } from 'vitest';
import { ipFamily, normalizeMac, parseAssignableMac, parseCidr, parseRequestedIp, stripPrefix } from '../../src/cni/addr.js';
import { CniError, CniErrorCode, toCniError } from '../../src/cni/errors.js';
import { compareVersions, highestCommonVersion, isLegacyResultVersion } from '../../src/cni/version.js';

describe('addresses', () => {
  it('families', () => {
    expect(ipFamily('10.0.0.1')).toBe(4);
    expect(ipFamily('::ffff:10.0.0.1')).toBe(6);
    expect(ipFamily('fd00::1')).toBe(6);
    for (const bad of ['', '10.0.0', '10.0.0.01', '1.2.3.4.5', 'fe80::1%eth0', 'x', '10.0.0.1/24']) expect(ipFamily(bad)).toBeUndefined();
  });
  it('CIDRs', () => {
    expect(parseCidr('10.0.0.5/24')).toEqual({ address: '10.0.0.5', prefix: 24, family: 4 });
    expect(parseCidr('fd00::5/128')).toEqual({ address: 'fd00::5', prefix: 128, family: 6 });
    for (const bad of ['10.0.0.5', '10.0.0.5/33', '10.0.0.5/', '10.0.0.5/-1', '10.0.0.5/2a', 'fd00::/129', '/24', '10.0.0.5/0024']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });
  it('requested IPs allow an optional prefix', () => {
    expect(parseRequestedIp('10.0.0.5')).toEqual({ address: '10.0.0.5', family: 4 });
    expect(parseRequestedIp('10.0.0.5/24')).toMatchObject({ prefix: 24 });
    expect(stripPrefix('fd00::5/64')).toBe('fd00::5');
  });
  it('MACs', () => {
    expect(normalizeMac('0A-1b-2C-3d-4E-5f')).toBe('0a:1b:2c:3d:4e:5f');
    expect(normalizeMac('0a:1b:2c:3d:4e')).toBeUndefined();
    expect(normalizeMac('0a1b.2c3d.4e5f')).toBeUndefined();
    expect(parseAssignableMac('02:00:00:00:00:01')).toBe('02:00:00:00:00:01');
    expect(parseAssignableMac('03:00:00:00:00:01')).toBeUndefined();
    expect(parseAssignableMac('00:00:00:00:00:00')).toBeUndefined();
  });
});

describe('errors', () => {
  it('JSON shape, details omitted when empty', () => {
    expect(new CniError(7, 'bad', 'why').toJson('1.0.0')).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'bad', details: 'why' });
    expect(Object.keys(new CniError(4, 'x').toJson('1.1.0'))).toEqual(['cniVersion', 'code', 'msg']);
  });
  it('the spec codes', () => {
    expect(CniErrorCode).toMatchObject({
      IncompatibleVersion: 1, UnsupportedField: 2, UnknownContainer: 3, InvalidEnvironment: 4, IoFailure: 5,
      DecodingFailure: 6, InvalidNetworkConfig: 7, TryAgainLater: 11, NotAvailable: 50, NotAvailableLimitedConnectivity: 51,
    });
  });
  it('toCniError keeps CniErrors and wraps the rest as 999', () => {
    const e = new CniError(11, 'later');
    expect(toCniError(e)).toBe(e);
    expect(toCniError(new Error('boom'))).toMatchObject({ code: 999, msg: 'boom' });
    expect(toCniError('str')).toMatchObject({ code: 999, msg: 'str' });
  });
});

describe('versions', () => {
  it('compares numerically', () => {
    expect(compareVersions('0.10.0', '0.4.0')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
    expect(() => compareVersions('1.0', '1.0.0')).toThrow();
  });
  it('legacy layout below 1.0.0', () => {
    expect(isLegacyResultVersion('0.4.0')).toBe(true);
    expect(isLegacyResultVersion('1.0.0')).toBe(false);
  });
  it('highest common version', () => {
    expect(highestCommonVersion(['0.3.1', '0.4.0', '1.0.0', '1.1.0'], ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'])).toBe('1.0.0');
    expect(highestCommonVersion(['1.1.0'], ['1.0.0'])).toBeUndefined();
  });
});

describe('IP text validation agrees with node:net', () => {
  it('on edge cases and random strings', async () => {
    const net = await import('node:net');
    const { isIPv4, isIPv6 } = await import('../../src/cni/addr.js');
    const fixed = [
      '0.0.0.0', '255.255.255.255', '256.0.0.0', '01.2.3.4', '1.2.3', '1.2.3.4.', ' 1.2.3.4', '1.2.3.4 ',
      '::', '::1', '1::', ':1::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7', '::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '1.2.3.4::', 'fe80::1%eth0',
      '12345::', 'g::', 'FD00::A', '1:2:3:4:5::1.2.3.4', '::ffff:01.2.3.4', '', ':', ':::',
    ];
    const alphabet = '0123456789abcdefABCDEF:.';
    const random: string[] = [];
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const len = 1 + rnd(20);
      for (let j = 0; j < len; j++) s += alphabet[rnd(alphabet.length)];
      random.push(s);
    }
    for (const s of [...fixed, ...random]) {
      expect(isIPv4(s), s).toBe(net.isIPv4(s));
      expect(isIPv6(s), s).toBe(net.isIPv6(s) && !s.includes('%'));
    }
  });
});
