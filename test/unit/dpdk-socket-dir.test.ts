import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_VHOST_SOCKET_BASE,
  MAX_SOCKET_PATH_BYTES,
  OWNER_FILE,
  assertSocketPathFits,
  ensureVhostSocketDir,
  listOrphanVhostSocketDirs,
  removeVhostSocketDir,
  vhostSocketDirName,
  vhostSocketLocation,
} from '../../src/dpdk/index.js';

const CID = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const cid = (): string => randomBytes(32).toString('hex');

describe('vhost socket directory naming', () => {
  it('uses the first 12 characters of the container ID and the ifName', () => {
    expect(vhostSocketDirName(CID, 'net1')).toBe('0123456789ab-net1');
    expect(vhostSocketDirName('podman_1', 'eth0')).toBe('podman_1-eth0');
    expect(vhostSocketDirName(CID, 'net1')).toBe(vhostSocketDirName(CID, 'net1'));
  });

  it.each(['', '-abc', '.abc', 'a/b', '../x', 'a b', 'a:b'])('rejects container ID %j', (bad) => {
    expect(() => vhostSocketDirName(bad, 'net1')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it.each(['', '.', '..', 'a/b', 'a:b', 'a b', 'tab\tx', '0123456789abcdef'])('rejects ifName %j', (bad) => {
    expect(() => vhostSocketDirName(CID, bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('places the socket, named after the ifName by default, in the attachment directory', () => {
    expect(vhostSocketLocation({ containerId: CID, ifName: 'net1' })).toEqual({
      dir: `${DEFAULT_VHOST_SOCKET_BASE}/0123456789ab-net1`,
      socketPath: `${DEFAULT_VHOST_SOCKET_BASE}/0123456789ab-net1/net1`,
    });
    expect(vhostSocketLocation({ containerId: CID, ifName: 'net1' }, { baseDir: '/b', socketName: 'sock' }).socketPath).toBe(
      '/b/0123456789ab-net1/sock',
    );
    // the longest ifName under the default base still fits
    expect(vhostSocketLocation({ containerId: CID, ifName: '0123456789abcde' }).socketPath.length).toBeLessThan(MAX_SOCKET_PATH_BYTES);
  });

  it('rejects a relative base and bad socket names', () => {
    expect(() => vhostSocketLocation({ containerId: CID, ifName: 'net1' }, { baseDir: 'rel/base' })).toThrow(/absolute/);
    for (const socketName of ['', '..', 'a/b', OWNER_FILE]) {
      expect(() => vhostSocketLocation({ containerId: CID, ifName: 'net1' }, { socketName })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('sun_path limit', () => {
  it('accepts 107 bytes and rejects 108, naming the length', () => {
    expect(() => assertSocketPathFits(`/${'a'.repeat(106)}`)).not.toThrow();
    const long = `/${'a'.repeat(107)}`;
    expect(() => assertSocketPathFits(long)).toThrow(
      expect.objectContaining({ code: 'SOCKET_PATH_TOO_LONG', message: expect.stringContaining(`${long} is 108 bytes`) }),
    );
  });

  it('counts bytes, not characters', () => {
    const path = `/${'é'.repeat(54)}`; // 55 characters, 109 bytes
    expect(() => assertSocketPathFits(path)).toThrow(/is 109 bytes; a unix socket path can have at most 107 bytes/);
  });

  it('checks the full socket path of an attachment under a long base', () => {
    const att = { containerId: CID, ifName: 'net1' };
    // base (N+1) + "/0123456789ab-net1" (18) + "/net1" (5)
    expect(vhostSocketLocation(att, { baseDir: `/${'b'.repeat(83)}` }).socketPath).toHaveLength(107);
    expect(() => vhostSocketLocation(att, { baseDir: `/${'b'.repeat(84)}` })).toThrow(
      expect.objectContaining({ code: 'SOCKET_PATH_TOO_LONG', message: expect.stringContaining('/net1 is 108 bytes') }),
    );
  });
});

describe('vhost socket directories on disk', () => {
  let baseDir: string;
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ovnic-vhu-unit-'));
    baseDir = join(root, 'vhost_sockets'); // created on demand
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a world-writable directory with an owner record, idempotently', async () => {
    const att = { containerId: cid(), ifName: 'net1', network: 'dpdk-a' };
    const first = await ensureVhostSocketDir(att, { baseDir });
    expect(first.created).toBe(true);
    expect(first.dir).toBe(join(baseDir, vhostSocketDirName(att.containerId, 'net1')));
    expect(statSync(first.dir).mode & 0o777).toBe(0o777);
    expect(JSON.parse(readFileSync(join(first.dir, OWNER_FILE), 'utf8'))).toEqual(att);

    writeFileSync(first.socketPath, ''); // what the VM leaves there
    const second = await ensureVhostSocketDir(att, { baseDir });
    expect(second).toEqual({ ...first, created: false });
    expect(existsSync(first.socketPath)).toBe(true);
  });

  it('refuses a directory owned by another attachment with the same short name, changing nothing', async () => {
    const a = { containerId: `${'c'.repeat(12)}aaaa`, ifName: 'net1' };
    const b = { containerId: `${'c'.repeat(12)}bbbb`, ifName: 'net1' };
    const loc = await ensureVhostSocketDir(a, { baseDir });
    await expect(ensureVhostSocketDir(b, { baseDir })).rejects.toMatchObject({
      code: 'SOCKET_DIR_CONFLICT',
      message: expect.stringContaining(`belongs to container ${a.containerId} interface net1`),
    });
    expect(JSON.parse(readFileSync(join(loc.dir, OWNER_FILE), 'utf8'))).toEqual(a);
    expect(await removeVhostSocketDir(b, { baseDir })).toBe(false);
    expect(existsSync(loc.dir)).toBe(true);
  });

  it('refuses a path that is not a directory', async () => {
    const att = { containerId: cid(), ifName: 'net1' };
    mkdirSync(baseDir);
    writeFileSync(join(baseDir, vhostSocketDirName(att.containerId, 'net1')), 'x');
    await expect(ensureVhostSocketDir(att, { baseDir })).rejects.toMatchObject({ code: 'SOCKET_DIR_CONFLICT' });
    expect(await removeVhostSocketDir(att, { baseDir })).toBe(false);
  });

  it('removes the directory with its contents and tolerates it missing', async () => {
    const att = { containerId: cid(), ifName: 'net2' };
    const loc = await ensureVhostSocketDir(att, { baseDir });
    writeFileSync(loc.socketPath, '');
    expect(await removeVhostSocketDir(att, { baseDir })).toBe(true);
    expect(existsSync(loc.dir)).toBe(false);
    expect(await removeVhostSocketDir(att, { baseDir })).toBe(false);
    expect(await removeVhostSocketDir(att, { baseDir: join(root, 'never-created') })).toBe(false);
  });

  it('lists as orphans only its own directories of attachments not in the valid set', async () => {
    const keep = { containerId: cid(), ifName: 'net1', network: 'a' };
    const goneA1 = { containerId: cid(), ifName: 'net1', network: 'a' };
    const goneA2 = { containerId: keep.containerId, ifName: 'net2', network: 'a' };
    const otherNet = { containerId: cid(), ifName: 'net1', network: 'b' };
    for (const att of [keep, goneA1, goneA2, otherNet]) await ensureVhostSocketDir(att, { baseDir });
    // not ours: no owner record (e.g. Kube-OVN's <podUID> dirs), and a record copied under a foreign name
    mkdirSync(join(baseDir, '5f0c1f7e-3c55-4a57-8a55-1b0c3e9d2f10'));
    mkdirSync(join(baseDir, 'copied'));
    writeFileSync(join(baseDir, 'copied', OWNER_FILE), JSON.stringify(goneA1));
    writeFileSync(join(baseDir, 'stray-file'), '');

    const valid = [{ containerId: keep.containerId, ifName: 'net1' }];
    const inA = await listOrphanVhostSocketDirs(valid, { baseDir, network: 'a' });
    expect(inA.map((o) => o.dir).sort()).toEqual(
      [goneA1, goneA2].map((g) => join(baseDir, vhostSocketDirName(g.containerId, g.ifName))).sort(),
    );
    expect(inA.find((o) => o.containerId === goneA1.containerId)).toEqual({
      dir: join(baseDir, vhostSocketDirName(goneA1.containerId, 'net1')),
      ...goneA1,
    });

    const all = await listOrphanVhostSocketDirs(valid, { baseDir });
    expect(all.map((o) => o.network).sort()).toEqual(['a', 'a', 'b']);
    expect(await listOrphanVhostSocketDirs([keep, goneA1, goneA2, otherNet], { baseDir })).toEqual([]);
    expect(await listOrphanVhostSocketDirs([], { baseDir: join(root, 'missing') })).toEqual([]);
  });
});
