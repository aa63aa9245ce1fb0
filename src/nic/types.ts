/**
 * The NIC driver contract. ADD/DEL/CHECK/GC in src/cni/commands.ts do everything that is the
 * same for every NIC type (IPAM, OVS lookups and unplugging, the OVN binding wait, the result,
 * rollback); a driver does what is specific to its type: links, sockets, the OVS port's shape.
 *
 * ADD:   driver.add() creates the NIC, plugs it with env.ovs.plug(), registers an undo step for
 *        everything it creates (on `undo`), and calls env.fault() after each ADD step it owns
 *        ('link', 'container-config', 'ovs-port').
 * DEL:   driver.del() runs first with no records (remove by deterministic names, while OVSDB
 *        is being queried), then again with the records the caller found and unplugged, if any
 *        name differs; del() must be idempotent and must not need OVSDB.
 * CHECK: driver.check() returns what differs (empty: all good); the caller checks the OVS
 *        port's ownership, iface-id and the OVN binding.
 * GC:    the caller unplugs the stale port, then driver.gc() removes what hangs off it.
 */
import type { CniLogger } from '../cni/log.js';
import type { NicType, OvnicNetConf } from '../cni/config.js';
import type { AttachmentIdentity } from '../cni/ownership.js';
import type { CniInterface, CniIpConfig, CniRoute } from '../cni/result.js';
import type { FaultHook } from './faults.js';
import type { OvsPorts, PortRecord } from './ovs-port.js';
import type { UndoStack } from './undo.js';

/** One attachment, as every driver operation sees it. */
export interface NicEnv {
  conf: OvnicNetConf;
  identity: AttachmentIdentity;
  /** CNI_NETNS; '' on DEL when the runtime gave none. */
  netns: string;
  /** CNI_IFNAME. */
  ifname: string;
  ovs: OvsPorts;
  log: CniLogger;
  /** ADD checkpoints for fault injection (a no-op outside tests). */
  fault: FaultHook;
}

/** What ADD decided before the driver runs. */
export interface NicPlan {
  /** MAC of the container-side interface (must equal the OVN logical switch port's MAC). */
  mac: string;
  mtu?: number;
  /** Addresses (CIDR, gateway) for the container interface; empty when the guest configures its own. */
  ips: CniIpConfig[];
  /** Routes for the container interface; a route without `gw` uses its family's gateway from `ips` when there is one. */
  routes: CniRoute[];
  /** The Interface external_ids (ownership.ts); `extra` adds NIC-specific keys. */
  externalIds(extra?: Readonly<Record<string, string>>): Record<string, string>;
}

export interface NicAdded {
  /** Interfaces for the result, in order (host-side ones without `sandbox`). */
  interfaces: CniInterface[];
  /** Index in `interfaces` of the interface the addresses belong to. */
  ipInterface: number;
  /** The OVS port/interface name ADD waits on for the OVN binding. */
  portName: string;
  /** Top-level keys added to the ADD result (namespaced, e.g. "ovnic.dev/tap"); runtimes ignore unknown keys. */
  resultExtensions?: Record<string, unknown>;
}

/** What CHECK expects, from prevResult and the configuration. */
export interface NicExpectation {
  /** The container interface from prevResult (name = CNI_IFNAME, sandbox = CNI_NETNS), when listed. */
  iface: CniInterface | undefined;
  mtu?: number;
  ips: CniIpConfig[];
  routes: CniRoute[];
}

/** prepare() runs while OVSDB is still being connected. */
export type NicPrepareEnv = Omit<NicEnv, 'ovs'>;

/** DEL works without OVSDB (unreachable) and without fault hooks. */
export type NicDelEnv = Omit<NicEnv, 'ovs' | 'fault'>;

/** GC sees the network, not an attachment. */
export interface NicGcEnv {
  conf: OvnicNetConf;
  ovs: OvsPorts;
  log: CniLogger;
}

/**
 * One instance per CNI invocation (see createNicDriver): it may keep sockets and namespace
 * handles between calls; close() releases them.
 */
export interface NicDriver {
  readonly type: NicType;
  /**
   * Optional: check preconditions (e.g. CNI_IFNAME not taken) and load what add() needs. Runs
   * while the IPAM plugin allocates, so it must not change anything.
   */
  prepare?(env: NicPrepareEnv): Promise<void>;
  add(env: NicEnv, plan: NicPlan, undo: UndoStack): Promise<NicAdded>;
  /** `recorded`: OVS records of this attachment, already unplugged; empty on the first call, or when there are none or OVSDB is unreachable. */
  del(env: NicDelEnv, recorded: readonly PortRecord[]): Promise<void>;
  /** Problems found, each naming what differs; [] when the NIC is as expected. */
  check(env: NicEnv, expected: NicExpectation, recorded: PortRecord): Promise<string[]>;
  /** `stale`: an OVS record of this network not in the valid attachments, already unplugged. */
  gc(env: NicGcEnv, stale: PortRecord): Promise<void>;
  /**
   * Optional, GC after the stale ports: removes what this NIC type keeps outside OVS (socket
   * directories, device nodes) for attachments of the network that are not valid, including
   * those whose OVS port is already gone. Returns how many were removed.
   */
  gcOrphans?(env: NicGcEnv, isValid: (containerId: string, ifname: string) => boolean): Promise<number>;
  /** Optional, STATUS: throws a CniError (50) when this node cannot serve ADD for this NIC type. */
  status?(env: NicGcEnv): Promise<void>;
  close(): void;
}
