import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NB, OVS, OvsdbClient, namedUuid, nbOps, ovsOps } from '../../src/ovs/index.js';
import { OvnStack } from '../../src/sandbox/stack.js';

describe('OVSDB client with a running OVN stack', () => {
  let stack: OvnStack;
  let nb: OvsdbClient;
  let ovs: OvsdbClient;
  const tag = Math.random().toString(36).slice(2, 7);

  beforeAll(async () => {
    stack = await OvnStack.start({ name: 'odb' });
    nb = await OvsdbClient.connect(stack.nbRemote);
    ovs = await OvsdbClient.connect(stack.ovsdbRemote);
  });

  afterAll(async () => {
    nb?.close();
    ovs?.close();
    await stack?.stop();
  });

  it('binds a port: waits for Interface ovn-installed and LSP up through monitors', async () => {
    const lsp = `lsp-${tag}`;
    const ifname = `int-${tag}`;
    await nb.transact(NB, [
      nbOps.insert('Logical_Switch_Port', { name: lsp, addresses: ['0a:00:00:00:01:01 10.99.0.5'] }, 'lsp'),
      nbOps.insert('Logical_Switch', { name: `ls-${tag}`, ports: [namedUuid('lsp')], other_config: { subnet: '10.99.0.0/24' } }),
    ]);
    const lspUp = nb.waitFor(NB, 'Logical_Switch_Port', (r) => r.name === lsp && r.up === true, 20_000, { where: [['name', '==', lsp]] });
    const installed = ovs.waitFor(OVS, 'Interface', (r) => r.name === ifname && r.external_ids['ovn-installed'] === 'true', 20_000, {
      where: [['name', '==', ifname]], columns: ['name', 'external_ids', 'ofport'],
    });
    await ovs.transact(OVS, [
      ovsOps.insert('Interface', { name: ifname, type: 'internal', external_ids: { 'iface-id': lsp } }, 'iface'),
      ovsOps.insert('Port', { name: ifname, interfaces: [namedUuid('iface')] }, 'port'),
      ovsOps.mutate('Bridge', [['name', '==', 'br-int']], [['ports', 'insert', [namedUuid('port')]]]),
    ]);
    const iface = await installed;
    expect(iface.external_ids['iface-id']).toBe(lsp);
    expect((await lspUp).up).toBe(true);
    expect(await stack.nbctl('get', 'Logical_Switch_Port', lsp, 'up')).toBe('true');
    expect(await stack.vsctl('get', 'Interface', ifname, 'ofport')).toMatch(/^[1-9]\d*$/);

    // Unbinding: removing the Port from br-int garbage-collects Port and Interface.
    await ovs.transact(OVS, [ovsOps.mutate('Bridge', [['name', '==', 'br-int']], [['ports', 'delete', [
      (await ovs.transact(OVS, [ovsOps.select('Port', [['name', '==', ifname]], ['_uuid'])]))[0][0]!._uuid,
    ]]])]);
    await nb.waitFor(NB, 'Logical_Switch_Port', (r) => r.name === lsp && r.up === false, 20_000, { where: [['name', '==', lsp]] });
    expect(await stack.vsctl('--if-exists', 'get', 'Interface', ifname, 'name')).toBe('');
  });
});
