import { describe, expect, it } from 'vitest';
import { vhostUserPortSpec, vsctlInterfaceSettings } from '../../src/dpdk/index.js';

const SOCK = '/run/openvswitch/vhost_sockets/0123456789ab-net1/net1';

describe('vhostUserPortSpec', () => {
  it('describes a dpdkvhostuserclient interface connecting to the VM socket', () => {
    expect(vhostUserPortSpec({ name: 'vhu0123456789a', socketPath: SOCK })).toEqual({
      name: 'vhu0123456789a',
      type: 'dpdkvhostuserclient',
      options: { 'vhost-server-path': SOCK },
      externalIds: {},
    });
  });

  it('adds tx-retries-max, mtu_request and external_ids when given', () => {
    const spec = vhostUserPortSpec({
      name: 'vhu1',
      socketPath: SOCK,
      txRetriesMax: 0,
      mtuRequest: 9000,
      externalIds: { 'iface-id': 'vm1.default', owner: 'ovnic' },
    });
    expect(spec.options).toEqual({ 'vhost-server-path': SOCK, 'tx-retries-max': '0' });
    expect(spec.mtuRequest).toBe(9000);
    expect(spec.externalIds).toEqual({ 'iface-id': 'vm1.default', owner: 'ovnic' });
  });

  it.each([
    [{ name: '', socketPath: SOCK }, /invalid OVS port name/],
    [{ name: 'a b', socketPath: SOCK }, /invalid OVS port name/],
    [{ name: 'vhu1', socketPath: 'relative/sock' }, /must be absolute/],
    [{ name: 'vhu1', socketPath: `/${'x'.repeat(120)}` }, /is 121 bytes/],
    [{ name: 'vhu1', socketPath: SOCK, txRetriesMax: 33 }, /tx-retries-max must be an integer from 0 to 32/],
    [{ name: 'vhu1', socketPath: SOCK, txRetriesMax: 1.5 }, /tx-retries-max/],
    [{ name: 'vhu1', socketPath: SOCK, mtuRequest: 67 }, /mtu must be an integer of at least 68/],
  ])('rejects %j', (input, message) => {
    expect(() => vhostUserPortSpec(input)).toThrow(message);
  });
});

describe('vsctlInterfaceSettings', () => {
  it('renders column assignments, quoting values ovs-vsctl would otherwise misparse', () => {
    const spec = vhostUserPortSpec({
      name: 'vhu1',
      socketPath: SOCK,
      mtuRequest: 1500,
      externalIds: { 'iface-id': 'vm1.default', pod: 'ns/pod a', 'k=v': 'x,y' },
    });
    expect(vsctlInterfaceSettings(spec)).toEqual([
      'type=dpdkvhostuserclient',
      `options:vhost-server-path=${SOCK}`,
      'mtu_request=1500',
      'external_ids:iface-id=vm1.default',
      'external_ids:pod="ns/pod a"',
      'external_ids:"k=v"="x,y"',
    ]);
  });
});
