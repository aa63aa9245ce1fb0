/**
 * IP address, CIDR and MAC parsing shared by the CNI edge (pure, no I/O). Written out rather than
 * taken from node:net, whose load costs ~1 ms of every plugin start.
 */
export type IpFamily = 4 | 6;

const V4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4_RE = new RegExp(`^${V4_OCTET}(?:\\.${V4_OCTET}){3}$`);
const HEXTET_RE = /^[0-9a-fA-F]{1,4}$/;

/** Dotted-quad IPv4 without leading zeros (the forms node:net and Go accept). */
export function isIPv4(text: string): boolean {
  return V4_RE.test(text);
}

/** IPv6 text form (RFC 4291 2.2): hextets, one "::" at most, optional trailing dotted IPv4; no zone. */
export function isIPv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  let groups = 0;
  const parts: string[][] = halves.map((h) => (h === '' ? [] : h.split(':')));
  for (let h = 0; h < parts.length; h++) {
    const list = parts[h] as string[];
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as string;
      const lastOfAll = h === parts.length - 1 && i === list.length - 1;
      if (lastOfAll && g.includes('.')) {
        if (!isIPv4(g)) return false;
        groups += 2;
      } else if (HEXTET_RE.test(g)) {
        groups += 1;
      } else {
        return false;
      }
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

/** Family of a plain address (no prefix, no zone), or undefined when it is not an IP address. */
export function ipFamily(address: string): IpFamily | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

export interface Cidr {
  address: string;
  prefix: number;
  family: IpFamily;
}

/** `addr/prefix` with a prefix valid for the family; undefined otherwise. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const family = ipFamily(address);
  if (!family) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family };
}

/** An address with an optional prefix ("10.0.0.5" or "10.0.0.5/24"), as used by `ips` requests. */
export interface RequestedIp {
  address: string;
  prefix?: number;
  family: IpFamily;
}

export function parseRequestedIp(text: string): RequestedIp | undefined {
  if (text.includes('/')) return parseCidr(text);
  const family = ipFamily(text);
  return family ? { address: text, family } : undefined;
}

export function formatRequestedIp(ip: RequestedIp): string {
  return ip.prefix === undefined ? ip.address : `${ip.address}/${ip.prefix}`;
}

/** The address part of a CIDR ("10.0.0.5/24" → "10.0.0.5"); the input itself when it has no prefix. */
export function stripPrefix(cidrOrAddress: string): string {
  const slash = cidrOrAddress.indexOf('/');
  return slash < 0 ? cidrOrAddress : cidrOrAddress.slice(0, slash);
}

const MAC_RE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/;

/** A 48-bit MAC in `aa:bb:cc:dd:ee:ff` or `aa-bb-…` form, normalised to lower-case colons. */
export function normalizeMac(text: string): string | undefined {
  if (!MAC_RE.test(text)) return undefined;
  return text.toLowerCase().replaceAll('-', ':');
}

/** A MAC an interface can carry: not multicast/broadcast (I/G bit clear) and not all zeros. */
export function isAssignableMac(mac: string): boolean {
  const first = Number.parseInt(mac.slice(0, 2), 16);
  if ((first & 1) === 1) return false;
  return mac !== '00:00:00:00:00:00';
}

/** Normalised, assignable MAC or undefined. */
export function parseAssignableMac(text: string): string | undefined {
  const mac = normalizeMac(text);
  return mac && isAssignableMac(mac) ? mac : undefined;
}
