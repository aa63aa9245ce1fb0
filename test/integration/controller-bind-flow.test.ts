/**
 * VmBinder against the API server double through the real @kubernetes/client-node: the report's bind and
 * unbind of a NicPort to a KubeVirt VM, idempotence (zero writes when repeated), waiting/failing reasons,
 * conflicts and rollback.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../apiserver/index.js';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { VmBinder, type BindTarget } from '../../src/controller/binder.js';
import { podInterfaceName } from '../../src/controller/bind-names.js';
import { EventRecorder } from '../../src/controller/events.js';
import { silentLogger } from '../../src/util/log.js';

const NS = 'default';
const P = 'attachnet1.mec-nets.ovn';
const MAC = '00:00:00:4a:b2:9c';
const POD_IF = podInterfaceName('np-nicport1');
const EXISTING_NETWORKS = '[{"name":"mgmt","namespace":"default","interface":"pod0123456789a"}]';

const target: BindTarget = {
  namespace: NS,
  nicPort: 'nicport1',
  nicPortUid: '6a1f0d1e-0000-4000-8000-000000000001',
  vmi: 'test',
  provider: P,
  subnet: 'subnet1',
  logicalSwitch: 'subnet1',
  lspName: `nicport1.${NS}.${P}`,
  mac: MAC,
  ipv4: '10.10.0.5',
  ipv6: 'fd00:10::5',
  cidr: '10.10.0.0/24,fd00:10::/64',
  gateway: '10.10.0.1,fd00:10::1',
};

const REPORT_ANNOTATIONS = {
  [`${P}.kubernetes.io/allocated`]: 'true',
  [`${P}.kubernetes.io/cidr`]: '10.10.0.0/24,fd00:10::/64',
  [`${P}.kubernetes.io/gateway`]: '10.10.0.1,fd00:10::1',
  [`${P}.kubernetes.io/ip_address`]: '10.10.0.5,fd00:10::5',
  [`${P}.kubernetes.io/logical_router`]: 'ovn-cluster',
  [`${P}.kubernetes.io/logical_switch`]: 'subnet1',
  [`${P}.kubernetes.io/mac_address`]: MAC,
  [`${P}.kubernetes.io/pod_nic_type`]: 'veth-pair',
  [`${P}.kubernetes.io/routed`]: 'true',
};
const PORT_NAME = { [`${P}.kubernetes.io/port_name`]: `nicport1.${NS}.${P}` };

function nad(provider = P): KubeObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'attachnet1', namespace: 'mec-nets' },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider }) },
  };
}

function vm(): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'test', namespace: NS },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': 'test' } },
        spec: {
          domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }], disks: [{ name: 'root', disk: { bus: 'virtio' } }] }, resources: { requests: { memory: '1Gi' } } },
          networks: [{ name: 'default', pod: {} }],
          volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora' } }],
        },
      },
    },
  };
}

function vmi(extraInterfaces: string[] = []): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'test', namespace: NS },
    spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }] },
    status: { phase: 'Running', nodeName: 'node1', interfaces: [{ name: 'default' }, ...extraInterfaces.map((name) => ({ name }))] },
  };
}

function launcher(name: string, vmiUid: string, node: string, phase = 'Running'): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: NS,
      labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': vmiUid, 'vm.kubevirt.io/name': 'test' },
      annotations: { 'kubevirt.io/domain': 'test', 'k8s.v1.cni.cncf.io/networks': EXISTING_NETWORKS },
    },
    spec: { nodeName: node, containers: [{ name: 'compute', image: 'virt-launcher' }] },
    status: { phase },
  };
}

describe('VmBinder through the real client against the API server double', () => {
  let api: ApiServer;
  let binder: VmBinder;
  let vmiUid: string;

  const podAnnotations = (name = 'virt-launcher-test-abcde'): Record<string, string> => api.get('pods', NS, name)?.metadata.annotations ?? {};
  const vmTemplate = () => (api.get('virtualmachines', NS, 'test')?.spec as { template: { spec: { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] } } }).template.spec;
  const events = () => api.list('events', NS).map((e) => ({ reason: e.reason, type: e.type, count: e.count, message: e.message, involvedObject: e.involvedObject }));
  const writesTo = (resource: string) => api.writeRequests({ resource }).length;

  beforeEach(async () => {
    api = await startApiServer();
    api.seed(nad(), vm());
    vmiUid = api.seed(vmi())[0]?.metadata.uid as string;
    api.seed(launcher('virt-launcher-test-abcde', vmiUid, 'node1'));
    binder = new VmBinder(api.kubeConfig(), new EventRecorder(api.kubeConfig(), 'ovnic-controller'), silentLogger);
  });
  afterEach(async () => {
    await api?.close();
  });

  it('binds: provider annotations exactly as Kube-OVN writes them, the Multus attachment, the VM template NIC', async () => {
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Bound', pod: 'virt-launcher-test-abcde' });

    const ann = podAnnotations();
    const { 'k8s.v1.cni.cncf.io/networks': networks, ...rest } = ann;
    expect(rest).toEqual({ 'kubevirt.io/domain': 'test', ...REPORT_ANNOTATIONS, ...PORT_NAME });
    expect(JSON.parse(networks as string)).toEqual([
      JSON.parse(EXISTING_NETWORKS)[0],
      { name: 'attachnet1', namespace: 'mec-nets', mac: MAC, interface: POD_IF },
    ]);

    const tpl = vmTemplate();
    expect(tpl.domain.devices.interfaces).toEqual([{ name: 'default', masquerade: {} }, { name: 'np-nicport1', bridge: {}, macAddress: MAC }]);
    expect(tpl.networks).toEqual([{ name: 'default', pod: {} }, { name: 'np-nicport1', multus: { networkName: 'mec-nets/attachnet1' } }]);
    expect((api.get('virtualmachines', NS, 'test')?.spec as { template: { spec: { volumes: unknown[] } } }).template.spec.volumes).toHaveLength(1);

    expect(writesTo('pods')).toBe(1);
    expect(writesTo('virtualmachines')).toBe(1);
    const evs = events();
    expect(evs.map((e) => e.reason)).toEqual(['AttachmentAdded', 'VMPatched', 'Bound']);
    expect(evs[0]?.involvedObject).toEqual({ apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', name: 'nicport1', namespace: NS, uid: target.nicPortUid });
  });

  it('writes only the report\'s nine keys without port_name, and no Bound Event, when so configured', async () => {
    const plain = new VmBinder(api.kubeConfig(), new EventRecorder(api.kubeConfig(), 'ovnic-controller'), silentLogger, { portNameAnnotation: false, outcomeEvents: false });
    await expect(plain.bind(target)).resolves.toMatchObject({ state: 'Bound' });
    const { 'k8s.v1.cni.cncf.io/networks': _networks, ...rest } = podAnnotations();
    expect(rest).toEqual({ 'kubevirt.io/domain': 'test', ...REPORT_ANNOTATIONS });
    expect(events().map((e) => e.reason)).toEqual(['AttachmentAdded', 'VMPatched']);
    await plain.unbind(target);
    expect(podAnnotations()).toEqual({ 'kubevirt.io/domain': 'test', 'k8s.v1.cni.cncf.io/networks': EXISTING_NETWORKS });
  });

  it('binding again writes nothing', async () => {
    await binder.bind(target);
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Bound', pod: 'virt-launcher-test-abcde' });
    expect(api.writeRequests()).toEqual([]);
    expect(api.requests.map((r) => `${r.verb} ${r.resource ?? ''}`)).toEqual([
      'get virtualmachines.kubevirt.io', 'get virtualmachineinstances.kubevirt.io', 'list pods', 'get network-attachment-definitions.k8s.cni.cncf.io',
    ]);
    // A fresh binder (controller restart) also finds nothing to do.
    const restarted = new VmBinder(api.kubeConfig(), new EventRecorder(api.kubeConfig(), 'ovnic-controller'), silentLogger);
    await expect(restarted.bind(target)).resolves.toMatchObject({ state: 'Bound' });
    expect(api.writeRequests()).toEqual([]);
  });

  it('repairs drift: an annotation edited by hand and the VM interface removed by hand', async () => {
    await binder.bind(target);
    const pod = api.get('pods', NS, 'virt-launcher-test-abcde') as KubeObject;
    pod.metadata.annotations = { ...pod.metadata.annotations, [`${P}.kubernetes.io/ip_address`]: '10.10.0.99' };
    api.seed(pod);
    const v = api.get('virtualmachines', NS, 'test') as KubeObject;
    (v.spec as { template: { spec: { domain: { devices: { interfaces: unknown[] } } } } }).template.spec.domain.devices.interfaces = [{ name: 'default', masquerade: {} }];
    api.seed(v);
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Bound' });
    expect(podAnnotations()[`${P}.kubernetes.io/ip_address`]).toBe('10.10.0.5,fd00:10::5');
    expect(vmTemplate().domain.devices.interfaces).toHaveLength(2);
    expect(writesTo('pods')).toBe(1);
    expect(writesTo('virtualmachines')).toBe(1);
  });

  it('unbinds: interface state absent while the VMI has it, annotations and attachment removed; template entry dropped once unplugged', async () => {
    await binder.bind(target);
    // KubeVirt hot-plugged it: the VMI reports the interface.
    api.seed({ ...vmi(['np-nicport1']), metadata: { ...(api.get('virtualmachineinstances', NS, 'test') as KubeObject).metadata } });
    api.clearRequests();

    await expect(binder.unbind(target)).resolves.toEqual({ state: 'Unbound' });
    expect(vmTemplate().domain.devices.interfaces).toEqual([
      { name: 'default', masquerade: {} }, { name: 'np-nicport1', bridge: {}, macAddress: MAC, state: 'absent' },
    ]);
    expect(vmTemplate().networks).toHaveLength(2);
    expect(podAnnotations()).toEqual({ 'kubevirt.io/domain': 'test', 'k8s.v1.cni.cncf.io/networks': EXISTING_NETWORKS });
    expect(events().slice(-3).map((e) => e.reason)).toEqual(['VMInterfaceAbsent', 'AttachmentRemoved', 'Unbound']);

    api.clearRequests();
    await expect(binder.unbind(target)).resolves.toEqual({ state: 'Unbound' });
    expect(api.writeRequests()).toEqual([]);

    // KubeVirt finished the unplug: the VMI no longer lists it → the template entry goes.
    api.seed({ ...vmi(), metadata: { ...(api.get('virtualmachineinstances', NS, 'test') as KubeObject).metadata } });
    await expect(binder.unbind(target)).resolves.toEqual({ state: 'Unbound' });
    expect(vmTemplate().domain.devices.interfaces).toEqual([{ name: 'default', masquerade: {} }]);
    expect(vmTemplate().networks).toEqual([{ name: 'default', pod: {} }]);
    expect(writesTo('virtualmachines')).toBe(1);
    expect(writesTo('pods')).toBe(0);
  });

  it('unbinds a stopped VM by removing the template entry outright', async () => {
    await binder.bind(target);
    api.remove('virtualmachineinstances', NS, 'test');
    api.remove('pods', NS, 'virt-launcher-test-abcde');
    await expect(binder.unbind(target)).resolves.toEqual({ state: 'Unbound' });
    expect(vmTemplate().domain.devices.interfaces).toEqual([{ name: 'default', masquerade: {} }]);
    expect(vmTemplate().networks).toEqual([{ name: 'default', pod: {} }]);
  });

  it('removes the networks annotation entirely when ours was its only element', async () => {
    const pod = api.get('pods', NS, 'virt-launcher-test-abcde') as KubeObject;
    pod.metadata.annotations = { 'kubevirt.io/domain': 'test' };
    api.seed(pod);
    await binder.bind(target);
    expect(JSON.parse(podAnnotations()['k8s.v1.cni.cncf.io/networks'] as string)).toHaveLength(1);
    await binder.unbind(target);
    expect(podAnnotations()).toEqual({ 'kubevirt.io/domain': 'test' });
  });

  it('waits with a clear reason when the VM, the VMI or the launcher pod is missing, writing nothing but one Event', async () => {
    api.remove('pods', NS, 'virt-launcher-test-abcde');
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Waiting', reason: 'LauncherPodNotFound', message: 'no running virt-launcher pod for VirtualMachineInstance default/test' });
    expect(api.writeRequests().map((r) => r.resource)).toEqual(['events']);
    await binder.bind(target);
    expect(api.writeRequests().map((r) => r.resource)).toEqual(['events']);
    expect(events()).toMatchObject([{ reason: 'LauncherPodNotFound', type: 'Warning', count: 1 }]);

    api.seed(launcher('virt-launcher-test-pend', vmiUid, 'node1', 'Pending'));
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Waiting', reason: 'LauncherPodNotFound' });

    api.remove('virtualmachineinstances', NS, 'test');
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Waiting', reason: 'VMNotRunning', message: expect.stringContaining('no VirtualMachineInstance') });
    api.remove('virtualmachines', NS, 'test');
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Waiting', reason: 'VMNotFound', message: 'VirtualMachine default/test not found' });
    expect(writesTo('pods') + writesTo('virtualmachines')).toBe(0);
  });

  it('waits for a missing NetworkAttachmentDefinition and fails on a provider mismatch, nothing written', async () => {
    api.remove('network-attachment-definitions', 'mec-nets', 'attachnet1');
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toEqual({
      state: 'Waiting', reason: 'NADNotFound', message: `NetworkAttachmentDefinition mec-nets/attachnet1 (from subnet subnet1 provider ${P}) not found`,
    });
    api.seed(nad('attachnet2.mec-nets.ovn'));
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Failed', reason: 'NADProviderMismatch' });
    await expect(binder.bind({ ...target, provider: 'ovn' })).resolves.toMatchObject({ state: 'Failed', reason: 'InvalidProvider' });
    await expect(binder.bind({ ...target, mac: 'nope' })).resolves.toMatchObject({ state: 'Failed', reason: 'InvalidTarget', message: expect.stringContaining('mac "nope"') });
    expect(writesTo('pods') + writesTo('virtualmachines')).toBe(0);
    expect(events().map((e) => e.reason)).toEqual(['NADNotFound', 'BindFailed', 'BindFailed', 'BindFailed']);
  });

  it('retries a 409 on the VM and on the pod with a fresh read', async () => {
    api.failNext({ resource: 'virtualmachines', verb: 'patch' }, 409);
    api.failNext({ resource: 'pods', verb: 'patch' }, 409);
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Bound' });
    expect(api.writeRequests({ resource: 'virtualmachines' }).map((r) => [r.status, r.injected])).toEqual([[409, true], [200, false]]);
    expect(api.writeRequests({ resource: 'pods' }).map((r) => [r.status, r.injected])).toEqual([[409, true], [200, false]]);
    expect(vmTemplate().domain.devices.interfaces).toHaveLength(2);
  });

  it('a real concurrent VM change is not lost: the stale write is refused and redone on the new version', async () => {
    const before = Number(api.resourceVersion());
    let raced = false;
    api.failNext((r) => {
      if (raced || r.resource !== 'virtualmachines.kubevirt.io' || r.verb !== 'patch') return false;
      raced = true;
      // Someone else adds an interface between our read and our write.
      const v = api.get('virtualmachines', NS, 'test') as KubeObject;
      const spec = v.spec as { template: { spec: { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] } } };
      spec.template.spec.domain.devices.interfaces.push({ name: 'other', bridge: {} });
      spec.template.spec.networks.push({ name: 'other', multus: { networkName: 'default/other' } });
      api.seed(v);
      return false;
    });
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Bound' });
    expect(Number(api.resourceVersion())).toBeGreaterThan(before);
    expect(vmTemplate().domain.devices.interfaces.map((i) => (i as { name: string }).name)).toEqual(['default', 'other', 'np-nicport1']);
    expect(api.writeRequests({ resource: 'virtualmachines' }).map((r) => r.status)).toEqual([409, 200]);
  });

  it('gives up after repeated conflicts with Waiting/Conflict', async () => {
    api.failNext({ resource: 'virtualmachines', verb: 'patch' }, 409, 10);
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Waiting', reason: 'Conflict' });
    expect(api.writeRequests({ resource: 'virtualmachines' })).toHaveLength(5);
  });

  it('takes the pod changes back when the VM refuses the patch', async () => {
    api.failNext({ resource: 'virtualmachines', verb: 'patch' }, { code: 422, message: 'admission webhook denied the request' });
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Failed', reason: 'VMPatchRejected', message: expect.stringContaining('admission webhook denied') });
    expect(podAnnotations()).toEqual({ 'kubevirt.io/domain': 'test', 'k8s.v1.cni.cncf.io/networks': EXISTING_NETWORKS });
    expect(vmTemplate().domain.devices.interfaces).toHaveLength(1);
  });

  it('takes the first pod\'s changes back when the second pod cannot take the NIC', async () => {
    const other = launcher('virt-launcher-test-target', vmiUid, 'node2', 'Running');
    other.metadata.annotations = { ...other.metadata.annotations, [`${P}.kubernetes.io/mac_address`]: '00:00:00:11:11:11', [`${P}.${POD_IF}.kubernetes.io/mac_address`]: '00:00:00:11:11:12' };
    other.metadata.creationTimestamp = '2099-01-01T00:00:00Z';
    api.seed(other);
    await expect(binder.bind(target)).resolves.toMatchObject({
      state: 'Failed', reason: 'ProviderInUse', message: expect.stringContaining('pod changes taken back: virt-launcher-test-abcde'),
    });
    expect(podAnnotations()).toEqual({ 'kubevirt.io/domain': 'test', 'k8s.v1.cni.cncf.io/networks': EXISTING_NETWORKS });
    expect(vmTemplate().domain.devices.interfaces).toHaveLength(1);
  });

  it('waits when the active launcher pod disappears before its patch', async () => {
    api.failNext({ resource: 'pods', verb: 'patch' }, 404);
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Waiting', reason: 'LauncherPodNotFound', message: expect.stringContaining('is gone') });
    expect(writesTo('virtualmachines')).toBe(0);
  });

  it('reports an API outage as Waiting/ApiError', async () => {
    api.failNext({ resource: 'virtualmachines', verb: 'get' }, 503);
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Waiting', reason: 'ApiError', message: expect.stringContaining('503') });
  });

  it('annotates the migration target too and reports the pod on the VMI node', async () => {
    api.seed(launcher('virt-launcher-test-target', vmiUid, 'node2', 'Running'));
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Bound', pod: 'virt-launcher-test-abcde' });
    expect(podAnnotations('virt-launcher-test-target')).toMatchObject(REPORT_ANNOTATIONS);
    const moved = api.get('virtualmachineinstances', NS, 'test') as KubeObject;
    api.seed({ ...moved, status: { ...(moved.status as Record<string, unknown>), nodeName: 'node2' } });
    await expect(binder.bind(target)).resolves.toEqual({ state: 'Bound', pod: 'virt-launcher-test-target' });
  });

  it('puts a second NIC of the same subnet on the same VM under <provider>.<pod interface>', async () => {
    await binder.bind(target);
    const second: BindTarget = { ...target, nicPort: 'nicport2', mac: '00:00:00:4a:b2:9d', ipv4: '10.10.0.6', ipv6: 'fd00:10::6', lspName: `nicport2.${NS}.${P}` };
    await expect(binder.bind(second)).resolves.toMatchObject({ state: 'Bound' });
    const scope = `${P}.${podInterfaceName('np-nicport2')}`;
    const ann = podAnnotations();
    expect(ann[`${P}.kubernetes.io/ip_address`]).toBe('10.10.0.5,fd00:10::5');
    expect(ann[`${scope}.kubernetes.io/ip_address`]).toBe('10.10.0.6,fd00:10::6');
    expect(ann[`${scope}.kubernetes.io/mac_address`]).toBe('00:00:00:4a:b2:9d');
    expect(JSON.parse(ann['k8s.v1.cni.cncf.io/networks'] as string)).toHaveLength(3);
    expect(vmTemplate().domain.devices.interfaces).toHaveLength(3);

    await binder.unbind(second);
    const after = podAnnotations();
    expect(Object.keys(after).filter((k) => k.startsWith(scope))).toEqual([]);
    expect(after[`${P}.kubernetes.io/ip_address`]).toBe('10.10.0.5,fd00:10::5');
    expect(JSON.parse(after['k8s.v1.cni.cncf.io/networks'] as string)).toHaveLength(2);
  });

  it('converts a short-form networks annotation to the JSON list, keeping its entries', async () => {
    const pod = api.get('pods', NS, 'virt-launcher-test-abcde') as KubeObject;
    pod.metadata.annotations = { 'k8s.v1.cni.cncf.io/networks': 'default/mgmt@pod0123456789a' };
    api.seed(pod);
    await binder.bind(target);
    expect(JSON.parse(podAnnotations()['k8s.v1.cni.cncf.io/networks'] as string)).toEqual([
      { name: 'mgmt', namespace: 'default', interface: 'pod0123456789a' },
      { name: 'attachnet1', namespace: 'mec-nets', mac: MAC, interface: POD_IF },
    ]);
  });

  it('fails clearly on a networks annotation it cannot parse, writing nothing', async () => {
    const pod = api.get('pods', NS, 'virt-launcher-test-abcde') as KubeObject;
    pod.metadata.annotations = { 'k8s.v1.cni.cncf.io/networks': '[{"name":' };
    api.seed(pod);
    api.clearRequests();
    await expect(binder.bind(target)).resolves.toMatchObject({ state: 'Failed', reason: 'InvalidNetworksAnnotation' });
    expect(writesTo('pods') + writesTo('virtualmachines')).toBe(0);
  });
});
