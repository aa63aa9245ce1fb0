/**
 * Rtnl: an rtnetlink socket bound to one network namespace, with the operations ovnic needs.
 *
 *   const host = Rtnl.open(ovsNetnsPath);            // where OVS sees the host end
 *   const pod = Netns.open(cniNetnsPath);
 *   await host.createVeth({ name: 'veth1234', up: true, peer: { name: 'eth0', netnsFd: pod.fd, mac, mtu } });
 *   const inPod = Rtnl.open(pod);
 *   ...
 *   inPod.close(); pod.close(); host.close();
 */
import { addAddress, deleteAddress, listAddresses, type AddressFilter, type AddressInfo, type AddressOptions } from './addresses.js';
import { getTxChecksum, setTxChecksum } from './ethtool.js';
import {
  createMacvlanLink,
  createVeth,
  deleteLink,
  getLink,
  getLinkByIndex,
  listLinks,
  setLink,
  type LinkChanges,
  type LinkInfo,
  type MacvlanSpec,
  type VethSpec,
} from './links.js';
import { Netns } from './netns.js';
import { addRoute, deleteRoute, listRoutes, type RouteFilter, type RouteInfo, type RouteSpec } from './routes.js';
import { openSocket, type RtNetlinkSocket } from './socket.js';
import { getSysctl, setSysctl } from './sysctl.js';
import { macvtapDevice, type TapDevice } from './tapdev.js';

export class Rtnl {
  private closed = false;

  private constructor(
    private readonly sock: RtNetlinkSocket,
    /** The namespace this socket works in; undefined: the process's own. */
    readonly netns: Netns | undefined,
    private readonly ownsNetns: boolean,
  ) {}

  /**
   * Opens a socket in the netns at `netns` (a path such as /run/netns/x or /proc/<pid>/ns/net,
   * or an open Netns, which stays the caller's to close), or in the own netns when omitted.
   */
  static open(netns?: string | Netns): Rtnl {
    if (netns === undefined) return new Rtnl(openSocket(), undefined, false);
    const handle = typeof netns === 'string' ? Netns.open(netns) : netns;
    try {
      return new Rtnl(openSocket(handle), handle, typeof netns === 'string');
    } catch (error) {
      if (typeof netns === 'string') handle.close();
      throw error;
    }
  }

  /** Closes the socket (and the netns handle if `open` opened it). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
    if (this.ownsNetns) this.netns?.close();
  }

  private get socket(): RtNetlinkSocket {
    if (this.closed) throw new Error('Rtnl socket is closed');
    return this.sock;
  }

  getLink(name: string): Promise<LinkInfo | undefined> {
    return getLink(this.socket, name);
  }

  getLinkByIndex(index: number): Promise<LinkInfo | undefined> {
    return getLinkByIndex(this.socket, index);
  }

  listLinks(): Promise<LinkInfo[]> {
    return listLinks(this.socket);
  }

  /** veth pair; the peer is created directly in `peer.netnsFd` if given. Returns the local end. */
  createVeth(spec: VethSpec): Promise<LinkInfo> {
    return createVeth(this.socket, spec);
  }

  /** macvtap on a lower device of this netns, created directly in `spec.netnsFd` if given. */
  createMacvtap(spec: MacvlanSpec): Promise<void> {
    return createMacvlanLink(this.socket, 'macvtap', spec);
  }

  createMacvlan(spec: MacvlanSpec): Promise<void> {
    return createMacvlanLink(this.socket, 'macvlan', spec);
  }

  /** Any of up/mac/mtu/name in one request. */
  setLink(index: number, changes: LinkChanges): Promise<void> {
    return setLink(this.socket, index, changes);
  }

  setUp(index: number): Promise<void> {
    return setLink(this.socket, index, { up: true });
  }

  setDown(index: number): Promise<void> {
    return setLink(this.socket, index, { up: false });
  }

  setMac(index: number, mac: string): Promise<void> {
    return setLink(this.socket, index, { mac });
  }

  setMtu(index: number, mtu: number): Promise<void> {
    return setLink(this.socket, index, { mtu });
  }

  /** false when the link did not exist. */
  deleteLink(link: number | string): Promise<boolean> {
    return deleteLink(this.socket, link);
  }

  addAddress(index: number, cidr: string, options?: AddressOptions): Promise<void> {
    return addAddress(this.socket, index, cidr, options);
  }

  listAddresses(filter?: AddressFilter): Promise<AddressInfo[]> {
    return listAddresses(this.socket, filter);
  }

  /** false when the address was not there. */
  deleteAddress(index: number, cidr: string): Promise<boolean> {
    return deleteAddress(this.socket, index, cidr);
  }

  addRoute(spec: RouteSpec): Promise<void> {
    return addRoute(this.socket, spec);
  }

  listRoutes(filter?: RouteFilter): Promise<RouteInfo[]> {
    return listRoutes(this.socket, filter);
  }

  /** false when no such route existed. */
  deleteRoute(spec: RouteSpec): Promise<boolean> {
    return deleteRoute(this.socket, spec);
  }

  /** Writes a sysctl of this namespace, e.g. ("net.ipv6.conf.eth0.accept_dad", 0). */
  setSysctl(key: string, value: string | number): void {
    setSysctl(key, value, this.netns);
  }

  getSysctl(key: string): string {
    return getSysctl(key, this.netns);
  }

  /** major:minor of the char device of a macvtap in this namespace. */
  macvtapDevice(ifname: string): TapDevice {
    return macvtapDevice(ifname, this.netns);
  }

  getTxChecksum(ifname: string): boolean {
    return getTxChecksum(ifname, this.netns);
  }

  /** `ethtool -K <ifname> tx off|on` in this namespace. */
  setTxChecksum(ifname: string, enabled: boolean): void {
    setTxChecksum(ifname, enabled, this.netns);
  }
}
