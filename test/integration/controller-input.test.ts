/**
 * Bad input gets a clear condition and changes nothing in NB: an IP outside the subnet, the gateway, an
 * IP or MAC another NicPort holds, a malformed or multicast MAC, an unknown subnet. Fixing the spec (or
 * creating the subnet) converges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicPortController } from '../../src/controller/controller.js';
import { caughtStatus } from '../apiserver/index.js';
import { ControllerBed, NP, condition, eventually, settled } from './controller-fixture.js';

describe('NicPort controller: bad input', () => {
  let bed: ControllerBed;
  let ctl: NicPortController;

  beforeAll(async () => {
    bed = await ControllerBed.start('cti');
    await bed.subnet({ name: 'sn-d', cidrBlock: '10.30.0.0/24,fd00:30::/120' });
    ctl = await bed.controller();
    await bed.createNicPort('default', 'first', { subnet: 'sn-d', ip: '10.30.0.40', mac: '0a:00:00:30:00:40' });
    await eventually(() => bed.nicPort('default', 'first')?.status?.stat === 'phase0.1');
    await settled(ctl);
  });

  afterAll(async () => {
    await bed?.close();
  });

  async function refused(name: string, spec: Record<string, unknown>, reason: string, text: string): Promise<void> {
    const portsBefore = (await bed.lsps()).map((p) => p.name).sort();
    const nbBefore = ctl.metrics.nbTransactions.get({ result: 'ok' });
    await bed.createNicPort('default', name, spec);
    const np = await eventually(() => {
      const o = bed.nicPort('default', name);
      return condition(o, 'Ready')?.reason === reason ? o : undefined;
    }, 10_000, `${name}: Ready=False ${reason}`);
    expect(condition(np, 'Ready')).toMatchObject({ status: 'False', reason });
    expect(condition(np, 'Ready')?.message).toContain(text);
    expect(np.status?.stat).toBeUndefined();
    expect(np.status?.phase).toMatch(/^(Failed|Pending)$/);
    await settled(ctl);
    expect((await bed.lsps()).map((p) => p.name).sort()).toEqual(portsBefore);
    expect(ctl.metrics.nbTransactions.get({ result: 'ok' })).toBe(nbBefore);
    expect(bed.ipObject(`${name}.default`)).toBeUndefined();
  }

  it('IP outside the subnet', async () => {
    await refused('outside', { subnet: 'sn-d', ip: '10.99.0.5' }, 'IPOutOfRange', '10.99.0.5');
  });

  it('IP of a family the subnet does not have, and the gateway', async () => {
    await bed.subnet({ name: 'sn-v4', cidrBlock: '10.31.0.0/24' });
    await refused('wrongfam', { subnet: 'sn-v4', ip: 'fd00:31::5' }, 'IPOutOfRange', 'fd00:31::5');
    await refused('gw', { subnet: 'sn-d', ip: '10.30.0.1' }, 'IPNotAssignable', '10.30.0.1');
  });

  it('duplicate IP and duplicate MAC', async () => {
    await refused('dupip', { subnet: 'sn-d', ip: '10.30.0.40' }, 'IPConflict', 'default/first');
    await refused('dupmac', { subnet: 'sn-d', mac: '0A:00:00:30:00:40' }, 'MACConflict', '0a:00:00:30:00:40');
  });

  it('bad MAC: refused by the CRD schema; a multicast MAC (schema-valid) gets InvalidSpec', async () => {
    const bad = await caughtStatus(bed.co.createNamespacedCustomObject({
      ...NP, namespace: 'default', body: { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name: 'badmac' }, spec: { subnet: 'sn-d', mac: 'zz:00:00:00:00:01' } },
    }));
    expect(bad.code).toBe(422);
    expect(bad.status?.message).toContain('spec.mac');
    await refused('mcast', { subnet: 'sn-d', mac: '01:00:5e:00:00:01' }, 'InvalidSpec', 'multicast');
  });

  it('a malformed IP that bypassed the schema (older CRD) gets InvalidSpec', async () => {
    bed.api.seed({ apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name: 'badip', namespace: 'default' }, spec: { subnet: 'sn-d', ip: '10.30.0.300' } });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'badip');
      return condition(o, 'Ready')?.reason === 'InvalidSpec' ? o : undefined;
    });
    expect(condition(np, 'Ready')?.message).toContain('10.30.0.300');
    expect(np.metadata?.finalizers).toBeUndefined(); // nothing was allocated, so nothing to hold the delete for
  });

  it('unknown subnet → UnknownSubnet; creating the subnet converges', async () => {
    await refused('later', { subnet: 'sn-later' }, 'UnknownSubnet', 'sn-later');
    await bed.subnet({ name: 'sn-later', cidrBlock: '10.32.0.0/24' });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'later');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status?.ipv4).toBe('10.32.0.2');
    expect(condition(np, 'Ready')?.status).toBe('True');
  });

  it('fixing the spec converges; the fixed NicPort keeps no stale condition', async () => {
    await bed.patchNicPort('default', 'outside', { spec: { ip: '10.30.0.41' } });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'outside');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status?.ipv4).toBe('10.30.0.41');
    expect(np.status?.observedGeneration).toBe(2);
    expect(condition(np, 'Allocated')).toMatchObject({ status: 'True', reason: 'Allocated' });
    expect((await bed.lsp('outside.default'))?.addresses[0]).toMatch(/ 10\.30\.0\.41 fd00:30::/);
  });

  it('a spec change to a conflicting IP leaves the allocated port as it was', async () => {
    await settled(ctl);
    const before = await bed.lsp('outside.default');
    await bed.patchNicPort('default', 'outside', { spec: { ip: '10.30.0.40' } });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'outside');
      return condition(o, 'Ready')?.reason === 'IPConflict' ? o : undefined;
    });
    expect(np.status?.ipv4).toBe('10.30.0.41'); // still what the port has
    await settled(ctl);
    expect(await bed.lsp('outside.default')).toEqual(before);
  });
});
