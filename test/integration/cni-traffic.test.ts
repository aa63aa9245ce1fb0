/**
 * Pods attached by the built plugin talk over OVN (ping v4/v6, TCP v4/v6), and OVN port_security
 * on the logical switch port drops a spoofed source address — while the same spoof passes from a
 * port without port_security (so the check can fail).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniFixture, V4, V6, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import { TcpEchoServer, tcpExchange, type PodNetns } from '../../src/sandbox/pods.js';

let fx: CniFixture;
let a: FixturePod;
let b: FixturePod;
let open: FixturePod;

const ns = (pod: FixturePod): PodNetns => pod.netns as PodNetns;

beforeAll(async () => {
  fx = await CniFixture.start({ name: 'tr' });
  a = await fx.addPod('alpha');
  b = await fx.addPod('beta');
  open = await fx.addPod('open', { portSecurity: false });
  for (const pod of [a, b, open]) {
    const r = await fx.run('ADD', pod);
    expect(r.exitCode, r.stdout).toBe(0);
  }
});

afterAll(async () => {
  await fx?.stop();
});

describe('two pods over OVN', () => {
  it('ping IPv4 both ways', async () => {
    expect(await ns(a).ping(b.ipv4, 3)).toBeGreaterThan(0);
    expect(await ns(b).ping(a.ipv4, 3)).toBeGreaterThan(0);
  });

  it('ping IPv6 both ways', async () => {
    expect(await ns(a).ping(b.ipv6, 3)).toBeGreaterThan(0);
    expect(await ns(b).ping(a.ipv6, 3)).toBeGreaterThan(0);
  });

  it('TCP exchange over IPv4 and IPv6', async () => {
    const server = await TcpEchoServer.start(ns(b), 8080, 'beta');
    try {
      expect(await tcpExchange(ns(a), b.ipv4, 8080, 'ping over v4')).toContain('PING OVER V4');
      expect(await tcpExchange(ns(a), b.ipv6, 8080, 'ping over v6')).toContain('PING OVER V6');
    } finally {
      await server.stop();
    }
  });

  it('a port with no LSP address for the peer is unreachable (the checks can fail)', async () => {
    expect(await ns(a).ping(`${V4.prefix}250`, 1, 1)).toBe(0);
  });
});

describe('port_security on the logical switch port', () => {
  const spoof4 = `${V4.prefix}99`;
  const spoof6 = `${V6.prefix}99`;

  beforeAll(async () => {
    for (const pod of [a, open]) {
      await ns(pod).exec('ip', ['addr', 'add', `${spoof4}/32`, 'dev', 'eth0']);
      await ns(pod).exec('ip', ['addr', 'add', `${spoof6}/128`, 'dev', 'eth0', 'nodad']);
    }
  });

  it('drops a spoofed IPv4 source; the legitimate source still works', async () => {
    expect(await ns(a).ping(b.ipv4, 2, 2, a.ipv4)).toBeGreaterThan(0);
    expect(await ns(a).ping(b.ipv4, 3, 1, spoof4)).toBe(0);
  });

  it('drops a spoofed IPv6 source; the legitimate source still works', async () => {
    // the /128 spoofed address wins source selection: the legitimate one is chosen explicitly
    expect(await ns(a).ping(b.ipv6, 2, 2, a.ipv6)).toBeGreaterThan(0);
    expect(await ns(a).ping(b.ipv6, 3, 1, spoof6)).toBe(0);
  });

  it('the same spoof passes from a port without port_security', async () => {
    // one pod at a time holds the spoofed addresses, so beta's replies have one owner
    await ns(a).exec('ip', ['addr', 'del', `${spoof4}/32`, 'dev', 'eth0']);
    await ns(a).exec('ip', ['addr', 'del', `${spoof6}/128`, 'dev', 'eth0']);
    await ns(b).exec('ip', ['neigh', 'flush', 'all']);
    expect(await ns(open).ping(b.ipv4, 3, 2, spoof4)).toBeGreaterThan(0);
    expect(await ns(open).ping(b.ipv6, 3, 2, spoof6)).toBeGreaterThan(0);
  });
});
