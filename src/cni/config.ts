/**
 * The network configuration ovnic receives on stdin: decode (→ 6), network name (→ 7),
 * version negotiation (→ 1), then the ovnic keys with defaults and validation (→ 7).
 * Unknown keys are ignored (runtimes pass through other plugins' capabilities and conventions).
 */
import { CniError, CniErrorCode, invalidConfig } from './errors.js';
import { isValidCniName, validateIfname, type CniCommand } from './env.js';
import { formatRequestedIp, parseAssignableMac, parseRequestedIp, type RequestedIp } from './addr.js';
import { parseDns, parseResult, type CniDns, type CniResult } from './result.js';
import { attachmentKey } from './ownership.js';
import { SUPPORTED_VERSIONS, isSupportedVersion, versionAtLeast, type CniVersion } from './version.js';

export const NIC_TYPES = ['veth', 'internal-macvtap', 'dpdk-vhostuser'] as const;
export type NicType = (typeof NIC_TYPES)[number];

export const MACVTAP_MODES = ['bridge', 'vepa', 'private', 'passthru'] as const;
export type MacvtapMode = (typeof MACVTAP_MODES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULTS = {
  bridge: 'br-int',
  ovsdb: 'unix:/run/openvswitch/db.sock',
  nicType: 'veth' as NicType,
  provider: 'ovn',
  ovnWaitTimeoutMs: 15_000,
  macvtapMode: 'bridge' as MacvtapMode,
  vhostSocketDir: '/run/openvswitch/vhost_sockets',
} as const;

/** The `ipam` section: `type` names the delegated plugin; everything else belongs to that plugin. */
export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

export interface OvnWaitConf {
  /** Wait for Interface external_ids:ovn-installed=true after plugging. Set false when no ovn-controller runs. */
  enabled: boolean;
  timeoutMs: number;
}

/** One attachment as listed in `cni.dev/valid-attachments` (GC). */
export interface Attachment {
  containerID: string;
  ifname: string;
}

export interface RuntimeConfig {
  /** capability `ips`: addresses, each with an optional prefix. */
  ips: RequestedIp[];
  /** capability `mac`. */
  mac?: string;
}

export interface OvnicNetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  bridge: string;
  ovsdb: string;
  /** netns path where ovs-vswitchd runs and host-side links live; undefined = the plugin's own netns. */
  ovsNetns?: string;
  nicType: NicType;
  mtu?: number;
  provider: string;
  ipam?: IpamConf;
  dns?: CniDns;
  ovnWait: OvnWaitConf;
  macvtapMode: MacvtapMode;
  /** The guest (VM) configures its own addresses: ovnic does not put IPs/routes on the container link. */
  guestOwnsAddresses: boolean;
  vhostSocketDir: string;
  /** Unix socket of the node daemon (later). */
  serverSocket?: string;
  logFile?: string;
  /** undefined: `warn` when logging to stderr, `info` when logging to a file. */
  logLevel?: LogLevel;
  runtimeConfig: RuntimeConfig;
  /** `args.cni.ips` / `args.cni.mac` (the "args in network config" convention). */
  confArgs: RuntimeConfig;
  prevResult?: CniResult;
  /** DEL only: why a malformed prevResult was ignored. */
  prevResultIgnored?: string;
  /** GC only: union of `cni.dev/valid-attachments` and the legacy `cni.dev/attachments`. */
  validAttachments?: Attachment[];
  /** The decoded stdin object, untouched. */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON-decode stdin; not an object → CniError 6. */
export function decodeConfig(stdin: string | Uint8Array): Json {
  const text = typeof stdin === 'string' ? stdin : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CniError(CniErrorCode.DecodingFailure, 'error unmarshalling network config', (err as Error).message);
  }
  if (!isObject(parsed)) {
    throw new CniError(CniErrorCode.DecodingFailure, 'error unmarshalling network config', 'stdin must be a JSON object');
  }
  return parsed;
}

/** The `name` rule every plugin enforces first (skel): missing or bad characters → 7. */
export function validateNetworkName(raw: Json): string {
  const name = raw.name;
  if (name === undefined || name === '') throw invalidConfig('missing network name');
  if (typeof name !== 'string') throw invalidConfig('invalid network name', 'name must be a string');
  if (!isValidCniName(name)) throw invalidConfig('invalid characters found in network name', name);
  return name;
}

/**
 * The request's cniVersion must be one ovnic supports (→ 1 otherwise; absent means 0.1.0 as in
 * libcni); CHECK needs >= 0.4.0, GC and STATUS need >= 1.1.0 (→ 1). A non-string → 6.
 */
export function negotiateVersion(raw: Json, command: CniCommand): CniVersion {
  const v = raw.cniVersion ?? '0.1.0';
  if (typeof v !== 'string') throw new CniError(CniErrorCode.DecodingFailure, 'cniVersion must be a string', JSON.stringify(v));
  if (!isSupportedVersion(v)) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      `config is "${v}", plugin supports [${SUPPORTED_VERSIONS.join(' ')}]`,
    );
  }
  const minimum = command === 'CHECK' ? '0.4.0' : command === 'GC' || command === 'STATUS' ? '1.1.0' : undefined;
  if (minimum && !versionAtLeast(v, minimum)) {
    throw new CniError(CniErrorCode.IncompatibleVersion, `config version does not allow ${command}`, `${command} needs cniVersion >= ${minimum}, config is "${v}"`);
  }
  return v;
}

/** Decode + name + version + ovnic keys. The single entry the dispatcher uses. */
export function loadNetConf(stdin: string | Uint8Array, command: CniCommand): OvnicNetConf {
  const raw = decodeConfig(stdin);
  validateNetworkName(raw);
  const cniVersion = negotiateVersion(raw, command);
  return parseNetConf(raw, cniVersion, command);
}

/** Validate the ovnic keys of an already decoded and version-checked configuration (→ 7). */
export function parseNetConf(raw: Json, cniVersion: CniVersion, command: CniCommand): OvnicNetConf {
  const bad = (key: string, problem: string): CniError => invalidConfig(`invalid network config: "${key}" ${problem}`, `${key}=${JSON.stringify(raw[key])}`);
  const optString = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw bad(key, 'must be a string');
    return v;
  };
  const absPath = (key: string): string | undefined => {
    const v = optString(key);
    if (v !== undefined && !v.startsWith('/')) throw bad(key, 'must be an absolute path');
    return v;
  };
  const optBool = (key: string, fallback: boolean): boolean => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw bad(key, 'must be true or false');
    return v;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T | undefined): T | undefined => {
    const v = optString(key);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) throw bad(key, `must be one of ${allowed.join(', ')}`);
    return v as T;
  };

  const type = raw.type;
  if (typeof type !== 'string' || type === '' || type.includes('/')) throw bad('type', 'must be the plugin name (a non-empty string without "/")');

  const bridge = optString('bridge') ?? DEFAULTS.bridge;
  try {
    validateIfname(bridge);
  } catch {
    throw bad('bridge', 'must be a valid interface name (1..15 bytes, no "/", ":" or whitespace)');
  }

  const ovsdb = optString('ovsdb') ?? DEFAULTS.ovsdb;
  if (!/^(unix:\/.+|tcp:.+:\d+|ssl:.+:\d+)$/.test(ovsdb)) {
    throw bad('ovsdb', 'must be an OVSDB remote: unix:/path, tcp:host:port or ssl:host:port');
  }

  let mtu: number | undefined;
  if (raw.mtu !== undefined && raw.mtu !== null) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 68 || raw.mtu > 65535) {
      throw bad('mtu', 'must be an integer in 68..65535');
    }
    mtu = raw.mtu;
  }

  const provider = optString('provider') ?? DEFAULTS.provider;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(provider)) throw bad('provider', 'must match [A-Za-z0-9][A-Za-z0-9_.-]*');

  let ipam: IpamConf | undefined;
  if (raw.ipam !== undefined && raw.ipam !== null) {
    if (!isObject(raw.ipam)) throw bad('ipam', 'must be an object');
    const ipamType = raw.ipam.type;
    if (typeof ipamType !== 'string' || ipamType === '' || ipamType.includes('/') || ipamType === '.' || ipamType === '..') {
      throw invalidConfig('invalid network config: "ipam.type" must name an IPAM plugin binary', `ipam.type=${JSON.stringify(ipamType)}`);
    }
    ipam = { ...raw.ipam, type: ipamType };
  }

  const conf: OvnicNetConf = {
    cniVersion,
    name: raw.name as string,
    type,
    bridge,
    ovsdb,
    nicType: oneOf('nicType', NIC_TYPES, DEFAULTS.nicType) as NicType,
    provider,
    ovnWait: parseOvnWait(raw.ovnWait, bad),
    macvtapMode: oneOf('macvtapMode', MACVTAP_MODES, DEFAULTS.macvtapMode) as MacvtapMode,
    guestOwnsAddresses: optBool('guestOwnsAddresses', false),
    vhostSocketDir: absPath('vhostSocketDir') ?? DEFAULTS.vhostSocketDir,
    runtimeConfig: parseAddressing(raw.runtimeConfig, 'runtimeConfig'),
    confArgs: parseAddressing(isObject(raw.args) ? raw.args.cni : undefined, 'args.cni'),
    raw,
  };
  const ovsNetns = absPath('ovsNetns');
  if (ovsNetns !== undefined) conf.ovsNetns = ovsNetns;
  if (mtu !== undefined) conf.mtu = mtu;
  if (ipam) conf.ipam = ipam;
  if (raw.dns !== undefined && raw.dns !== null) conf.dns = parseDns(raw.dns);
  const serverSocket = absPath('serverSocket');
  if (serverSocket !== undefined) conf.serverSocket = serverSocket;
  const logFile = absPath('logFile');
  if (logFile !== undefined) conf.logFile = logFile;
  const logLevel = oneOf('logLevel', LOG_LEVELS, undefined);
  if (logLevel !== undefined) conf.logLevel = logLevel;

  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    try {
      conf.prevResult = parseResult(raw.prevResult, { defaultVersion: cniVersion, errorCode: CniErrorCode.InvalidNetworkConfig, what: 'prevResult' });
    } catch (err) {
      // DEL is best effort and never needs prevResult: a malformed one must not make it fail forever
      if (command !== 'DEL') throw err;
      conf.prevResultIgnored = (err as Error).message;
    }
  }
  if (command === 'GC') conf.validAttachments = parseValidAttachments(raw);
  return conf;
}

function parseOvnWait(value: unknown, bad: (key: string, problem: string) => CniError): OvnWaitConf {
  const wait: OvnWaitConf = { enabled: true, timeoutMs: DEFAULTS.ovnWaitTimeoutMs };
  if (value === undefined || value === null) return wait;
  if (!isObject(value)) throw bad('ovnWait', 'must be an object like {"enabled": true, "timeoutMs": 15000}');
  if (value.enabled !== undefined) {
    if (typeof value.enabled !== 'boolean') throw bad('ovnWait', '.enabled must be true or false');
    wait.enabled = value.enabled;
  }
  if (value.timeoutMs !== undefined) {
    const t = value.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 600_000) throw bad('ovnWait', '.timeoutMs must be an integer in 1..600000');
    wait.timeoutMs = t;
  }
  return wait;
}

/** `runtimeConfig` / `args.cni`: `ips` (capability ips) and `mac` (capability mac); invalid → 7. */
function parseAddressing(value: unknown, where: string): RuntimeConfig {
  const out: RuntimeConfig = { ips: [] };
  if (value === undefined || value === null) return out;
  if (!isObject(value)) throw invalidConfig(`invalid network config: "${where}" must be an object`);
  if (value.ips !== undefined && value.ips !== null) {
    if (!Array.isArray(value.ips)) throw invalidConfig(`invalid network config: "${where}.ips" must be an array of addresses`);
    for (const item of value.ips) {
      const ip = typeof item === 'string' ? parseRequestedIp(item) : undefined;
      if (!ip) throw invalidConfig(`invalid network config: "${where}.ips" entry is not an IP address or CIDR`, JSON.stringify(item));
      if (!out.ips.some((seen) => formatRequestedIp(seen) === formatRequestedIp(ip))) out.ips.push(ip);
    }
  }
  if (value.mac !== undefined && value.mac !== null && value.mac !== '') {
    const mac = typeof value.mac === 'string' ? parseAssignableMac(value.mac) : undefined;
    if (!mac) throw invalidConfig(`invalid network config: "${where}.mac" is not a unicast 48-bit MAC address`, JSON.stringify(value.mac));
    out.mac = mac;
  }
  return out;
}

/** GC input. Neither key present → 7: an absent list must never be read as "nothing is valid". */
export function parseValidAttachments(raw: Json): Attachment[] {
  const keys = ['cni.dev/valid-attachments', 'cni.dev/attachments'] as const;
  if (keys.every((k) => raw[k] === undefined || raw[k] === null)) {
    throw invalidConfig('GC needs the list of valid attachments', 'neither "cni.dev/valid-attachments" nor "cni.dev/attachments" is present');
  }
  const seen = new Set<string>();
  const out: Attachment[] = [];
  for (const key of keys) {
    const list = raw[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw invalidConfig(`invalid network config: "${key}" must be an array`);
    list.forEach((item, i) => {
      if (!isObject(item) || typeof item.containerID !== 'string' || item.containerID === '' || typeof item.ifname !== 'string' || item.ifname === '') {
        throw invalidConfig(`invalid network config: "${key}"[${i}] must be {"containerID": string, "ifname": string}`, JSON.stringify(item));
      }
      const k = attachmentKey(item.containerID, item.ifname);
      if (seen.has(k)) return;
      seen.add(k);
      out.push({ containerID: item.containerID, ifname: item.ifname });
    });
  }
  return out;
}

export interface RequestedAddressing {
  ips: RequestedIp[];
  mac?: string;
  /** Where each value came from, for messages and logs. */
  ipsFrom?: 'runtimeConfig' | 'args.cni' | 'CNI_ARGS';
  macFrom?: 'runtimeConfig' | 'args.cni' | 'CNI_ARGS';
}

/**
 * The addresses/MAC the runtime asked for. Precedence as in the reference plugins (later wins):
 * CNI_ARGS `IP=`/`MAC=` < `args.cni` < `runtimeConfig` (capabilities `ips`, `mac`).
 */
export function requestedAddressing(conf: OvnicNetConf, cniArgs: { ips: RequestedIp[]; mac?: string }): RequestedAddressing {
  const out: RequestedAddressing = { ips: [] };
  const sources = [
    ['CNI_ARGS', cniArgs],
    ['args.cni', conf.confArgs],
    ['runtimeConfig', conf.runtimeConfig],
  ] as const;
  for (const [from, src] of sources) {
    if (src.ips.length > 0) {
      out.ips = src.ips;
      out.ipsFrom = from;
    }
    if (src.mac) {
      out.mac = src.mac;
      out.macFrom = from;
    }
  }
  return out;
}
