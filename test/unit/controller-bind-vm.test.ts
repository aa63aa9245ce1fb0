import { describe, expect, it } from 'vitest';
import { launcherPods } from '../../src/controller/bind-pods.js';
import {
  attachNic, hasNic, markNicAbsent, nicState, removeNic, templateNics, templatePatch, vmiListsInterface,
} from '../../src/controller/bind-vm.js';

const want = { name: 'np-nicport1', mac: '02:00:00:00:00:01', networkName: 'mec-nets/attachnet1' };

function vm(interfaces: unknown[], networks: unknown[]) {
  return { spec: { template: { spec: { domain: { devices: { interfaces } }, networks } } } };
}

describe('VM template NIC edits', () => {
  const base = vm([{ name: 'default', masquerade: {} }], [{ name: 'default', pod: {} }]);

  it('adds the bridge interface with the MAC and the Multus network after the existing ones', () => {
    const out = attachNic(templateNics(base), want);
    expect(out.changed).toBe(true);
    expect(out.interfaces).toEqual([{ name: 'default', masquerade: {} }, { name: 'np-nicport1', bridge: {}, macAddress: want.mac }]);
    expect(out.networks).toEqual([{ name: 'default', pod: {} }, { name: 'np-nicport1', multus: { networkName: 'mec-nets/attachnet1' } }]);
    expect(attachNic(out, want).changed).toBe(false);
    expect(attachNic({ interfaces: out.interfaces.map((i) => ({ ...i, macAddress: (i.macAddress ?? '').toUpperCase() })), networks: out.networks }, want).changed).toBe(false);
  });

  it('repairs a drifted entry (binding, MAC, absent state, network) keeping unrelated fields', () => {
    const drifted = { interfaces: [{ name: 'np-nicport1', masquerade: {}, macAddress: '02:00:00:00:00:09', model: 'virtio', state: 'absent' }], networks: [{ name: 'np-nicport1', pod: {} }] };
    const out = attachNic(drifted, want);
    expect(out.changed).toBe(true);
    expect(out.interfaces).toEqual([{ name: 'np-nicport1', model: 'virtio', bridge: {}, macAddress: want.mac }]);
    expect(out.networks).toEqual([{ name: 'np-nicport1', multus: { networkName: 'mec-nets/attachnet1' } }]);
  });

  it('marks absent, then removes; missing templates read as empty', () => {
    const attached = attachNic(templateNics(base), want);
    expect(nicState(attached, want.name)).toBe('present');
    const absent = markNicAbsent(attached, want.name);
    expect(absent.changed).toBe(true);
    expect(absent.interfaces[1]).toEqual({ name: 'np-nicport1', bridge: {}, macAddress: want.mac, state: 'absent' });
    expect(nicState(absent, want.name)).toBe('absent');
    expect(markNicAbsent(absent, want.name).changed).toBe(false);
    const removed = removeNic(absent, want.name);
    expect(removed).toEqual({ interfaces: [{ name: 'default', masquerade: {} }], networks: [{ name: 'default', pod: {} }], changed: true });
    expect(hasNic(removed, want.name)).toBe(false);
    expect(removeNic(removed, want.name).changed).toBe(false);
    expect(templateNics({ spec: {} })).toEqual({ interfaces: [], networks: [] });
  });

  it('sees the interface in the VMI spec or status', () => {
    expect(vmiListsInterface({ spec: { domain: { devices: { interfaces: [{ name: 'np-nicport1', state: 'absent' }] } } } }, 'np-nicport1')).toBe(true);
    expect(vmiListsInterface({ status: { interfaces: [{ name: 'np-nicport1' }] } }, 'np-nicport1')).toBe(true);
    expect(vmiListsInterface({ spec: {}, status: { interfaces: [{ name: 'default' }] } }, 'np-nicport1')).toBe(false);
  });

  it('guards the merge patch with the resourceVersion', () => {
    expect(templatePatch('42', { interfaces: [], networks: [] })).toEqual({
      metadata: { resourceVersion: '42' }, spec: { template: { spec: { domain: { devices: { interfaces: [] } }, networks: [] } } },
    });
  });
});

describe('launcher pod selection', () => {
  const vmi = { metadata: { name: 'test', uid: 'u1' }, status: { nodeName: 'node-b', activePods: { 'p-src': 'node-a', 'p-dst': 'node-b' } } };
  const pod = (name: string, labels: Record<string, string>, node: string, phase: string, created: string, extra: Record<string, unknown> = {}) => ({
    metadata: { name, uid: `p-${name}`, labels, creationTimestamp: created, ...extra }, spec: { nodeName: node }, status: { phase },
  });
  const own = { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': 'u1' };

  it('keeps live pods of this VMI and picks the one on the VMI node', () => {
    const pods = [
      pod('src', own, 'node-a', 'Running', '2024-01-01T00:00:00Z'),
      pod('dst', own, 'node-b', 'Running', '2024-01-01T00:01:00Z'),
      pod('old', { ...own, 'kubevirt.io/created-by': 'u0' }, 'node-a', 'Running', '2023-01-01T00:00:00Z'),
      pod('done', own, 'node-c', 'Succeeded', '2023-06-01T00:00:00Z'),
      pod('going', own, 'node-c', 'Running', '2023-06-01T00:00:00Z', { deletionTimestamp: '2024-01-02T00:00:00Z' }),
      pod('byname', { 'kubevirt.io': 'virt-launcher', 'vm.kubevirt.io/name': 'test' }, 'node-d', 'Pending', '2024-01-01T00:02:00Z'),
    ];
    const out = launcherPods(pods, vmi);
    expect(out.live.map((p) => p.metadata.name)).toEqual(['src', 'dst', 'byname']);
    expect(out.active?.metadata.name).toBe('dst');
  });

  it('has no active pod when none runs', () => {
    expect(launcherPods([pod('p', own, 'node-b', 'Pending', '2024-01-01T00:00:00Z')], vmi).active).toBeUndefined();
  });
});
