import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CniError } from '../../src/cni/errors.js';
import { appendResult, formatResult, type CniResult } from '../../src/cni/result.js';
import { tapDeviceDir } from '../../src/nic/nic-options.js';
import { DEFAULT_TAP_DEVICE_DIR, ensureTapNode, listOrphanTapNodes, removeTapNode, tapNodeDirName, tapNodePath } from '../../src/nic/tap-node.js';

describe('tapDeviceDir', () => {
  it('defaults, accepts an absolute path, rejects anything else with code 7', () => {
    expect(tapDeviceDir({ raw: {} })).toBe(DEFAULT_TAP_DEVICE_DIR);
    expect(tapDeviceDir({ raw: { tapDeviceDir: '' } })).toBe(DEFAULT_TAP_DEVICE_DIR);
    expect(tapDeviceDir({ raw: { tapDeviceDir: '/var/run/taps' } })).toBe('/var/run/taps');
    for (const bad of ['taps', 42, true, ['/x']]) {
      let caught: unknown;
      try {
        tapDeviceDir({ raw: { tapDeviceDir: bad } });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CniError);
      expect((caught as CniError).code).toBe(7);
      expect((caught as CniError).msg).toContain('"tapDeviceDir"');
    }
  });
});

describe('result extensions', () => {
  const own: CniResult = {
    interfaces: [{ name: 'p_h' }, { name: 'eth0', sandbox: '/run/netns/x' }],
    ips: [{ address: '10.0.0.5/24', interface: 1 }],
    routes: [],
    dns: {},
    extensions: { 'ovnic.dev/tap': { device: '/dev/tap7', major: 240, minor: 1 }, cniVersion: 'ignored' },
  };

  it('are written after the standard keys in every version and never replace one', () => {
    for (const version of ['0.4.0', '1.0.0', '1.1.0']) {
      const out = formatResult(own, version);
      expect(out['ovnic.dev/tap']).toEqual({ device: '/dev/tap7', major: 240, minor: 1 });
      expect(out.cniVersion).toBe(version);
      expect(Object.keys(out).at(-1)).toBe('ovnic.dev/tap');
    }
    const { extensions: _unused, ...plain } = own;
    expect(Object.keys(formatResult(plain, '1.1.0'))).not.toContain('ovnic.dev/tap');
  });

  it('survive chaining after a prevResult', () => {
    const prev: CniResult = { interfaces: [{ name: 'lo0' }], ips: [], routes: [], dns: {} };
    const chained = appendResult(prev, own);
    expect(chained.extensions?.['ovnic.dev/tap']).toEqual({ device: '/dev/tap7', major: 240, minor: 1 });
    expect(chained.ips[0]?.interface).toBe(2);
    expect(appendResult(prev, { ...prev, interfaces: [] }).extensions).toBeUndefined();
  });
});

describe('tap device nodes', () => {
  let base: string;
  const owner = { containerId: 'abcdef0123456789', ifname: 'net1', network: 'n1' };
  // /dev/null's numbers: any char device works for the node itself
  const NULL_MAJOR = 1;
  const NULL_MINOR = 3;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'ovnic-tapnode-'));
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('names the directory after the 12-character container ID prefix and ifname', () => {
    expect(tapNodeDirName(owner.containerId, owner.ifname)).toBe('abcdef012345-net1');
    expect(tapNodePath('/run/ovnic/tap', owner.containerId, 'eth0')).toBe('/run/ovnic/tap/abcdef012345-eth0/tap');
  });

  it('creates the node (0600), replaces a stale one, and removes it again', async () => {
    const made = await ensureTapNode(join(base, 'sub'), owner, NULL_MAJOR, NULL_MINOR);
    expect(made).toEqual({ path: join(base, 'sub', 'abcdef012345-net1', 'tap'), created: true });
    const stat = lstatSync(made.path);
    expect(stat.isCharacterDevice()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    // an earlier ADD left a node with other numbers
    expect(await ensureTapNode(join(base, 'sub'), owner, NULL_MAJOR, 5)).toEqual({ path: made.path, created: false });
    expect(Number(lstatSync(made.path, { bigint: true }).rdev & 0xffn)).toBe(5);
    expect(await removeTapNode(join(base, 'sub'), owner.containerId, owner.ifname)).toBe(true);
    expect(readdirSync(join(base, 'sub'))).toEqual([]);
    expect(await removeTapNode(join(base, 'sub'), owner.containerId, owner.ifname)).toBe(false);
  });

  it('refuses and keeps a directory of another attachment with the same name', async () => {
    await ensureTapNode(base, owner, NULL_MAJOR, NULL_MINOR);
    const twin = { ...owner, containerId: `${owner.containerId}ff` };
    await expect(ensureTapNode(base, twin, NULL_MAJOR, NULL_MINOR)).rejects.toThrow(/belongs to container abcdef0123456789 ifname net1/);
    expect(await removeTapNode(base, twin.containerId, twin.ifname)).toBe(false);
    expect(lstatSync(tapNodePath(base, owner.containerId, owner.ifname)).isCharacterDevice()).toBe(true);
  });

  it('lists orphans of one network only, trusting only records in their own directory', async () => {
    await ensureTapNode(base, owner, NULL_MAJOR, NULL_MINOR);
    await ensureTapNode(base, { containerId: 'bbbbbbbbbbbbvalid', ifname: 'eth0', network: 'n1' }, NULL_MAJOR, NULL_MINOR);
    await ensureTapNode(base, { containerId: 'ccccccccccccother', ifname: 'eth0', network: 'n2' }, NULL_MAJOR, NULL_MINOR);
    mkdirSync(join(base, 'copied'));
    writeFileSync(join(base, 'copied', '.ovnic-attachment'), JSON.stringify(owner));
    mkdirSync(join(base, 'not-ours'));
    const valid = (cid: string, ifname: string): boolean => cid === 'bbbbbbbbbbbbvalid' && ifname === 'eth0';
    expect(await listOrphanTapNodes(base, 'n1', valid)).toEqual([owner]);
    expect(await listOrphanTapNodes(join(base, 'missing'), 'n1', valid)).toEqual([]);
  });

  it('never removes a path outside the base directory', async () => {
    mkdirSync(join(base, 'victim'));
    expect(await removeTapNode(join(base, 'sub'), '../victim', 'x')).toBe(false);
    expect(await removeTapNode(base, '..', 'x')).toBe(false);
    expect(readdirSync(base)).toEqual(['victim']);
  });
});
