/**
 * Per-attachment vhost-user socket directories.
 *
 * OVS is the vhost-user client (`dpdkvhostuserclient`); the VM (qemu, or any vhost-user server)
 * creates the unix socket. Each attachment gets its own directory under a base directory,
 * world-writable so the VM process, usually another user, can create its socket there, and
 * named short and deterministically from (containerID, ifName) so the socket path stays within
 * the 108-byte `sun_path` of a unix socket address.
 *
 * An owner file inside records the full attachment (and the CNI network name): the base
 * directory may be shared with other plugins (Kube-OVN uses the same default), and several
 * networks may share it, so only directories carrying a matching owner record are ever removed
 * or reported as orphans.
 */
import { chmod, lstat, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DpdkError } from './errors.js';

export const DEFAULT_VHOST_SOCKET_BASE = '/run/openvswitch/vhost_sockets';
/** Size of `sockaddr_un.sun_path` on Linux, including the terminating NUL. */
export const SUN_PATH_SIZE = 108;
/** Longest usable unix socket path in bytes (qemu and DPDK both need the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = SUN_PATH_SIZE - 1;
/** File inside each socket directory recording which attachment owns it. */
export const OWNER_FILE = '.ovnic-attachment';

const CONTAINER_ID_PREFIX_LEN = 12;
const MAX_IFNAME_BYTES = 15;
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// ifName and socket names must be single path components without separators or whitespace.
const BAD_NAME_CHARS_RE = /[/:\s\0]/;

export interface VhostAttachment {
  containerId: string;
  ifName: string;
  /** CNI network name (`name` of the network configuration); scopes orphan collection. */
  network?: string;
}

export interface VhostSocketDirOptions {
  /** Directory holding the per-attachment directories (default DEFAULT_VHOST_SOCKET_BASE). */
  baseDir?: string;
  /** File name of the socket inside the attachment directory (default: the ifName). */
  socketName?: string;
}

export interface VhostSocketLocation {
  /** The per-attachment directory. */
  dir: string;
  /** The socket the vhost-user server (VM) must create; goes into the CNI result `socketPath`. */
  socketPath: string;
}

export interface OrphanSocketDir {
  dir: string;
  containerId: string;
  ifName: string;
  network?: string;
}

/** `<containerId[:12]>-<ifName>`: the directory name of an attachment. */
export function vhostSocketDirName(containerId: string, ifName: string): string {
  validateContainerId(containerId);
  validateIfName(ifName);
  return `${containerId.slice(0, CONTAINER_ID_PREFIX_LEN)}-${ifName}`;
}

/** Where an attachment's directory and socket are; throws when the socket path cannot work. */
export function vhostSocketLocation(att: VhostAttachment, opts: VhostSocketDirOptions = {}): VhostSocketLocation {
  const baseDir = resolveBaseDir(opts);
  const socketName = opts.socketName ?? att.ifName;
  validateSocketName(socketName);
  const dir = join(baseDir, vhostSocketDirName(att.containerId, att.ifName));
  const socketPath = join(dir, socketName);
  assertSocketPathFits(socketPath);
  return { dir, socketPath };
}

/** Throws SOCKET_PATH_TOO_LONG naming the length when `path` cannot be bound as a unix socket. */
export function assertSocketPathFits(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new DpdkError(
      'SOCKET_PATH_TOO_LONG',
      `vhost-user socket path ${path} is ${bytes} bytes; a unix socket path can have at most ` +
        `${MAX_SOCKET_PATH_BYTES} bytes (sun_path is ${SUN_PATH_SIZE} bytes with the terminating NUL): ` +
        'configure a shorter vhost socket base directory',
    );
  }
}

/**
 * Creates the attachment's directory (mode 0777) with its owner record. Idempotent: an existing
 * directory of the same attachment is kept (its socket, if the VM already created it, too).
 * Throws SOCKET_DIR_CONFLICT when the directory belongs to another attachment (same 12-char
 * container ID prefix and ifName) or the path is not a directory.
 */
export async function ensureVhostSocketDir(
  att: VhostAttachment,
  opts: VhostSocketDirOptions = {},
): Promise<VhostSocketLocation & { created: boolean }> {
  const location = vhostSocketLocation(att, opts);
  await mkdir(resolveBaseDir(opts), { recursive: true, mode: 0o755 });
  let created = false;
  try {
    await mkdir(location.dir);
    created = true;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    await assertOwnedDirectory(location.dir, att);
  }
  try {
    // mkdir applies the umask; the VM process must be able to create its socket here.
    await chmod(location.dir, 0o777);
    await writeFile(join(location.dir, OWNER_FILE), ownerRecord(att), { mode: 0o644 });
  } catch (err) {
    if (created) await rm(location.dir, { recursive: true, force: true });
    throw err;
  }
  return { ...location, created };
}

/**
 * Removes the attachment's directory and whatever the VM left in it. Missing is fine. A directory
 * recorded as another attachment's is left alone. Returns whether a directory was removed.
 */
export async function removeVhostSocketDir(att: VhostAttachment, opts: VhostSocketDirOptions = {}): Promise<boolean> {
  const dir = join(resolveBaseDir(opts), vhostSocketDirName(att.containerId, att.ifName));
  const stat = await lstat(dir).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (!stat?.isDirectory()) return false;
  const owner = await readOwner(dir);
  if (owner && !sameAttachment(owner, att)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}

/**
 * Directories under the base that this plugin created (they carry an owner record) for
 * attachments not in `valid`. With `network` set, only that network's directories are
 * considered, as CNI GC lists the valid attachments of one network.
 */
export async function listOrphanVhostSocketDirs(
  valid: Iterable<Pick<VhostAttachment, 'containerId' | 'ifName'>>,
  opts: VhostSocketDirOptions & { network?: string } = {},
): Promise<OrphanSocketDir[]> {
  const baseDir = resolveBaseDir(opts);
  const keep = new Set<string>();
  for (const v of valid) keep.add(attachmentKey(v));
  let entries: string[];
  try {
    entries = await readdir(baseDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const orphans: OrphanSocketDir[] = [];
  for (const name of entries.sort()) {
    const dir = join(baseDir, name);
    const owner = await readOwner(dir);
    if (!owner) continue;
    if (opts.network !== undefined && owner.network !== opts.network) continue;
    // A record copied into a directory of another name is not trusted.
    if (safeDirName(owner) !== name) continue;
    if (keep.has(attachmentKey(owner))) continue;
    orphans.push({ dir, ...owner });
  }
  return orphans;
}

function resolveBaseDir(opts: VhostSocketDirOptions): string {
  const base = opts.baseDir ?? DEFAULT_VHOST_SOCKET_BASE;
  if (!isAbsolute(base)) {
    throw new DpdkError('INVALID_ARGUMENT', `vhost socket base directory must be an absolute path, got "${base}"`);
  }
  return base;
}

function validateContainerId(containerId: string): void {
  if (!CONTAINER_ID_RE.test(containerId)) {
    throw new DpdkError(
      'INVALID_ARGUMENT',
      `invalid container ID "${containerId}": it must start with a letter or digit and contain only letters, digits, "_", "." and "-"`,
    );
  }
}

function validateIfName(ifName: string): void {
  const bytes = Buffer.byteLength(ifName);
  if (bytes === 0 || bytes > MAX_IFNAME_BYTES || ifName === '.' || ifName === '..' || BAD_NAME_CHARS_RE.test(ifName)) {
    throw new DpdkError(
      'INVALID_ARGUMENT',
      `invalid interface name "${ifName}": it must have 1 to ${MAX_IFNAME_BYTES} bytes, not be "." or "..", and contain no "/", ":" or whitespace`,
    );
  }
}

function validateSocketName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name === OWNER_FILE || BAD_NAME_CHARS_RE.test(name)) {
    throw new DpdkError('INVALID_ARGUMENT', `invalid vhost-user socket name "${name}"`);
  }
}

function ownerRecord(att: VhostAttachment): string {
  const record: VhostAttachment = { containerId: att.containerId, ifName: att.ifName };
  if (att.network !== undefined) record.network = att.network;
  return `${JSON.stringify(record)}\n`;
}

async function readOwner(dir: string): Promise<VhostAttachment | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, OWNER_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Record<keyof VhostAttachment, unknown>>;
    if (typeof parsed.containerId !== 'string' || typeof parsed.ifName !== 'string') return undefined;
    const owner: VhostAttachment = { containerId: parsed.containerId, ifName: parsed.ifName };
    if (typeof parsed.network === 'string') owner.network = parsed.network;
    return owner;
  } catch {
    return undefined;
  }
}

async function assertOwnedDirectory(dir: string, att: VhostAttachment): Promise<void> {
  const stat = await lstat(dir);
  if (!stat.isDirectory()) {
    throw new DpdkError('SOCKET_DIR_CONFLICT', `vhost socket directory ${dir} exists and is not a directory`);
  }
  const owner = await readOwner(dir);
  if (owner && !sameAttachment(owner, att)) {
    throw new DpdkError(
      'SOCKET_DIR_CONFLICT',
      `vhost socket directory ${dir} belongs to container ${owner.containerId} interface ${owner.ifName}`,
    );
  }
}

function sameAttachment(a: Pick<VhostAttachment, 'containerId' | 'ifName'>, b: Pick<VhostAttachment, 'containerId' | 'ifName'>): boolean {
  return a.containerId === b.containerId && a.ifName === b.ifName;
}

function attachmentKey(a: Pick<VhostAttachment, 'containerId' | 'ifName'>): string {
  return `${a.containerId}\0${a.ifName}`;
}

function safeDirName(a: VhostAttachment): string | undefined {
  try {
    return vhostSocketDirName(a.containerId, a.ifName);
  } catch {
    return undefined;
  }
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}
