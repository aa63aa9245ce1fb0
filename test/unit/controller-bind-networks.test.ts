import { describe, expect, it } from 'vitest';
import {
  formatNetworksAnnotation, NetworksAnnotationError, parseNetworksAnnotation, removeAttachment, upsertAttachment,
} from '../../src/controller/bind-networks.js';

const want = { name: 'attachnet1', namespace: 'mec-nets', mac: '02:00:00:00:00:01', interface: 'podabc' };

describe('networks annotation', () => {
  it('parses the JSON list and the short form', () => {
    expect(parseNetworksAnnotation(undefined)).toEqual([]);
    expect(parseNetworksAnnotation('  ')).toEqual([]);
    expect(parseNetworksAnnotation('[{"name":"a","interface":"net1","cni-args":{"x":1}}]')).toEqual([{ name: 'a', interface: 'net1', 'cni-args': { x: 1 } }]);
    expect(parseNetworksAnnotation('a, other/b@net2 ,c@eth5')).toEqual([
      { name: 'a' }, { name: 'b', namespace: 'other', interface: 'net2' }, { name: 'c', interface: 'eth5' },
    ]);
  });

  it.each(['[{"name":"a"}', '{"name":"a"}', '[{"interface":"x"}]', '[1]', 'a/b/c', '/a', 'a@', 'ns/@x'])('rejects %s', (text) => {
    expect(() => parseNetworksAnnotation(text)).toThrow(NetworksAnnotationError);
  });

  it('appends the attachment, keeping other elements as they are', () => {
    const existing = parseNetworksAnnotation('default/macvlan@net1');
    const out = upsertAttachment(existing, want, 'vms');
    expect(out.changed).toBe(true);
    expect(JSON.parse(formatNetworksAnnotation(out.elements))).toEqual([{ name: 'macvlan', namespace: 'default', interface: 'net1' }, want]);
  });

  it('is unchanged when the same attachment is there (namespace defaulted, MAC case-insensitive)', () => {
    const same = [{ name: 'x' }, { ...want, mac: want.mac.toUpperCase() }];
    expect(upsertAttachment(same, want, 'vms').changed).toBe(false);
    const inPodNs = upsertAttachment([{ name: 'attachnet1', mac: want.mac, interface: 'podabc' }], want, 'mec-nets');
    expect(inPodNs.changed).toBe(false);
  });

  it('updates the element for the same pod interface (other NAD or MAC), keeping its other fields', () => {
    const stale = [{ name: 'old', namespace: 'n', mac: '02:00:00:00:00:09', interface: 'podabc', 'cni-args': { a: 1 }, ips: ['1.1.1.1'] }];
    const out = upsertAttachment(stale, want, 'vms');
    expect(out.changed).toBe(true);
    expect(out.elements).toEqual([{ name: 'attachnet1', namespace: 'mec-nets', mac: want.mac, interface: 'podabc', 'cni-args': { a: 1 } }]);
    const withIps = upsertAttachment(out.elements, { ...want, ips: ['10.0.0.5', 'fd00::5'] }, 'vms');
    expect(withIps.changed).toBe(true);
    expect(withIps.elements[0]?.ips).toEqual(['10.0.0.5', 'fd00::5']);
  });

  it('removes only the attachment with our pod interface', () => {
    const elements = [{ name: 'attachnet1', namespace: 'mec-nets', interface: 'net1' }, want];
    const out = removeAttachment(elements, { name: '', interface: 'podabc' }, 'vms');
    expect(out).toEqual({ elements: [elements[0]], changed: true });
    expect(removeAttachment(out.elements, { name: '', interface: 'podabc' }, 'vms').changed).toBe(false);
  });
});
