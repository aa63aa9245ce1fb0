/**
 * 20 runtimes' worth of ADDs at once (distinct containers, host-local IPAM with its file lock,
 * one OVSDB transaction each), then 20 DELs at once: every attachment complete and bound,
 * addresses distinct, traffic flows, and nothing is left afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import type { PluginRun } from '../../src/sandbox/plugin.js';

const N = 20;
let fx: CniFixture;
const pods: FixturePod[] = [];

beforeAll(async () => {
  fx = await CniFixture.start({ name: 'cc', ipam: 'host-local' });
  for (let i = 0; i < N; i++) {
    const pod = await fx.addPod(`pod${i}`, { lsp: false });
    // host-local picks the addresses: the ports accept any (OVN "unknown" addresses, no port_security)
    await fx.addLsp(pod, false, 'unknown');
    pods.push(pod);
  }
});

afterAll(async () => {
  await fx?.stop();
});

interface AddResult {
  interfaces: Array<{ name: string; mac: string; sandbox?: string }>;
  ips: Array<{ address: string }>;
}

describe(`${N} concurrent ADDs, then ${N} concurrent DELs`, () => {
  const results = new Map<string, AddResult>();

  it('all ADDs succeed with distinct addresses and bound ports', async () => {
    const runs: PluginRun[] = await Promise.all(pods.map((pod) => fx.run('ADD', pod, { ovnWait: { enabled: true, timeoutMs: 30_000 } })));
    runs.forEach((r, i) => {
      expect(r.exitCode, `${pods[i]?.name}: ${r.stdout}`).toBe(0);
      results.set(pods[i]?.name as string, r.json as unknown as AddResult);
    });
    const addresses = [...results.values()].flatMap((r) => r.ips.map((ip) => ip.address));
    expect(addresses).toHaveLength(2 * N);
    expect(new Set(addresses).size).toBe(2 * N);
    expect(fx.ipamAllocations()).toHaveLength(2 * N);
    const ports = await fx.ovnicPorts();
    expect(ports).toHaveLength(N);
    for (const port of ports) expect((await fx.externalIds(port))['ovn-installed']).toBe('true');
    const up = await fx.stack.nbctl('--data=bare', '--no-headings', '--columns=up', 'list', 'Logical_Switch_Port');
    expect(up.split('\n').filter((s) => s.trim() === 'true')).toHaveLength(N);
    for (const pod of pods) {
      const addrs = await pod.netns?.ip<Array<{ addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>('addr', 'show', 'dev', 'eth0');
      const got = (addrs?.[0]?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();
      expect(got).toEqual(results.get(pod.name)?.ips.map((ip) => ip.address).sort());
    }
  });

  it('the first and the last pod reach each other over v4 and v6', async () => {
    const first = pods[0] as FixturePod;
    const last = pods[N - 1] as FixturePod;
    for (const ip of results.get(last.name)?.ips ?? []) {
      expect(await first.netns?.ping(ip.address.split('/')[0] as string, 3)).toBeGreaterThan(0);
    }
  });

  it('all DELs succeed and leave nothing', async () => {
    const runs = await Promise.all(pods.map((pod) => fx.run('DEL', pod)));
    runs.forEach((r, i) => expect(r.exitCode, `${pods[i]?.name}: ${r.stdout}`).toBe(0));
    expect(await fx.ovnicPorts()).toEqual([]);
    expect(await fx.hostVeths()).toEqual([]);
    expect(fx.ipamAllocations()).toEqual([]);
    for (const pod of pods) {
      const links = await pod.netns?.ip<Array<{ ifname: string }>>('link', 'show');
      expect(links?.map((l) => l.ifname)).toEqual(['lo']);
    }
  });
});
