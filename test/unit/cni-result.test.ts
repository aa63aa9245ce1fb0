import { describe, expect, it } from 'vitest';
import { appendResult, formatResult, parseResult, type CniResult } from '../../src/cni/result.js';
import { CniError } from '../../src/cni/errors.js';

const full: CniResult = {
  interfaces: [
    { name: 'abcdef012345_h', mac: '02:00:00:00:00:aa', mtu: 1400 },
    { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/run/netns/p1', socketPath: '/run/vhost/s.sock', pciID: '0000:00:01.0' },
  ],
  ips: [
    { address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 1 },
    { address: 'fd00::5/64', gateway: 'fd00::1', interface: 1 },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 0, scope: 0 },
    { dst: '::/0' },
  ],
  dns: { nameservers: ['10.0.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
};

function err(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('expected a CniError');
}

describe('formatResult', () => {
  it('1.1.0 keeps every field', () => {
    expect(formatResult(full, '1.1.0')).toEqual({ cniVersion: '1.1.0', ...full });
  });

  it('1.0.0 drops socketPath, pciID and the 1.1 route fields', () => {
    const out = formatResult(full, '1.0.0');
    expect(out.interfaces).toEqual([
      { name: 'abcdef012345_h', mac: '02:00:00:00:00:aa', mtu: 1400 },
      { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/run/netns/p1' },
    ]);
    expect(out.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }]);
    expect(out.ips).toEqual(full.ips);
  });

  for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
    it(`${v} adds ips[].version and drops mtu`, () => {
      const out = formatResult(full, v);
      expect(out.cniVersion).toBe(v);
      expect(out.ips).toEqual([
        { version: '4', interface: 1, address: '10.0.0.5/24', gateway: '10.0.0.1' },
        { version: '6', interface: 1, address: 'fd00::5/64', gateway: 'fd00::1' },
      ]);
      expect(out.interfaces).toEqual([
        { name: 'abcdef012345_h', mac: '02:00:00:00:00:aa' },
        { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p1' },
      ]);
    });
  }

  it('omits empty lists and empty dns', () => {
    expect(formatResult({ interfaces: [], ips: [], routes: [], dns: {} }, '1.0.0')).toEqual({ cniVersion: '1.0.0' });
  });

  it('refuses an out-of-range interface index (999)', () => {
    const e = err(() => formatResult({ interfaces: [], ips: [{ address: '10.0.0.1/24', interface: 0 }], routes: [], dns: {} }, '1.0.0'));
    expect(e.code).toBe(999);
  });
});

describe('parseResult', () => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    it(`round-trips through ${v}`, () => {
      const wire = JSON.parse(JSON.stringify(formatResult(full, v))) as unknown;
      const back = parseResult(wire, { defaultVersion: v });
      expect(formatResult(back, v)).toEqual(formatResult(full, v));
    });
  }

  it('parses a host-local 1.0.0 result', () => {
    const r = parseResult(
      { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }, { address: 'fd00:9::2/64', gateway: 'fd00:9::1' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dns: {} },
      { defaultVersion: '1.0.0' },
    );
    expect(r).toEqual({ interfaces: [], ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }, { address: 'fd00:9::2/64', gateway: 'fd00:9::1' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dns: {} });
  });

  it('uses the object\'s own cniVersion over the default', () => {
    expect(err(() => parseResult({ cniVersion: '0.2.0' }, { defaultVersion: '1.0.0' })).details).toContain('0.2.0');
  });

  it('keeps table/scope 0 and drops zero mtu/advmss/priority (Go omitempty)', () => {
    const r = parseResult({ cniVersion: '1.1.0', routes: [{ dst: '10.0.0.0/8', mtu: 0, table: 0, scope: 253 }] }, { defaultVersion: '1.1.0' });
    expect(r.routes).toEqual([{ dst: '10.0.0.0/8', table: 0, scope: 253 }]);
  });

  const bad: Array<[string, unknown]> = [
    ['not an object', []],
    ['interfaces not array', { interfaces: {} }],
    ['interface without name', { interfaces: [{ mac: 'x' }] }],
    ['address without prefix', { ips: [{ address: '10.0.0.1' }] }],
    ['address garbage', { ips: [{ address: 'x/24' }] }],
    ['gateway of the other family', { ips: [{ address: '10.0.0.1/24', gateway: 'fd00::1' }] }],
    ['interface index out of range', { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.0.1/24', interface: 1 }] }],
    ['negative interface index', { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.0.1/24', interface: -1 }] }],
    ['legacy version mismatch', { cniVersion: '0.4.0', ips: [{ version: '6', address: '10.0.0.1/24' }] }],
    ['route without dst', { routes: [{ gw: '10.0.0.1' }] }],
    ['route gw garbage', { routes: [{ dst: '0.0.0.0/0', gw: 'x' }] }],
    ['route mtu negative', { routes: [{ dst: '0.0.0.0/0', mtu: -1 }] }],
    ['dns not object', { dns: [] }],
    ['dns nameserver garbage', { dns: { nameservers: ['dns.example'] } }],
    ['dns search not strings', { dns: { search: [1] } }],
  ];
  for (const [label, input] of bad) {
    it(`${label} → 6 by default, or the given code`, () => {
      expect(err(() => parseResult(input, { defaultVersion: '1.1.0' })).code).toBe(6);
      expect(err(() => parseResult(input, { defaultVersion: '1.1.0', errorCode: 7, what: 'prevResult' }))).toMatchObject({ code: 7, msg: 'invalid prevResult' });
    });
  }
});

describe('appendResult', () => {
  it('appends interfaces and shifts own interface indices', () => {
    const prev: CniResult = { interfaces: [{ name: 'lo0' }], ips: [{ address: '192.168.0.2/24', interface: 0 }], routes: [], dns: { domain: 'a' } };
    const own: CniResult = { interfaces: [{ name: 'h' }, { name: 'eth1', sandbox: '/n' }], ips: [{ address: '10.0.0.5/24', interface: 1 }, { address: '10.1.0.5/24' }], routes: [{ dst: '0.0.0.0/0' }], dns: { nameservers: ['10.0.0.10'] } };
    expect(appendResult(prev, own)).toEqual({
      interfaces: [{ name: 'lo0' }, { name: 'h' }, { name: 'eth1', sandbox: '/n' }],
      ips: [{ address: '192.168.0.2/24', interface: 0 }, { address: '10.0.0.5/24', interface: 2 }, { address: '10.1.0.5/24' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { domain: 'a', nameservers: ['10.0.0.10'] },
    });
  });
});
