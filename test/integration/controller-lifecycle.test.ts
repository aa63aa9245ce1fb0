/**
 * The report's NicPort flows against the API server double and a real OVN NB: create (unbound) →
 * phase0.1 with an LSP and a published IP object; fixed addresses; delete → everything gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicPortController } from '../../src/controller/controller.js';
import { ControllerBed, condition, eventually, settled } from './controller-fixture.js';

describe('NicPort controller: create and delete', () => {
  let bed: ControllerBed;
  let ctl: NicPortController;

  beforeAll(async () => {
    bed = await ControllerBed.start('ctl');
    await bed.applyFile('deploy/examples/subnet1.yaml');
    ctl = await bed.controller();
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('nicport1.yaml (unbound) → phase0.1, an LSP with addresses/port_security/external_ids, an IP object, a finalizer', async () => {
    await bed.applyFile('deploy/examples/nicport1.yaml');
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'nicport1');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    const lspName = 'nicport1.default.attachnet1.mec-nets.ovn';
    expect(np.metadata?.finalizers).toEqual(['kubevirt.chinaunicom.com/nicport']);
    expect(np.status).toMatchObject({
      stat: 'phase0.1',
      phase: 'Allocated',
      ipv4: '10.16.0.10', // 10.16.0.1..9 are excluded in subnet1.yaml
      ipv6: 'fd00:10:16::2',
      ip: '10.16.0.10,fd00:10:16::2',
      dhcp_advertising_ip: '10.16.0.10',
      subnet: 'subnet1',
      logicalSwitch: 'subnet1',
      logicalSwitchPort: lspName,
      observedGeneration: 1,
    });
    const mac = np.status?.mac ?? '';
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(Number.parseInt(mac.slice(0, 2), 16) & 0x03).toBe(0x02); // locally administered, unicast
    expect(condition(np, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(condition(np, 'Allocated')).toMatchObject({ status: 'True', reason: 'Allocated' });
    expect(condition(np, 'PortReady')).toMatchObject({ status: 'True', reason: 'PortReady' });
    expect(condition(np, 'Bound')).toMatchObject({ status: 'False', reason: 'Unbound' });

    const lsp = await bed.lsp(lspName);
    expect(lsp).toBeDefined();
    expect(lsp?.addresses).toEqual([`${mac} 10.16.0.10 fd00:10:16::2`]);
    expect(lsp?.port_security).toEqual([`${mac} 10.16.0.10 fd00:10:16::2`]);
    expect(lsp?.external_ids).toEqual({ vendor: 'ovnic', 'ovnic-nicport': 'default/nicport1', ls: 'subnet1' });
    expect(await bed.switchPorts('subnet1')).toEqual([lspName]);
    expect(await bed.stack.nbctl('lsp-get-addresses', lspName)).toBe(`${mac} 10.16.0.10 fd00:10:16::2`);

    const ip = bed.ipObject(lspName);
    expect(ip?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ovnic', 'ovn.kubernetes.io/subnet': 'subnet1' });
    expect(ip?.metadata?.annotations).toMatchObject({ 'kubevirt.chinaunicom.com/nicport': 'default/nicport1' });
    expect(ip?.spec).toMatchObject({
      podName: 'nicport1', namespace: 'default', subnet: 'subnet1', ipAddress: '10.16.0.10,fd00:10:16::2',
      v4IpAddress: '10.16.0.10', v6IpAddress: 'fd00:10:16::2', macAddress: mac, podType: 'NicPort',
    });
    await settled(ctl);
  });

  it('honours a user-given dual-stack IP and MAC (nicport2.yaml)', async () => {
    await bed.applyFile('deploy/examples/nicport2.yaml');
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'nicport2');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status).toMatchObject({ ipv4: '10.16.0.50', ipv6: 'fd00:10:16::50', mac: '0a:58:0a:10:00:32' });
    expect((await bed.lsp('nicport2.default.attachnet1.mec-nets.ovn'))?.addresses).toEqual(['0a:58:0a:10:00:32 10.16.0.50 fd00:10:16::50']);
  });

  it('delete → LSP and IP object gone, finalizer removed, addresses free again', async () => {
    await settled(ctl);
    const writesBefore = bed.api.writeRequests({ resource: 'nicports' }).length;
    await bed.deleteNicPort('default', 'nicport1');
    await eventually(() => bed.nicPort('default', 'nicport1') === undefined, 10_000, 'nicport1 to be deleted');
    expect(await bed.lsp('nicport1.default.attachnet1.mec-nets.ovn')).toBeUndefined();
    expect(bed.ipObject('nicport1.default.attachnet1.mec-nets.ovn')).toBeUndefined();
    expect(await bed.switchPorts('subnet1')).toEqual(['nicport2.default.attachnet1.mec-nets.ovn']);
    // the DELETE itself + one finalizer removal
    expect(bed.api.writeRequests({ resource: 'nicports' }).length - writesBefore).toBe(2);

    await bed.createNicPort('default', 'nicport3', { subnet: 'subnet1' });
    const np3 = await eventually(() => {
      const o = bed.nicPort('default', 'nicport3');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np3.status?.ipv4).toBe('10.16.0.10');
    expect(np3.status?.ipv6).toBe('fd00:10:16::2');
  });

  it('a converged NicPort costs no writes when reconciled again', async () => {
    await settled(ctl);
    const before = bed.api.writeRequests().length;
    const nbBefore = ctl.metrics.nbTransactions.get({ result: 'ok' });
    for (const n of ['nicport2', 'nicport3']) ctl.enqueue(`default/${n}`);
    await settled(ctl);
    expect(bed.api.writeRequests().length).toBe(before);
    expect(ctl.metrics.nbTransactions.get({ result: 'ok' })).toBe(nbBefore);
  });
});
