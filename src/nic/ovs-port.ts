/**
 * OVS ports owned by ovnic, on top of the typed OVSDB client: plug (one transaction), look up by
 * attachment or network through Interface external_ids, unplug, wait for the OVN binding.
 *
 * A CNI invocation opens one connection (no get_schema: the typed operations carry the schema)
 * and closes it when done.
 */
import { OvsdbClient, OvsdbOperationError, OVS, namedUuid, ovsOps, type Condition, type Ovs, type WriteRow } from '../ovs/index.js';
import { silentLogger } from '../util/log.js';
import { EXTERNAL_ID, OVNIC_VENDOR, parseOwnership, type OwnershipRecord } from '../cni/ownership.js';

export interface PortSpec {
  bridge: string;
  /** Port and Interface name (the host-side link for a system interface). */
  name: string;
  /** Interface type: '' (system device, default), 'internal', 'dpdkvhostuserclient', ... */
  type?: string;
  options?: Readonly<Record<string, string>>;
  /** Interface external_ids; must carry `iface-id` (see buildExternalIds). */
  externalIds: Readonly<Record<string, string>>;
  mtuRequest?: number;
}

export interface PlugOutcome {
  portUuid: string;
  interfaceUuid: string;
  /** Bridge.datapath_type ('netdev' = userspace datapath). */
  datapathType: string;
  /** Open_vSwitch other_config:userspace-tso-enable=true (veth TX checksum offload then works on netdev). */
  userspaceTso: boolean;
  /** Interfaces whose `iface-id` was taken away because they claimed the same logical port. */
  clearedIfaceIdFrom: string[];
  /** A stale Port of the same name (left by an earlier attachment of this same container/ifname) was replaced. */
  replacedStalePort: boolean;
}

/** An OVS Interface (and its Port) as found in the database. */
export interface PortRecord {
  interfaceUuid: string;
  /** undefined when the Interface is not referenced by any Port (should not happen: OVSDB garbage-collects those). */
  portUuid: string | undefined;
  name: string;
  type: string;
  externalIds: Record<string, string>;
  /** Parsed ownership; undefined when not ovnic's. */
  owner: OwnershipRecord | undefined;
  ofport: number | undefined;
  error: string | undefined;
  options: Record<string, string>;
}

/** Thrown by plug() when the bridge does not exist. */
export class BridgeMissingError extends Error {
  override name = 'BridgeMissingError';
  constructor(readonly bridge: string) {
    super(`OVS bridge "${bridge}" does not exist`);
  }
}

/** Thrown by plug() when a Port of that name exists and is not a stale port of the same attachment. */
export class PortNameTakenError extends Error {
  override name = 'PortNameTakenError';
  constructor(
    readonly portName: string,
    readonly holder: string,
  ) {
    super(`an OVS port named "${portName}" already exists (${holder})`);
  }
}

/** Thrown by waitOvnInstalled() on timeout; carries what OVS reported for the Interface. */
export class OvnBindingTimeoutError extends Error {
  override name = 'OvnBindingTimeoutError';
  constructor(
    readonly portName: string,
    readonly ifaceId: string | undefined,
    readonly timeoutMs: number,
    readonly interfaceError: string | undefined,
  ) {
    super(
      `OVN did not bind port "${portName}"${ifaceId ? ` (iface-id "${ifaceId}")` : ''} within ${timeoutMs} ms: ` +
        `Interface external_ids:ovn-installed is not "true"` +
        (interfaceError ? `; OVS reports: ${interfaceError}` : ''),
    );
  }
}

export interface ConnectOptions {
  /** Give up connecting after this long (default 5000 ms). */
  timeoutMs?: number;
}

const INTERFACE_COLUMNS = ['_uuid', 'name', 'type', 'external_ids', 'ofport', 'error', 'options'] as const;

type InterfaceRow = Pick<Ovs.Interface, (typeof INTERFACE_COLUMNS)[number]>;

export class OvsPorts {
  private constructor(
    readonly client: OvsdbClient,
    private readonly ownsClient: boolean,
  ) {}

  /** One connection for one CNI invocation: no reconnects, no keepalive. */
  static async connect(remote: string, options: ConnectOptions = {}): Promise<OvsPorts> {
    const client = await OvsdbClient.connect(remote, {
      connectTimeoutMs: options.timeoutMs ?? 5000,
      reconnect: false,
      keepaliveIntervalMs: 0,
      leaderOnly: false,
      log: silentLogger,
    });
    return new OvsPorts(client, true);
  }

  /** Wraps an existing client (the caller keeps it). */
  static over(client: OvsdbClient): OvsPorts {
    return new OvsPorts(client, false);
  }

  close(): void {
    if (this.ownsClient) this.client.close();
  }

  /**
   * Adds Port + Interface `spec.name` to `spec.bridge` in one transaction which also fails if
   * the bridge is missing and takes `iface-id` away from any other Interface claiming the same
   * logical port (a stale sandbox of the same pod). A Port of the same name that belongs to the
   * same (containerID, ifname) — left over by an ADD that was never deleted — is replaced in a
   * second transaction; any other holder of the name is an error.
   */
  async plug(spec: PortSpec): Promise<PlugOutcome> {
    try {
      return await this.plugOnce(spec, undefined);
    } catch (err) {
      if (!isNameConflict(err)) throw err;
    }
    const stale = await this.findByName(spec.name);
    const holder = stale?.owner;
    const mine = spec.externalIds;
    if (
      !stale ||
      !holder ||
      holder.containerId !== mine[EXTERNAL_ID.containerId] ||
      holder.ifname !== mine[EXTERNAL_ID.ifname]
    ) {
      const who = holder ? `owned by container ${holder.containerId} ifname ${holder.ifname}` : 'not created by ovnic';
      throw new PortNameTakenError(spec.name, who);
    }
    return this.plugOnce(spec, stale.portUuid);
  }

  private async plugOnce(spec: PortSpec, replacePortUuid: string | undefined): Promise<PlugOutcome> {
    const ifaceId = spec.externalIds[EXTERNAL_ID.ifaceId];
    const iface: WriteRow<Ovs.Interface> = {
      name: spec.name,
      type: spec.type ?? '',
      external_ids: spec.externalIds,
    };
    if (spec.options) iface.options = spec.options;
    if (spec.mtuRequest !== undefined) iface.mtu_request = spec.mtuRequest;
    const bridgeWhere = [['name', '==', spec.bridge]] as const;
    let results: unknown[];
    try {
      results = await this.client.transact(OVS, [
        ovsOps.wait('Bridge', bridgeWhere, ['name'], '==', [{ name: spec.bridge }], 0),
        ifaceId
          ? ovsOps.select('Interface', [['external_ids', 'includes', { [EXTERNAL_ID.ifaceId]: ifaceId }]], ['name'])
          : ovsOps.comment('no iface-id'),
        ifaceId
          ? ovsOps.mutate('Interface', [['external_ids', 'includes', { [EXTERNAL_ID.ifaceId]: ifaceId }]], [['external_ids', 'delete', [EXTERNAL_ID.ifaceId]]])
          : ovsOps.comment('no iface-id'),
        replacePortUuid
          ? ovsOps.mutate('Bridge', [], [['ports', 'delete', [replacePortUuid]]])
          : ovsOps.comment('no stale port'),
        ovsOps.insert('Interface', iface, 'iface'),
        ovsOps.insert('Port', { name: spec.name, interfaces: [namedUuid('iface')] }, 'port'),
        ovsOps.mutate('Bridge', bridgeWhere, [['ports', 'insert', [namedUuid('port')]]]),
        ovsOps.select('Bridge', bridgeWhere, ['datapath_type']),
        ovsOps.select('Open_vSwitch', [], ['other_config']),
        ovsOps.comment(`ovnic: plug ${spec.name}`),
      ]);
    } catch (err) {
      if (err instanceof OvsdbOperationError && err.index === 0 && err.op === 'wait') throw new BridgeMissingError(spec.bridge);
      throw err;
    }
    const cleared = (results[1] as { name: string }[] | undefined) ?? [];
    const bridge = (results[7] as { datapath_type: string }[])[0];
    const ovs = (results[8] as { other_config: Record<string, string> }[])[0];
    return {
      interfaceUuid: results[4] as string,
      portUuid: results[5] as string,
      datapathType: bridge?.datapath_type ?? '',
      userspaceTso: ovs?.other_config['userspace-tso-enable'] === 'true',
      clearedIfaceIdFrom: cleared.map((r) => r.name),
      replacedStalePort: replacePortUuid !== undefined,
    };
  }

  /** Removes the given Ports from every bridge (OVSDB then drops the Port and Interface rows). Returns how many were given. */
  async unplug(portUuids: readonly string[]): Promise<number> {
    if (portUuids.length === 0) return 0;
    await this.client.transact(OVS, [ovsOps.mutate('Bridge', [], [['ports', 'delete', [...portUuids]]]), ovsOps.comment('ovnic: unplug')]);
    return portUuids.length;
  }

  /** ovnic-owned Interfaces of one attachment (normally one). */
  async findByAttachment(containerId: string, ifname: string): Promise<PortRecord[]> {
    return this.findOwned({ [EXTERNAL_ID.containerId]: containerId, [EXTERNAL_ID.ifname]: ifname });
  }

  /** ovnic-owned Interfaces of one network (GC). */
  async findByNetwork(network: string): Promise<PortRecord[]> {
    return this.findOwned({ [EXTERNAL_ID.network]: network });
  }

  /** The Interface named `name` with its Port, whoever owns it. */
  async findByName(name: string): Promise<PortRecord | undefined> {
    const [rows] = await this.client.transact(OVS, [ovsOps.select('Interface', [['name', '==', name]], INTERFACE_COLUMNS)]);
    return (await this.withPorts(rows))[0];
  }

  /** Bridge present? */
  async bridgeExists(bridge: string): Promise<boolean> {
    const [rows] = await this.client.transact(OVS, [ovsOps.select('Bridge', [['name', '==', bridge]], ['name'])]);
    return rows.length > 0;
  }

  /** Name of the bridge holding the Port, if any. */
  async bridgeOf(portUuid: string): Promise<string | undefined> {
    const [rows] = await this.client.transact(OVS, [ovsOps.select('Bridge', [['ports', 'includes', [portUuid]]], ['name'])]);
    return rows[0]?.name;
  }

  /**
   * Resolves once ovn-controller has set `external_ids:ovn-installed=true` on Interface `name`
   * (its flows are in place). One server-side `wait` operation: ovsdb-server re-evaluates it on
   * every change, so no monitor and no polling. Throws OvnBindingTimeoutError after `timeoutMs`.
   */
  async waitOvnInstalled(name: string, timeoutMs: number): Promise<void> {
    await this.waitInterface(name, [['external_ids', 'includes', { 'ovn-installed': 'true' }]], timeoutMs, async () => {
      const rec = await this.findByName(name).catch(() => undefined);
      return new OvnBindingTimeoutError(name, rec?.externalIds[EXTERNAL_ID.ifaceId], timeoutMs, rec?.error);
    });
  }

  /**
   * Resolves once ovs-vswitchd has opened Interface `name` (ofport > 0); throws with the
   * Interface's `error` column when it could not (ofport -1) or after `timeoutMs`.
   */
  async waitAttached(name: string, timeoutMs: number): Promise<void> {
    // ofport != [] (set, either a port number or -1 on failure); the model types 0..1 columns as scalars
    const ofportSet: Condition<Ovs.Interface> = ['ofport', '!=', [] as unknown as number];
    await this.waitInterface(name, [ofportSet], timeoutMs, async () => {
      const rec = await this.findByName(name).catch(() => undefined);
      return new Error(`ovs-vswitchd did not attach "${name}" within ${timeoutMs} ms${rec?.error ? `: ${rec.error}` : ''}`);
    });
    const rec = await this.findByName(name);
    if (rec && (rec.ofport === undefined || rec.ofport < 0)) {
      throw new Error(`ovs-vswitchd could not attach "${name}"${rec.error ? `: ${rec.error}` : ''}`);
    }
  }

  private async waitInterface(
    name: string,
    extra: readonly Condition<Ovs.Interface>[],
    timeoutMs: number,
    onTimeout: () => Promise<Error>,
  ): Promise<void> {
    try {
      await this.client.transact(
        OVS,
        [ovsOps.wait('Interface', [['name', '==', name], ...extra], ['name'], '!=', [], timeoutMs)],
        { timeoutMs: timeoutMs + 5000 },
      );
    } catch (err) {
      if (err instanceof OvsdbOperationError && err.op === 'wait') throw await onTimeout();
      throw err;
    }
  }

  private async findOwned(keys: Record<string, string>): Promise<PortRecord[]> {
    const [rows] = await this.client.transact(OVS, [
      ovsOps.select('Interface', [['external_ids', 'includes', { [EXTERNAL_ID.vendor]: OVNIC_VENDOR, ...keys }]], INTERFACE_COLUMNS),
    ]);
    return this.withPorts(rows);
  }

  private async withPorts(rows: readonly InterfaceRow[]): Promise<PortRecord[]> {
    if (rows.length === 0) return [];
    const selects = rows.map((r) => ovsOps.select('Port', [['interfaces', 'includes', [r._uuid]]], ['_uuid']));
    const ports = (await this.client.transact(OVS, selects)) as { _uuid: string }[][];
    return rows.map((r, i) => ({
      interfaceUuid: r._uuid,
      portUuid: ports[i]?.[0]?._uuid,
      name: r.name,
      type: r.type,
      externalIds: r.external_ids,
      owner: parseOwnership(r.external_ids),
      ofport: r.ofport,
      error: r.error,
      options: r.options,
    }));
  }
}

function isNameConflict(err: unknown): boolean {
  return err instanceof OvsdbOperationError && err.error === 'constraint violation' && /index on column "name"/.test(err.details ?? '');
}
