/**
 * The parts of a Kube-OVN `Subnet` (kubeovn.io/v1) that IPAM uses, parsed into a typed spec.
 *
 * Compatibility with Kube-OVN (pkg/ipam, pkg/util/net.go, pkg/util/validator.go):
 * - `cidrBlock` is "v4", "v6" or "v4,v6" (IPv4 first). Host bits are masked as Kube-OVN does.
 *   /32 and /128 are refused (Kube-OVN refuses them too: no address is left besides the gateway).
 * - `gateway` absent → the first usable address of each CIDR (network + 1; the network address
 *   itself on /31 and /127), like Kube-OVN's GetGwByCidr. A dual-stack subnet whose gateway names
 *   one family gets the first usable address for the other (Kube-OVN's AppendGwByCidr).
 * - The assignable range per CIDR is network+1 .. last-1 for both families (see `usableRange`).
 * - `excludeIps` entries are "ip" or "a..b". Malformed entries are errors; entries of a family the
 *   subnet does not have, or wholly outside its CIDR, are ignored with a warning (Kube-OVN ignores
 *   them too); ranges reaching outside the CIDR are clipped. Exclusions stay ranges.
 * - `provider` defaults to "ovn", `vpc` to "ovn-cluster" (Kube-OVN defaults).
 */
import { IpamError } from './errors.js';
import {
  type Cidr,
  type IpFamily,
  type IpRange,
  cidrContainsValue,
  cidrLastValue,
  familyBits,
  familyName,
  formatCidr,
  formatIpRange,
  formatIpValue,
  parseCidr,
  parseIp,
  parseIpRange,
  usableRange,
} from './ip.js';

export type SubnetProtocol = 'IPv4' | 'IPv6' | 'Dual';

export const DEFAULT_PROVIDER = 'ovn';
export const DEFAULT_VPC = 'ovn-cluster';

/** Subnet fields as written in a Kube-OVN Subnet's spec (plus its name). */
export interface SubnetInput {
  readonly name: string;
  readonly cidrBlock: string;
  readonly gateway?: string;
  readonly excludeIps?: readonly string[];
  readonly provider?: string;
  readonly vpc?: string;
  readonly protocol?: string;
}

export interface FamilySpec {
  readonly family: IpFamily;
  readonly cidr: Cidr;
  readonly gateway: bigint;
  /** Addresses that may ever be assigned (before gateway, exclusions and reservations). */
  readonly usable: IpRange;
  /** Sorted, merged, clipped to the CIDR. */
  readonly exclusions: readonly IpRange[];
}

export interface SubnetSpec {
  readonly name: string;
  readonly protocol: SubnetProtocol;
  /** Canonical "v4,v6" / "v4" / "v6". */
  readonly cidrBlock: string;
  /** Canonical "v4,v6" / "v4" / "v6", defaults filled in. */
  readonly gateway: string;
  readonly provider: string;
  readonly vpc: string;
  readonly v4?: FamilySpec;
  readonly v6?: FamilySpec;
  /** Exclusion entries ignored (wrong family, outside the CIDR). */
  readonly warnings: readonly string[];
}

function subnetError(name: string, message: string): IpamError {
  return new IpamError('InvalidSubnet', `subnet ${JSON.stringify(name)}: ${message}`, { subnet: name });
}

function parseCidrBlock(name: string, cidrBlock: string): Cidr[] {
  if (typeof cidrBlock !== 'string' || cidrBlock.trim() === '') {
    throw subnetError(name, 'cidrBlock is empty (MAC-only subnets are not supported)');
  }
  const parts = cidrBlock.split(',').map((p) => p.trim());
  if (parts.length > 2) throw subnetError(name, `cidrBlock ${JSON.stringify(cidrBlock)} has more than two CIDRs`);
  const cidrs = parts.map((p) => {
    try {
      return parseCidr(p, { allowHostBits: true });
    } catch (err) {
      throw subnetError(name, `cidrBlock: ${(err as Error).message}`);
    }
  });
  const [a, b] = cidrs;
  if (a && b) {
    if (a.family === b.family) throw subnetError(name, `cidrBlock ${JSON.stringify(cidrBlock)} has two ${familyName(a.family)} CIDRs; dual stack needs one of each`);
    if (a.family !== 4) throw subnetError(name, `cidrBlock ${JSON.stringify(cidrBlock)} must list the IPv4 CIDR first ("v4,v6")`);
  }
  for (const c of cidrs) {
    if (c.prefix === familyBits(c.family)) {
      throw subnetError(name, `CIDR ${formatCidr(c)} leaves no address to assign besides the gateway`);
    }
    const special = specialPurpose(c);
    if (special) throw subnetError(name, `CIDR ${formatCidr(c)} is ${special}, not a unicast network`);
  }
  return cidrs;
}

/** Networks Kube-OVN also refuses (CIDRGlobalUnicast): not global unicast. */
function specialPurpose(c: Cidr): string | undefined {
  const inside = (network: bigint, prefix: number): boolean => {
    if (c.prefix < prefix) return false;
    const shift = BigInt(familyBits(c.family) - prefix);
    return c.network >> shift === network >> shift;
  };
  if (c.family === 4) {
    if (c.network === 0n) return 'the unspecified address block';
    if (inside(0x7f00_0000n, 8)) return 'loopback';
    if (inside(0xa9fe_0000n, 16)) return 'link-local';
    if (inside(0xe000_0000n, 4)) return 'multicast';
    if (inside(0xf000_0000n, 4)) return 'reserved (240.0.0.0/4)';
    return undefined;
  }
  if (c.network === 0n) return 'the unspecified address block';
  if (inside(0xfe80n << 112n, 10)) return 'link-local';
  if (inside(0xff00n << 112n, 8)) return 'multicast';
  return undefined;
}

function gatewayAllowed(cidr: Cidr, value: bigint): string | undefined {
  if (!cidrContainsValue(cidr, value)) return `is not inside ${formatCidr(cidr)}`;
  if (cidr.prefix >= familyBits(cidr.family) - 1) return undefined;
  if (value === cidr.network) return `is the network address of ${formatCidr(cidr)}`;
  if (cidr.family === 4 && value === cidrLastValue(cidr)) return `is the broadcast address of ${formatCidr(cidr)}`;
  return undefined;
}

function parseGateways(name: string, gateway: string | undefined, byFamily: Map<IpFamily, Cidr>): Map<IpFamily, bigint> {
  const result = new Map<IpFamily, bigint>();
  if (gateway !== undefined && gateway.trim() !== '') {
    const parts = gateway.split(',').map((p) => p.trim());
    if (parts.length > 2) throw subnetError(name, `gateway ${JSON.stringify(gateway)} has more than two addresses`);
    for (const part of parts) {
      let ip;
      try {
        ip = parseIp(part);
      } catch (err) {
        throw subnetError(name, `gateway: ${(err as Error).message}`);
      }
      const cidr = byFamily.get(ip.family);
      if (!cidr) throw subnetError(name, `gateway ${part} is ${familyName(ip.family)} but the subnet has no ${familyName(ip.family)} CIDR`);
      if (result.has(ip.family)) throw subnetError(name, `gateway ${JSON.stringify(gateway)} names two ${familyName(ip.family)} addresses`);
      const why = gatewayAllowed(cidr, ip.value);
      if (why) throw subnetError(name, `gateway ${part} ${why}`);
      result.set(ip.family, ip.value);
    }
  }
  for (const [family, cidr] of byFamily) {
    if (!result.has(family)) result.set(family, usableRange(cidr).first);
  }
  return result;
}

function parseExclusions(
  name: string,
  excludeIps: readonly string[] | undefined,
  byFamily: Map<IpFamily, Cidr>,
  warnings: string[],
): Map<IpFamily, IpRange[]> {
  const result = new Map<IpFamily, IpRange[]>();
  for (const family of byFamily.keys()) result.set(family, []);
  if (excludeIps === undefined) return result;
  if (!Array.isArray(excludeIps)) throw subnetError(name, 'excludeIps must be a list of strings');
  for (const entry of excludeIps) {
    if (typeof entry !== 'string') throw subnetError(name, `excludeIps entry ${JSON.stringify(entry)} is not a string`);
    let range: IpRange;
    try {
      range = parseIpRange(entry.trim());
    } catch (err) {
      throw subnetError(name, `excludeIps: ${(err as Error).message}`);
    }
    const cidr = byFamily.get(range.family);
    if (!cidr) {
      warnings.push(`excludeIps entry ${JSON.stringify(entry)} ignored: the subnet has no ${familyName(range.family)} CIDR`);
      continue;
    }
    const first = range.first > cidr.network ? range.first : cidr.network;
    const lastOfCidr = cidrLastValue(cidr);
    const last = range.last < lastOfCidr ? range.last : lastOfCidr;
    if (first > last) {
      warnings.push(`excludeIps entry ${JSON.stringify(entry)} ignored: outside ${formatCidr(cidr)}`);
      continue;
    }
    result.get(range.family)?.push({ family: range.family, first, last });
  }
  for (const [family, ranges] of result) result.set(family, mergeRanges(ranges));
  return result;
}

function mergeRanges(ranges: IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: IpRange[] = [];
  for (const r of sorted) {
    const prev = merged[merged.length - 1];
    if (prev && r.first <= prev.last + 1n) {
      if (r.last > prev.last) merged[merged.length - 1] = { family: prev.family, first: prev.first, last: r.last };
    } else merged.push(r);
  }
  return merged;
}

function optionalString(name: string, field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw subnetError(name, `${field} must be a string`);
  return value;
}

export function parseSubnetSpec(input: SubnetInput): SubnetSpec {
  const name = input.name;
  if (typeof name !== 'string' || name === '') throw new IpamError('InvalidSubnet', 'subnet name is empty');
  const provider = optionalString(name, 'provider', input.provider) || DEFAULT_PROVIDER;
  const vpc = optionalString(name, 'vpc', input.vpc) || DEFAULT_VPC;
  const protocolText = optionalString(name, 'protocol', input.protocol);
  const gatewayText = optionalString(name, 'gateway', input.gateway);

  const cidrs = parseCidrBlock(name, input.cidrBlock);
  const byFamily = new Map<IpFamily, Cidr>(cidrs.map((c) => [c.family, c]));
  const protocol: SubnetProtocol = cidrs.length === 2 ? 'Dual' : cidrs[0]?.family === 4 ? 'IPv4' : 'IPv6';
  if (protocolText && protocolText !== protocol) {
    if (protocolText === 'Mac') throw subnetError(name, 'protocol "Mac" (MAC-only subnet) is not supported');
    throw subnetError(name, `protocol ${JSON.stringify(protocolText)} does not match cidrBlock ${JSON.stringify(input.cidrBlock)} (${protocol})`);
  }

  const gateways = parseGateways(name, gatewayText, byFamily);
  const warnings: string[] = [];
  const exclusions = parseExclusions(name, input.excludeIps, byFamily, warnings);

  const family = (f: IpFamily): FamilySpec | undefined => {
    const cidr = byFamily.get(f);
    if (!cidr) return undefined;
    return { family: f, cidr, gateway: gateways.get(f) as bigint, usable: usableRange(cidr), exclusions: exclusions.get(f) ?? [] };
  };
  const v4 = family(4);
  const v6 = family(6);
  const ordered = [v4, v6].filter((f): f is FamilySpec => f !== undefined);
  return {
    name,
    protocol,
    cidrBlock: ordered.map((f) => formatCidr(f.cidr)).join(','),
    gateway: ordered.map((f) => formatIpValue(f.family, f.gateway)).join(','),
    provider,
    vpc,
    ...(v4 ? { v4 } : {}),
    ...(v6 ? { v6 } : {}),
    warnings,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Extracts the IPAM fields from a kubeovn.io/v1 Subnet object (as returned by the API server). */
export function subnetInputFromKubeOvn(obj: unknown): SubnetInput {
  if (!isRecord(obj)) throw new IpamError('InvalidSubnet', 'Subnet object is not an object');
  const metadata = isRecord(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (name === '') throw new IpamError('InvalidSubnet', 'Subnet object has no metadata.name');
  if (!isRecord(obj.spec)) throw subnetError(name, 'Subnet object has no spec');
  const spec = obj.spec;
  const cidrBlock = optionalString(name, 'spec.cidrBlock', spec.cidrBlock) ?? '';
  const excludeIps = spec.excludeIps;
  if (excludeIps !== undefined && excludeIps !== null && !Array.isArray(excludeIps)) {
    throw subnetError(name, 'spec.excludeIps must be a list of strings');
  }
  const input: SubnetInput = {
    name,
    cidrBlock,
    gateway: optionalString(name, 'spec.gateway', spec.gateway),
    excludeIps: (excludeIps ?? undefined) as string[] | undefined,
    provider: optionalString(name, 'spec.provider', spec.provider),
    vpc: optionalString(name, 'spec.vpc', spec.vpc),
    protocol: optionalString(name, 'spec.protocol', spec.protocol),
  };
  return input;
}

export function parseKubeOvnSubnet(obj: unknown): SubnetSpec {
  return parseSubnetSpec(subnetInputFromKubeOvn(obj));
}

export function familySpec(spec: SubnetSpec, family: IpFamily): FamilySpec | undefined {
  return family === 4 ? spec.v4 : spec.v6;
}

/** Canonical excludeIps entries of a spec ("a" or "a..b"), v4 first. */
export function formatExclusions(spec: SubnetSpec): string[] {
  return [spec.v4, spec.v6].flatMap((f) => (f ? f.exclusions.map(formatIpRange) : []));
}
