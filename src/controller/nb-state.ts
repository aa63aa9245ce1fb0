/**
 * The controller's view of OVN NB: a monitor of Logical_Switch (name, ports) and Logical_Switch_Port
 * (the columns ovnic manages), indexed by name, by owning NicPort and by switch, and kept current by the
 * client across reconnects (monitor_cond_since resume or resync — both report row changes).
 */
import { NB, type Monitor, type Nb, type OvsdbClient, type RowChange } from '../ovs/index.js';
import { EXT_OWNER, EXT_VENDOR, VENDOR } from './constants.js';

export type Lsp = Nb.LogicalSwitchPort;
export type Ls = Nb.LogicalSwitch;

export interface NbListener {
  port(old: Lsp | undefined, now: Lsp | undefined): void;
  /** `diff`: ports added to / removed from the switch's `ports`. */
  switch(old: Ls | undefined, now: Ls | undefined, diff: PortsDiff): void;
}

const LSP_COLUMNS = ['name', 'addresses', 'port_security', 'external_ids', 'type'] as const;
const LS_COLUMNS = ['name', 'ports'] as const;

export function isOvnicPort(lsp: Lsp): boolean {
  return lsp.external_ids[EXT_VENDOR] === VENDOR;
}

export function ownerOfPort(lsp: Lsp): string | undefined {
  const k = lsp.external_ids[EXT_OWNER];
  return k === undefined || k === '' ? undefined : k;
}

export class NbState {
  private readonly portsByName = new Map<string, Lsp>();
  private readonly portsByUuid = new Map<string, Lsp>();
  private readonly switchesByName = new Map<string, Ls>();
  private readonly switchesByUuid = new Map<string, Ls>();
  /** LSP uuid → uuid of the switch listing it. */
  private readonly switchOfPort = new Map<string, string>();
  /** NicPort key → names of LSPs whose external_ids name it as owner. */
  private readonly portsByOwner = new Map<string, Set<string>>();
  private unsubscribe: (() => void) | undefined;

  private constructor(
    private readonly monitor: Monitor<Nb.Tables>,
    private readonly listener: NbListener,
  ) {}

  static async start(client: OvsdbClient, listener: NbListener): Promise<NbState> {
    const monitor = await client.monitor(NB, {
      Logical_Switch: { columns: LS_COLUMNS },
      Logical_Switch_Port: { columns: LSP_COLUMNS },
    });
    const state = new NbState(monitor, listener);
    for (const ls of monitor.replica.rows('Logical_Switch')) state.putSwitch(undefined, ls);
    for (const lsp of monitor.replica.rows('Logical_Switch_Port')) state.putPort(undefined, lsp);
    state.unsubscribe = monitor.replica.onChange((c) => state.onChange(c));
    return state;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.monitor.cancel().catch(() => undefined);
  }

  port(name: string): Lsp | undefined {
    return this.portsByName.get(name);
  }

  portByUuid(uuid: string): Lsp | undefined {
    return this.portsByUuid.get(uuid);
  }

  switchByName(name: string): Ls | undefined {
    return this.switchesByName.get(name);
  }

  /** The switch listing the port, if any. */
  switchOf(lsp: Lsp): Ls | undefined {
    const ls = this.switchOfPort.get(lsp._uuid);
    return ls === undefined ? undefined : this.switchesByUuid.get(ls);
  }

  portsOwnedBy(key: string): Lsp[] {
    const names = this.portsByOwner.get(key);
    if (!names) return [];
    return [...names].map((n) => this.portsByName.get(n)).filter((p): p is Lsp => p !== undefined);
  }

  ports(): IterableIterator<Lsp> {
    return this.portsByName.values();
  }

  get portCount(): number {
    return this.portsByName.size;
  }

  private onChange(c: RowChange<Nb.Tables>): void {
    if (c.table === 'Logical_Switch_Port') {
      const old = c.old as Lsp | undefined;
      const now = c.new as Lsp | undefined;
      this.putPort(old, now);
      this.listener.port(old, now);
    } else if (c.table === 'Logical_Switch') {
      const old = c.old as Ls | undefined;
      const now = c.new as Ls | undefined;
      const diff = this.putSwitch(old, now);
      this.listener.switch(old, now, diff);
    }
  }

  private putPort(old: Lsp | undefined, now: Lsp | undefined): void {
    if (old) {
      if (this.portsByName.get(old.name)?._uuid === old._uuid) this.portsByName.delete(old.name);
      this.portsByUuid.delete(old._uuid);
      const owner = ownerOfPort(old);
      if (owner !== undefined) {
        const set = this.portsByOwner.get(owner);
        set?.delete(old.name);
        if (set?.size === 0) this.portsByOwner.delete(owner);
      }
    }
    if (now) {
      this.portsByName.set(now.name, now);
      this.portsByUuid.set(now._uuid, now);
      const owner = ownerOfPort(now);
      if (owner !== undefined) {
        let set = this.portsByOwner.get(owner);
        if (!set) this.portsByOwner.set(owner, (set = new Set()));
        set.add(now.name);
      }
    }
  }

  private putSwitch(old: Ls | undefined, now: Ls | undefined): PortsDiff {
    if (old) {
      if (this.switchesByName.get(old.name)?._uuid === old._uuid) this.switchesByName.delete(old.name);
      this.switchesByUuid.delete(old._uuid);
    }
    if (now) {
      this.switchesByName.set(now.name, now);
      this.switchesByUuid.set(now._uuid, now);
    }
    const diff = portsDiff(old?.ports ?? [], now?.ports ?? []);
    for (const p of diff.removed) if (this.switchOfPort.get(p) === old?._uuid) this.switchOfPort.delete(p);
    if (now) for (const p of diff.added) this.switchOfPort.set(p, now._uuid);
    return diff;
  }
}

export interface PortsDiff {
  added: string[];
  removed: string[];
}

/**
 * Ports added to and removed from a switch, without building sets of all its ports (a switch may list
 * thousands, and every port added changes the row). One ordered walk: elements of `before` missing at
 * the current position of `after` count as removed, what is left of `after` as added. Exact when the
 * common elements keep their order (as set updates do); after a reorder an element may show up as
 * removed and added, which applied in that order is still right.
 */
export function portsDiff(before: readonly string[], after: readonly string[]): PortsDiff {
  const added: string[] = [];
  const removed: string[] = [];
  let j = 0;
  for (let i = 0; i < before.length; i++) {
    if (j < after.length && before[i] === after[j]) j++;
    else removed.push(before[i] as string);
  }
  for (; j < after.length; j++) added.push(after[j] as string);
  return { added, removed };
}
