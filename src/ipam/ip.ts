/**
 * IPv4/IPv6 address and CIDR math on bigint values.
 *
 * Parsing is strict: dotted-quad IPv4 without leading zeros (they are ambiguous: octal to some
 * parsers), RFC 4291 IPv6 text (with at most one "::" and an optional trailing dotted quad), no
 * zone index, no surrounding whitespace. Formatting is canonical: IPv4 dotted quad, IPv6 per
 * RFC 5952 (lowercase, no leading zeros, the longest run of two or more zero groups shortened to
 * "::", the first one on a tie, and IPv4-mapped addresses as ::ffff:a.b.c.d).
 */
import { invalidInput } from './errors.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address (host bits zero). */
  readonly network: bigint;
  readonly prefix: number;
}

/** A closed range first..last of one family. */
export interface IpRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function familyName(family: IpFamily): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function maxValue(family: IpFamily): bigint {
  return family === 4 ? 0xffff_ffffn : (1n << 128n) - 1n;
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): bigint | string {
  const parts = text.split('.');
  if (parts.length !== 4) return `expected 4 dot-separated octets, found ${parts.length}`;
  let value = 0n;
  for (const part of parts) {
    if (part === '') return 'empty octet';
    if (!/^[0-9]+$/.test(part)) return `octet "${part}" is not a decimal number`;
    if (!DECIMAL_OCTET.test(part)) {
      return part.length > 1 && part.startsWith('0')
        ? `octet "${part}" has a leading zero (ambiguous: octal to some parsers)`
        : `octet "${part}" is greater than 255`;
    }
    const n = Number(part);
    if (n > 255) return `octet ${n} is greater than 255`;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6Groups(text: string, allowV4Tail: boolean): number[] | string {
  if (text === '') return [];
  const pieces = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? '';
    if (piece.includes('.')) {
      if (!allowV4Tail || i !== pieces.length - 1) return `embedded IPv4 "${piece}" is only allowed as the last part`;
      const v4 = parseV4(piece);
      if (typeof v4 === 'string') return `embedded IPv4 "${piece}": ${v4}`;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      continue;
    }
    if (piece === '') return 'empty group (a single ":" where "::" or a group was expected)';
    if (!HEX_GROUP.test(piece)) {
      return /^[0-9a-fA-F]+$/.test(piece) ? `group "${piece}" has more than 4 hex digits` : `group "${piece}" is not hexadecimal`;
    }
    groups.push(Number.parseInt(piece, 16));
  }
  return groups;
}

function parseV6(text: string): bigint | string {
  if (text.includes('%')) return 'zone index ("%...") is not allowed';
  const doubleColons = text.split('::').length - 1;
  if (doubleColons > 1) return '"::" may appear only once';
  let groups: number[];
  if (doubleColons === 1) {
    const at = text.indexOf('::');
    const head = parseV6Groups(text.slice(0, at), false);
    if (typeof head === 'string') return head;
    const tail = parseV6Groups(text.slice(at + 2), true);
    if (typeof tail === 'string') return tail;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return 'too many groups around "::"';
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseV6Groups(text, true);
    if (typeof all === 'string') return all;
    if (all.length !== 8) return `expected 8 groups, found ${all.length}`;
    groups = all;
  }
  let hex = '0x';
  for (const g of groups) hex += g.toString(16).padStart(4, '0');
  return BigInt(hex);
}

function parseOrReason(text: string): IpAddress | string {
  if (typeof text !== 'string') return 'not a string';
  if (text === '') return 'empty string';
  if (text.trim() !== text) return 'surrounding whitespace';
  if (text.includes(':')) {
    const v = parseV6(text);
    return typeof v === 'string' ? v : { family: 6, value: v };
  }
  if (text.includes('.')) {
    const v = parseV4(text);
    return typeof v === 'string' ? v : { family: 4, value: v };
  }
  return 'neither an IPv4 (a.b.c.d) nor an IPv6 (x:x::x) address';
}

/** Parses an IPv4 or IPv6 address; throws IpamError(InvalidInput) naming what is wrong. */
export function parseIp(text: string): IpAddress {
  const r = parseOrReason(text);
  if (typeof r === 'string') throw invalidInput(`invalid IP address ${JSON.stringify(text)}: ${r}`, { ip: String(text) });
  return r;
}

export function tryParseIp(text: string): IpAddress | undefined {
  const r = parseOrReason(text);
  return typeof r === 'string' ? undefined : r;
}

export function isIp(text: string): boolean {
  return typeof parseOrReason(text) !== 'string';
}

export function ipFamilyOf(text: string): IpFamily | undefined {
  return tryParseIp(text)?.family;
}

function formatV4(value: bigint): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffff_ffffn)}`;
  const hex = value.toString(16).padStart(32, '0');
  const groups: number[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(Number.parseInt(hex.slice(i, i + 4), 16));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const join = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return join(groups);
  return `${join(groups.slice(0, bestStart))}::${join(groups.slice(bestStart + bestLen))}`;
}

export function formatIpValue(family: IpFamily, value: bigint): string {
  return family === 4 ? formatV4(value) : formatV6(value);
}

export function formatIp(ip: IpAddress): string {
  return formatIpValue(ip.family, ip.value);
}

/** Canonical text of an address ("FD00:0::05" → "fd00::5"). */
export function canonicalIp(text: string): string {
  return formatIp(parseIp(text));
}

/** Orders IPv4 before IPv6, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** ip + delta; throws if the result leaves the family's address space. */
export function offsetIp(ip: IpAddress, delta: bigint): IpAddress {
  const value = ip.value + delta;
  if (value < 0n || value > maxValue(ip.family)) {
    throw invalidInput(`${formatIp(ip)} ${delta < 0n ? '-' : '+'} ${delta < 0n ? -delta : delta} leaves the ${familyName(ip.family)} address space`);
  }
  return { family: ip.family, value };
}

function hostMask(family: IpFamily, prefix: number): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

export interface ParseCidrOptions {
  /** Accept "10.0.0.7/24" and mask it to 10.0.0.0/24 (as Go's net.ParseCIDR does). Default false. */
  readonly allowHostBits?: boolean;
}

/** Parses "a.b.c.d/n" or "x::/n"; by default rejects host bits set. */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Cidr {
  const fail = (why: string): never => {
    throw invalidInput(`invalid CIDR ${JSON.stringify(text)}: ${why}`);
  };
  if (typeof text !== 'string' || text === '') fail('empty string');
  const slash = text.indexOf('/');
  if (slash < 0) fail('missing "/prefix-length"');
  if (text.indexOf('/', slash + 1) >= 0) fail('more than one "/"');
  const addr = parseOrReason(text.slice(0, slash));
  if (typeof addr === 'string') return fail(`address part: ${addr}`);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) fail(`prefix length ${JSON.stringify(prefixText)} is not a plain decimal number`);
  const prefix = Number(prefixText);
  const bits = familyBits(addr.family);
  if (prefix > bits) fail(`prefix length ${prefix} is greater than ${bits} for ${familyName(addr.family)}`);
  const network = addr.value & ~hostMask(addr.family, prefix) & maxValue(addr.family);
  if (network !== addr.value && !options.allowHostBits) {
    fail(`host bits are set; the network is ${formatIpValue(addr.family, network)}/${prefix}`);
  }
  return { family: addr.family, network, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpValue(cidr.family, cidr.network)}/${cidr.prefix}`;
}

export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefix);
}

/** The last address of the CIDR: the broadcast address for IPv4. */
export function cidrLastValue(cidr: Cidr): bigint {
  return cidr.network | hostMask(cidr.family, cidr.prefix);
}

export function cidrContainsValue(cidr: Cidr, value: bigint): boolean {
  return value >= cidr.network && value <= cidrLastValue(cidr);
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return ip.family === cidr.family && cidrContainsValue(cidr, ip.value);
}

export function networkAddress(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: cidr.network };
}

/** IPv4 broadcast address, or the last address of an IPv6 CIDR. */
export function lastAddress(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: cidrLastValue(cidr) };
}

/**
 * The assignable addresses of a CIDR, by Kube-OVN's rules (pkg/util/net.go FirstIP/LastIP):
 * the network address and the last address are left out for both families (IPv4 network and
 * broadcast; IPv6 subnet-router anycast and the all-ones address, which Kube-OVN never hands out
 * either), except on point-to-point prefixes (/31, /127) where both addresses are usable, and
 * single-address prefixes (/32, /128) where the one address is.
 */
export function usableRange(cidr: Cidr): IpRange {
  const bits = familyBits(cidr.family);
  const last = cidrLastValue(cidr);
  if (cidr.prefix >= bits - 1) return { family: cidr.family, first: cidr.network, last };
  return { family: cidr.family, first: cidr.network + 1n, last: last - 1n };
}

export function firstUsable(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: usableRange(cidr).first };
}

export function lastUsable(cidr: Cidr): IpAddress {
  return { family: cidr.family, value: usableRange(cidr).last };
}

export function rangeSize(range: IpRange): bigint {
  return range.last - range.first + 1n;
}

export function rangeContainsValue(range: IpRange, value: bigint): boolean {
  return value >= range.first && value <= range.last;
}

/** Parses "a" or "a..b" (Kube-OVN excludeIps syntax): both ends of one family, a <= b. */
export function parseIpRange(text: string): IpRange {
  if (typeof text !== 'string') throw invalidInput(`invalid IP range ${JSON.stringify(text)}: not a string`);
  const parts = text.split('..');
  if (parts.length > 2) throw invalidInput(`invalid IP range ${JSON.stringify(text)}: more than one ".."`);
  const first = parseIp(parts[0] ?? '');
  if (parts.length === 1) return { family: first.family, first: first.value, last: first.value };
  const last = parseIp(parts[1] ?? '');
  if (first.family !== last.family) {
    throw invalidInput(`invalid IP range ${JSON.stringify(text)}: mixes ${familyName(first.family)} and ${familyName(last.family)}`);
  }
  if (first.value > last.value) throw invalidInput(`invalid IP range ${JSON.stringify(text)}: start is after end`);
  return { family: first.family, first: first.value, last: last.value };
}

export function formatIpRange(range: IpRange): string {
  const a = formatIpValue(range.family, range.first);
  return range.first === range.last ? a : `${a}..${formatIpValue(range.family, range.last)}`;
}
