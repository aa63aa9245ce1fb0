import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NB, OvsdbClient, OvsdbDisconnectedError, OvsdbOperationError, nbOps, serverDatabases, type Nb, type RowChange,
} from '../../src/ovs/index.js';
import { RpcConnection } from '../../src/ovs/rpc.js';
import { NB_SCHEMA, OvsdbServers, sleep, waitClusterFormed, type ServerProcess } from '../harness/ovsdb-server.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends OvsdbServers | OvsdbClient>(x: T): T {
  cleanups.push(() => (x instanceof OvsdbClient ? x.close() : x.stop()));
  return x;
}

function once<T>(client: OvsdbClient, event: 'reconnected' | 'disconnected' | 'locked' | 'stolen'): Promise<T> {
  return new Promise((resolve) => client.once(event, (arg: unknown) => resolve(arg as T)));
}

/** Leader according to the servers themselves. */
async function leaderOf(members: readonly ServerProcess[]): Promise<ServerProcess> {
  for (const m of members) {
    if (m.pid === undefined) continue;
    const conn = await RpcConnection.open(m.remote);
    try {
      const dbs = await serverDatabases(conn, 5000);
      if (dbs.some((d) => d.name === 'OVN_Northbound' && d.leader)) return m;
    } finally {
      conn.close();
    }
  }
  throw new Error('no leader');
}

describe('reconnect and resync', () => {
  it('fails pending requests on disconnect, reconnects with backoff and resyncs the replica', async () => {
    const servers = track(new OvsdbServers('reconn'));
    const srv = await servers.standalone('nb', NB_SCHEMA);
    const client = track(await OvsdbClient.connect(srv.remote, { backoffMinMs: 20, backoffMaxMs: 200 }));
    const [keepUuid, dropUuid] = await client.transact(NB, [
      nbOps.insert('Logical_Switch', { name: 'keep', other_config: { v: '1' } }),
      nbOps.insert('Logical_Switch', { name: 'drop' }),
    ]);
    const m = await client.monitor(NB, { Logical_Switch: { columns: ['name', 'other_config'] } });
    const changes: RowChange<Nb.Tables>[] = [];
    m.replica.onChange((c) => changes.push(c));

    // A transaction blocked on the server (wait until a row that never appears) is in flight when the server dies.
    const pending = client.transact(NB, [
      nbOps.wait('Logical_Switch', [['name', '==', 'never']], ['name'], '==', [{ name: 'never' }], 60_000),
    ]).catch((e: unknown) => e);
    await sleep(50);
    const disconnected = once<Error>(client, 'disconnected');
    await servers.kill(srv);
    await disconnected;
    const err = await pending;
    expect(err).toBeInstanceOf(OvsdbDisconnectedError);
    expect((err as Error).message).toMatch(/transact interrupted, outcome unknown/);
    expect(client.connected).toBe(false);
    await expect(client.listDbs()).rejects.toBeInstanceOf(OvsdbDisconnectedError);

    // While the server is down, its database changes behind the client's back.
    await run('ovsdb-tool', ['transact', srv.db, JSON.stringify([
      'OVN_Northbound',
      { op: 'delete', table: 'Logical_Switch', where: [['name', '==', 'drop']] },
      { op: 'update', table: 'Logical_Switch', where: [['name', '==', 'keep']], row: { other_config: ['map', [['v', '2']]] } },
      { op: 'insert', table: 'Logical_Switch', row: { name: 'new' } },
    ])]);
    await sleep(300); // a few failed reconnect attempts
    const reconnected = once<string>(client, 'reconnected');
    await servers.start(srv);
    expect(await reconnected).toBe(srv.remote);

    const rows = m.replica.rows('Logical_Switch').map((r) => `${r.name}:${r.other_config.v ?? ''}`).sort();
    expect(rows).toEqual(['keep:2', 'new:']);
    expect(m.replica.get('Logical_Switch', keepUuid)?.other_config).toEqual({ v: '2' });
    expect(changes.map((c) => `${c.kind}:${((c.new ?? c.old) as Nb.LogicalSwitch).name}`).sort()).toEqual(['delete:drop', 'insert:new', 'modify:keep']);
    expect(changes.find((c) => c.kind === 'delete')?.uuid).toBe(dropUuid);

    // The monitor keeps working on the new connection.
    const [u] = await client.transact(NB, [nbOps.insert('Logical_Switch', { name: 'after' })]);
    expect(m.replica.get('Logical_Switch', u)?.name).toBe('after');
  });

  it('does not reconnect when told not to', async () => {
    const servers = track(new OvsdbServers('noreconn'));
    const srv = await servers.standalone('nb', NB_SCHEMA);
    const client = track(await OvsdbClient.connect(srv.remote, { reconnect: false }));
    const lost = once<Error>(client, 'disconnected');
    await servers.kill(srv);
    await lost;
    await servers.start(srv);
    await sleep(300);
    expect(client.connected).toBe(false);
    await expect(client.ready()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
  });

  it('fails to connect with a clear error when no remote is usable', async () => {
    await expect(OvsdbClient.connect(['unix:/nonexistent/a.sock', 'tcp:127.0.0.1:1'])).rejects.toThrow(
      /no usable OVSDB remote: unix:\/nonexistent\/a.sock: .*; tcp:127.0.0.1:1: /,
    );
  });
});

describe('3-member raft NB cluster', () => {
  it('talks to the leader, and carries on with the new leader when the leader is stopped', async () => {
    const servers = track(new OvsdbServers('raft'));
    const members = await servers.cluster('nb', NB_SCHEMA, 3);
    await waitClusterFormed(servers, members, 'OVN_Northbound');
    // Put a follower first so that the client has to skip it.
    const leader = await leaderOf(members);
    const ordered = [...members.filter((m) => m !== leader), leader];
    const client = track(await OvsdbClient.connect(ordered.map((m) => m.remote), { backoffMinMs: 50, backoffMaxMs: 500, database: 'OVN_Northbound' }));
    expect(client.remote).toBe(leader.remote);

    const m = await client.monitor(NB, { Logical_Switch: { columns: ['name'] } });
    expect(m.method).toBe('monitor_cond_since');
    await client.transact(NB, [nbOps.insert('Logical_Switch', { name: 'before' })]);
    const resumed = new Promise<boolean>((resolve) => client.once('resynced', (_id, r) => resolve(r)));
    const reconnected = once<string>(client, 'reconnected');

    await servers.kill(leader);
    // A client connecting during the election waits for a leader instead of failing.
    const survivors = members.filter((x) => x !== leader).map((x) => x.remote);
    const fresh = track(await OvsdbClient.connect(survivors, { backoffMinMs: 50, connectTimeoutMs: 10_000 }));
    const newRemote = await reconnected;
    expect(fresh.remote).toBe(newRemote);
    expect(newRemote).not.toBe(leader.remote);
    const newLeader = await leaderOf(members);
    expect(newRemote).toBe(newLeader.remote);
    expect(await resumed).toBe(true); // monitor_cond_since found our last transaction id

    const [u] = await client.transact(NB, [nbOps.insert('Logical_Switch', { name: 'after' })]);
    expect(m.replica.get('Logical_Switch', u)?.name).toBe('after');
    expect(m.replica.rows('Logical_Switch').map((r) => r.name).sort()).toEqual(['after', 'before']);
    const dump = await servers.client(newLeader, 'dump', 'OVN_Northbound', 'Logical_Switch', 'name');
    expect(dump).toContain('before');
    expect(dump).toContain('after');
  });

  it('moves to the new leader when leadership is transferred while connected', async () => {
    const servers = track(new OvsdbServers('xfer'));
    const members = await servers.cluster('nb', NB_SCHEMA, 3);
    await waitClusterFormed(servers, members, 'OVN_Northbound');
    const client = track(await OvsdbClient.connect(members.map((m) => m.remote), { backoffMinMs: 50, backoffMaxMs: 500 }));
    const first = client.remote as string;
    const m = await client.monitor(NB, { Logical_Switch: { columns: ['name'] } });
    const reconnected = once<string>(client, 'reconnected');
    const leader = members.find((x) => x.remote === first) as ServerProcess;
    await run('ovs-appctl', ['-t', leader.ctl, 'cluster/failure-test', 'transfer-leadership']);
    // the failure test hands over leadership on the next append; any write triggers one
    await client.transact(NB, [nbOps.insert('Logical_Switch', { name: 'trigger' })]).catch(() => undefined);
    const now = await reconnected;
    expect(now).not.toBe(first);
    expect(now).toBe((await leaderOf(members)).remote);
    const [u] = await client.transact(NB, [nbOps.insert('Logical_Switch', { name: 'on-new-leader' })]);
    expect(m.replica.get('Logical_Switch', u)?.name).toBe('on-new-leader');
  });
});

describe('locks', () => {
  it('lock, steal and unlock between clients, enforced by assert', async () => {
    const servers = track(new OvsdbServers('lock'));
    const srv = await servers.standalone('nb', NB_SCHEMA);
    const a = track(await OvsdbClient.connect(srv.remote));
    const b = track(await OvsdbClient.connect(srv.remote));
    const c = track(await OvsdbClient.connect(srv.remote));
    await expect(a.lock('bad-lock-id')).rejects.toThrow(/identifier/);

    expect(await a.lock('ovnic_leader')).toBe(true);
    expect(await b.lock('ovnic_leader')).toBe(false);
    await a.transact(NB, [nbOps.assert('ovnic_leader'), nbOps.insert('Logical_Switch', { name: 'by-a' })]);
    const denied = await b.transact(NB, [nbOps.assert('ovnic_leader')]).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OvsdbOperationError);
    expect((denied as OvsdbOperationError).error).toBe('not owner');

    const stolen = once<string>(a, 'stolen');
    expect(await c.steal('ovnic_leader')).toBe(true);
    expect(await stolen).toBe('ovnic_leader');
    await expect(a.transact(NB, [nbOps.assert('ovnic_leader')])).rejects.toThrow(/not owner/);
    await c.transact(NB, [nbOps.assert('ovnic_leader')]);

    // A stolen lock stays requested: a (queued first) gets it back when c lets go, then b.
    const aLocked = once<string>(a, 'locked');
    await c.unlock('ovnic_leader');
    expect(await aLocked).toBe('ovnic_leader');
    await a.transact(NB, [nbOps.assert('ovnic_leader')]);
    const bLocked = once<string>(b, 'locked');
    await a.unlock('ovnic_leader');
    expect(await bLocked).toBe('ovnic_leader');
    await b.transact(NB, [nbOps.assert('ovnic_leader')]);
  });
});
