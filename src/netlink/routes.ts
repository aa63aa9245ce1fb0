/** Routes (RTM_NEWROUTE / GETROUTE / DELROUTE) in a table of the socket's netns, IPv4 and IPv6. */
import type { RouteMessage } from 'netlink/dist/rt/structs.js';
import { afOf, AF_INET, AF_INET6 } from './addresses.js';
import { isNetlinkError } from './errors.js';
import { formatCidr, formatIp, parseCidr, parseIp, type IpFamily, type ParsedCidr } from './ip.js';
import { NLM_F, request, rtStructs, WAIT, type RtNetlinkSocket } from './socket.js';

const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
/** In a delete request: match any scope. */
const RT_SCOPE_NOWHERE = 255;
const RTN_UNICAST = 1;
const RTNH_F_ONLINK = 4;

export interface RouteSpec {
  /** Destination CIDR; "default" (with `family` or a gateway), "0.0.0.0/0" or "::/0" for a default route. */
  dst: string;
  /** Needed only for dst "default" without a gateway. */
  family?: IpFamily;
  gateway?: string;
  /** Output interface. */
  index?: number;
  /** RTA_PRIORITY; the kernel uses 0 (IPv4) / 1024 (IPv6) when omitted. */
  metric?: number;
  /** Routing table (default main, 254). */
  table?: number;
  /** Preferred source address (RTA_PREFSRC). */
  src?: string;
  /** Gateway is on-link even if no address prefix covers it. */
  onlink?: boolean;
  /** Replace a matching route instead of failing with EEXIST. */
  replace?: boolean;
}

export interface RouteInfo {
  family: IpFamily;
  /** Destination CIDR, "0.0.0.0/0" / "::/0" for default routes. */
  dst: string;
  gateway?: string;
  index?: number;
  metric?: number;
  table: number;
  /** Numeric rtm_protocol / rtm_scope / rtm_type. */
  protocol: number;
  scope: number;
  type: number;
  src?: string;
}

export interface RouteFilter {
  family?: IpFamily;
  index?: number;
  /** Default main (254). */
  table?: number;
}

interface ResolvedRoute {
  family: IpFamily;
  dst: ParsedCidr;
  gateway?: Buffer;
  src?: Buffer;
}

function resolve(spec: RouteSpec): ResolvedRoute {
  const gateway = spec.gateway === undefined ? undefined : parseIp(spec.gateway);
  let family = spec.family ?? gateway?.family;
  let dst: ParsedCidr;
  if (spec.dst === 'default') {
    if (!family) throw new TypeError('route "default" needs a family or a gateway');
    dst = parseCidr(family === 4 ? '0.0.0.0/0' : '::/0');
  } else {
    dst = parseCidr(spec.dst);
    family ??= dst.family;
  }
  const src = spec.src === undefined ? undefined : parseIp(spec.src);
  for (const [what, value] of [['destination', dst], ['gateway', gateway], ['source', src]] as const) {
    if (value && value.family !== family) {
      throw new TypeError(`route ${spec.dst}: ${what} ${value.address} is not IPv${family}`);
    }
  }
  return {
    family,
    dst,
    ...(gateway ? { gateway: gateway.bytes } : {}),
    ...(src ? { src: src.bytes } : {}),
  };
}

function describe(spec: RouteSpec): string {
  return `route ${spec.dst}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.index !== undefined ? ` dev #${spec.index}` : ''}`;
}

function routeMessage(spec: RouteSpec, resolved: ResolvedRoute) {
  const table = spec.table ?? RT_TABLE_MAIN;
  return {
    data: {
      family: afOf(resolved.family),
      dstLen: resolved.dst.prefixLength,
      table: table < 256 ? table : 0,
      protocol: RTPROT_BOOT,
      scope: resolved.gateway || resolved.family === 6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      type: RTN_UNICAST,
      ...(spec.onlink ? { flags: { __unknown: RTNH_F_ONLINK } } : {}),
    },
    attrs: {
      ...(resolved.dst.prefixLength > 0 ? { dst: resolved.dst.bytes } : {}),
      ...(resolved.gateway ? { gateway: resolved.gateway } : {}),
      ...(spec.index !== undefined ? { oif: spec.index } : {}),
      ...(spec.metric !== undefined ? { priority: spec.metric } : {}),
      ...(resolved.src ? { prefsrc: resolved.src } : {}),
      table,
    },
  };
}

export async function addRoute(sock: RtNetlinkSocket, spec: RouteSpec): Promise<void> {
  const { data, attrs } = routeMessage(spec, resolve(spec));
  await request(`add ${describe(spec)}`, () =>
    sock.newRoute(data, attrs, { flags: NLM_F.CREATE | (spec.replace ? NLM_F.REPLACE : NLM_F.EXCL), ...WAIT }),
  );
}

/** Removes a route. Returns false when no such route existed. */
export async function deleteRoute(sock: RtNetlinkSocket, spec: RouteSpec): Promise<boolean> {
  const { data, attrs } = routeMessage(spec, resolve(spec));
  // wildcards for the kernel's match: any protocol, scope and type
  const { protocol: _protocol, ...match } = data;
  try {
    await request(`delete ${describe(spec)}`, () =>
      sock.delRoute({ ...match, scope: RT_SCOPE_NOWHERE, type: 0 }, attrs, WAIT),
    );
    return true;
  } catch (error) {
    if (isNetlinkError(error, 'ESRCH', 'ENOENT', 'ENODEV')) return false;
    throw error;
  }
}

function toRouteInfo(msg: RouteMessage): RouteInfo | undefined {
  const { data, attrs } = msg;
  if (data.family !== AF_INET && data.family !== AF_INET6) return undefined;
  const family: IpFamily = data.family === AF_INET ? 4 : 6;
  const dstLen = data.dstLen ?? 0;
  const dst = attrs.dst ?? Buffer.alloc(family === 4 ? 4 : 16);
  const info: RouteInfo = {
    family,
    dst: formatCidr(dst, dstLen),
    table: attrs.table ?? data.table ?? 0,
    protocol: enumValue(data.protocol, rtStructs().RouteProtocol),
    scope: enumValue(data.scope, rtStructs().RouteScope),
    type: enumValue(data.type, rtStructs().RouteType),
  };
  if (attrs.gateway) info.gateway = formatIp(attrs.gateway);
  if (attrs.oif !== undefined) info.index = attrs.oif;
  if (attrs.priority !== undefined) info.metric = attrs.priority;
  if (attrs.prefsrc) info.src = formatIp(attrs.prefsrc);
  return info;
}

/** The `netlink` package decodes known enum values to their names; turn them back into numbers. */
function enumValue(value: number | string | undefined, names: Record<string, string | number>): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const number = names[value];
  return typeof number === 'number' ? number : -1;
}

/** Unicast routes of a table (default main), optionally of one family / output interface. */
export async function listRoutes(sock: RtNetlinkSocket, filter: RouteFilter = {}): Promise<RouteInfo[]> {
  const table = filter.table ?? RT_TABLE_MAIN;
  const family = filter.family === undefined ? 0 : afOf(filter.family);
  const msgs = await request('list routes', () => sock.getRoutes({ family }, {}, WAIT));
  return msgs
    .map(toRouteInfo)
    .filter((r): r is RouteInfo => r !== undefined)
    .filter(
      (r) =>
        r.table === table &&
        r.type === RTN_UNICAST &&
        (filter.family === undefined || r.family === filter.family) &&
        (filter.index === undefined || r.index === filter.index),
    );
}
