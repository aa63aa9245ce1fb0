/**
 * How the reconciler drives the binder: the report's bind merge-patch → bind(target) with the NicPort's
 * addresses and subnet → phase1; unbind → phase0.1; the vmi-target label; moving between VMs; a binder
 * that waits; deleting a bound NicPort is refused until it is unbound. Last, the same flow with the real
 * VmBinder against KubeVirt/Multus objects in the API server double.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmBinder } from '../../src/controller/binder.js';
import type { NicPortController } from '../../src/controller/controller.js';
import { EventRecorder } from '../../src/controller/events.js';
import { silentLogger } from '../../src/util/log.js';
import { ControllerBed, FakeBinder, condition, eventually, settled } from './controller-fixture.js';

const BIND = JSON.parse(readFileSync('deploy/examples/bind-patch.json', 'utf8')) as unknown;
const UNBIND = JSON.parse(readFileSync('deploy/examples/unbind-patch.json', 'utf8')) as unknown;
const PROVIDER = 'attachnet1.mec-nets.ovn';

describe('NicPort controller: binding through the binder', () => {
  let bed: ControllerBed;
  let ctl: NicPortController;
  const binder = new FakeBinder();

  beforeAll(async () => {
    bed = await ControllerBed.start('ctb');
    await bed.applyFile('deploy/examples/subnet1.yaml');
    ctl = await bed.controller(binder, { events: new EventRecorder(bed.api.kubeConfig(), 'ovnic-controller'), bindRetryMs: 200 });
    await bed.applyFile('deploy/examples/nicport1.yaml');
    await eventually(() => bed.nicPort('default', 'nicport1')?.status?.stat === 'phase0.1');
    await settled(ctl);
  });

  afterAll(async () => {
    await bed?.close();
  });

  const events = (name: string): Array<{ reason?: string; type?: string; message?: string }> =>
    bed.api.list('events', 'default').filter((e) => (e.involvedObject as { name?: string } | undefined)?.name === name) as Array<{ reason?: string; type?: string; message?: string }>;

  it('the report merge-patch binds: bind(target) with the NicPort addresses, then phase1', async () => {
    binder.calls.length = 0;
    await bed.patchNicPort('default', 'nicport1', BIND);
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'nicport1');
      return o?.status?.stat === 'phase1' ? o : undefined;
    });
    expect(np.status).toMatchObject({ phase: 'Bound', boundVmi: 'test', boundPod: 'virt-launcher-test' });
    expect(condition(np, 'Bound')).toMatchObject({ status: 'True', reason: 'Bound' });
    expect(condition(np, 'Ready')).toMatchObject({ status: 'True' });
    const bind = binder.calls.find((c) => c.op === 'bind');
    expect(bind?.target).toEqual({
      namespace: 'default',
      nicPort: 'nicport1',
      nicPortUid: np.metadata?.uid,
      vmi: 'test',
      provider: PROVIDER,
      subnet: 'subnet1',
      logicalSwitch: 'subnet1',
      lspName: `nicport1.default.${PROVIDER}`,
      mac: np.status?.mac,
      ipv4: np.status?.ipv4,
      ipv6: np.status?.ipv6,
      cidr: '10.16.0.0/24,fd00:10:16::/120',
      gateway: '10.16.0.1,fd00:10:16::1',
      logicalRouter: 'ovn-cluster',
    });
    expect(events('nicport1').map((e) => e.reason)).toContain('Bound');
  });

  it('a bound, converged NicPort asks the binder again (level-triggered) but writes nothing', async () => {
    await settled(ctl);
    const writes = bed.api.writeRequests().length;
    const calls = binder.calls.length;
    ctl.enqueue('default/nicport1');
    await settled(ctl);
    expect(binder.calls.length).toBe(calls + 1);
    expect(bed.api.writeRequests().length).toBe(writes);
  });

  it('deleting a bound NicPort is refused (BoundToVM, unbind first) until spec.vmi is cleared', async () => {
    await bed.deleteNicPort('default', 'nicport1');
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'nicport1');
      return condition(o, 'Terminating')?.reason === 'BoundToVM' ? o : undefined;
    });
    expect(condition(np, 'Terminating')).toMatchObject({ status: 'True' });
    expect(condition(np, 'Terminating')?.message).toContain('unbind first (clear spec.vmi)');
    expect(np.status?.phase).toBe('Terminating');
    expect(np.status?.stat).toBe('phase1');
    expect(np.metadata?.finalizers).toEqual(['kubevirt.chinaunicom.com/nicport']);
    await eventually(() => events('nicport1').some((e) => e.reason === 'DeletionRefused' && e.type === 'Warning'));
    expect(await bed.lsp(`nicport1.default.${PROVIDER}`)).toBeDefined();
    expect(binder.calls.at(-1)?.op).toBe('bind');

    binder.calls.length = 0;
    await bed.patchNicPort('default', 'nicport1', UNBIND);
    await eventually(() => bed.nicPort('default', 'nicport1') === undefined, 10_000, 'deletion after unbind');
    expect(binder.calls.map((c) => `${c.op}:${c.target.vmi}`)).toEqual(['unbind:test']);
    expect(await bed.lsp(`nicport1.default.${PROVIDER}`)).toBeUndefined();
    expect(bed.ipObject(`nicport1.default.${PROVIDER}`)).toBeUndefined();
  });

  it('the vmi-target label alone binds; unbinding returns to phase0.1', async () => {
    await bed.createNicPort('default', 'lbl', { subnet: 'subnet1' }, { 'vmi-target': 'vm-a' });
    await eventually(() => bed.nicPort('default', 'lbl')?.status?.boundVmi === 'vm-a');
    binder.calls.length = 0;
    await bed.patchNicPort('default', 'lbl', UNBIND);
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'lbl');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    expect(np.status?.boundVmi).toBeUndefined();
    expect(np.status?.boundPod).toBeUndefined();
    expect(condition(np, 'Bound')).toMatchObject({ status: 'False', reason: 'Unbound' });
    expect(binder.calls.map((c) => `${c.op}:${c.target.vmi}`)).toEqual(['unbind:vm-a']);
  });

  it('moving to another VM unbinds from the first, then binds to the second', async () => {
    await bed.patchNicPort('default', 'lbl', { spec: { vmi: 'vm-b' } });
    await eventually(() => bed.nicPort('default', 'lbl')?.status?.boundVmi === 'vm-b');
    binder.calls.length = 0;
    await bed.patchNicPort('default', 'lbl', { spec: { vmi: 'vm-c' } });
    await eventually(() => bed.nicPort('default', 'lbl')?.status?.boundVmi === 'vm-c');
    expect(binder.calls.map((c) => `${c.op}:${c.target.vmi}`).slice(0, 2)).toEqual(['unbind:vm-b', 'bind:vm-c']);
  });

  it('a waiting binder → phase Binding with its reason, asked again until it binds', async () => {
    let waits = 0;
    binder.answer = (op, t) => {
      if (op === 'bind' && t.vmi === 'slow' && waits < 3) {
        waits++;
        return { state: 'Waiting', reason: 'LauncherPodNotFound', message: 'no running virt-launcher pod for VMI slow' };
      }
      return op === 'bind' ? { state: 'Bound', pod: `virt-launcher-${t.vmi}` } : { state: 'Unbound' };
    };
    await bed.createNicPort('default', 'slowpoke', { subnet: 'subnet1', vmi: 'slow' });
    const waiting = await eventually(() => {
      const o = bed.nicPort('default', 'slowpoke');
      return o?.status?.phase === 'Binding' ? o : undefined;
    });
    expect(condition(waiting, 'Bound')).toMatchObject({ status: 'False', reason: 'LauncherPodNotFound' });
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'LauncherPodNotFound' });
    expect(waiting.status?.stat).toBe('phase0.1');
    await eventually(() => bed.nicPort('default', 'slowpoke')?.status?.stat === 'phase1', 10_000, 'bound after retries');
    expect(waits).toBe(3);
  });
});

describe('NicPort controller with the real VmBinder', () => {
  let bed: ControllerBed;

  beforeAll(async () => {
    bed = await ControllerBed.start('ctv');
    await bed.applyFile('deploy/examples/subnet1.yaml');
    bed.api.seed(
      {
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'attachnet1', namespace: 'mec-nets' },
        spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: PROVIDER }) },
      },
      {
        apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'test', namespace: 'default' },
        spec: {
          runStrategy: 'Always',
          template: { spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }] } },
        },
      },
    );
    const vmiUid = bed.api.seed({
      apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'test', namespace: 'default' },
      spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }] },
      status: { phase: 'Running', nodeName: 'node1', interfaces: [{ name: 'default' }] },
    })[0]?.metadata.uid as string;
    bed.api.seed({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: 'virt-launcher-test-x1', namespace: 'default',
        labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': vmiUid, 'vm.kubevirt.io/name': 'test' },
        annotations: { 'kubevirt.io/domain': 'test' },
      },
      spec: { nodeName: 'node1', containers: [{ name: 'compute', image: 'virt-launcher' }] },
      status: { phase: 'Running' },
    });
    ctl = await startController();
  });

  let ctl: NicPortController;
  async function startController(): Promise<NicPortController> {
    const kc = bed.api.kubeConfig();
    const recorder = new EventRecorder(kc, 'ovnic-controller');
    return bed.controller(new VmBinder(kc, recorder, silentLogger), { events: recorder, bindRetryMs: 200 });
  }

  afterAll(async () => {
    await bed?.close();
  });

  it('nicport1 → phase0.1; bind patch → phase1 with the pod annotated and the VM template NIC; unbind → phase0.1', async () => {
    await bed.applyFile('deploy/examples/nicport1.yaml');
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'nicport1');
      return o?.status?.stat === 'phase0.1' ? o : undefined;
    });
    await bed.patchNicPort('default', 'nicport1', BIND);
    await eventually(() => bed.nicPort('default', 'nicport1')?.status?.stat === 'phase1', 15_000, 'phase1');
    const ann = bed.api.get('pods', 'default', 'virt-launcher-test-x1')?.metadata.annotations ?? {};
    expect(ann[`${PROVIDER}.kubernetes.io/ip_address`]).toBe(`${np.status?.ipv4},${np.status?.ipv6}`);
    expect(ann[`${PROVIDER}.kubernetes.io/mac_address`]).toBe(np.status?.mac);
    expect(ann[`${PROVIDER}.kubernetes.io/logical_switch`]).toBe('subnet1');
    expect(ann['k8s.v1.cni.cncf.io/networks']).toContain('attachnet1');
    const vm = bed.api.get('virtualmachines', 'default', 'test') as unknown as { spec: { template: { spec: { domain: { devices: { interfaces: Array<{ name: string; macAddress?: string }> } } } } } };
    expect(vm.spec.template.spec.domain.devices.interfaces.some((i) => i.macAddress === np.status?.mac)).toBe(true);

    await bed.patchNicPort('default', 'nicport1', UNBIND);
    await eventually(() => bed.nicPort('default', 'nicport1')?.status?.stat === 'phase0.1', 15_000, 'phase0.1 after unbind');
    const after = bed.api.get('pods', 'default', 'virt-launcher-test-x1')?.metadata.annotations ?? {};
    expect(after[`${PROVIDER}.kubernetes.io/ip_address`]).toBeUndefined();
  });

  it('controller restarted mid-bind (pod annotated, VM patch not done): the next controller completes it', async () => {
    bed.api.failNext({ resource: 'virtualmachines', verb: 'patch' }, 503, 1000);
    await bed.createNicPort('default', 'mid', { subnet: 'subnet1', vmi: 'test' });
    const np = await eventually(() => {
      const o = bed.nicPort('default', 'mid');
      return o?.status?.phase === 'Binding' ? o : undefined;
    }, 15_000, 'mid: Binding');
    const pod = (): Record<string, string> => bed.api.get('pods', 'default', 'virt-launcher-test-x1')?.metadata.annotations ?? {};
    await eventually(() => Object.values(pod()).includes(np.status?.mac ?? '-'), 10_000, 'pod annotated with the MAC');
    await bed.stopController(ctl);
    bed.api.clearFailures();
    const portsBefore = await bed.lsps();
    ctl = await startController();
    const bound = await eventually(() => {
      const o = bed.nicPort('default', 'mid');
      return o?.status?.stat === 'phase1' ? o : undefined;
    }, 15_000, 'mid: phase1 after restart');
    expect(bound.status?.ipv4).toBe(np.status?.ipv4);
    expect(bound.status?.mac).toBe(np.status?.mac);
    const vm = bed.api.get('virtualmachines', 'default', 'test') as unknown as { spec: { template: { spec: { domain: { devices: { interfaces: Array<{ name: string; macAddress?: string }> } } } } } };
    expect(vm.spec.template.spec.domain.devices.interfaces.filter((i) => i.macAddress === np.status?.mac)).toHaveLength(1);
    await settled(ctl);
    expect(await bed.lsps()).toEqual(portsBefore); // the port was already right
    expect(ctl.metrics.nbTransactions.get({ result: 'ok' })).toBe(0);
  });
});
