/** LeaderElector: two or more candidates on one Lease in the API server double, through the real client. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { LeaderElector, type LeaderElectorOptions } from '../../src/controller/leader.js';
import { Registry } from '../../src/util/metrics.js';
import { silentLogger } from '../../src/util/log.js';

const LEASE = { namespace: 'kube-system', name: 'ovnic-controller' };
const TIMING = { leaseDurationSec: 1, renewDeadlineSec: 0.6, retryPeriodSec: 0.1 };

interface Candidate {
  id: string;
  elector: LeaderElector;
  started: number[];
  stopped: number[];
  done: Promise<void>;
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LeaderElector', () => {
  let api: ApiServer;
  const candidates: Candidate[] = [];

  function candidate(id: string, extra: Partial<LeaderElectorOptions> = {}, work: () => Promise<void> = async () => undefined): Candidate {
    const elector = new LeaderElector(api.kubeConfig(), { ...LEASE, ...TIMING, identity: id, ...extra }, silentLogger);
    const c: Candidate = { id, elector, started: [], stopped: [], done: Promise.resolve() };
    c.done = elector.run(async () => {
      c.started.push(Date.now());
      await work();
    }, () => {
      c.stopped.push(Date.now());
    });
    candidates.push(c);
    return c;
  }
  const lease = () => api.get('leases', LEASE.namespace, LEASE.name)?.spec as { holderIdentity?: string; leaseTransitions?: number; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number } | undefined;
  const leaders = () => candidates.filter((c) => c.elector.isLeader()).map((c) => c.id);

  beforeEach(async () => {
    api = await startApiServer();
  });
  afterEach(async () => {
    await Promise.all(candidates.splice(0).map((c) => c.elector.stop()));
    await api?.close();
  });

  it('exactly one of two candidates leads, and keeps leading while it renews', async () => {
    const a = candidate('ctrl-a');
    const b = candidate('ctrl-b');
    await until('a leader', () => leaders().length === 1);
    const leader = leaders()[0] as string;
    expect(lease()).toMatchObject({ holderIdentity: leader, leaseTransitions: 0, leaseDurationSeconds: 1 });
    const firstRenew = lease()?.renewTime;
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(leaders()).toEqual([leader]);
    }
    expect(lease()?.renewTime).not.toBe(firstRenew);
    expect(lease()?.holderIdentity).toBe(leader);
    expect(lease()?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect([...a.started, ...b.started]).toHaveLength(1);
    expect([...a.stopped, ...b.stopped]).toHaveLength(0);
  });

  it('on stop the leader releases the Lease and the other takes over without waiting for expiry', async () => {
    // A 60 s Lease: a takeover within the 10 s wait can only come from the release.
    const long = { leaseDurationSec: 60 };
    const a = candidate('ctrl-a', long);
    await until('a leads', () => a.elector.isLeader());
    const b = candidate('ctrl-b', long);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.elector.isLeader()).toBe(false);

    await a.elector.stop();
    await a.done;
    expect(a.stopped).toHaveLength(1);
    expect(a.elector.isLeader()).toBe(false);
    await until('b leads', () => b.elector.isLeader());
    expect(lease()).toMatchObject({ holderIdentity: 'ctrl-b', leaseTransitions: 1, leaseDurationSeconds: 60 });
  });

  it('when the leader dies without releasing, the other takes over only after the Lease expired', async () => {
    const a = candidate('ctrl-a', { releaseOnStop: false });
    await until('a leads', () => a.elector.isLeader());
    const b = candidate('ctrl-b');
    await new Promise((r) => setTimeout(r, 200));
    await a.elector.stop();
    const lastRenew = Date.parse(lease()?.renewTime as string);
    expect(lease()?.holderIdentity).toBe('ctrl-a');
    await until('b leads', () => b.elector.isLeader());
    // b measured the expiry on its own clock from when it last saw the record change.
    expect(b.started[0]!).toBeGreaterThanOrEqual(lastRenew + TIMING.leaseDurationSec * 1000);
    expect(lease()).toMatchObject({ holderIdentity: 'ctrl-b', leaseTransitions: 1 });
  });

  it('racing creates: one gets 409 AlreadyExists and stays a follower', async () => {
    api.failNext({ resource: 'leases', verb: 'get' }, 404, 2);
    candidate('ctrl-a');
    candidate('ctrl-b');
    await until('a leader', () => leaders().length === 1);
    await until('both creates answered', () => api.writeRequests({ resource: 'leases', verb: 'create' }).length === 2);
    expect(api.writeRequests({ resource: 'leases', verb: 'create' }).map((r) => r.status).sort()).toEqual([201, 409]);
    await new Promise((r) => setTimeout(r, 300));
    expect(leaders()).toHaveLength(1);
  });

  it('a 409 on renewal is retried within the renew deadline without losing leadership', async () => {
    const a = candidate('ctrl-a');
    await until('a leads', () => a.elector.isLeader());
    api.failNext({ resource: 'leases', verb: 'update' }, 409, 2);
    await until('the conflicts were answered', () => api.pendingFailures() === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.elector.isLeader()).toBe(true);
    expect(a.stopped).toHaveLength(0);
    expect(api.writeRequests({ resource: 'leases', verb: 'update' }).filter((r) => r.status === 409)).toHaveLength(2);
  });

  it('a leader whose renewals keep failing past the renew deadline stops leading; a follower takes over after expiry', async () => {
    const a = candidate('ctrl-a');
    await until('a leads', () => a.elector.isLeader());
    api.failNext({ resource: 'leases', verb: 'update' }, 500, 1000);
    await a.done;
    expect(a.stopped).toHaveLength(1);
    expect(a.elector.isLeader()).toBe(false);
    expect(lease()?.holderIdentity).toBe('ctrl-a');
    api.clearFailures();
    const b = candidate('ctrl-b');
    await until('b leads', () => b.elector.isLeader());
  });

  it('steps down at once when another holder took the Lease', async () => {
    const a = candidate('ctrl-a');
    await until('a leads', () => a.elector.isLeader());
    const obj = api.get('leases', LEASE.namespace, LEASE.name)!;
    api.seed({ ...obj, spec: { ...(obj.spec as object), holderIdentity: 'intruder', renewTime: new Date().toISOString() } });
    await a.done;
    expect(a.stopped).toHaveLength(1);
    expect(lease()?.holderIdentity).toBe('intruder');
  });

  it('gives leadership up (and releases) when the leader work fails', async () => {
    const a = candidate('ctrl-a', {}, async () => {
      throw new Error('informer start failed');
    });
    await a.done;
    expect(a.started).toHaveLength(1);
    expect(a.stopped).toHaveLength(1);
    expect(lease()?.holderIdentity).toBe('');
  });

  it('exports whether it leads as a metric, checks its timing options and refuses a second run()', async () => {
    const registry = new Registry();
    const a = candidate('ctrl-a', { registry });
    await until('a leads', () => a.elector.isLeader());
    expect(registry.render()).toContain('ovnic_leader_is_leader{lease="kube-system/ovnic-controller"} 1');
    expect(registry.render()).toContain('ovnic_leader_transitions_total{lease="kube-system/ovnic-controller"} 1');
    expect(() => a.elector.run(async () => undefined, () => undefined)).toThrow('already running');
    await a.elector.stop();
    expect(registry.render()).toContain('ovnic_leader_is_leader{lease="kube-system/ovnic-controller"} 0');
    const kc = api.kubeConfig();
    expect(() => new LeaderElector(kc, { ...LEASE, identity: 'x', leaseDurationSec: 5, renewDeadlineSec: 5 }, silentLogger)).toThrow('greater than renewDeadlineSec');
    expect(() => new LeaderElector(kc, { ...LEASE, identity: 'x', renewDeadlineSec: 2, retryPeriodSec: 2 }, silentLogger)).toThrow('retryPeriodSec');
    expect(() => new LeaderElector(kc, { ...LEASE, identity: '' }, silentLogger)).toThrow('identity');
  });

  it('stop() during the acquiring write hands the Lease straight back', async () => {
    let stopping: Promise<void> | undefined;
    const held: { a?: Candidate } = {};
    // The server calls this as the create arrives: stop() is requested while the winning write is in flight.
    api.failNext((r) => {
      if (r.resource === 'leases.coordination.k8s.io' && r.verb === 'create' && held.a !== undefined) stopping = held.a.elector.stop();
      return false;
    });
    const a = candidate('ctrl-a');
    held.a = a;
    await until('stop requested', () => stopping !== undefined);
    await stopping;
    await a.done;
    expect(api.writeRequests({ resource: 'leases' }).map((r) => [r.verb, r.status])).toEqual([['create', 201], ['update', 200]]);
    expect(a.started).toHaveLength(0);
    expect(a.stopped).toHaveLength(0);
    expect(a.elector.isLeader()).toBe(false);
    expect(lease()?.holderIdentity).toBe('');
  });

  it('stop() while campaigning returns without ever leading', async () => {
    const a = candidate('ctrl-a');
    await until('a leads', () => a.elector.isLeader());
    const b = candidate('ctrl-b');
    await new Promise((r) => setTimeout(r, 150));
    await b.elector.stop();
    await b.done;
    expect(b.started).toHaveLength(0);
    expect(b.stopped).toHaveLength(0);
    expect(lease()?.holderIdentity).toBe('ctrl-a');
  });
});
