/**
 * Per-netns sysctls. /proc/sys/net resolves against the netns of the thread that opens the
 * file, so the file is opened and written while the thread is switched into the namespace.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { NetlinkError } from './errors.js';
import { inNetns, type Netns } from './netns.js';

/**
 * "net.ipv6.conf.eth0.disable_ipv6" or "net/ipv6/conf/eth0.100/disable_ipv6" → path under
 * /proc/sys. Use the slash form when a component (an interface name) contains dots.
 */
export function sysctlPath(key: string): string {
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..' || /\s/.test(p))) {
    throw new TypeError(`invalid sysctl key "${key}"`);
  }
  return `/proc/sys/${parts.join('/')}`;
}

function fail(error: unknown, operation: string): never {
  const e = error as NodeJS.ErrnoException;
  const detail = e.code === 'ENOENT' ? 'no such sysctl in that namespace (does the interface exist there?)' : e.message;
  throw new NetlinkError(e.code ?? 'EUNKNOWN', Math.abs(e.errno ?? 0), operation, detail);
}

/** Writes a sysctl in `netns` (own netns when undefined). */
export function setSysctl(key: string, value: string | number, netns?: Netns): void {
  const path = sysctlPath(key);
  try {
    inNetns(netns, () => writeFileSync(path, String(value)));
  } catch (error) {
    fail(error, `set sysctl ${key}=${value}${netns ? ` in ${netns.path}` : ''}`);
  }
}

/** Reads a sysctl in `netns` (own netns when undefined), trimmed. */
export function getSysctl(key: string, netns?: Netns): string {
  const path = sysctlPath(key);
  try {
    return inNetns(netns, () => readFileSync(path, 'utf8')).trim();
  } catch (error) {
    fail(error, `get sysctl ${key}${netns ? ` in ${netns.path}` : ''}`);
  }
}
