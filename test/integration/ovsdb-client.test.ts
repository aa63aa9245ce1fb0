import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NB, OVS, OvsdbClient, OvsdbDisconnectedError, OvsdbOperationError, OvsdbRpcError, OvsdbTimeoutError, OvsdbUsageError,
  namedUuid, nbOps, ovsOps, untypedOps, type Nb, type RowChange,
} from '../../src/ovs/index.js';
import { NB_SCHEMA, OvsdbServers, VSWITCH_SCHEMA, sleep, type ServerProcess } from '../harness/ovsdb-server.js';

let servers: OvsdbServers;
let nbServer: ServerProcess;
let ovsServer: ServerProcess;
let nb: OvsdbClient;
let ovs: OvsdbClient;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  servers = new OvsdbServers('client');
  nbServer = await servers.standalone('nb', NB_SCHEMA, { tcp: true });
  ovsServer = await servers.standalone('conf', VSWITCH_SCHEMA);
  nb = await OvsdbClient.connect(nbServer.remote);
  ovs = await OvsdbClient.connect(ovsServer.remote);
});

afterAll(async () => {
  nb?.close();
  ovs?.close();
  await servers?.stop();
});

async function nbctlList(table: string, ...cond: string[]): Promise<string> {
  return servers.client(nbServer, 'query', JSON.stringify(['OVN_Northbound', { op: 'select', table, where: cond.length ? JSON.parse(cond[0] as string) : [] }]));
}

describe('OVSDB client against a real ovsdb-server', () => {
  it('lists databases and reads the schema', async () => {
    expect((await nb.listDbs()).sort()).toEqual(['OVN_Northbound', '_Server']);
    const schema = await nb.getSchema('OVN_Northbound');
    expect(schema.version).toBe(NB.schema.version);
    expect(schema.tables.Logical_Switch_Port?.columns.addresses).toEqual({ key: 'string', min: 0, max: Infinity });
  });

  it('answers echo', async () => {
    expect(await nb.echo('ping', 1)).toEqual(['ping', 1]);
  });

  it('inserts with uuid-name and links the row by mutate in one transaction', async () => {
    const ls = `ls-${suffix}`;
    const [lsUuid] = await nb.transact(NB, [nbOps.insert('Logical_Switch', { name: ls, external_ids: { owner: 'test' } })]);
    const [lspUuid, count] = await nb.transact(NB, [
      nbOps.insert('Logical_Switch_Port', { name: `lsp1-${suffix}`, addresses: ['0a:00:00:00:00:01 10.0.0.1'], external_ids: { pod: 'ns/p1' } }, 'newlsp'),
      nbOps.mutate('Logical_Switch', [['name', '==', ls]], [['ports', 'insert', [namedUuid('newlsp')]]]),
      nbOps.comment('add lsp1'),
    ]);
    expect(count).toBe(1);
    const raw = JSON.parse(await nbctlList('Logical_Switch', JSON.stringify([['_uuid', '==', ['uuid', lsUuid]]]))) as [{ rows: { ports: unknown; external_ids: unknown }[] }];
    expect(raw[0].rows[0]?.ports).toEqual(['uuid', lspUuid]);
    expect(raw[0].rows[0]?.external_ids).toEqual(['map', [['owner', 'test']]]);
  });

  it('selects typed rows by map inclusion and by column projection', async () => {
    const [rows] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['external_ids', 'includes', { pod: 'ns/p1' }]])]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: `lsp1-${suffix}`, addresses: ['0a:00:00:00:00:01 10.0.0.1'], external_ids: { pod: 'ns/p1' }, up: undefined });
    const [proj] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['name', '==', `lsp1-${suffix}`]], ['name', 'addresses'])]);
    expect(proj).toEqual([{ name: `lsp1-${suffix}`, addresses: ['0a:00:00:00:00:01 10.0.0.1'] }]);
    const [none] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['external_ids', 'includes', { pod: 'nope' }]])]);
    expect(none).toEqual([]);
  });

  it('updates and mutates maps, sets and integers', async () => {
    const name = `lsp1-${suffix}`;
    const [n] = await nb.transact(NB, [nbOps.update('Logical_Switch_Port', [['name', '==', name]], { up: true, tag_request: 10 })]);
    expect(n).toBe(1);
    await nb.transact(NB, [
      nbOps.mutate('Logical_Switch_Port', [['name', '==', name]], [
        ['external_ids', 'insert', { extra: 'x' }],
        ['tag_request', '+=', 5],
        ['addresses', 'insert', ['0a:00:00:00:00:02 10.0.0.2']],
      ]),
    ]);
    await nb.transact(NB, [nbOps.mutate('Logical_Switch_Port', [['name', '==', name]], [['external_ids', 'delete', ['pod']]])]);
    const [[row]] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['name', '==', name]])]);
    expect(row?.up).toBe(true);
    expect(row?.tag_request).toBe(15);
    expect(row?.external_ids).toEqual({ extra: 'x' });
    expect(row?.addresses.sort()).toEqual(['0a:00:00:00:00:01 10.0.0.1', '0a:00:00:00:00:02 10.0.0.2']);
  });

  it('wait succeeds when rows match and times out when they do not', async () => {
    const name = `lsp1-${suffix}`;
    await nb.transact(NB, [nbOps.wait('Logical_Switch_Port', [['name', '==', name]], ['up'], '==', [{ up: true }], 0)]);
    const err = await nb.transact(NB, [
      nbOps.insert('Logical_Switch', { name: `never-${suffix}` }),
      nbOps.wait('Logical_Switch_Port', [['name', '==', name]], ['up'], '==', [{ up: false }], 0),
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbOperationError);
    expect((err as OvsdbOperationError).index).toBe(1);
    expect((err as OvsdbOperationError).op).toBe('wait');
    expect((err as OvsdbOperationError).error).toBe('timed out');
    const [ls] = await nb.transact(NB, [nbOps.select('Logical_Switch', [['name', '==', `never-${suffix}`]])]);
    expect(ls).toEqual([]);
  });

  it('deletes rows and garbage-collects unreferenced non-root rows', async () => {
    const ls = `ls-${suffix}`;
    const [[port]] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['name', '==', `lsp1-${suffix}`]], ['_uuid'])]);
    const [mutated, lsps] = await nb.transact(NB, [
      nbOps.mutate('Logical_Switch', [['name', '==', ls]], [['ports', 'delete', [port!._uuid]]]),
      nbOps.select('Logical_Switch_Port', [['_uuid', '==', port!._uuid]]),
    ]);
    expect(mutated).toBe(1);
    expect(lsps).toHaveLength(1);
    const [after] = await nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['_uuid', '==', port!._uuid]])]);
    expect(after).toEqual([]);
    const [deleted] = await nb.transact(NB, [nbOps.delete('Logical_Switch', [['name', '==', ls]])]);
    expect(deleted).toBe(1);
  });

  it('surfaces a bad column as an operation error and changes nothing', async () => {
    const raw = untypedOps('OVN_Northbound');
    const err = await nb.transact('OVN_Northbound', [
      raw.insert('Logical_Switch', { name: `bad-${suffix}` }),
      raw.insert('Logical_Switch', { name: `bad2-${suffix}`, no_such_column: 'x' }),
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbOperationError);
    const e = err as OvsdbOperationError;
    expect([e.index, e.op, e.error]).toEqual([1, 'insert', 'unknown column']);
    expect(e.details).toContain('no_such_column');
    const [rows] = await nb.transact(NB, [nbOps.select('Logical_Switch', [['name', '==', `bad-${suffix}`]])]);
    expect(rows).toEqual([]);
  });

  it('surfaces commit-time constraint and referential integrity violations after the last operation', async () => {
    const ls = `lsc-${suffix}`;
    const dup = `dup-${suffix}`;
    const ops = [
      nbOps.insert('Logical_Switch', { name: ls, ports: [namedUuid('a'), namedUuid('b')] }),
      nbOps.insert('Logical_Switch_Port', { name: dup }, 'a'),
      nbOps.insert('Logical_Switch_Port', { name: dup }, 'b'),
    ] as const;
    const err = await nb.transact(NB, ops).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbOperationError);
    expect((err as OvsdbOperationError).index).toBe(ops.length);
    expect((err as OvsdbOperationError).op).toBeUndefined();
    expect((err as OvsdbOperationError).error).toBe('constraint violation');

    const ghost = '0badc0de-0000-4000-8000-000000000000';
    const ref = await nb.transact(NB, [nbOps.insert('Logical_Switch', { name: ls, ports: [ghost] })]).catch((e: unknown) => e);
    expect((ref as OvsdbOperationError).error).toBe('referential integrity violation');
    expect((ref as OvsdbOperationError).index).toBe(1);
    const [rows] = await nb.transact(NB, [nbOps.select('Logical_Switch', [['name', '==', ls]])]);
    expect(rows).toEqual([]);
  });

  it('rejects unknown tables/columns and bad values before sending, and reports unknown databases', async () => {
    expect(() => nbOps.insert('No_Such' as 'ACL', {})).toThrow(OvsdbUsageError);
    expect(() => nbOps.select('ACL', [['nope' as 'name', '==', 'x']])).toThrow(/unknown column/);
    expect(() => nbOps.insert('Logical_Switch', { name: 5 as unknown as string })).toThrow(/expected string/);
    expect(() => nbOps.insert('Logical_Switch', {}, 'not-an-identifier')).toThrow(/identifier/);
    await expect(nb.transact('No_Such_Db', [nbOps.comment('x')])).rejects.toBeInstanceOf(OvsdbRpcError);
  });

  it('adds a Port with an Interface to a Bridge, finds it by external_ids and deletes it', async () => {
    const br = `br-${suffix}`;
    await ovs.transact(OVS, [ovsOps.insert('Bridge', { name: br }, 'br'), ovsOps.insert('Open_vSwitch', { bridges: [namedUuid('br')] })]);
    const [ifaceUuid, portUuid, linked] = await ovs.transact(OVS, [
      ovsOps.insert('Interface', { name: `veth${suffix}`, type: '', external_ids: { 'iface-id': 'ns_pod', 'pod-uid': 'u1' } }, 'iface'),
      ovsOps.insert('Port', { name: `veth${suffix}`, interfaces: [namedUuid('iface')], external_ids: { 'pod-uid': 'u1' } }, 'port'),
      ovsOps.mutate('Bridge', [['name', '==', br]], [['ports', 'insert', [namedUuid('port')]]]),
    ]);
    expect(linked).toBe(1);
    const [ifaces, ports] = await ovs.transact(OVS, [
      ovsOps.select('Interface', [['external_ids', 'includes', { 'iface-id': 'ns_pod' }]], ['_uuid', 'name', 'external_ids', 'ofport']),
      ovsOps.select('Port', [['interfaces', 'includes', [ifaceUuid]]], ['_uuid']),
    ]);
    expect(ifaces).toEqual([{ _uuid: ifaceUuid, name: `veth${suffix}`, external_ids: { 'iface-id': 'ns_pod', 'pod-uid': 'u1' }, ofport: undefined }]);
    expect(ports).toEqual([{ _uuid: portUuid }]);
    const shown = await servers.client(ovsServer, 'dump', 'Open_vSwitch', 'Interface', 'name', 'external_ids');
    expect(shown).toContain(`veth${suffix}`);
    await ovs.transact(OVS, [ovsOps.mutate('Bridge', [['name', '==', br]], [['ports', 'delete', [portUuid]]])]);
    const [gone] = await ovs.transact(OVS, [ovsOps.select('Interface', [['_uuid', '==', ifaceUuid]])]);
    expect(gone).toEqual([]);
  });
});

describe('monitors', () => {
  it('replicates initial rows and applies insert/modify/delete updates', async () => {
    const ls = `mon-${suffix}`;
    await nb.transact(NB, [nbOps.insert('Logical_Switch', { name: ls })]);
    const m = await nb.monitor(NB, { Logical_Switch: true, Logical_Switch_Port: { columns: ['name', 'up', 'external_ids'] } });
    try {
      expect(m.method).toBe('monitor_cond_since');
      expect(m.replica.find('Logical_Switch', (r) => r.name === ls)).toBeDefined();
      const changes: RowChange<Nb.Tables>[] = [];
      m.replica.onChange((c) => changes.push(c));
      const [lspUuid] = await nb.transact(NB, [
        nbOps.insert('Logical_Switch_Port', { name: `mp-${suffix}`, external_ids: { k: 'v' } }, 'p'),
        nbOps.mutate('Logical_Switch', [['name', '==', ls]], [['ports', 'insert', [namedUuid('p')]]]),
      ]);
      // the server sends the update before the transact reply
      expect(m.replica.get('Logical_Switch_Port', lspUuid)).toEqual({ _uuid: lspUuid, name: `mp-${suffix}`, up: undefined, external_ids: { k: 'v' } });
      expect(m.replica.find('Logical_Switch', (r) => r.name === ls)?.ports).toEqual([lspUuid]);
      await nb.transact(NB, [nbOps.update('Logical_Switch_Port', [['_uuid', '==', lspUuid]], { up: true, external_ids: { k: 'w', z: '1' } })]);
      expect(m.replica.get('Logical_Switch_Port', lspUuid)).toMatchObject({ up: true, external_ids: { k: 'w', z: '1' } });
      await nb.transact(NB, [nbOps.delete('Logical_Switch', [['name', '==', ls]])]);
      expect(m.replica.get('Logical_Switch_Port', lspUuid)).toBeUndefined();
      expect(changes.map((c) => `${c.table}:${c.kind}`).sort()).toEqual([
        'Logical_Switch:delete', 'Logical_Switch:modify', 'Logical_Switch_Port:delete',
        'Logical_Switch_Port:insert', 'Logical_Switch_Port:modify',
      ]);
      expect(changes.filter((c) => c.kind === 'delete')).toHaveLength(2);
    } finally {
      await m.cancel();
    }
  });

  it('keeps updates that arrive right behind the monitor reply', async () => {
    const name = `race-${suffix}`;
    for (let i = 0; i < 20; i++) {
      // Not awaiting the monitor: the server's reply and the next update tend to share one read.
      const started = nb.monitor(NB, { Logical_Switch: { columns: ['name', 'other_config'], where: [['name', '==', `${name}-${i}`]] } });
      const inserted = nb.transact(NB, [nbOps.insert('Logical_Switch', { name: `${name}-${i}`, other_config: { i: String(i) } })]);
      const [m, [u]] = await Promise.all([started, inserted]);
      try {
        expect(m.replica.get('Logical_Switch', u)).toEqual({ _uuid: u, name: `${name}-${i}`, other_config: { i: String(i) } });
      } finally {
        await m.cancel();
      }
    }
  });

  it('filters rows on the server with monitor_cond conditions', async () => {
    const m = await nb.monitor(NB, { Logical_Switch: { where: [['external_ids', 'includes', { team: `t-${suffix}` }]] } });
    try {
      await nb.transact(NB, [
        nbOps.insert('Logical_Switch', { name: `in-${suffix}`, external_ids: { team: `t-${suffix}` } }),
        nbOps.insert('Logical_Switch', { name: `out-${suffix}` }),
      ]);
      expect(m.replica.rows('Logical_Switch').map((r) => r.name)).toEqual([`in-${suffix}`]);
    } finally {
      await m.cancel();
    }
  });

  for (const method of ['monitor_cond', 'monitor'] as const) {
    it(`works with the older ${method} method`, async () => {
      const m = await nb.monitor(NB, { Logical_Switch: { columns: ['name', 'other_config'] } }, { method });
      try {
        expect(m.method).toBe(method);
        const name = `${method}-${suffix}`;
        const [u] = await nb.transact(NB, [nbOps.insert('Logical_Switch', { name, other_config: { a: '1' } })]);
        expect(m.replica.get('Logical_Switch', u)).toEqual({ _uuid: u, name, other_config: { a: '1' } });
        await nb.transact(NB, [nbOps.mutate('Logical_Switch', [['_uuid', '==', u]], [['other_config', 'insert', { b: '2' }]])]);
        expect(m.replica.get('Logical_Switch', u)?.other_config).toEqual({ a: '1', b: '2' });
        await nb.transact(NB, [nbOps.delete('Logical_Switch', [['_uuid', '==', u]])]);
        expect(m.replica.get('Logical_Switch', u)).toBeUndefined();
      } finally {
        await m.cancel();
      }
    });
  }

  it('waitFor resolves on a later update, and times out otherwise', async () => {
    const name = `wf-${suffix}`;
    const waiting = nb.waitFor(NB, 'Logical_Switch', (r) => r.name === name && r.other_config.ready === 'true', 5000, {
      where: [['name', '==', name]],
    });
    await sleep(50);
    await nb.transact(NB, [nbOps.insert('Logical_Switch', { name })]);
    await nb.transact(NB, [nbOps.mutate('Logical_Switch', [['name', '==', name]], [['other_config', 'insert', { ready: 'true' }]])]);
    expect((await waiting).name).toBe(name);
    await expect(nb.waitFor(NB, 'Logical_Switch', (r) => r.name === 'never', 200)).rejects.toBeInstanceOf(OvsdbTimeoutError);
  });
});

describe('keepalive', () => {
  it('answers the server echo probes on tcp, so an idle session survives', async () => {
    const c = await OvsdbClient.connect(nbServer.tcpRemote as string, { keepaliveIntervalMs: 0, reconnect: false });
    const lost: Error[] = [];
    c.on('disconnected', (e) => lost.push(e));
    try {
      await sleep(12_000); // ovsdb-server probes after 5 s idle and drops after 10 s without a reply
      expect(lost).toEqual([]);
      expect(await c.echo('still')).toEqual(['still']);
    } finally {
      c.close();
    }
  }, 30_000);

  it('detects a peer that stops answering and fails pending requests', async () => {
    const c = await OvsdbClient.connect(nbServer.remote, { keepaliveIntervalMs: 200, reconnect: false });
    const lost = new Promise<Error>((resolve) => c.on('disconnected', resolve));
    process.kill(nbServer.pid as number, 'SIGSTOP');
    try {
      const pending = c.echo('x').catch((e: unknown) => e);
      const err = await lost;
      expect(err).toBeInstanceOf(OvsdbDisconnectedError);
      expect(err.message).toMatch(/keepalive/);
      expect(await pending).toBeInstanceOf(OvsdbDisconnectedError);
      await expect(c.listDbs()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
    } finally {
      process.kill(nbServer.pid as number, 'SIGCONT');
      c.close();
    }
  });
});
