/**
 * A failure at any step of ADD leaves nothing behind: no OVS port, no veth (host or container
 * end), no IPAM allocation. Faults are injected after each step (OVNIC_TEST_FAULTS=1 +
 * OVNIC_FAULT_INJECT=<step>), and real failures are provoked at the container-config and
 * OVS-port steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, V4, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';
import { ADD_STEPS } from '../../src/nic/faults.js';
import { hostLinkName } from '../../src/cni/ownership.js';

let fx: CniFixture;

beforeAll(async () => {
  fx = await CniFixture.start({ name: 'ft', ipam: 'host-local' });
});

afterAll(async () => {
  await fx?.stop();
});

const faults = (step: string, armed = true): Record<string, string> => (armed ? { OVNIC_TEST_FAULTS: '1', OVNIC_FAULT_INJECT: step } : { OVNIC_FAULT_INJECT: step });

function json(r: PluginRun): { code: number; msg: string; details?: string } {
  return r.json as { code: number; msg: string; details?: string };
}

async function expectNothingLeft(pod: FixturePod): Promise<void> {
  expect(await fx.ovnicPorts()).toEqual([]);
  expect(await fx.hostVeths()).toEqual([]);
  expect(fx.ipamAllocations()).toEqual([]);
  const links = await pod.netns?.ip<Array<{ ifname: string }>>('link', 'show');
  expect(links?.map((l) => l.ifname)).toEqual(['lo']);
}

describe('injected fault after each ADD step', () => {
  for (const step of ADD_STEPS) {
    it(`after "${step}": ADD fails and leaves nothing; DEL then succeeds`, async () => {
      const pod = await fx.addPod();
      const r = await fx.run('ADD', pod, {}, { extraEnv: faults(step) });
      expect(r.exitCode).toBe(1);
      expect(json(r).msg).toBe(`injected fault after step "${step}"`);
      await expectNothingLeft(pod);
      expect((await fx.run('DEL', pod)).exitCode).toBe(0);
      // and the attachment can still be added for real
      const ok = await fx.run('ADD', pod);
      expect(ok.exitCode, ok.stdout).toBe(0);
      expect(await fx.ovnicPorts()).toHaveLength(1);
      expect((await fx.run('DEL', pod)).exitCode).toBe(0);
      await expectNothingLeft(pod);
    });
  }

  it('is not armed without OVNIC_TEST_FAULTS=1', async () => {
    const pod = await fx.addPod();
    const r = await fx.run('ADD', pod, {}, { extraEnv: faults('ovs-port', false) });
    expect(r.exitCode, r.stdout).toBe(0);
    expect((await fx.run('DEL', pod)).exitCode).toBe(0);
    await expectNothingLeft(pod);
  });

  it('rejects an unknown step name (code 4) before doing anything', async () => {
    const pod = await fx.addPod();
    const r = await fx.run('ADD', pod, {}, { extraEnv: faults('no-such-step') });
    expect(json(r).code).toBe(4);
    await expectNothingLeft(pod);
  });
});

describe('real failures', () => {
  it('an unreachable route gateway fails at container config: veth and allocation are undone', async () => {
    const pod = await fx.addPod();
    const conf = fx.config(pod) as { ipam: Record<string, unknown> };
    const r = await fx.run('ADD', pod, { ipam: { ...conf.ipam, routes: [{ dst: '198.51.100.0/24', gw: '203.0.113.1' }] } });
    expect(r.exitCode).toBe(1);
    expect(json(r).msg).toContain('203.0.113.1');
    await expectNothingLeft(pod);
  });

  it('an OVS port of the same name owned by someone else fails at plug (code 100): veth and allocation undone, the port untouched', async () => {
    const pod = await fx.addPod();
    const name = hostLinkName(pod.containerId, pod.ifname);
    await fx.stack.vsctl('add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal');
    try {
      const r = await fx.run('ADD', pod);
      expect(json(r).code, r.stdout).toBe(100);
      expect(json(r).msg).toContain(name);
      expect(await fx.ovnicPorts()).toEqual([]);
      expect(fx.ipamAllocations()).toEqual([]);
      expect(await fx.stack.vsctl('get', 'Interface', name, 'type')).toBe('internal');
      const links = await pod.netns?.ip<Array<{ ifname: string }>>('link', 'show');
      expect(links?.map((l) => l.ifname)).toEqual(['lo']);
    } finally {
      await fx.stack.vsctl('--if-exists', 'del-port', 'br-int', name);
    }
  });

  it('a stale port of the same attachment (never deleted) is replaced by the next ADD', async () => {
    // no IPAM here: host-local refuses a second allocation for the same container
    const noIpam = { ipam: undefined };
    const pod = await fx.addPod();
    expect((await fx.run('ADD', pod, noIpam)).exitCode).toBe(0);
    const [port] = await fx.ovnicPorts();
    // the veth vanishes (e.g. netns deleted by the runtime) but no DEL comes
    await pod.netns?.remove();
    pod.netns = await fx.netns();
    const r = await fx.run('ADD', pod, noIpam);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(await fx.ovnicPorts()).toEqual([port]);
    expect(Number(await fx.stack.vsctl('get', 'Interface', port as string, 'ofport'))).toBeGreaterThan(0);
    expect((await fx.run('DEL', pod, noIpam)).exitCode).toBe(0);
    await expectNothingLeft(pod);
  });

  it('IPAM exhaustion fails before anything is created', async () => {
    const pod = await fx.addPod();
    const conf = fx.config(pod) as { ipam: Record<string, unknown> };
    const tiny = { ...conf.ipam, ranges: [[{ subnet: V4.subnet, rangeStart: `${V4.prefix}250`, rangeEnd: `${V4.prefix}250` }]] };
    const first = await fx.addPod();
    expect((await fx.run('ADD', first, { ipam: tiny })).exitCode).toBe(0);
    const r = await fx.run('ADD', pod, { ipam: tiny });
    expect(r.exitCode).toBe(1);
    expect(await fx.ovnicPorts()).toHaveLength(1);
    expect((await pod.netns?.ip<Array<{ ifname: string }>>('link', 'show'))?.map((l) => l.ifname)).toEqual(['lo']);
    expect((await fx.run('DEL', first, { ipam: tiny })).exitCode).toBe(0);
    await expectNothingLeft(pod);
  });
});
