/**
 * Faults: controller restarts (over converged state; after a crash between publishing a port and
 * writing the status), the NB server restarted mid-run, watches broken (410 and dropped connections),
 * API write failures. The controller converges, gives no address twice and writes nothing it need not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicPortController } from '../../src/controller/controller.js';
import { NB, type Monitor, type Nb } from '../../src/ovs/index.js';
import type { NicPort } from '../../src/controller/nicport.js';
import { ControllerBed, eventually, settled } from './controller-fixture.js';

describe('NicPort controller: faults', () => {
  let bed: ControllerBed;
  let ctl: NicPortController;
  let monitor: Monitor<Nb.Tables>;
  let lspChanges = 0;

  beforeAll(async () => {
    bed = await ControllerBed.start('ctf');
    await bed.subnet({ name: 'sn-f', cidrBlock: '10.40.0.0/24,fd00:40::/120' });
    monitor = await bed.nb.monitor(NB, { Logical_Switch_Port: true, Logical_Switch: { columns: ['name', 'ports'] } });
    monitor.replica.onChange(() => {
      lspChanges++;
    });
    ctl = await bed.controller();
    for (let i = 0; i < 12; i++) {
      await bed.createNicPort(i % 2 === 0 ? 'default' : 'kube-system', `f${i}`, { subnet: 'sn-f', ...(i === 3 ? { ip: '10.40.0.100', mac: '0a:00:00:40:01:00' } : {}) });
    }
    await eventually(() => allReady(12), 15_000, '12 NicPorts ready');
    await settled(ctl);
  });

  afterAll(async () => {
    await bed?.close();
  });

  function nicports(): NicPort[] {
    return bed.api.list('nicports') as NicPort[];
  }

  function allReady(n: number): boolean {
    const l = nicports();
    return l.length === n && l.every((np) => np.status?.stat === 'phase0.1');
  }

  function assertNoDuplicates(): void {
    const v4 = nicports().map((np) => np.status?.ipv4).filter(Boolean);
    const v6 = nicports().map((np) => np.status?.ipv6).filter(Boolean);
    const macs = nicports().map((np) => np.status?.mac).filter(Boolean);
    expect(new Set(v4).size).toBe(v4.length);
    expect(new Set(v6).size).toBe(v6.length);
    expect(new Set(macs).size).toBe(macs.length);
  }

  async function nbMatchesStatus(): Promise<void> {
    const ports = new Map((await bed.lsps()).map((p) => [p.name, p]));
    for (const np of nicports()) {
      const p = ports.get(np.status?.logicalSwitchPort ?? '');
      expect(p?.addresses).toEqual([`${np.status?.mac} ${np.status?.ipv4} ${np.status?.ipv6}`]);
    }
    expect(ports.size).toBe(nicports().length);
  }

  it('a restart over unchanged NicPorts makes zero NB writes and zero API writes', async () => {
    await bed.stopController(ctl);
    const portsBefore = await bed.lsps();
    const writesBefore = bed.api.writeRequests().length;
    const changesBefore = lspChanges;
    ctl = await bed.controller();
    await settled(ctl, 500);
    expect(ctl.metrics.nbTransactions.get({ result: 'ok' })).toBe(0);
    expect(lspChanges).toBe(changesBefore); // nothing changed in NB, seen by an independent monitor
    expect(bed.api.writeRequests().length).toBe(writesBefore);
    expect(await bed.lsps()).toEqual(portsBefore);
  });

  it('after a crash between publishing the port and writing the status, the NicPort keeps its address', async () => {
    await bed.stopController(ctl);
    const victim = bed.nicPort('default', 'f2') as NicPort;
    const kept = { ipv4: victim.status?.ipv4, ipv6: victim.status?.ipv6, mac: victim.status?.mac };
    // as if the status write never happened
    bed.api.seed({ ...victim, status: {} } as never);
    expect(bed.nicPort('default', 'f2')?.status?.ipv4).toBeUndefined();
    // and a NicPort created while the controller was down
    await bed.createNicPort('default', 'f-new', { subnet: 'sn-f' });
    ctl = await bed.controller();
    await eventually(() => allReady(13), 15_000, '13 NicPorts ready');
    const back = bed.nicPort('default', 'f2');
    expect({ ipv4: back?.status?.ipv4, ipv6: back?.status?.ipv6, mac: back?.status?.mac }).toEqual(kept);
    assertNoDuplicates();
    await settled(ctl);
    await nbMatchesStatus();
  });

  it('NB server restarted mid-run: changes made while it was down converge once it is back', async () => {
    await bed.stack.kill('ovnnb_db');
    await eventually(() => !ctl.health().ok, 10_000, 'health to report NB down');
    expect(ctl.health().detail).toContain('NB');
    await bed.createNicPort('default', 'during-outage', { subnet: 'sn-f' });
    await bed.deleteNicPort('kube-system', 'f1');
    await new Promise((r) => setTimeout(r, 500));
    await bed.stack.restart('ovnnb_db');
    await eventually(() => allReady(13) && bed.nicPort('kube-system', 'f1') === undefined, 30_000, 'convergence after NB restart');
    await eventually(() => ctl.health().ok, 10_000, 'health ok');
    await settled(ctl);
    assertNoDuplicates();
    await nbMatchesStatus();
    expect(await bed.lsp('f1.kube-system')).toBeUndefined();
  });

  it('watch expired (410): informers re-list and changes made meanwhile converge', async () => {
    bed.api.expireHistory();
    await bed.createNicPort('kube-system', 'after-410', { subnet: 'sn-f' });
    await bed.patchNicPort('default', 'f4', { spec: { ip: '10.40.0.150' } });
    await eventually(() => bed.nicPort('default', 'f4')?.status?.ipv4 === '10.40.0.150' && bed.nicPort('kube-system', 'after-410')?.status?.stat === 'phase0.1', 15_000, 'convergence after 410');
    await settled(ctl);
    await nbMatchesStatus();
    assertNoDuplicates();
  });

  it('watch connections dropped (informers stop on the error): restarted, changes converge', async () => {
    await bed.api.waitForWatches(3);
    expect(bed.api.breakWatches()).toBeGreaterThanOrEqual(3);
    await bed.createNicPort('default', 'after-break', { subnet: 'sn-f' });
    await bed.deleteNicPort('default', 'f6');
    await eventually(() => bed.nicPort('default', 'after-break')?.status?.stat === 'phase0.1' && bed.nicPort('default', 'f6') === undefined, 15_000, 'convergence after broken watches');
    await settled(ctl);
    await nbMatchesStatus();
    // and again while the list requests fail for a while
    bed.api.failNext({ verb: 'list' }, 503, 4);
    bed.api.breakWatches();
    await bed.createNicPort('default', 'after-503', { subnet: 'sn-f' });
    await eventually(() => bed.nicPort('default', 'after-503')?.status?.stat === 'phase0.1', 20_000, 'convergence after failed lists');
    expect(ctl.metrics.informerRestarts.get({ resource: 'nicports' })).toBeGreaterThan(0);
  });

  it('API write failures are retried', async () => {
    bed.api.failNext({ resource: 'nicports', verb: 'patch', subresource: 'status' }, 500, 2);
    bed.api.failNext({ resource: 'ips.kubeovn.io', verb: 'create' }, 500, 1);
    await bed.createNicPort('default', 'retried', { subnet: 'sn-f' });
    await eventually(() => bed.nicPort('default', 'retried')?.status?.stat === 'phase0.1', 15_000, 'convergence after write failures');
    expect(bed.ipObject('retried.default')).toBeDefined();
    expect(ctl.metrics.reconcileErrors.get({ reason: 'http_500' })).toBeGreaterThanOrEqual(2);
    await settled(ctl);
    assertNoDuplicates();
    await nbMatchesStatus();
  });
});
