/**
 * IFLA_LINKINFO payloads (IFLA_INFO_KIND + IFLA_INFO_DATA) for the link kinds ovnic creates,
 * and the reverse: kind and macvlan mode of a link the kernel reports.
 */
import { cString, ifinfomsg, nested, parseRtattrs, readCString, readU32, rtattr, u32 } from './rtattr.js';

/** Top-level IFLA_* attribute numbers used inside nested payloads (uapi/linux/if_link.h). */
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, TXQLEN: 13, LINKINFO: 18, NET_NS_FD: 28 } as const;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const VETH_INFO_PEER = 1;
const IFLA_MACVLAN_MODE = 1;

export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const;
export type MacvlanMode = keyof typeof MACVLAN_MODES;

export interface VethPeerSpec {
  name: string;
  /** 6-byte MAC; random when omitted. */
  mac?: Buffer;
  mtu?: number;
  /** Create the peer directly in this netns (IFLA_NET_NS_FD), not in the socket's. */
  netnsFd?: number;
}

/** IFLA_LINKINFO payload of a veth pair; the peer is a full ifinfomsg + attributes. */
export function vethLinkInfo(peer: VethPeerSpec): Buffer {
  const peerAttrs = [rtattr(IFLA.IFNAME, cString(peer.name))];
  if (peer.mac) peerAttrs.push(rtattr(IFLA.ADDRESS, peer.mac));
  if (peer.mtu !== undefined) peerAttrs.push(rtattr(IFLA.MTU, u32(peer.mtu)));
  if (peer.netnsFd !== undefined) peerAttrs.push(rtattr(IFLA.NET_NS_FD, u32(peer.netnsFd)));
  const header = ifinfomsg();
  return Buffer.concat([
    rtattr(IFLA_INFO_KIND, cString('veth')),
    nested(IFLA_INFO_DATA, [rtattr(VETH_INFO_PEER, Buffer.concat([header, ...peerAttrs]))]),
  ]);
}

/** IFLA_LINKINFO payload of a macvlan or macvtap in the given mode. */
export function macvlanLinkInfo(kind: 'macvlan' | 'macvtap', mode: MacvlanMode): Buffer {
  const value = MACVLAN_MODES[mode];
  if (value === undefined) throw new TypeError(`unknown ${kind} mode "${String(mode)}"`);
  return Buffer.concat([
    rtattr(IFLA_INFO_KIND, cString(kind)),
    nested(IFLA_INFO_DATA, [rtattr(IFLA_MACVLAN_MODE, u32(value))]),
  ]);
}

export interface ParsedLinkInfo {
  kind?: string;
  /** Kind of the master this link is enslaved to (e.g. "bridge", "openvswitch"). */
  slaveKind?: string;
  macvlanMode?: MacvlanMode;
}

export function parseLinkInfo(payload: Buffer): ParsedLinkInfo {
  const attrs = parseRtattrs(payload);
  const out: ParsedLinkInfo = {};
  const kind = attrs.get(IFLA_INFO_KIND);
  if (kind) out.kind = readCString(kind);
  const slaveKind = attrs.get(IFLA_INFO_SLAVE_KIND);
  if (slaveKind) out.slaveKind = readCString(slaveKind);
  const data = attrs.get(IFLA_INFO_DATA);
  if (data && (out.kind === 'macvlan' || out.kind === 'macvtap')) {
    const mode = parseRtattrs(data).get(IFLA_MACVLAN_MODE);
    if (mode && mode.length >= 4) {
      const value = readU32(mode);
      const name = (Object.keys(MACVLAN_MODES) as MacvlanMode[]).find((m) => MACVLAN_MODES[m] === value);
      if (name) out.macvlanMode = name;
    }
  }
  return out;
}
