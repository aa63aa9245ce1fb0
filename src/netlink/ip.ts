/**
 * IP address, CIDR and MAC text <-> bytes, as netlink carries them. IPv6 text output is the
 * RFC 5952 canonical form (what `ip -j` prints), so results compare as strings.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  bytes: Buffer;
  /** Canonical text. */
  address: string;
}

export interface ParsedCidr extends ParsedIp {
  prefixLength: number;
}

export function parseIp(text: string): ParsedIp {
  if (isIPv4(text)) {
    const bytes = Buffer.from(text.split('.').map(Number));
    return { family: 4, bytes, address: formatIp(bytes) };
  }
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = ipv6Bytes(text);
    return { family: 6, bytes, address: formatIp(bytes) };
  }
  throw new TypeError(`invalid IP address "${text}"`);
}

/** "10.0.0.2/24", "fd00::2/64"; a bare address gets the full-length prefix. */
export function parseCidr(text: string): ParsedCidr {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefixLength: max };
  const prefixText = text.slice(slash + 1);
  const prefixLength = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefixLength > max) {
    throw new TypeError(`invalid prefix length in "${text}" (0-${max} for IPv${ip.family})`);
  }
  return { ...ip, prefixLength };
}

export function formatCidr(bytes: Buffer, prefixLength: number): string {
  return `${formatIp(bytes)}/${prefixLength}`;
}

/** Keeps the first `prefixLength` bits of an address (the network address). */
export function maskBytes(bytes: Buffer, prefixLength: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** IPv4 broadcast address of a prefix (all host bits set). */
export function ipv4Broadcast(bytes: Buffer, prefixLength: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < 4; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = (out[i] ?? 0) | (0xff >> keep);
  }
  return out;
}

export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) throw new TypeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function ipv6Bytes(text: string): Buffer {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = body.slice(lastColon + 1).split('.').map(Number);
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = body.split('::');
  const toGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups = toGroups(head);
  if (rest !== undefined) {
    const right = toGroups(rest);
    groups = [...groups, ...new Array<number>(8 - groups.length - right.length).fill(0), ...right];
  }
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parseMac(text: string): Buffer {
  if (!MAC.test(text)) throw new TypeError(`invalid MAC address "${text}" (expected six colon-separated hex bytes)`);
  const bytes = Buffer.from(text.split(':').map((b) => parseInt(b, 16)));
  if (((bytes[0] ?? 0) & 1) === 1) throw new TypeError(`MAC address "${text}" is multicast; a NIC needs a unicast MAC`);
  return bytes;
}

export function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
