import { describe, expect, it } from 'vitest';
import { decodeConfig, loadNetConf, negotiateVersion, parseValidAttachments, requestedAddressing } from '../../src/cni/config.js';
import { parseCniArgs } from '../../src/cni/env.js';
import { CniError } from '../../src/cni/errors.js';

const base = { cniVersion: '1.1.0', name: 'net1', type: 'ovnic' };
const load = (over: Record<string, unknown>, command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' = 'ADD') =>
  loadNetConf(JSON.stringify({ ...base, ...over }), command);

function err(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('expected a CniError');
}

describe('decodeConfig', () => {
  for (const text of ['', '{', 'nope', '[]', '"x"', '1', 'null']) {
    it(`${JSON.stringify(text)} → 6`, () => expect(err(() => decodeConfig(text)).code).toBe(6));
  }
  it('accepts bytes', () => expect(decodeConfig(new TextEncoder().encode('{"a":1}'))).toEqual({ a: 1 }));
});

describe('network name and version', () => {
  it('missing name → 7', () => expect(err(() => loadNetConf('{"cniVersion":"1.0.0","type":"ovnic"}', 'ADD')).code).toBe(7));
  it('bad name characters → 7', () => expect(err(() => load({ name: 'a/b' })).code).toBe(7));
  it('name is checked before the version (skel order)', () => {
    expect(err(() => loadNetConf('{"cniVersion":"9.9.9","type":"ovnic"}', 'ADD')).code).toBe(7);
  });
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    it(`${v} is supported for ADD and DEL`, () => {
      expect(load({ cniVersion: v }).cniVersion).toBe(v);
      expect(load({ cniVersion: v }, 'DEL').cniVersion).toBe(v);
    });
  }
  for (const v of ['0.1.0', '0.2.0', '1.2.0', '2.0.0', 'abc', '']) {
    it(`"${v}" → 1`, () => {
      const e = err(() => load({ cniVersion: v }));
      expect(e.code).toBe(1);
      expect(e.details).toContain('plugin supports [0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]');
    });
  }
  it('absent cniVersion means 0.1.0 → 1', () => {
    expect(err(() => loadNetConf('{"name":"n","type":"ovnic"}', 'ADD')).code).toBe(1);
  });
  it('non-string cniVersion → 6', () => expect(err(() => negotiateVersion({ cniVersion: 1 }, 'ADD')).code).toBe(6));
  it('CHECK needs >= 0.4.0', () => {
    expect(err(() => load({ cniVersion: '0.3.1' }, 'CHECK')).code).toBe(1);
    expect(load({ cniVersion: '0.4.0' }, 'CHECK').cniVersion).toBe('0.4.0');
  });
  for (const cmd of ['GC', 'STATUS'] as const) {
    it(`${cmd} needs 1.1.0`, () => {
      const e = err(() => load({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] }, cmd));
      expect(e.code).toBe(1);
      expect(e.msg).toContain(cmd);
      expect(load({ 'cni.dev/valid-attachments': [] }, cmd).cniVersion).toBe('1.1.0');
    });
  }
});

describe('ovnic keys', () => {
  it('defaults', () => {
    const c = load({});
    expect(c).toMatchObject({
      bridge: 'br-int',
      ovsdb: 'unix:/run/openvswitch/db.sock',
      nicType: 'veth',
      provider: 'ovn',
      ovnWait: { enabled: true, timeoutMs: 15000 },
      macvtapMode: 'bridge',
      guestOwnsAddresses: false,
      vhostSocketDir: '/run/openvswitch/vhost_sockets',
      runtimeConfig: { ips: [] },
    });
    for (const k of ['ovsNetns', 'mtu', 'ipam', 'dns', 'serverSocket', 'logFile', 'logLevel', 'prevResult', 'validAttachments'] as const) {
      expect(c[k]).toBeUndefined();
    }
  });

  it('takes every key', () => {
    const c = load({
      bridge: 'br-ex',
      ovsdb: 'tcp:127.0.0.1:6640',
      ovsNetns: '/run/netns/ovs',
      nicType: 'dpdk-vhostuser',
      mtu: 9000,
      provider: 'net2.default.ovn',
      ipam: { type: 'host-local', subnet: '10.0.0.0/24' },
      dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] },
      ovnWait: { enabled: false },
      macvtapMode: 'passthru',
      guestOwnsAddresses: true,
      vhostSocketDir: '/var/run/vhost',
      serverSocket: '/run/ovnic/daemon.sock',
      logFile: '/var/log/ovnic.log',
      logLevel: 'debug',
    });
    expect(c).toMatchObject({
      bridge: 'br-ex',
      ovsdb: 'tcp:127.0.0.1:6640',
      ovsNetns: '/run/netns/ovs',
      nicType: 'dpdk-vhostuser',
      mtu: 9000,
      provider: 'net2.default.ovn',
      ipam: { type: 'host-local', subnet: '10.0.0.0/24' },
      dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] },
      ovnWait: { enabled: false, timeoutMs: 15000 },
      macvtapMode: 'passthru',
      guestOwnsAddresses: true,
      vhostSocketDir: '/var/run/vhost',
      serverSocket: '/run/ovnic/daemon.sock',
      logFile: '/var/log/ovnic.log',
      logLevel: 'debug',
    });
  });

  it('ignores unknown keys (other capabilities, conventions)', () => {
    expect(() => load({ capabilities: { portMappings: true }, runtimeConfig: { portMappings: [] }, whatever: 1 })).not.toThrow();
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['type missing', { type: undefined }, 'type'],
    ['type with /', { type: 'a/b' }, 'type'],
    ['bridge too long', { bridge: 'b'.repeat(16) }, 'bridge'],
    ['bridge not a string', { bridge: 5 }, 'bridge'],
    ['ovsdb scheme', { ovsdb: '/run/db.sock' }, 'ovsdb'],
    ['ovsdb tcp without port', { ovsdb: 'tcp:1.2.3.4' }, 'ovsdb'],
    ['ovsNetns relative', { ovsNetns: 'run/netns/x' }, 'ovsNetns'],
    ['nicType unknown', { nicType: 'sriov' }, 'nicType'],
    ['mtu too small', { mtu: 67 }, 'mtu'],
    ['mtu too big', { mtu: 65536 }, 'mtu'],
    ['mtu fraction', { mtu: 1500.5 }, 'mtu'],
    ['mtu string', { mtu: '1500' }, 'mtu'],
    ['provider chars', { provider: 'a b' }, 'provider'],
    ['ipam not object', { ipam: 'host-local' }, 'ipam'],
    ['ipam without type', { ipam: { subnet: '10.0.0.0/24' } }, 'ipam.type'],
    ['ipam type with /', { ipam: { type: '../x' } }, 'ipam.type'],
    ['dns bad nameserver', { dns: { nameservers: ['x'] } }, 'nameservers'],
    ['ovnWait not object', { ovnWait: true }, 'ovnWait'],
    ['ovnWait enabled not bool', { ovnWait: { enabled: 'yes' } }, 'enabled'],
    ['ovnWait timeout zero', { ovnWait: { timeoutMs: 0 } }, 'timeoutMs'],
    ['macvtapMode unknown', { macvtapMode: 'source' }, 'macvtapMode'],
    ['guestOwnsAddresses not bool', { guestOwnsAddresses: 'true' }, 'guestOwnsAddresses'],
    ['vhostSocketDir relative', { vhostSocketDir: 'vhost' }, 'vhostSocketDir'],
    ['logLevel unknown', { logLevel: 'loud' }, 'logLevel'],
    ['logFile relative', { logFile: 'x.log' }, 'logFile'],
    ['runtimeConfig.ips not array', { runtimeConfig: { ips: '10.0.0.1' } }, 'runtimeConfig.ips'],
    ['runtimeConfig.ips bad entry', { runtimeConfig: { ips: ['10.0.0.300/24'] } }, 'runtimeConfig.ips'],
    ['runtimeConfig.mac multicast', { runtimeConfig: { mac: '01:00:00:00:00:01' } }, 'runtimeConfig.mac'],
    ['runtimeConfig.mac garbage', { runtimeConfig: { mac: 'zz' } }, 'runtimeConfig.mac'],
    ['args.cni.ips bad', { args: { cni: { ips: [1] } } }, 'args.cni.ips'],
    ['prevResult bad address', { prevResult: { cniVersion: '1.1.0', ips: [{ address: '10.0.0.1' }] } }, 'prevResult'],
  ];
  for (const [label, over, mention] of invalid) {
    it(`${label} → 7 mentioning ${mention}`, () => {
      const e = err(() => load(over));
      expect(e.code).toBe(7);
      expect(`${e.msg} ${e.details}`).toContain(mention);
    });
  }

  it('runtimeConfig ips and mac are normalised', () => {
    const c = load({ runtimeConfig: { ips: ['10.0.0.5/24', 'fd00::5'], mac: '0A:00:00:00:00:01' } });
    expect(c.runtimeConfig).toEqual({ ips: [{ address: '10.0.0.5', prefix: 24, family: 4 }, { address: 'fd00::5', family: 6 }], mac: '0a:00:00:00:00:01' });
  });

  it('prevResult is parsed in the request version into the internal form', () => {
    const c = load({
      cniVersion: '0.3.1',
      prevResult: {
        cniVersion: '0.3.1',
        interfaces: [{ name: 'eth0', sandbox: '/run/netns/x', mac: '02:00:00:00:00:01' }],
        ips: [{ version: '4', interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' }],
        routes: [{ dst: '0.0.0.0/0' }],
        dns: {},
      },
    });
    expect(c.prevResult).toEqual({
      interfaces: [{ name: 'eth0', sandbox: '/run/netns/x', mac: '02:00:00:00:00:01' }],
      ips: [{ interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: {},
    });
  });
});

describe('DEL is lenient', () => {
  it('a malformed prevResult is ignored on DEL (and only there)', () => {
    const prevResult = { cniVersion: '1.0.0', ips: [{ address: 'garbage' }] };
    expect(err(() => load({ prevResult })).code).toBe(7);
    expect(err(() => load({ prevResult, cniVersion: '1.0.0' }, 'CHECK')).code).toBe(7);
    const del = load({ prevResult }, 'DEL');
    expect(del.prevResult).toBeUndefined();
    expect(del.prevResultIgnored).toContain('ips[0].address');
  });
});

describe('GC attachments', () => {
  it('unions valid-attachments and the legacy key without duplicates', () => {
    const list = parseValidAttachments({
      'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'eth0' }],
      'cni.dev/attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'c', ifname: 'net1' }],
    });
    expect(list).toEqual([
      { containerID: 'a', ifname: 'eth0' },
      { containerID: 'b', ifname: 'eth0' },
      { containerID: 'c', ifname: 'net1' },
    ]);
  });
  it('an empty list is valid (everything is stale)', () => {
    expect(load({ 'cni.dev/attachments': [] }, 'GC').validAttachments).toEqual([]);
  });
  it('neither key → 7 (never read as "nothing is valid")', () => {
    expect(err(() => load({}, 'GC')).code).toBe(7);
  });
  it('malformed entries → 7', () => {
    expect(err(() => load({ 'cni.dev/valid-attachments': [{ containerID: 'a' }] }, 'GC')).code).toBe(7);
    expect(err(() => load({ 'cni.dev/valid-attachments': {} }, 'GC')).code).toBe(7);
  });
  it('is only read for GC', () => {
    expect(load({ 'cni.dev/valid-attachments': 'junk' }).validAttachments).toBeUndefined();
  });
});

describe('requestedAddressing precedence: CNI_ARGS < args.cni < runtimeConfig', () => {
  it('CNI_ARGS alone', () => {
    const r = requestedAddressing(load({}), parseCniArgs('IP=10.0.0.9;MAC=02:00:00:00:00:09'));
    expect(r).toMatchObject({ ips: [{ address: '10.0.0.9' }], ipsFrom: 'CNI_ARGS', mac: '02:00:00:00:00:09', macFrom: 'CNI_ARGS' });
  });
  it('runtimeConfig wins per field', () => {
    const conf = load({ runtimeConfig: { ips: ['10.0.0.7/24'] }, args: { cni: { mac: '02:00:00:00:00:08' } } });
    const r = requestedAddressing(conf, parseCniArgs('IP=10.0.0.9;MAC=02:00:00:00:00:09'));
    expect(r).toMatchObject({ ips: [{ address: '10.0.0.7', prefix: 24 }], ipsFrom: 'runtimeConfig', mac: '02:00:00:00:00:08', macFrom: 'args.cni' });
  });
  it('nothing requested', () => {
    expect(requestedAddressing(load({}), parseCniArgs(''))).toEqual({ ips: [] });
  });
});
