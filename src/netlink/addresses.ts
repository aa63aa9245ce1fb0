/** Interface addresses (RTM_NEWADDR / GETADDR / DELADDR), IPv4 and IPv6. */
import type { AddressMessage } from 'netlink/dist/rt/structs.js';
import { isNetlinkError } from './errors.js';
import { formatCidr, formatIp, ipv4Broadcast, parseCidr, type IpFamily } from './ip.js';
import { NLM_F, request, WAIT, type RtNetlinkSocket } from './socket.js';

export const AF_INET = 2;
export const AF_INET6 = 10;

export const afOf = (family: IpFamily): number => (family === 4 ? AF_INET : AF_INET6);

export interface AddressOptions {
  /** IPv6: skip duplicate address detection, so the address is usable at once (IFA_F_NODAD). */
  nodad?: boolean;
  /** Do not add the prefix route for the address (IFA_F_NOPREFIXROUTE). */
  noprefixroute?: boolean;
  /** Replace an existing identical address instead of failing with EEXIST. */
  replace?: boolean;
}

export interface AddressInfo {
  index: number;
  family: IpFamily;
  address: string;
  prefixLength: number;
  /** "address/prefixLength" */
  cidr: string;
  /** 0 global, 253 link, 254 host */
  scope: number;
  nodad: boolean;
  tentative: boolean;
  dadFailed: boolean;
}

export interface AddressFilter {
  index?: number;
  family?: IpFamily;
}

export async function addAddress(
  sock: RtNetlinkSocket,
  index: number,
  cidr: string,
  options: AddressOptions = {},
): Promise<void> {
  const parsed = parseCidr(cidr);
  const flags = {
    ...(options.nodad ? { nodad: true as const } : {}),
    ...(options.noprefixroute ? { noprefixroute: true as const } : {}),
  };
  const broadcast =
    parsed.family === 4 && parsed.prefixLength < 31 ? { broadcast: ipv4Broadcast(parsed.bytes, parsed.prefixLength) } : {};
  await request(`add address ${parsed.address}/${parsed.prefixLength} to link #${index}`, () =>
    sock.newAddress(
      { family: afOf(parsed.family), prefixlen: parsed.prefixLength, flags, scope: 0, index },
      { local: parsed.bytes, address: parsed.bytes, flags, ...broadcast },
      { flags: NLM_F.CREATE | (options.replace ? NLM_F.REPLACE : NLM_F.EXCL), ...WAIT },
    ),
  );
}

function toAddressInfo(msg: AddressMessage): AddressInfo | undefined {
  const { data, attrs } = msg;
  const bytes = attrs.local ?? attrs.address;
  if (!bytes || (data.family !== AF_INET && data.family !== AF_INET6)) return undefined;
  const flags = { ...data.flags, ...attrs.flags };
  const prefixLength = data.prefixlen ?? 0;
  return {
    index: data.index ?? 0,
    family: data.family === AF_INET ? 4 : 6,
    address: formatIp(bytes),
    prefixLength,
    cidr: formatCidr(bytes, prefixLength),
    scope: data.scope ?? 0,
    nodad: flags.nodad === true,
    tentative: flags.tentative === true,
    dadFailed: flags.dadfailed === true,
  };
}

export async function listAddresses(sock: RtNetlinkSocket, filter: AddressFilter = {}): Promise<AddressInfo[]> {
  const family = filter.family === undefined ? 0 : afOf(filter.family);
  const msgs = await request('list addresses', () => sock.getAddresses({ family }, {}, WAIT));
  return msgs
    .map(toAddressInfo)
    .filter((a): a is AddressInfo => a !== undefined)
    .filter((a) => (filter.index === undefined || a.index === filter.index) && (filter.family === undefined || a.family === filter.family));
}

/** Removes an address. Returns false when the address (or the link) was not there. */
export async function deleteAddress(sock: RtNetlinkSocket, index: number, cidr: string): Promise<boolean> {
  const parsed = parseCidr(cidr);
  try {
    await request(`delete address ${parsed.address}/${parsed.prefixLength} from link #${index}`, () =>
      sock.delAddress(
        { family: afOf(parsed.family), prefixlen: parsed.prefixLength, index },
        { local: parsed.bytes, address: parsed.bytes },
        WAIT,
      ),
    );
    return true;
  } catch (error) {
    if (isNetlinkError(error, 'EADDRNOTAVAIL', 'ENODEV')) return false;
    throw error;
  }
}
