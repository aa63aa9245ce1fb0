/**
 * Links: lookup, creation of veth / macvtap / macvlan (optionally directly inside another
 * netns, which avoids the ~28 ms of a netns move), state changes and deletion.
 */
import type { LinkMessage } from 'netlink/dist/rt/structs.js';
import { isNetlinkError } from './errors.js';
import { formatMac, parseMac } from './ip.js';
import { macvlanLinkInfo, parseLinkInfo, vethLinkInfo, type MacvlanMode } from './linkinfo.js';
import { readU32, u32 } from './rtattr.js';
import { NLM_F, request, WAIT, type RtNetlinkSocket } from './socket.js';

export interface LinkInfo {
  index: number;
  name: string;
  /** Lower-case colon MAC; "" for links without an Ethernet address. */
  mac: string;
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Operational state: up, down, lowerlayerdown, unknown, ... */
  operState: string;
  /** IFLA_INFO_KIND: veth, macvtap, macvlan, tun, openvswitch, ...; undefined for physical/lo. */
  kind?: string;
  /** IFLA_LINK: the veth peer or the macvtap/macvlan lower device (in `linkNetnsId`'s netns if set). */
  linkIndex?: number;
  /** The peer netns id of `linkIndex`, when it lives in another namespace. */
  linkNetnsId?: number;
  masterIndex?: number;
  macvlanMode?: MacvlanMode;
}

export interface VethSpec {
  /** Name of the end created in the socket's netns. */
  name: string;
  mac?: string;
  mtu?: number;
  /** Bring this end up at creation. */
  up?: boolean;
  peer: {
    name: string;
    /** fd of the netns where the peer is created (see Netns.fd); the socket's netns when omitted. */
    netnsFd?: number;
    mac?: string;
    mtu?: number;
    // No `up`: the kernel cannot open a veth end before its pair is complete (ENOTCONN);
    // bring the peer up from a socket in its netns.
  };
}

export interface MacvlanSpec {
  name: string;
  /** ifindex of the lower device, in the socket's netns. */
  lowerIndex: number;
  mode: MacvlanMode;
  /** In passthru mode the kernel makes the device inherit the lower's MAC, so the lower's MAC is set to this first. */
  mac?: string;
  mtu?: number;
  /** Create the device directly in this netns (see Netns.fd). */
  netnsFd?: number;
  up?: boolean;
}

export interface LinkChanges {
  up?: boolean;
  /** IFF_ALLMULTI: receive every multicast frame (a macvtap otherwise filters by its own groups). */
  allmulti?: boolean;
  mac?: string;
  mtu?: number;
  name?: string;
}

const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const MAX_IFNAME = 15;

/** Kernel rules for interface names (dev_valid_name); checked here for a clear error. */
export function validateLinkName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > MAX_IFNAME ||
    name === '.' ||
    name === '..' ||
    /[/:\s]/.test(name)
  ) {
    throw new TypeError(`invalid interface name "${name}": 1-${MAX_IFNAME} bytes, no "/", ":" or whitespace`);
  }
}

function validateMtu(mtu: number | undefined, what: string): void {
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new TypeError(`invalid MTU ${mtu} for ${what}: an integer from 68 to 65535`);
  }
}

function validateIndex(index: number): void {
  if (!Number.isInteger(index) || index <= 0) throw new TypeError(`invalid ifindex ${index}`);
}

export function toLinkInfo(msg: LinkMessage): LinkInfo {
  const { data, attrs } = msg;
  const info: LinkInfo = {
    index: data.index ?? 0,
    name: attrs.ifname ?? '',
    mac: attrs.address && attrs.address.length === 6 ? formatMac(attrs.address) : '',
    mtu: attrs.mtu ?? 0,
    up: data.flags?.up === true,
    operState: OPER_STATES[attrs.operstate ?? 0] ?? String(attrs.operstate),
  };
  if (attrs.linkinfo) {
    const parsed = parseLinkInfo(attrs.linkinfo);
    if (parsed.kind) info.kind = parsed.kind;
    if (parsed.macvlanMode) info.macvlanMode = parsed.macvlanMode;
  }
  if (attrs.link && attrs.link.length >= 4) info.linkIndex = readU32(attrs.link);
  if (attrs.linkNetnsid !== undefined) info.linkNetnsId = attrs.linkNetnsid;
  if (attrs.master !== undefined) info.masterIndex = attrs.master;
  return info;
}

export async function getLink(sock: RtNetlinkSocket, name: string): Promise<LinkInfo | undefined> {
  validateLinkName(name);
  try {
    const [msg] = await request(`get link "${name}"`, () => sock.getLink({}, { ifname: name }, WAIT));
    return msg ? toLinkInfo(msg) : undefined;
  } catch (error) {
    if (isNetlinkError(error, 'ENODEV')) return undefined;
    throw error;
  }
}

export async function getLinkByIndex(sock: RtNetlinkSocket, index: number): Promise<LinkInfo | undefined> {
  validateIndex(index);
  try {
    const [msg] = await request(`get link #${index}`, () => sock.getLink({ index }, {}, WAIT));
    return msg ? toLinkInfo(msg) : undefined;
  } catch (error) {
    if (isNetlinkError(error, 'ENODEV')) return undefined;
    throw error;
  }
}

export async function listLinks(sock: RtNetlinkSocket): Promise<LinkInfo[]> {
  const msgs = await request('list links', () => sock.getLinks({}, {}, WAIT));
  return msgs.map(toLinkInfo);
}

/**
 * Creates a veth pair in one request; with `peer.netnsFd` the peer is born in that netns.
 * Atomic: if either name is taken (EEXIST) nothing is created. Returns the local end.
 */
export async function createVeth(sock: RtNetlinkSocket, spec: VethSpec): Promise<LinkInfo> {
  validateLinkName(spec.name);
  validateLinkName(spec.peer.name);
  validateMtu(spec.mtu, spec.name);
  validateMtu(spec.peer.mtu, spec.peer.name);
  const peerMac = spec.peer.mac === undefined ? undefined : parseMac(spec.peer.mac);
  const linkinfo = vethLinkInfo({
    name: spec.peer.name,
    ...(peerMac ? { mac: peerMac } : {}),
    ...(spec.peer.mtu !== undefined ? { mtu: spec.peer.mtu } : {}),
    ...(spec.peer.netnsFd !== undefined ? { netnsFd: spec.peer.netnsFd } : {}),
  });
  const operation = `create veth "${spec.name}" with peer "${spec.peer.name}"${spec.peer.netnsFd !== undefined ? ' in the target netns' : ''}`;
  await request(operation, () =>
    sock.newLink(
      spec.up ? { flags: { up: true }, change: { up: true } } : {},
      {
        ifname: spec.name,
        linkinfo,
        ...(spec.mac !== undefined ? { address: parseMac(spec.mac) } : {}),
        ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
      },
      { flags: NLM_F.CREATE | NLM_F.EXCL, ...WAIT },
    ),
  );
  const created = await getLink(sock, spec.name);
  if (!created) throw new Error(`${operation}: created, but "${spec.name}" vanished right after`);
  return created;
}

/**
 * Creates a macvtap or macvlan on `lowerIndex` (socket's netns), directly inside `netnsFd` if
 * given. In passthru mode with a MAC, the lower device's MAC is set first (the kernel makes a
 * passthru device inherit it) and restored if the creation fails.
 */
export async function createMacvlanLink(
  sock: RtNetlinkSocket,
  kind: 'macvtap' | 'macvlan',
  spec: MacvlanSpec,
): Promise<void> {
  validateLinkName(spec.name);
  validateIndex(spec.lowerIndex);
  validateMtu(spec.mtu, spec.name);
  const mac = spec.mac === undefined ? undefined : parseMac(spec.mac);
  const linkinfo = macvlanLinkInfo(kind, spec.mode);
  const operation = `create ${kind} "${spec.name}" (mode ${spec.mode}) on link #${spec.lowerIndex}`;

  let restoreLowerMac: Buffer | undefined;
  if (mac && spec.mode === 'passthru') {
    const lower = await getLinkByIndex(sock, spec.lowerIndex);
    if (!lower) throw new Error(`${operation}: lower device #${spec.lowerIndex} does not exist`);
    if (lower.mac !== formatMac(mac)) {
      await setLink(sock, spec.lowerIndex, { mac: formatMac(mac) });
      if (lower.mac) restoreLowerMac = parseMac(lower.mac);
    }
  }
  try {
    await request(operation, () =>
      sock.newLink(
        spec.up ? { flags: { up: true }, change: { up: true } } : {},
        {
          ifname: spec.name,
          link: u32(spec.lowerIndex),
          linkinfo,
          ...(mac && spec.mode !== 'passthru' ? { address: mac } : {}),
          ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
          ...(spec.netnsFd !== undefined ? { netNsFd: spec.netnsFd } : {}),
        },
        { flags: NLM_F.CREATE | NLM_F.EXCL, ...WAIT },
      ),
    );
  } catch (error) {
    if (restoreLowerMac) {
      const previous = restoreLowerMac;
      await request(`restore MAC of link #${spec.lowerIndex}`, () =>
        sock.setLink({ index: spec.lowerIndex }, { address: previous }, WAIT),
      ).catch(() => undefined);
    }
    throw error;
  }
}

/** Applies the given changes in one request. */
export async function setLink(sock: RtNetlinkSocket, index: number, changes: LinkChanges): Promise<void> {
  validateIndex(index);
  validateMtu(changes.mtu, `link #${index}`);
  if (changes.name !== undefined) validateLinkName(changes.name);
  const address = changes.mac === undefined ? undefined : parseMac(changes.mac);
  const parts = Object.entries(changes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  await request(`set link #${index} ${parts.join(' ')}`, () =>
    sock.setLink(
      {
        index,
        ...linkFlags(changes),
      },
      {
        ...(address ? { address } : {}),
        ...(changes.mtu !== undefined ? { mtu: changes.mtu } : {}),
        ...(changes.name !== undefined ? { ifname: changes.name } : {}),
      },
      WAIT,
    ),
  );
}

function linkFlags(changes: LinkChanges): { flags?: { up?: true; allmulti?: true }; change?: { up?: true; allmulti?: true } } {
  const flags: { up?: true; allmulti?: true } = {};
  const change: { up?: true; allmulti?: true } = {};
  for (const flag of ['up', 'allmulti'] as const) {
    if (changes[flag] === undefined) continue;
    change[flag] = true;
    if (changes[flag]) flags[flag] = true;
  }
  return Object.keys(change).length > 0 ? { flags, change } : {};
}

/** Deletes a link by ifindex or name. Returns false when it did not exist. */
export async function deleteLink(sock: RtNetlinkSocket, link: number | string): Promise<boolean> {
  if (typeof link === 'number') validateIndex(link);
  else validateLinkName(link);
  const what = typeof link === 'number' ? `#${link}` : `"${link}"`;
  try {
    await request(`delete link ${what}`, () =>
      typeof link === 'number'
        ? sock.delLink({ index: link }, {}, WAIT)
        : sock.delLink({}, { ifname: link }, WAIT),
    );
    return true;
  } catch (error) {
    if (isNetlinkError(error, 'ENODEV')) return false;
    throw error;
  }
}
