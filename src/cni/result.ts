/**
 * The CNI result: one internal type (the spec 1.1.0 layout) plus converters to and from the
 * wire formats of every supported version.
 *
 * Wire differences handled here:
 *  - 0.3.0 / 0.3.1 / 0.4.0: `ips[].version` ("4" | "6") is present; interfaces carry only
 *    name, mac, sandbox; routes only dst, gw.
 *  - 1.0.0: no `ips[].version`; interfaces gain `mtu`.
 *  - 1.1.0: interfaces gain `socketPath`, `pciID`; routes gain mtu, advmss, priority, table, scope.
 * Fields a target version does not define are dropped when formatting; empty lists and an empty
 * `dns` are omitted (as libcni does).
 */
import { CniError, CniErrorCode } from './errors.js';
import { ipFamily, parseCidr } from './addr.js';
import { isLegacyResultVersion, isSemver, compareVersions, type CniVersion } from './version.js';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** CNI_NETNS for interfaces in the container; absent for host-side interfaces. */
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIpConfig {
  /** CIDR, e.g. "10.0.0.5/24". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`; absent in IPAM results. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
  /** Namespaced top-level keys of this plugin (e.g. "ovnic.dev/tap"), written after the standard ones; not parsed back. */
  extensions?: Record<string, unknown>;
}

export function emptyResult(): CniResult {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

export interface ParseResultOptions {
  /** Version to assume when the object carries no `cniVersion`. */
  defaultVersion: CniVersion | string;
  /** Error code for malformed input: 6 (decode failure, default) or 7 (invalid config, for prevResult). */
  errorCode?: number;
  /** Names the input in messages, e.g. "prevResult" or 'ipam plugin "host-local" result'. */
  what?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Parse a result of any supported version (0.3.0 … 1.1.0) into the internal form. */
export function parseResult(input: unknown, options: ParseResultOptions): CniResult {
  const what = options.what ?? 'result';
  const fail = (path: string, problem: string): CniError =>
    new CniError(options.errorCode ?? CniErrorCode.DecodingFailure, `invalid ${what}`, `${path}: ${problem}`);

  if (!isObject(input)) throw fail('$', 'must be a JSON object');
  const version = input.cniVersion ?? options.defaultVersion;
  if (!isSemver(version)) throw fail('cniVersion', `"${String(version)}" is not a version`);
  if (compareVersions(version, '0.3.0') < 0) throw fail('cniVersion', `results of version ${version} are not supported`);
  const legacy = isLegacyResultVersion(version);

  const str = (obj: Json, key: string, path: string, required = false): string | undefined => {
    const v = obj[key];
    if (v === undefined || (v === '' && !required)) {
      if (required) throw fail(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') throw fail(`${path}.${key}`, 'must be a non-empty string');
    return v;
  };
  const uint = (obj: Json, key: string, path: string): number | undefined => {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isUint(v)) throw fail(`${path}.${key}`, 'must be a non-negative integer');
    return v;
  };
  const list = (obj: Json, key: string): unknown[] => {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw fail(key, 'must be an array');
    return v;
  };
  const strings = (obj: Json, key: string, path: string): string[] | undefined => {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw fail(`${path}.${key}`, 'must be an array of strings');
    return v as string[];
  };
  const ip = (obj: Json, key: string, path: string): string | undefined => {
    const v = str(obj, key, path);
    if (v !== undefined && !ipFamily(v)) throw fail(`${path}.${key}`, `"${v}" is not an IP address`);
    return v;
  };
  const cidr = (obj: Json, key: string, path: string): string => {
    const v = str(obj, key, path, true) as string;
    if (!parseCidr(v)) throw fail(`${path}.${key}`, `"${v}" is not an address in CIDR notation`);
    return v;
  };

  const result = emptyResult();
  list(input, 'interfaces').forEach((raw, i) => {
    const path = `interfaces[${i}]`;
    if (!isObject(raw)) throw fail(path, 'must be an object');
    const iface: CniInterface = { name: str(raw, 'name', path, true) as string };
    const mac = str(raw, 'mac', path);
    if (mac !== undefined) iface.mac = mac;
    const mtu = uint(raw, 'mtu', path);
    if (mtu !== undefined && mtu > 0) iface.mtu = mtu;
    const sandbox = str(raw, 'sandbox', path);
    if (sandbox !== undefined) iface.sandbox = sandbox;
    const socketPath = str(raw, 'socketPath', path);
    if (socketPath !== undefined) iface.socketPath = socketPath;
    const pciID = str(raw, 'pciID', path);
    if (pciID !== undefined) iface.pciID = pciID;
    result.interfaces.push(iface);
  });

  list(input, 'ips').forEach((raw, i) => {
    const path = `ips[${i}]`;
    if (!isObject(raw)) throw fail(path, 'must be an object');
    const address = cidr(raw, 'address', path);
    const entry: CniIpConfig = { address };
    const gateway = ip(raw, 'gateway', path);
    if (gateway !== undefined) {
      if (ipFamily(gateway) !== parseCidr(address)?.family) throw fail(`${path}.gateway`, `family differs from ${address}`);
      entry.gateway = gateway;
    }
    const index = uint(raw, 'interface', path);
    if (index !== undefined) {
      if (index >= result.interfaces.length) {
        throw fail(`${path}.interface`, `index ${index} is out of range (${result.interfaces.length} interfaces)`);
      }
      entry.interface = index;
    }
    if (legacy && raw.version !== undefined) {
      const family = String(parseCidr(address)?.family);
      if (raw.version !== family) throw fail(`${path}.version`, `"${String(raw.version)}" does not match ${address}`);
    }
    result.ips.push(entry);
  });

  list(input, 'routes').forEach((raw, i) => {
    const path = `routes[${i}]`;
    if (!isObject(raw)) throw fail(path, 'must be an object');
    const route: CniRoute = { dst: cidr(raw, 'dst', path) };
    const gw = ip(raw, 'gw', path);
    if (gw !== undefined) {
      if (ipFamily(gw) !== parseCidr(route.dst)?.family) throw fail(`${path}.gw`, `family differs from ${route.dst}`);
      route.gw = gw;
    }
    for (const key of ['mtu', 'advmss', 'priority'] as const) {
      const v = uint(raw, key, path);
      if (v !== undefined && v > 0) route[key] = v;
    }
    for (const key of ['table', 'scope'] as const) {
      const v = uint(raw, key, path);
      if (v !== undefined) route[key] = v;
    }
    result.routes.push(route);
  });

  if (input.dns !== undefined && input.dns !== null) {
    if (!isObject(input.dns)) throw fail('dns', 'must be an object');
    result.dns = parseDnsObject(input.dns, (key, problem) => fail(`dns.${key}`, problem), strings);
  }
  return result;
}

function parseDnsObject(
  raw: Json,
  fail: (key: string, problem: string) => CniError,
  strings: (obj: Json, key: string, path: string) => string[] | undefined,
): CniDns {
  const dns: CniDns = {};
  const nameservers = strings(raw, 'nameservers', 'dns');
  if (nameservers) {
    for (const ns of nameservers) if (!ipFamily(ns)) throw fail('nameservers', `"${ns}" is not an IP address`);
    dns.nameservers = nameservers;
  }
  if (raw.domain !== undefined && raw.domain !== null) {
    if (typeof raw.domain !== 'string') throw fail('domain', 'must be a string');
    if (raw.domain !== '') dns.domain = raw.domain;
  }
  const search = strings(raw, 'search', 'dns');
  if (search) dns.search = search;
  const options = strings(raw, 'options', 'dns');
  if (options) dns.options = options;
  return dns;
}

/** Parse a `dns` object from a network configuration (the well-known conf key); throws CniError 7. */
export function parseDns(raw: unknown): CniDns {
  if (!isObject(raw)) throw new CniError(CniErrorCode.InvalidNetworkConfig, 'invalid network config', 'dns: must be an object');
  const parsed = parseResult({ cniVersion: '1.1.0', dns: raw }, { defaultVersion: '1.1.0', errorCode: CniErrorCode.InvalidNetworkConfig, what: 'network config' });
  return parsed.dns;
}

export function isDnsEmpty(dns: CniDns): boolean {
  return !dns.nameservers?.length && !dns.domain && !dns.search?.length && !dns.options?.length;
}

/**
 * The wire object for `version`. Throws CniError 999 when the result is inconsistent
 * (an `ips[].interface` index that does not exist): a bug, never valid output.
 */
export function formatResult(result: CniResult, version: CniVersion | string): Record<string, unknown> {
  const legacy = isLegacyResultVersion(version);
  const v11 = compareVersions(version, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };

  if (result.interfaces.length > 0) {
    out.interfaces = result.interfaces.map((i) => {
      const o: Record<string, unknown> = { name: i.name };
      if (i.mac) o.mac = i.mac;
      if (!legacy && i.mtu) o.mtu = i.mtu;
      if (i.sandbox) o.sandbox = i.sandbox;
      if (v11 && i.socketPath) o.socketPath = i.socketPath;
      if (v11 && i.pciID) o.pciID = i.pciID;
      return o;
    });
  }
  if (result.ips.length > 0) {
    out.ips = result.ips.map((ip, n) => {
      const o: Record<string, unknown> = {};
      if (legacy) {
        const family = parseCidr(ip.address)?.family;
        if (!family) throw new CniError(CniErrorCode.Internal, 'invalid result', `ips[${n}].address "${ip.address}" is not a CIDR`);
        o.version = String(family);
      }
      if (ip.interface !== undefined) {
        if (ip.interface < 0 || ip.interface >= result.interfaces.length) {
          throw new CniError(CniErrorCode.Internal, 'invalid result', `ips[${n}].interface ${ip.interface} is out of range`);
        }
        o.interface = ip.interface;
      }
      o.address = ip.address;
      if (ip.gateway) o.gateway = ip.gateway;
      return o;
    });
  }
  if (result.routes.length > 0) {
    out.routes = result.routes.map((r) => {
      const o: Record<string, unknown> = { dst: r.dst };
      if (r.gw) o.gw = r.gw;
      if (v11) {
        if (r.mtu) o.mtu = r.mtu;
        if (r.advmss) o.advmss = r.advmss;
        if (r.priority) o.priority = r.priority;
        if (r.table !== undefined) o.table = r.table;
        if (r.scope !== undefined) o.scope = r.scope;
      }
      return o;
    });
  }
  if (!isDnsEmpty(result.dns)) out.dns = { ...result.dns };
  for (const [key, value] of Object.entries(result.extensions ?? {})) if (!(key in out)) out[key] = value;
  return out;
}

/**
 * Chain `own` after `prev` (for an interface plugin that received a prevResult on ADD):
 * interfaces are appended and own ips' interface indices shifted; ips, routes appended;
 * dns fields from `own` win when set.
 */
export function appendResult(prev: CniResult, own: CniResult): CniResult {
  const shift = prev.interfaces.length;
  return {
    interfaces: [...prev.interfaces, ...own.interfaces],
    ips: [
      ...prev.ips,
      ...own.ips.map((ip) => (ip.interface === undefined ? { ...ip } : { ...ip, interface: ip.interface + shift })),
    ],
    routes: [...prev.routes, ...own.routes],
    dns: { ...prev.dns, ...own.dns },
    ...(prev.extensions || own.extensions ? { extensions: { ...prev.extensions, ...own.extensions } } : {}),
  };
}
