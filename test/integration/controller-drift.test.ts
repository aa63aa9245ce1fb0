/**
 * Level-triggered repair against a real NB: hand-made changes to ovnic's ports are undone, ports and IP
 * objects marked as ovnic's without a NicPort are removed, and addresses held outside ovnic (other NB
 * ports, Kube-OVN IP objects) are never handed to a NicPort.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicPortController } from '../../src/controller/controller.js';
import { NB, namedUuid, nbOps } from '../../src/ovs/index.js';
import { ControllerBed, IPS, condition, eventually, settled } from './controller-fixture.js';

describe('NicPort controller: drift and orphans', () => {
  let bed: ControllerBed;
  let ctl: NicPortController;
  const port = 'np-a.default';

  beforeAll(async () => {
    bed = await ControllerBed.start('ctd');
    await bed.subnet({ name: 'sn-a', cidrBlock: '10.20.0.0/24' });
    await bed.subnet({ name: 'sn-b', cidrBlock: '10.21.0.0/24' });
    ctl = await bed.controller();
    await bed.createNicPort('default', 'np-a', { subnet: 'sn-a' });
    await eventually(() => bed.nicPort('default', 'np-a')?.status?.stat === 'phase0.1');
    await settled(ctl);
  });

  afterAll(async () => {
    await bed?.close();
  });

  async function expectRestored(): Promise<void> {
    const np = bed.nicPort('default', 'np-a');
    const entry = `${np?.status?.mac} 10.20.0.2`;
    await eventually(async () => {
      const lsp = await bed.lsp(port);
      const ok = lsp?.addresses[0] === entry && lsp.port_security[0] === entry && lsp.external_ids['ovnic-nicport'] === 'default/np-a';
      return ok && (await bed.switchPorts('sn-a')).includes(port) ? lsp : undefined;
    }, 10_000, 'port restored');
    await settled(ctl);
    expect(await bed.switchPorts('sn-a')).toEqual([port]);
  }

  it('restores an LSP deleted by hand', async () => {
    await bed.stack.nbctl('lsp-del', port);
    await expectRestored();
  });

  it('restores addresses and port_security edited by hand, and stripped external_ids', async () => {
    await bed.stack.nbctl('lsp-set-addresses', port, '0a:00:00:00:00:99 10.20.0.99');
    await expectRestored();
    await bed.stack.nbctl('lsp-set-port-security', port, '0a:00:00:00:00:99');
    await expectRestored();
    await bed.stack.nbctl('clear', 'Logical_Switch_Port', port, 'external_ids');
    await expectRestored();
  });

  it('moves the port back when it was moved to another switch by hand', async () => {
    const [rows] = await bed.nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['name', '==', port]], ['_uuid'])]);
    const uuid = rows[0]?._uuid as string;
    await bed.nb.transact(NB, [
      nbOps.mutate('Logical_Switch', [['name', '==', 'sn-a']], [['ports', 'delete', [uuid]]]),
      nbOps.mutate('Logical_Switch', [['name', '==', 'sn-b']], [['ports', 'insert', [uuid]]]),
    ]);
    await expectRestored();
    expect(await bed.switchPorts('sn-b')).toEqual([]);
  });

  it('makes no NB write while the port is as it should be', async () => {
    await settled(ctl);
    const before = ctl.metrics.nbTransactions.get({ result: 'ok' });
    ctl.enqueue('default/np-a');
    await settled(ctl);
    expect(ctl.metrics.nbTransactions.get({ result: 'ok' })).toBe(before);
  });

  it('removes ovnic ports whose NicPort does not exist, and ovnic ports naming no owner', async () => {
    await bed.nb.transact(NB, [
      nbOps.insert('Logical_Switch_Port', { name: 'ghost.default', addresses: ['0a:00:00:00:01:01 10.20.0.200'], external_ids: { vendor: 'ovnic', 'ovnic-nicport': 'default/ghost', ls: 'sn-a' } }, 'g1'),
      nbOps.insert('Logical_Switch_Port', { name: 'nameless', addresses: ['0a:00:00:00:01:02 10.20.0.201'], external_ids: { vendor: 'ovnic' } }, 'g2'),
      nbOps.insert('Logical_Switch_Port', { name: 'theirs', addresses: ['0a:00:00:00:01:03 10.20.0.3'], external_ids: { vendor: 'kube-ovn' } }, 'g3'),
      nbOps.mutate('Logical_Switch', [['name', '==', 'sn-a']], [['ports', 'insert', [namedUuid('g1'), namedUuid('g2'), namedUuid('g3')]]]),
    ]);
    await eventually(async () => (await bed.switchPorts('sn-a')).join(' ') === `${port} theirs`, 10_000, 'orphans removed');
  });

  it('removes ovnic IP objects whose NicPort does not exist', async () => {
    await bed.co.createClusterCustomObject({
      ...IPS,
      body: {
        apiVersion: 'kubeovn.io/v1', kind: 'IP',
        metadata: { name: 'gone.default', labels: { 'app.kubernetes.io/managed-by': 'ovnic' }, annotations: { 'kubevirt.chinaunicom.com/nicport': 'default/gone' } },
        spec: { subnet: 'sn-a', v4IpAddress: '10.20.0.77', ipAddress: '10.20.0.77', podType: 'NicPort' },
      },
    });
    await eventually(() => bed.ipObject('gone.default') === undefined, 10_000, 'orphan IP object removed');
  });

  it('never hands out an address held by another NB port or a Kube-OVN IP object', async () => {
    // "theirs" (kube-ovn LSP) holds 10.20.0.3; a Kube-OVN IP object holds 10.20.0.4.
    await bed.co.createClusterCustomObject({
      ...IPS,
      body: { apiVersion: 'kubeovn.io/v1', kind: 'IP', metadata: { name: 'pod1.default' }, spec: { subnet: 'sn-a', podName: 'pod1', namespace: 'default', v4IpAddress: '10.20.0.4', ipAddress: '10.20.0.4', macAddress: '0a:00:00:00:02:01' } },
    });
    await eventually(() => bed.ipObject('pod1.default') !== undefined);
    await new Promise((r) => setTimeout(r, 200)); // let the informer deliver it
    await bed.createNicPort('default', 'np-b', { subnet: 'sn-a' });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'np-b');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status?.ipv4).toBe('10.20.0.5');
    // asking for a held address is refused with a clear reason, and nothing is written to NB
    const before = (await bed.lsps()).length;
    await bed.createNicPort('default', 'np-c', { subnet: 'sn-a', ip: '10.20.0.3' });
    const refused = await eventually(() => {
      const o = bed.nicPort('default', 'np-c');
      return condition(o, 'Ready')?.reason === 'IPConflict' ? o : undefined;
    });
    expect(condition(refused, 'Allocated')?.message).toContain('10.20.0.3');
    expect((await bed.lsps()).length).toBe(before);
    expect(bed.ipObject('np-c.default')).toBeUndefined();
    // once the holder is gone, the NicPort gets it
    await bed.stack.nbctl('lsp-del', 'theirs');
    const got = await eventually(() => {
      const o = bed.nicPort('default', 'np-c');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(got.status?.ipv4).toBe('10.20.0.3');
  });

  it('a subnet change moves the port to the new switch with a new address and frees the old one', async () => {
    await settled(ctl);
    await bed.patchNicPort('default', 'np-a', { spec: { subnet: 'sn-b' } });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'np-a');
      return o?.status?.subnet === 'sn-b' && o.status.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status?.ipv4).toBe('10.21.0.2');
    await eventually(async () => (await bed.switchPorts('sn-b')).includes(port) && !(await bed.switchPorts('sn-a')).includes(port), 10_000, 'port moved');
    expect((await bed.lsp(port))?.addresses).toEqual([`${np.status?.mac} 10.21.0.2`]);
    expect((await bed.lsp(port))?.external_ids.ls).toBe('sn-b');
    expect(bed.ipObject(port)?.spec).toMatchObject({ subnet: 'sn-b', v4IpAddress: '10.21.0.2' });
    await bed.createNicPort('default', 'np-d', { subnet: 'sn-a' });
    const d = await eventually(() => {
      const o = bed.nicPort('default', 'np-d');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(d.status?.ipv4).toBe('10.20.0.2');
  });
});
