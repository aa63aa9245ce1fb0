/** External address claims kept in IPAM, object slimming, and the bounded event queue. */
import { describe, expect, it } from 'vitest';
import { ExternalClaims, type ClaimConflict } from '../../src/controller/claims.js';
import { EventQueue } from '../../src/controller/event-queue.js';
import { StringPool, slim } from '../../src/controller/slim.js';
import { IpamRegistry, ownerKey, parseKubeOvnSubnet } from '../../src/ipam/index.js';
import { silentLogger } from '../../src/util/log.js';

function registry(): IpamRegistry {
  const r = new IpamRegistry();
  r.upsertSubnet(parseKubeOvnSubnet({ metadata: { name: 'sn' }, spec: { cidrBlock: '10.0.0.0/24,fd00::/120' } }));
  return r;
}

describe('ExternalClaims', () => {
  it('holds the union of what the sources of one holder report, and releases what none reports any more', () => {
    const ipam = registry();
    const claims = new ExternalClaims(ipam, silentLogger);
    const owner = ownerKey.kubeOvn('pod1.default');
    claims.set(owner, 'ip', [{ owner, source: 'ip', subnet: 'sn', ips: ['10.0.0.5', 'FD00::5'], mac: '0A:00:00:00:00:05' }]);
    claims.set(owner, 'nb', [{ owner, source: 'nb', subnet: 'sn', ips: ['10.0.0.5', '10.0.0.6'] }]);
    expect(ipam.holdings(owner).ips.map((r) => r.ip).sort()).toEqual(['10.0.0.5', '10.0.0.6', 'fd00::5']);
    expect(ipam.ownerOfMac('0a:00:00:00:00:05')).toBe(owner);
    claims.clear(owner, 'ip');
    expect(ipam.holdings(owner).ips.map((r) => r.ip).sort()).toEqual(['10.0.0.5', '10.0.0.6']);
    expect(ipam.ownerOfMac('0a:00:00:00:00:05')).toBeUndefined();
    claims.clear(owner, 'nb');
    expect(ipam.holdings(owner).ips).toEqual([]);
    expect(claims.has(owner)).toBe(false);
  });

  it('a claim on an address a NicPort holds is reported once and applied when it is released', () => {
    const ipam = registry();
    const conflicts: ClaimConflict[] = [];
    const claims = new ExternalClaims(ipam, silentLogger, (c) => conflicts.push(c));
    const nicport = ownerKey.nicPort('ns', 'np');
    ipam.allocate('sn', nicport, { ip: '10.0.0.7' });
    const pod = ownerKey.kubeOvn('pod2.default');
    claims.set(pod, 'ip', [{ owner: pod, source: 'ip', subnet: 'sn', ips: ['10.0.0.7'] }]);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ owner: pod, address: '10.0.0.7', holder: nicport });
    expect(claims.pendingConflicts).toBe(1);
    claims.retry();
    expect(conflicts).toHaveLength(1); // not reported again
    ipam.release(nicport);
    claims.retry();
    expect(ipam.ownerOfIp('sn', '10.0.0.7')).toBe(pod);
    expect(claims.pendingConflicts).toBe(0);
  });

  it('claims on a subnet not known yet wait for it', () => {
    const ipam = new IpamRegistry();
    const claims = new ExternalClaims(ipam, silentLogger);
    const owner = ownerKey.lsp('x');
    claims.set(owner, 'nb', [{ owner, source: 'nb', subnet: 'sn', ips: ['10.0.0.9'] }]);
    expect(claims.pendingConflicts).toBe(1);
    ipam.upsertSubnet(parseKubeOvnSubnet({ metadata: { name: 'sn' }, spec: { cidrBlock: '10.0.0.0/24' } }));
    claims.retry();
    expect(ipam.ownerOfIp('sn', '10.0.0.9')).toBe(owner);
  });
});

describe('slim', () => {
  it('drops managedFields and the last-applied annotation, keeps the rest', () => {
    const o = slim({
      apiVersion: 'v1', kind: 'X',
      metadata: { name: 'a', namespace: 'ns', managedFields: [{ manager: 'kubectl' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'y' } },
      spec: { subnet: 's' },
    } as never, new StringPool());
    expect(o).toEqual({ apiVersion: 'v1', kind: 'X', metadata: { name: 'a', namespace: 'ns', annotations: { keep: 'y' } }, spec: { subnet: 's' } });
  });

  it('pools repeated short values, not unique fields nor long strings, up to its bound', () => {
    const pool = new StringPool(3);
    slim({ metadata: { name: 'n1', uid: 'u1' }, spec: { subnet: 's', long: 'x'.repeat(100) } } as never, pool);
    slim({ metadata: { name: 'n2', uid: 'u2' }, spec: { subnet: 's', a: 'v1', b: 'v2', c: 'v3' } } as never, pool);
    expect(pool.size).toBe(3); // 's', 'v1', 'v2' — then full
  });
});

describe('EventQueue', () => {
  const subject = { apiVersion: 'v1', kind: 'X', metadata: { name: 'x' } };

  it('sends with bounded concurrency and flushes', async () => {
    let running = 0;
    let peak = 0;
    const sent: string[] = [];
    const q = new EventQueue({
      record: async (_s, _t, reason) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        sent.push(reason);
        running--;
      },
    }, 2, 100);
    for (let i = 0; i < 10; i++) q.push(subject, 'Normal', `r${i}`, 'm');
    await q.flush();
    expect(sent).toHaveLength(10);
    expect(peak).toBe(2);
  });

  it('drops the oldest when the backlog is full; failures do not stop it', async () => {
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const q = new EventQueue({
      record: async (_s, _t, reason) => {
        await gate;
        if (reason === 'r3') throw new Error('api down');
        sent.push(reason);
      },
    }, 1, 3);
    for (let i = 0; i < 6; i++) q.push(subject, 'Normal', `r${i}`, 'm');
    expect(q.dropped).toBe(2);
    release();
    await q.flush();
    expect(sent).toEqual(['r0', 'r4', 'r5']); // r0 was in flight, r1/r2 dropped, r3 failed
  });
});
