import { describe, expect, it } from 'vitest';
import {
  IpamError,
  IpamRegistry,
  ownerKey,
  parseLspAddresses,
  parseSubnetSpec,
  rebuildEntriesFromKubeOvnIp,
  rebuildEntriesFromLsp,
  type RebuildEntry,
  type SubnetInput,
} from '../../src/ipam/index.js';

function failure(fn: () => unknown): IpamError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IpamError);
    return err as IpamError;
  }
  throw new Error('expected an IpamError');
}

function registry(...subnets: SubnetInput[]): IpamRegistry {
  const reg = new IpamRegistry();
  for (const s of subnets) reg.upsertSubnet(parseSubnetSpec(s));
  return reg;
}

function state(reg: IpamRegistry): unknown {
  const byText = (a: { ip?: string; mac?: string }, b: { ip?: string; mac?: string }) => ((a.ip ?? a.mac ?? '') < (b.ip ?? b.mac ?? '') ? -1 : 1);
  return { ips: reg.reservations().sort(byText), macs: reg.macEntries().sort(byText), stats: reg.stats() };
}

const dual: SubnetInput = { name: 'vm-net', cidrBlock: '10.10.0.0/24,fd00:10::/120', excludeIps: ['10.10.0.2..10.10.0.9'], provider: 'vm-net.default.ovn' };
const v4only: SubnetInput = { name: 'v4-net', cidrBlock: '192.168.50.0/24' };
const A = ownerKey.nicPort('default', 'nicport1');
const B = ownerKey.nicPort('default', 'nicport2');

describe('IpamRegistry allocate', () => {
  it('allocates both families and a MAC for an owner, idempotently', () => {
    const reg = registry(dual);
    const a = reg.allocate('vm-net', A);
    expect(a.ips).toEqual(['10.10.0.10', 'fd00:10::2']);
    expect(a.mac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(a.macCreated).toBe(true);
    const again = reg.allocate('vm-net', A);
    expect(again).toEqual({ ...a, created: [], macCreated: false });
    expect(reg.holdings(A)).toEqual({
      ips: [
        { subnet: 'vm-net', ip: '10.10.0.10', owner: A },
        { subnet: 'vm-net', ip: 'fd00:10::2', owner: A },
      ],
      macs: [a.mac],
    });
  });

  it('takes user-given IP and MAC, checked', () => {
    const reg = registry(dual);
    const a = reg.allocate('vm-net', A, { ip: '10.10.0.100', mac: '0A:00:00:00:01:00' });
    expect(a.ips).toEqual(['10.10.0.100', 'fd00:10::2']);
    expect(a.mac).toBe('0a:00:00:00:01:00');
    expect(reg.ownerOfIp('vm-net', '10.10.0.100')).toBe(A);
    expect(reg.ownerOfMac('0a:00:00:00:01:00')).toBe(A);
  });

  it('a MAC conflict rolls back the addresses; an IP conflict leaves the MAC pool alone', () => {
    const reg = registry(dual);
    reg.allocate('vm-net', A, { mac: '0a:00:00:00:01:00' });
    const before = state(reg);
    const err = failure(() => reg.allocate('vm-net', B, { mac: '0a:00:00:00:01:00' }));
    expect(err.reason).toBe('InUse');
    expect(err.message).toBe(`MAC 0a:00:00:00:01:00 is already held by ${A}`);
    expect(state(reg)).toEqual(before);
    const err2 = failure(() => reg.allocate('vm-net', B, { ip: '10.10.0.10' }));
    expect(err2.message).toBe(`10.10.0.10 in subnet vm-net is already held by ${A}`);
    expect(state(reg)).toEqual(before);
    const err3 = failure(() => reg.allocate('vm-net', B, { mac: '01:00:5e:00:00:01' }));
    expect(err3.reason).toBe('InvalidInput');
    expect(state(reg)).toEqual(before);
  });

  it('UnknownSubnet is clear and changes nothing', () => {
    const reg = registry(dual);
    const err = failure(() => reg.allocate('nope', A));
    expect(err.reason).toBe('UnknownSubnet');
    expect(err.message).toBe('subnet "nope" is not known (no such kubeovn.io Subnet)');
    expect(reg.macCount).toBe(0);
    expect(reg.check('nope', A)?.reason).toBe('UnknownSubnet');
  });

  it('check() predicts allocate() without changing anything', () => {
    const reg = registry(dual);
    reg.allocate('vm-net', A, { mac: '0a:00:00:00:01:00' });
    const before = state(reg);
    expect(reg.check('vm-net', B)).toBeUndefined();
    expect(reg.check('vm-net', B, { ip: '10.10.0.10' })?.reason).toBe('InUse');
    expect(reg.check('vm-net', B, { ip: '10.10.0.5' })?.reason).toBe('Excluded');
    expect(reg.check('vm-net', B, { ip: '10.10.1.5' })?.reason).toBe('OutOfRange');
    expect(reg.check('vm-net', B, { ip: '10.10.0.1' })?.reason).toBe('IsGateway');
    expect(reg.check('vm-net', B, { mac: '0a:00:00:00:01:00' })?.reason).toBe('InUse');
    expect(reg.check('vm-net', B, { mac: 'zz' })?.reason).toBe('InvalidInput');
    expect(state(reg)).toEqual(before);
  });

  it('release(owner) frees addresses in every subnet and the MAC; releaseIn keeps the MAC', () => {
    const reg = registry(dual, v4only);
    const a = reg.allocate('vm-net', A);
    reg.reserveIp('v4-net', '192.168.50.7', A);
    expect(reg.releaseIn('v4-net', A)).toEqual(['192.168.50.7']);
    expect(reg.holdings(A).macs).toEqual([a.mac]);
    reg.reserveIp('v4-net', '192.168.50.7', A);
    const released = reg.release(A);
    expect(released.ips.map((r) => r.ip).sort()).toEqual(['10.10.0.10', '192.168.50.7', 'fd00:10::2']);
    expect(released.macs).toEqual([a.mac]);
    expect(reg.holdings(A)).toEqual({ ips: [], macs: [] });
    expect(reg.allocate('vm-net', B).ips).toEqual(a.ips); // lowest free again
  });

  it('releaseIp / releaseMac check the owner when given', () => {
    const reg = registry(dual);
    const a = reg.allocate('vm-net', A);
    expect(failure(() => reg.releaseIp('vm-net', a.v4 as string, B)).reason).toBe('NotOwner');
    expect(failure(() => reg.releaseMac(a.mac, B)).reason).toBe('NotOwner');
    expect(reg.releaseIp('vm-net', a.v4 as string, A)).toBe(true);
    expect(reg.releaseIp('unknown', a.v4 as string)).toBe(false);
    expect(reg.releaseMac(a.mac, A)).toBe(true);
  });
});

describe('IpamRegistry subnet updates', () => {
  it('an unchanged definition is a no-op', () => {
    const reg = registry(dual);
    reg.allocate('vm-net', A);
    const before = state(reg);
    const report = reg.upsertSubnet(parseSubnetSpec(dual));
    expect(report).toMatchObject({ created: false, changed: false, dropped: [] });
    expect(state(reg)).toEqual(before);
  });

  it('carries reservations over and reports those the new definition cannot hold', () => {
    const reg = registry(dual);
    reg.allocate('vm-net', A, { ip: '10.10.0.10,fd00:10::2' });
    reg.allocate('vm-net', B, { ip: '10.10.0.20,fd00:10::3' });
    reg.reserveIp('vm-net', '10.10.0.30', 'lsp/x');
    const report = reg.upsertSubnet(
      parseSubnetSpec({ ...dual, gateway: '10.10.0.20', excludeIps: ['10.10.0.25..10.10.0.35'] }),
    );
    expect(report.created).toBe(false);
    expect(report.changed).toBe(true);
    expect(report.dropped.map((d) => [d.ip, d.owner, d.error.reason])).toEqual([['10.10.0.20', B, 'IsGateway']]);
    expect(report.insideExclusions).toEqual([{ subnet: 'vm-net', ip: '10.10.0.30', owner: 'lsp/x' }]);
    expect(reg.ownerOfIp('vm-net', '10.10.0.10')).toBe(A);
    expect(reg.ownerOfIp('vm-net', 'fd00:10::3')).toBe(B);
    expect(reg.ownerOfIp('vm-net', '10.10.0.30')).toBe('lsp/x');
    // The kept excluded reservation is never handed to anyone else.
    expect(failure(() => reg.allocate('vm-net', 'c', { ip: '10.10.0.30' })).reason).toBe('Excluded');
  });

  it('a changed CIDR drops what falls outside (OutOfRange)', () => {
    const reg = registry(v4only);
    reg.reserveIp('v4-net', '192.168.50.200', A);
    reg.reserveIp('v4-net', '192.168.50.20', B);
    const report = reg.upsertSubnet(parseSubnetSpec({ name: 'v4-net', cidrBlock: '192.168.50.0/25' }));
    expect(report.dropped.map((d) => [d.ip, d.owner, d.error.reason])).toEqual([['192.168.50.200', A, 'OutOfRange']]);
    expect(reg.ownerOfIp('v4-net', '192.168.50.20')).toBe(B);
  });

  it('accepts Kube-OVN Subnet objects and removes subnets reporting what they held', () => {
    const reg = new IpamRegistry();
    const report = reg.upsertKubeOvnSubnet({ metadata: { name: 'k' }, spec: { cidrBlock: '10.5.0.0/24', excludeIps: ['fd00::1'] } });
    expect(report.created).toBe(true);
    expect(report.warnings).toEqual(['excludeIps entry "fd00::1" ignored: the subnet has no IPv6 CIDR']);
    reg.allocate('k', A);
    expect(reg.subnetNames()).toEqual(['k']);
    expect(reg.removeSubnet('k')).toEqual([{ subnet: 'k', ip: '10.5.0.2', owner: A }]);
    expect(reg.subnet('k')).toBeUndefined();
    expect(reg.removeSubnet('k')).toEqual([]);
  });

  it('stats per subnet and family', () => {
    const reg = registry(dual, v4only);
    reg.allocate('vm-net', A);
    reg.allocate('v4-net', B);
    expect(reg.stats()).toEqual([
      { subnet: 'vm-net', family: 4, cidr: '10.10.0.0/24', used: 1, free: 254n - 1n - 8n - 1n, size: 254n, reserved: 9n },
      { subnet: 'vm-net', family: 6, cidr: 'fd00:10::/120', used: 1, free: 254n - 1n - 1n, size: 254n, reserved: 1n },
      { subnet: 'v4-net', family: 4, cidr: '192.168.50.0/24', used: 1, free: 252n, size: 254n, reserved: 1n },
    ]);
  });
});

describe('IpamRegistry rebuild', () => {
  const entries = (): RebuildEntry[] => [
    { owner: A, source: 'nicport', subnet: 'vm-net', ips: '10.10.0.10,fd00:10::2', mac: '0a:00:00:00:00:0a' },
    // ovnic's own published IP object for the same NicPort maps to the same owner: no conflict.
    { owner: A, source: 'kube-ovn-ip', subnet: 'vm-net', ips: ['10.10.0.10', 'fd00:10::2'], mac: '0A:00:00:00:00:0A' },
    // A Kube-OVN pod holding an address also claimed by B: B's claim comes later and loses.
    { owner: ownerKey.kubeOvn('pod1.default.vm-net.default.ovn'), source: 'kube-ovn-ip', subnet: 'vm-net', ips: '10.10.0.11', mac: '0a:00:00:00:00:0b' },
    { owner: B, source: 'nicport', subnet: 'vm-net', ips: '10.10.0.11,fd00:10::3', mac: '0a:00:00:00:00:0b' },
    // A static Kube-OVN IP inside excludeIps: loaded (it is held) and reported.
    { owner: ownerKey.kubeOvn('pod2.default'), source: 'nb-lsp', subnet: 'vm-net', ips: ['10.10.0.5'] },
    // Unusable claims are rejected with reasons.
    { owner: 'lsp/bad', source: 'nb-lsp', subnet: 'vm-net', ips: ['10.10.0.1', '10.99.0.1', 'garbage'], mac: 'nope' },
    // Subnet not known yet: waits.
    { owner: 'lsp/later', source: 'nb-lsp', subnet: 'later-net', ips: ['172.16.0.5'] },
    { owner: '', source: 'nicport', subnet: 'vm-net', ips: '10.10.0.99' },
  ];

  it('loads claims, reports conflicts and rejections, never merges', () => {
    const reg = registry(dual);
    reg.allocate('vm-net', 'stale-owner'); // replaced by rebuild
    const report = reg.rebuild(entries());
    expect(report.conflicts).toEqual([
      {
        kind: 'mac',
        address: '0a:00:00:00:00:0b',
        heldBy: 'kube-ovn/pod1.default.vm-net.default.ovn',
        heldBySource: 'kube-ovn-ip',
        claimedBy: B,
        claimedBySource: 'nicport',
      },
      {
        kind: 'ip',
        subnet: 'vm-net',
        address: '10.10.0.11',
        heldBy: 'kube-ovn/pod1.default.vm-net.default.ovn',
        heldBySource: 'kube-ovn-ip',
        claimedBy: B,
        claimedBySource: 'nicport',
      },
    ]);
    expect(report.rejected.map((r) => [r.owner, r.address, r.error.reason])).toEqual([
      ['lsp/bad', 'nope', 'InvalidInput'],
      ['lsp/bad', '10.10.0.1', 'IsGateway'],
      ['lsp/bad', '10.99.0.1', 'OutOfRange'],
      ['lsp/bad', 'garbage', 'InvalidInput'],
      ['', undefined, 'InvalidInput'],
    ]);
    expect(report.insideExclusions).toEqual([{ subnet: 'vm-net', ip: '10.10.0.5', owner: 'kube-ovn/pod2.default', source: 'nb-lsp' }]);
    expect(report.waitingForSubnet).toBe(1);
    // A: 2 IPs + MAC; pod1: IP + MAC; B: its v6 only; pod2: 1 IP.
    expect(report.loaded).toBe(3 + 2 + 1 + 1);
    expect(reg.ownerOfIp('vm-net', '10.10.0.2')).toBeUndefined(); // the stale owner is gone
    expect(reg.holdings(B).ips.map((r) => r.ip)).toEqual(['fd00:10::3']);
    // B's reconcile now asks for its IP and gets a clear InUse naming the holder.
    const err = failure(() => reg.allocate('vm-net', B, { ip: '10.10.0.11', mac: '0a:00:00:00:00:0c' }));
    expect(err.message).toBe('10.10.0.11 in subnet vm-net is already held by kube-ovn/pod1.default.vm-net.default.ovn');
    // Nothing held is ever handed out.
    const held = new Set(reg.reservations().map((r) => r.ip));
    for (let i = 0; i < 20; i++) {
      const got = reg.allocate('vm-net', `new/${i}`);
      for (const ip of got.ips) expect(held.has(ip)).toBe(false);
    }
  });

  it('applies waiting entries when their subnet arrives, with conflicts', () => {
    const reg = registry(dual);
    reg.rebuild([
      { owner: 'lsp/a', source: 'nb-lsp', subnet: 'later-net', ips: '172.16.0.5' },
      { owner: 'lsp/b', source: 'nb-lsp', subnet: 'later-net', ips: '172.16.0.5' },
      { owner: 'lsp/c', source: 'nb-lsp', subnet: 'later-net', ips: '172.16.0.6' },
    ]);
    reg.release('lsp/c'); // released while waiting: dropped
    const report = reg.upsertSubnet(parseSubnetSpec({ name: 'later-net', cidrBlock: '172.16.0.0/24' }));
    expect(report.created).toBe(true);
    expect(report.applied?.loaded).toBe(1);
    expect(report.applied?.conflicts).toEqual([
      { kind: 'ip', subnet: 'later-net', address: '172.16.0.5', heldBy: 'lsp/a', heldBySource: 'nb-lsp', claimedBy: 'lsp/b', claimedBySource: 'nb-lsp' },
    ]);
    expect(reg.ownerOfIp('later-net', '172.16.0.6')).toBeUndefined();
    expect(reg.allocate('later-net', A).v4).toBe('172.16.0.2');
  });

  it('rebuild then allocate for the same owners returns their addresses unchanged', () => {
    const reg = registry(dual);
    const before = [A, B].map((o) => reg.allocate('vm-net', o));
    const fresh = registry(dual);
    const report = fresh.rebuild(before.map((a) => ({ owner: a.owner, source: 'nicport', subnet: a.subnet, ips: a.ips, mac: a.mac })));
    expect(report.conflicts).toEqual([]);
    expect(report.rejected).toEqual([]);
    const after = [A, B].map((o) => fresh.allocate('vm-net', o));
    expect(after.map((a) => [a.ips, a.mac])).toEqual(before.map((a) => [a.ips, a.mac]));
    expect(after.every((a) => a.created.length === 0 && !a.macCreated)).toBe(true);
  });
});

describe('sources', () => {
  it('parses LSP addresses', () => {
    expect(parseLspAddresses('0A:00:00:00:00:01 10.0.0.5 fd00::5')).toEqual({ mac: '0a:00:00:00:00:01', ips: ['10.0.0.5', 'fd00::5'] });
    expect(parseLspAddresses('0a:00:00:00:00:01')).toEqual({ mac: '0a:00:00:00:00:01', ips: [] });
    expect(parseLspAddresses('0a:00:00:00:00:01 dynamic')).toEqual({ mac: '0a:00:00:00:00:01', ips: [] });
    expect(parseLspAddresses('router')).toBeUndefined();
    expect(parseLspAddresses('unknown')).toBeUndefined();
    expect(parseLspAddresses('dynamic')).toBeUndefined();
    expect(parseLspAddresses('')).toBeUndefined();
    expect(rebuildEntriesFromLsp({ name: 'p1.ns', addresses: ['router', '0a:00:00:00:00:01 10.0.0.5'] }, 'net1')).toEqual([
      { owner: 'lsp/p1.ns', source: 'nb-lsp', subnet: 'net1', ips: ['10.0.0.5'], mac: '0a:00:00:00:00:01' },
    ]);
  });

  it('turns a Kube-OVN IP object into entries for its primary and attached subnets', () => {
    const ip = {
      apiVersion: 'kubeovn.io/v1',
      kind: 'IP',
      metadata: { name: 'vm1.default' },
      spec: {
        podName: 'vm1',
        namespace: 'default',
        subnet: 'ovn-default',
        ipAddress: '10.16.0.5,fd00:10:16::5',
        v4IpAddress: '10.16.0.5',
        v6IpAddress: 'fd00:10:16::5',
        macAddress: '00:00:00:aa:bb:cc',
        attachSubnets: ['vm-net'],
        attachIps: ['10.10.0.50'],
        attachMacs: ['00:00:00:aa:bb:cd'],
      },
    };
    expect(rebuildEntriesFromKubeOvnIp(ip)).toEqual([
      { owner: 'kube-ovn/vm1.default', source: 'kube-ovn-ip', subnet: 'ovn-default', ips: ['10.16.0.5', 'fd00:10:16::5'], mac: '00:00:00:aa:bb:cc' },
      { owner: 'kube-ovn/vm1.default', source: 'kube-ovn-ip', subnet: 'vm-net', ips: ['10.10.0.50'], mac: '00:00:00:aa:bb:cd' },
    ]);
    expect(rebuildEntriesFromKubeOvnIp(ip, A)[0]?.owner).toBe(A);
    expect(rebuildEntriesFromKubeOvnIp({ metadata: { name: 'x' } })).toEqual([]);
  });
});
