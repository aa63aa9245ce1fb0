/**
 * Transmit checksum offload (SIOCETHTOOL ETHTOOL_[GS]TXCSUM), the equivalent of
 * `ethtool -K <if> tx off`. Only needed with an OVS userspace datapath that runs without
 * `userspace-tso-enable`: there, TCP/UDP from a veth with tx checksum offload arrive with bad
 * checksums. The ioctl resolves the name in the netns it runs in.
 */
import { NetlinkError } from './errors.js';
import { validateLinkName } from './links.js';
import { setnsAddon } from './native.js';
import { inNetns, type Netns } from './netns.js';

const ETHTOOL_GTXCSUM = 0x16;
const ETHTOOL_STXCSUM = 0x17;

function wrap<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new NetlinkError(e.code ?? 'EUNKNOWN', Math.abs(e.errno ?? 0), operation, e.message);
  }
}

export function getTxChecksum(ifname: string, netns?: Netns): boolean {
  validateLinkName(ifname);
  return wrap(`read tx checksum offload of "${ifname}"`, () =>
    inNetns(netns, () => setnsAddon().ethtoolGet(ifname, ETHTOOL_GTXCSUM) !== 0),
  );
}

export function setTxChecksum(ifname: string, enabled: boolean, netns?: Netns): void {
  validateLinkName(ifname);
  wrap(`turn tx checksum offload ${enabled ? 'on' : 'off'} on "${ifname}"`, () =>
    inNetns(netns, () => setnsAddon().ethtoolSet(ifname, ETHTOOL_STXCSUM, enabled ? 1 : 0)),
  );
}
