/**
 * The character device of a macvtap (/dev/tapN). The kernel names it tap<ifindex>, but ifindexes
 * are per netns: devtmpfs keeps whichever /dev/tapN was created first, so the host's node may
 * belong to another namespace's macvtap. Trust only major:minor, read from the sysfs of the
 * macvtap's own netns (a detached sysfs mount made while switched into it; nothing is mounted
 * anywhere), and create the node where the consumer wants it.
 */
import { chmodSync, closeSync, lstatSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { NetlinkError } from './errors.js';
import { validateLinkName } from './links.js';
import { setnsAddon } from './native.js';
import { inNetns, type Netns } from './netns.js';

export interface TapDevice {
  /** Conventional path, /dev/tap<ifindex>; see the module note before trusting the host's node. */
  path: string;
  ifindex: number;
  major: number;
  minor: number;
}

/** Finds the tap char device of macvtap `ifname` living in `netns` (own netns when undefined). */
export function macvtapDevice(ifname: string, netns?: Netns): TapDevice {
  validateLinkName(ifname);
  const operation = `find the tap device of macvtap "${ifname}"${netns ? ` in ${netns.path}` : ''}`;
  return inNetns(netns, () => {
    const addon = setnsAddon();
    const mount = addon.mountSysfs();
    try {
      const dir = `/proc/self/fd/${mount}/class/net/${ifname}`;
      let entries: string[];
      try {
        entries = readdirSync(`${dir}/macvtap`);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
        const exists = (() => {
          try {
            readFileSync(`${dir}/ifindex`);
            return true;
          } catch {
            return false;
          }
        })();
        throw new NetlinkError(exists ? 'EINVAL' : 'ENODEV', exists ? 22 : 19, operation,
          exists ? 'the link is not a macvtap' : `no such link (${code})`);
      }
      const tap = entries.find((e) => /^tap\d+$/.test(e));
      if (!tap) throw new NetlinkError('ENOENT', 2, operation, 'sysfs lists no tap device for it');
      const dev = readFileSync(`${dir}/macvtap/${tap}/dev`, 'utf8').trim();
      const match = /^(\d+):(\d+)$/.exec(dev);
      if (!match) throw new NetlinkError('EINVAL', 22, operation, `unexpected device number "${dev}"`);
      return { path: `/dev/${tap}`, ifindex: Number(tap.slice(3)), major: Number(match[1]), minor: Number(match[2]) };
    } finally {
      closeSync(mount);
    }
  });
}

export type CharDeviceResult = 'created' | 'exists' | 'replaced';

/**
 * Makes `path` a character device major:minor with `mode` (default 0600). An existing matching
 * node is kept; a node with other numbers is an EEXIST error unless `replace` is set.
 */
export function ensureCharDevice(
  path: string,
  major: number,
  minor: number,
  options: { mode?: number; replace?: boolean } = {},
): CharDeviceResult {
  const operation = `create char device ${path} (${major}:${minor})`;
  let replaced = false;
  try {
    const stat = lstatSync(path);
    const matches = stat.isCharacterDevice() && devMajor(stat.rdev) === major && devMinor(stat.rdev) === minor;
    if (matches) return 'exists';
    if (!options.replace) {
      const what = stat.isCharacterDevice() ? `char device ${devMajor(stat.rdev)}:${devMinor(stat.rdev)}` : 'a non-device file';
      throw new NetlinkError('EEXIST', 17, operation, `${path} already exists as ${what}`);
    }
    unlinkSync(path);
    replaced = true;
  } catch (error) {
    if (error instanceof NetlinkError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const mode = options.mode ?? 0o600;
  try {
    setnsAddon().mknodChar(path, mode, major, minor);
    chmodSync(path, mode); // mknod applies the umask
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new NetlinkError(e.code ?? 'EUNKNOWN', Math.abs(e.errno ?? 0), operation, e.message);
  }
  return replaced ? 'replaced' : 'created';
}

/** Linux dev_t encoding (glibc gnu_dev_major / gnu_dev_minor). */
function devMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function devMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}
