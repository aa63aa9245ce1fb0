/**
 * Delegated IPAM against Debian's real plugins in /usr/lib/cni (containernetworking-plugins
 * 1.1.1, which speaks up to CNI 1.0.0), plus a recording shell plugin for what the real ones
 * cannot show (GC/STATUS forwarding, exact env and stdin, timeouts).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamDelegate, findPlugin } from '../../src/cni/ipam.js';
import { CniError } from '../../src/cni/errors.js';
import { loadNetConf } from '../../src/cni/config.js';

const CNI_DIR = '/usr/lib/cni';
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ovnic-ipam-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function hostLocalConf(dataDir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'ipamnet',
    type: 'ovnic',
    ipam: {
      type: 'host-local',
      dataDir,
      ranges: [[{ subnet: '10.77.0.0/24', gateway: '10.77.0.1' }], [{ subnet: 'fd00:77::/64', gateway: 'fd00:77::1' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    },
    ...over,
  };
}

function delegate(conf: Record<string, unknown>, containerId: string, extraEnv: Record<string, string> = {}, cniPath = [CNI_DIR], timeoutMs?: number): IpamDelegate {
  const stdin = JSON.stringify(conf);
  const parsed = loadNetConf(stdin, 'ADD');
  const env = { PATH: process.env.PATH, CNI_CONTAINERID: containerId, CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: cniPath.join(':'), ...extraEnv };
  const ipam = parsed.ipam;
  if (!ipam) throw new Error('conf without ipam');
  return new IpamDelegate({ type: ipam.type, cniPath, env, stdin, cniVersion: parsed.cniVersion, prevResult: parsed.prevResult, timeoutMs });
}

const reservations = (dataDir: string): string[] =>
  existsSync(join(dataDir, 'ipamnet')) ? readdirSync(join(dataDir, 'ipamnet')).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.') !== f.includes(':')).sort() : [];

async function cniError(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('expected a CniError');
}

describe('host-local (real)', () => {
  it('dual-stack ADD on a 1.1.0 conf returns both addresses (falls back to 1.0.0), DEL releases, DEL again succeeds', async () => {
    const dataDir = join(work, 'hl-basic');
    const d = delegate(hostLocalConf(dataDir), 'ctr-basic');
    const result = await d.add();
    expect(result).toEqual({
      interfaces: [],
      ips: [
        { address: '10.77.0.2/24', gateway: '10.77.0.1' },
        { address: 'fd00:77::2/64', gateway: 'fd00:77::1' },
      ],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
      dns: {},
    });
    expect(reservations(dataDir)).toEqual(['10.77.0.2', 'fd00:77::2']);
    expect(readFileSync(join(dataDir, 'ipamnet', '10.77.0.2'), 'utf8')).toContain('ctr-basic');

    await d.check();
    await d.del();
    expect(reservations(dataDir)).toEqual([]);
    await d.del();
    expect(await cniError(d.check())).toMatchObject({ msg: expect.stringContaining('Failed to find address') });
  });

  it('a 0.3.1 conf gets a legacy result, parsed the same', async () => {
    const dataDir = join(work, 'hl-031');
    const d = delegate(hostLocalConf(dataDir, { cniVersion: '0.3.1' }), 'ctr-031');
    const result = await d.add();
    expect(result.ips.map((i) => i.address)).toEqual(['10.77.0.2/24', 'fd00:77::2/64']);
    await d.del();
  });

  it('honours IP= from CNI_ARGS', async () => {
    const dataDir = join(work, 'hl-args');
    const d = delegate(hostLocalConf(dataDir), 'ctr-args', { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.77.0.50' });
    const result = await d.add();
    expect(result.ips[0]?.address).toBe('10.77.0.50/24');
    expect(result.ips[1]?.address).toMatch(/^fd00:77::/);
    await d.del();
    expect(reservations(dataDir)).toEqual([]);
  });

  it('honours runtimeConfig.ips for both families', async () => {
    const dataDir = join(work, 'hl-rc');
    const conf = hostLocalConf(dataDir, { capabilities: { ips: true }, runtimeConfig: { ips: ['10.77.0.77/24', 'fd00:77::77/64'] } });
    const d = delegate(conf, 'ctr-rc');
    expect((await d.add()).ips.map((i) => i.address)).toEqual(['10.77.0.77/24', 'fd00:77::77/64']);
    await d.del();
  });

  it('propagates the plugin\'s own error (code and msg), naming the plugin', async () => {
    const dataDir = join(work, 'hl-conflict');
    const first = delegate(hostLocalConf(dataDir), 'ctr-a', { CNI_ARGS: 'IP=10.77.0.60' });
    await first.add();
    const second = delegate(hostLocalConf(dataDir), 'ctr-b', { CNI_ARGS: 'IP=10.77.0.60' });
    const e = await cniError(second.add());
    expect(e.code).toBe(999);
    expect(e.msg).toContain('requested IP address 10.77.0.60 is not available');
    expect(e.details).toContain('ipam plugin "host-local"');
    await first.del();
  });

  it('addWithRollback releases the allocation when the caller fails', async () => {
    const dataDir = join(work, 'hl-rollback');
    const d = delegate(hostLocalConf(dataDir), 'ctr-rb');
    const boom = new Error('veth creation failed');
    await expect(
      d.addWithRollback(async (r) => {
        expect(reservations(dataDir)).toHaveLength(2);
        expect(r.ips).toHaveLength(2);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(reservations(dataDir)).toEqual([]);
  });

  it('GC and STATUS are skipped for a delegate that predates 1.1.0', async () => {
    const d = delegate(hostLocalConf(join(work, 'hl-gc')), 'ctr-gc');
    expect(await d.versions()).not.toContain('1.1.0');
    expect(await d.gc()).toBe(false);
    expect(await d.status()).toBe(false);
  });
});

describe('static (real)', () => {
  const staticConf = (over: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0',
    name: 'ipamnet',
    type: 'ovnic',
    ipam: {
      type: 'static',
      addresses: [{ address: '10.78.0.5/24', gateway: '10.78.0.1' }, { address: 'fd00:78::5/64', gateway: 'fd00:78::1' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.78.0.53'], search: ['example.test'] },
    },
    ...over,
  });

  it('returns the configured addresses, routes and dns', async () => {
    const result = await delegate(staticConf(), 'ctr-s').add();
    expect(result).toEqual({
      interfaces: [],
      ips: [
        { address: '10.78.0.5/24', gateway: '10.78.0.1' },
        { address: 'fd00:78::5/64', gateway: 'fd00:78::1' },
      ],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.78.0.53'], search: ['example.test'] },
    });
  });

  it('IP= (CIDR) from CNI_ARGS is added to the configured addresses', async () => {
    const result = await delegate(staticConf(), 'ctr-s', { CNI_ARGS: 'IgnoreUnknown=1;IP=10.79.0.9/24' }).add();
    expect(result.ips.map((i) => i.address)).toEqual(['10.78.0.5/24', 'fd00:78::5/64', '10.79.0.9/24']);
  });

  it('runtimeConfig.ips', async () => {
    const result = await delegate(staticConf({ capabilities: { ips: true }, runtimeConfig: { ips: ['10.80.0.1/16', 'fd00:80::1/64'] } }), 'ctr-s').add();
    expect(result.ips.map((i) => i.address)).toEqual(['10.80.0.1/16', 'fd00:80::1/64']);
  });

  it('a config static rejects → its error code is propagated', async () => {
    const conf = staticConf();
    (conf.ipam as Record<string, unknown>).addresses = [{ address: 'not-an-ip' }];
    const e = await cniError(delegate(conf, 'ctr-s').add());
    expect(e.code).not.toBe(0);
    expect(e.details).toContain('ipam plugin "static"');
  });
});

describe('lookup, environment, stdin, timeouts (recording plugin)', () => {
  let bin: string;
  let record: string;

  beforeAll(() => {
    bin = join(work, 'bin');
    record = join(work, 'record');
    mkdirSync(bin, { recursive: true });
    mkdirSync(record, { recursive: true });
    // A CNI IPAM plugin speaking 1.1.0 that records what it was given.
    writeFileSync(
      join(bin, 'rec-ipam'),
      `#!/bin/sh
set -e
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'; exit 0; fi
cat > "${record}/$CNI_COMMAND.stdin"
env | grep -E '^(CNI_|MARKER=)' | sort > "${record}/$CNI_COMMAND.env"
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.1.0","ips":[{"address":"192.0.2.7/24"}]}'; fi
if [ "$CNI_COMMAND" = STATUS ]; then echo '{"cniVersion":"1.1.0","code":50,"msg":"pool exhausted","details":"0 free"}'; exit 1; fi
exit 0
`,
    );
    writeFileSync(join(bin, 'slow-ipam'), '#!/bin/sh\nexec sleep 30\n');
    writeFileSync(join(bin, 'garbage-ipam'), '#!/bin/sh\necho "not json"; exit 3\n');
    writeFileSync(join(bin, 'not-executable'), '#!/bin/sh\nexit 0\n');
    for (const f of ['rec-ipam', 'slow-ipam', 'garbage-ipam']) chmodSync(join(bin, f), 0o755);
  });

  const conf = (type: string) => ({ cniVersion: '1.1.0', name: 'ipamnet', type: 'ovnic', ipam: { type }, 'cni.dev/valid-attachments': [] });

  it('finds the first executable in CNI_PATH order, and lists the dirs when missing (7)', () => {
    expect(findPlugin('host-local', ['/nonexistent', CNI_DIR])).toBe(join(CNI_DIR, 'host-local'));
    expect(() => findPlugin('not-executable', [bin])).toThrow(/failed to find plugin "not-executable" in path/);
    const e = (() => {
      try {
        findPlugin('nope', ['/a', '/b']);
      } catch (err) {
        return err as CniError;
      }
      throw new Error('found');
    })();
    expect(e.code).toBe(7);
    expect(e.msg).toBe('failed to find plugin "nope" in path [/a /b]');
  });

  it('passes the same env (CNI_COMMAND per op) and the same stdin bytes, for every operation', async () => {
    const text = JSON.stringify(conf('rec-ipam'));
    const env = { MARKER: 'm1', CNI_CONTAINERID: 'c1', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_ARGS: 'A=1', CNI_PATH: bin, CNI_COMMAND: 'ADD' };
    const d = new IpamDelegate({ type: 'rec-ipam', cniPath: [bin], env, stdin: text, cniVersion: '1.1.0' });
    expect((await d.add()).ips).toEqual([{ address: '192.0.2.7/24' }]);
    await d.check();
    await d.del();
    expect(await d.gc()).toBe(true);
    const status = await cniError(d.status());
    expect(status).toMatchObject({ code: 50, msg: 'pool exhausted', details: 'ipam plugin "rec-ipam": 0 free' });
    for (const op of ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS']) {
      expect(readFileSync(join(record, `${op}.stdin`), 'utf8')).toBe(text);
      expect(readFileSync(join(record, `${op}.env`), 'utf8')).toBe(
        `CNI_ARGS=A=1\nCNI_COMMAND=${op}\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\nCNI_NETNS=/n\nCNI_PATH=${bin}\nMARKER=m1\n`,
      );
    }
  });

  it('a hanging plugin is killed after the timeout → 11', async () => {
    const d = new IpamDelegate({ type: 'slow-ipam', cniPath: [bin], env: {}, stdin: '{}', cniVersion: '1.1.0', timeoutMs: 300 });
    const started = Date.now();
    const e = await cniError(d.add());
    expect(e.code).toBe(11);
    expect(e.msg).toContain('timed out after 300 ms');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('non-JSON failure output → 999 with the exit status and output', async () => {
    const d = new IpamDelegate({ type: 'garbage-ipam', cniPath: [bin], env: {}, stdin: '{}', cniVersion: '1.1.0' });
    const e = await cniError(d.add());
    expect(e.code).toBe(999);
    expect(e.msg).toContain('exited with status 3');
    expect(e.details).toBe('not json');
  });
});
