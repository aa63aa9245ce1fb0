/**
 * Host-side character device nodes for macvtap NICs, one directory per attachment:
 *
 *   <tapDeviceDir>/<containerID[:12]>-<ifname>/tap                 char device major:minor (0600)
 *   <tapDeviceDir>/<containerID[:12]>-<ifname>/.ovnic-attachment   owner record (JSON)
 *
 * The kernel's own /dev/tap<ifindex> cannot be trusted (ifindexes are per netns, devtmpfs is
 * not), so ovnic makes a node whose path depends only on the attachment: a VM launcher that has
 * the directory mounted opens `tap` without knowing the ifindex. The owner record lets DEL and GC
 * remove only what they created, and GC find directories whose OVS port is already gone.
 */
import { lstat, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureCharDevice } from '../netlink/index.js';

export const DEFAULT_TAP_DEVICE_DIR = '/run/ovnic/tap';
export const TAP_NODE_NAME = 'tap';
const OWNER_FILE = '.ovnic-attachment';
const CONTAINER_ID_PREFIX_LEN = 12;

export interface TapNodeOwner {
  containerId: string;
  ifname: string;
  network: string;
}

/** `<containerID[:12]>-<ifname>`: a single path component (ifname has no "/" — CNI forbids it). */
export function tapNodeDirName(containerId: string, ifname: string): string {
  return `${containerId.slice(0, CONTAINER_ID_PREFIX_LEN)}-${ifname}`;
}

export function tapNodePath(baseDir: string, containerId: string, ifname: string): string {
  return join(baseDir, tapNodeDirName(containerId, ifname), TAP_NODE_NAME);
}

/**
 * Creates (or replaces) the attachment's node. Throws when the directory belongs to another
 * attachment (same 12-character container ID prefix and ifname). Returns the node path and
 * whether the directory was created by this call.
 */
export async function ensureTapNode(baseDir: string, owner: TapNodeOwner, major: number, minor: number): Promise<{ path: string; created: boolean }> {
  const dir = join(baseDir, tapNodeDirName(owner.containerId, owner.ifname));
  await mkdir(baseDir, { recursive: true, mode: 0o755 });
  let created = false;
  try {
    await mkdir(dir, { mode: 0o755 });
    created = true;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const holder = await readOwner(dir);
    if (!(await isDirectory(dir)) || (holder && !sameAttachment(holder, owner))) {
      throw new Error(`tap device directory ${dir} belongs to ${holder ? `container ${holder.containerId} ifname ${holder.ifname}` : 'something else'}`);
    }
  }
  const path = join(dir, TAP_NODE_NAME);
  try {
    await writeFile(join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o644 });
    // an earlier ADD of this attachment may have left a node for an older macvtap
    ensureCharDevice(path, major, minor, { mode: 0o600, replace: true });
  } catch (err) {
    if (created) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { path, created };
}

/** Removes the attachment's directory; missing is fine, another attachment's is left alone. */
export async function removeTapNode(baseDir: string, containerId: string, ifname: string): Promise<boolean> {
  const name = tapNodeDirName(containerId, ifname);
  // the attachment may come from OVS external_ids: never let it name a path outside baseDir
  if (name.includes('/') || name.startsWith('.')) return false;
  const dir = join(baseDir, name);
  if (!(await isDirectory(dir))) return false;
  const holder = await readOwner(dir);
  if (holder && !sameAttachment(holder, { containerId, ifname })) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}

/** Directories of `network` (carrying an owner record) whose attachment is not in `valid` (keys from attachmentKey). */
export async function listOrphanTapNodes(baseDir: string, network: string, isValid: (containerId: string, ifname: string) => boolean): Promise<TapNodeOwner[]> {
  let entries: string[];
  try {
    entries = await readdir(baseDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const orphans: TapNodeOwner[] = [];
  for (const name of entries.sort()) {
    const owner = await readOwner(join(baseDir, name));
    if (!owner || owner.network !== network) continue;
    // a record copied into a directory of another name is not trusted
    if (tapNodeDirName(owner.containerId, owner.ifname) !== name) continue;
    if (!isValid(owner.containerId, owner.ifname)) orphans.push(owner);
  }
  return orphans;
}

async function readOwner(dir: string): Promise<TapNodeOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as Partial<Record<keyof TapNodeOwner, unknown>>;
    if (typeof parsed.containerId !== 'string' || typeof parsed.ifname !== 'string' || typeof parsed.network !== 'string') return undefined;
    return { containerId: parsed.containerId, ifname: parsed.ifname, network: parsed.network };
  } catch {
    return undefined;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function sameAttachment(a: Pick<TapNodeOwner, 'containerId' | 'ifname'>, b: Pick<TapNodeOwner, 'containerId' | 'ifname'>): boolean {
  return a.containerId === b.containerId && a.ifname === b.ifname;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}
