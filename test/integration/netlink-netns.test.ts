import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, NetlinkError, Rtnl, getSysctl, setSysctl } from '../../src/netlink/index.js';
import { setnsAddon } from '../../src/netlink/native.js';

const run = promisify(execFile);
const ns = `nlt-ns-${randomBytes(3).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;

const threadNetns = (): string => readlinkSync('/proc/thread-self/ns/net');
const netnsOf = (path: string): string => `net:[${statSync(path).ino}]`;

describe('Netns', () => {
  let original: string;
  beforeAll(async () => {
    await run('ip', ['netns', 'add', ns]);
    original = threadNetns();
  });
  afterAll(async () => {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  });

  it('runs code inside the namespace and switches back', () => {
    const netns = Netns.open(nsPath);
    try {
      expect(netns.run(threadNetns)).toBe(netnsOf(nsPath));
      expect(netns.run(threadNetns)).not.toBe(original);
      expect(threadNetns()).toBe(original);
    } finally {
      netns.close();
    }
  });

  it('switches back when the function throws, and the error reaches the caller unchanged', () => {
    const netns = Netns.open(nsPath);
    const boom = new Error('boom');
    try {
      expect(() =>
        netns.run(() => {
          throw boom;
        }),
      ).toThrow(boom);
      expect(threadNetns()).toBe(original);
    } finally {
      netns.close();
    }
  });

  it('refuses async functions and is back in its own namespace afterwards', () => {
    const netns = Netns.open(nsPath);
    try {
      expect(() => netns.run(async () => 1)).toThrow(/synchronous function/);
      expect(threadNetns()).toBe(original);
    } finally {
      netns.close();
    }
  });

  it('nests: an inner switch returns to the outer namespace', () => {
    const inner = Netns.open(nsPath);
    const outer = Netns.current();
    try {
      const seen = inner.run(() => [threadNetns(), outer.run(threadNetns), threadNetns()]);
      expect(seen).toEqual([netnsOf(nsPath), original, netnsOf(nsPath)]);
      expect(threadNetns()).toBe(original);
    } finally {
      inner.close();
      outer.close();
    }
  });

  it('identifies namespaces', () => {
    const a = Netns.open(nsPath);
    const b = Netns.open(`/proc/${process.pid}/ns/net`);
    const c = Netns.current();
    const d = Netns.open(nsPath);
    try {
      expect(a.sameAs(d)).toBe(true);
      expect(a.sameAs(b)).toBe(false);
      expect(b.sameAs(c)).toBe(true);
    } finally {
      [a, b, c, d].forEach((n) => n.close());
    }
  });

  it('gives typed errors for a missing path and for files that are not a network namespace', () => {
    expect(() => Netns.open('/run/netns/nlt-does-not-exist')).toThrow(NetlinkError);
    expect(() => Netns.open('/run/netns/nlt-does-not-exist')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => Netns.open('/proc/self/ns/uts')).toThrow(/not a network namespace/);
    expect(() => Netns.open('/etc/hostname')).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/not a namespace file/) }));
  });

  it('refuses to run on a closed handle; close is idempotent', () => {
    const netns = Netns.open(nsPath);
    netns.close();
    netns.close();
    expect(netns.closed).toBe(true);
    expect(() => netns.run(() => 1)).toThrow(/closed/);
  });

  it('addon errors carry code, errno and syscall; a failed switch changes nothing', () => {
    const addon = setnsAddon();
    let caught: (Error & { code?: string; errno?: number; syscall?: string }) | undefined;
    try {
      addon.runInNetns(987654, () => 1);
    } catch (error) {
      caught = error as typeof caught;
    }
    expect(caught).toMatchObject({ code: 'EBADF', errno: 9, syscall: 'setns' });
    expect(caught?.message).toMatch(/setns\(fd 987654, CLONE_NEWNET\): Bad file descriptor/);
    expect(threadNetns()).toBe(original);
  });
});

describe('Rtnl.open', () => {
  beforeAll(async () => {
    await run('ip', ['netns', 'add', `${ns}-r`]);
  });
  afterAll(async () => {
    await run('ip', ['netns', 'del', `${ns}-r`]).catch(() => undefined);
  });

  it('binds the socket to the namespace for its whole life', async () => {
    const rtnl = Rtnl.open(`/run/netns/${ns}-r`);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect((await rtnl.listLinks()).map((l) => l.name)).toEqual(['lo']);
      expect(threadNetns()).toBe(readlinkSync(`/proc/${process.pid}/ns/net`));
    } finally {
      rtnl.close();
      rtnl.close();
    }
  });

  it('fails with a typed error for a missing namespace and refuses calls after close', async () => {
    expect(() => Rtnl.open('/run/netns/nlt-missing')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const rtnl = Rtnl.open();
    rtnl.close();
    await expect(Promise.resolve().then(() => rtnl.listLinks())).rejects.toThrow(/closed/);
  });
});

describe('sysctl in a namespace', () => {
  const sns = `${ns}-s`;
  beforeAll(async () => {
    await run('ip', ['netns', 'add', sns]);
  });
  afterAll(async () => {
    await run('ip', ['netns', 'del', sns]).catch(() => undefined);
  });

  it('writes the namespace value and leaves ours alone', async () => {
    const netns = Netns.open(`/run/netns/${sns}`);
    try {
      const ours = getSysctl('net.ipv4.conf.all.arp_ignore');
      const value = ours === '2' ? '1' : '2';
      setSysctl('net.ipv4.conf.all.arp_ignore', value, netns);
      expect(getSysctl('net/ipv4/conf/all/arp_ignore', netns)).toBe(value);
      const seen = await run('ip', ['netns', 'exec', sns, 'sysctl', '-n', 'net.ipv4.conf.all.arp_ignore']);
      expect(seen.stdout.trim()).toBe(value);
      expect(getSysctl('net.ipv4.conf.all.arp_ignore')).toBe(ours);
    } finally {
      netns.close();
    }
  });

  it('names the key and the namespace when the key does not exist there', () => {
    const netns = Netns.open(`/run/netns/${sns}`);
    try {
      expect(() => setSysctl('net.ipv6.conf.nlt-none0.accept_dad', 0, netns)).toThrow(
        expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/nlt-none0.*does the interface exist/) }),
      );
    } finally {
      netns.close();
    }
  });
});
