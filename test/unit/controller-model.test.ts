/** Pure pieces of the NicPort controller: spec validation, binding target, LSP naming/planning, IP object, status. */
import { describe, expect, it } from 'vitest';
import { desiredIpObject, ipObjectPatch, ownerOfIp } from '../../src/controller/ip-object.js';
import { deletePortOps, desiredPort, planPort, portDrift } from '../../src/controller/lsp.js';
import { lspName } from '../../src/controller/naming.js';
import { portsDiff, type Ls, type Lsp } from '../../src/controller/nb-state.js';
import { desiredVmi, splitKey, validateSpec, type NicPort } from '../../src/controller/nicport.js';
import { setConditions, statusPatch } from '../../src/controller/status.js';

const np = (spec: Record<string, unknown>, labels?: Record<string, string>): NicPort => ({ metadata: { name: 'n', namespace: 'ns', ...(labels ? { labels } : {}) }, spec });

describe('validateSpec', () => {
  it('normalizes addresses and MAC', () => {
    expect(validateSpec(np({ subnet: ' s1 ', ip: 'FD00::0005, 10.0.0.5', mac: '0A-00-00-00-00-01' }))).toEqual({
      ok: true, subnet: 's1', ip: 'fd00::5,10.0.0.5', mac: '0a:00:00:00:00:01',
    });
    expect(validateSpec(np({ subnet: 's1', ip: '', mac: '' }))).toEqual({ ok: true, subnet: 's1' });
  });

  it('refuses with a message naming the problem', () => {
    const bad = (spec: Record<string, unknown>): string => {
      const r = validateSpec(np(spec));
      if (r.ok) throw new Error('expected invalid');
      expect(r.reason).toBe('InvalidSpec');
      return r.message;
    };
    expect(bad({})).toContain('spec.subnet');
    expect(bad({ subnet: 's', ip: '10.0.0.300' })).toContain('"10.0.0.300" is not an IP address');
    expect(bad({ subnet: 's', ip: '10.0.0.1,10.0.0.2' })).toContain('two IPv4');
    expect(bad({ subnet: 's', ip: '10.0.0.1,fd00::1,10.0.0.3' })).toContain('at most one');
    expect(bad({ subnet: 's', mac: '01:00:5e:00:00:01' })).toContain('multicast');
    expect(bad({ subnet: 's', mac: 'zz' })).toContain('spec.mac');
  });
});

describe('desiredVmi', () => {
  it('spec.vmi wins when present (empty = unbound); else the vmi-target label', () => {
    expect(desiredVmi(np({ subnet: 's', vmi: 'a' }, { 'vmi-target': 'b' }))).toBe('a');
    expect(desiredVmi(np({ subnet: 's', vmi: '' }, { 'vmi-target': 'b' }))).toBeUndefined();
    expect(desiredVmi(np({ subnet: 's' }, { 'vmi-target': 'b' }))).toBe('b');
    expect(desiredVmi(np({ subnet: 's' }))).toBeUndefined();
  });

  it('keys split at the first slash', () => {
    expect(splitKey('ns/name')).toEqual({ namespace: 'ns', name: 'name' });
  });
});

describe('lspName (Kube-OVN PodNameToPortName rule)', () => {
  it('<name>.<ns> on provider ovn, <name>.<ns>.<provider> otherwise', () => {
    expect(lspName('nicport1', 'default', 'ovn')).toBe('nicport1.default');
    expect(lspName('nicport1', 'default', undefined)).toBe('nicport1.default');
    expect(lspName('nicport1', 'default', 'attachnet1.mec-nets.ovn')).toBe('nicport1.default.attachnet1.mec-nets.ovn');
  });
});

describe('LSP planning', () => {
  const ls: Ls = { _uuid: '11111111-1111-4111-8111-111111111111', name: 'sn', ports: ['33333333-3333-4333-8333-333333333333'], acls: [], dns_records: [], external_ids: {}, forwarding_groups: [], load_balancer: [], load_balancer_group: [], other_config: {}, qos_rules: [] };
  const other: Ls = { ...ls, _uuid: '22222222-2222-4222-8222-222222222222', name: 'other', ports: [] };
  const want = desiredPort('ns/n', 'n.ns', 'sn', '0a:00:00:00:00:01', ['10.0.0.5', 'fd00::5']);
  const lsp = (over: Partial<Lsp> = {}): Lsp => ({
    _uuid: '33333333-3333-4333-8333-333333333333', name: 'n.ns', addresses: ['0a:00:00:00:00:01 10.0.0.5 fd00::5'], port_security: ['0a:00:00:00:00:01 10.0.0.5 fd00::5'],
    external_ids: { vendor: 'ovnic', 'ovnic-nicport': 'ns/n', ls: 'sn', extra: 'kept' }, type: '', mirror_rules: [], options: {}, ...over,
  });
  let n = 0;
  const names = (): string => `r${++n}`;

  it('a matching port needs no operation (other columns and external_ids keys are not ovnic\'s)', () => {
    expect(portDrift(want, lsp({ options: { foo: 'bar' } }), ls)).toEqual([]);
    // the same entries written differently (case, order of addresses) are the same
    expect(portDrift(want, lsp({ addresses: ['0A:00:00:00:00:01 FD00::5 10.0.0.5'] }), ls)).toEqual([]);
    expect(planPort(want, lsp(), ls, ls, names).ops).toEqual([]);
  });

  it('a missing port is inserted and added to the switch in one transaction', () => {
    const plan = planPort(want, undefined, undefined, ls, names);
    expect(plan.drift).toEqual(['missing']);
    expect(plan.ops.map((o) => o.wire.op)).toEqual(['insert', 'mutate']);
    expect(plan.ops[0]?.wire.row).toMatchObject({ name: 'n.ns', external_ids: ['map', [['vendor', 'ovnic'], ['ovnic-nicport', 'ns/n'], ['ls', 'sn']]] });
    expect(JSON.stringify(plan.ops[1]?.wire.mutations)).toBe('[["ports","insert",["set",[["named-uuid","' + String(plan.ops[0]?.wire['uuid-name']) + '"]]]]]');
  });

  it('drifted columns are set; ovnic external_ids keys replaced, others left alone', () => {
    const plan = planPort(want, lsp({ addresses: ['0a:00:00:00:00:99 10.0.0.99'], external_ids: { vendor: 'x', extra: 'kept' } }), ls, ls, names);
    expect(plan.drift).toEqual(['addresses', 'external_ids']);
    expect(plan.ops.map((o) => o.wire.op)).toEqual(['update', 'mutate']);
    expect(plan.ops[0]?.wire.row).toEqual({ addresses: ['set', ['0a:00:00:00:00:01 10.0.0.5 fd00::5']] });
    expect(JSON.stringify(plan.ops[1]?.wire.mutations)).toContain('"delete"');
  });

  it('a port on another switch is moved back', () => {
    const plan = planPort(want, lsp(), other, ls, names);
    expect(plan.drift).toEqual(['switch']);
    expect(plan.ops.map((o) => [o.wire.op, JSON.stringify(o.wire.mutations)])).toEqual([
      ['mutate', '[["ports","delete",["set",[["uuid","33333333-3333-4333-8333-333333333333"]]]]]'],
      ['mutate', '[["ports","insert",["set",[["uuid","33333333-3333-4333-8333-333333333333"]]]]]'],
    ]);
  });

  it('deleting takes the port off its switch (or deletes an unreferenced row)', () => {
    expect(deletePortOps(lsp(), ls).map((o) => o.wire.op)).toEqual(['mutate']);
    expect(deletePortOps(lsp(), undefined).map((o) => o.wire.op)).toEqual(['delete']);
  });

  it('portsDiff finds added and removed ports in one ordered walk', () => {
    expect(portsDiff(['a', 'b', 'c'], ['a', 'c', 'd', 'e'])).toEqual({ added: ['d', 'e'], removed: ['b'] });
    expect(portsDiff([], ['a'])).toEqual({ added: ['a'], removed: [] });
    expect(portsDiff(['a'], [])).toEqual({ added: [], removed: ['a'] });
    // reordered: shows as removed + added, which applied in that order is still right
    const d = portsDiff(['a', 'b', 'c'], ['c', 'a', 'b']);
    const set = new Set(['a', 'b', 'c']);
    for (const r of d.removed) set.delete(r);
    for (const a of d.added) set.add(a);
    expect([...set].sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('IP object', () => {
  const want = desiredIpObject({ owner: { namespace: 'ns', name: 'n' }, name: 'n.ns', subnet: 'sn', v4: '10.0.0.5', v6: 'fd00::5', mac: '0a:00:00:00:00:01' });

  it('carries Kube-OVN spec fields, the owner and the managed-by label', () => {
    expect(want.spec).toMatchObject({ podName: 'n', namespace: 'ns', subnet: 'sn', ipAddress: '10.0.0.5,fd00::5', v4IpAddress: '10.0.0.5', v6IpAddress: 'fd00::5', macAddress: '0a:00:00:00:00:01', podType: 'NicPort' });
    expect(ownerOfIp(want)).toBe('ns/n');
    expect(ownerOfIp({ metadata: { name: 'x', annotations: { 'kubevirt.chinaunicom.com/nicport': 'ns/n' } } })).toBeUndefined();
  });

  it('patches only what ovnic owns, and nothing when equal', () => {
    const current = structuredClone(want) as typeof want & { metadata: { labels: Record<string, string> } };
    current.metadata.labels['ovn.kubernetes.io/ip_reserved'] = 'true';
    delete (current.spec as Record<string, unknown>).attachIps; // absent = empty
    expect(ipObjectPatch(want, current)).toBeUndefined();
    current.spec.v4IpAddress = '10.0.0.9';
    delete current.metadata.labels['app.kubernetes.io/managed-by'];
    expect(ipObjectPatch(want, current)).toEqual({ spec: { v4IpAddress: '10.0.0.5' }, metadata: { labels: { 'app.kubernetes.io/managed-by': 'ovnic' } } });
  });
});

describe('status', () => {
  const now = (): string => '2026-01-01T00:00:00Z';
  const later = (): string => '2026-01-02T00:00:00Z';

  it('keeps lastTransitionTime while a condition\'s status does not change', () => {
    const first = setConditions(undefined, [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'a' }], 1, now);
    const same = setConditions(first, [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'b' }], 2, later);
    expect(same[0]).toEqual({ type: 'Ready', status: 'True', reason: 'Ready', message: 'b', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 2 });
    const flipped = setConditions(same, [{ type: 'Ready', status: 'False', reason: 'X', message: 'c' }], 2, later);
    expect(flipped[0]?.lastTransitionTime).toBe('2026-01-02T00:00:00Z');
  });

  it('statusPatch: undefined when equal (key order ignored), null for dropped fields', () => {
    expect(statusPatch({ ip: '1', mac: 'm' }, { mac: 'm', ip: '1' })).toBeUndefined();
    expect(statusPatch({ ip: '1', boundVmi: 'vm' }, { ip: '2' })).toEqual({ status: { ip: '2', boundVmi: null } });
    expect(statusPatch(undefined, { stat: 'phase0.1' })).toEqual({ status: { stat: 'phase0.1' } });
  });
});
