/**
 * All subnets known to the controller plus the cluster-wide MAC pool.
 *
 * Single-threaded by construction (one JS event loop): every public method completes its change
 * or throws with nothing changed.
 */
import { IpamError, invalidInput } from './errors.js';
import { type MacAssignment, MacPool, type MacPoolOptions, normalizeMac } from './mac.js';
import { assertOwner } from './owner.js';
import { type FamilyStats, type IpRequest, type Reservation, type SubnetAllocation, SubnetAllocator } from './subnet-allocator.js';
import { formatExclusions, parseKubeOvnSubnet, type SubnetSpec } from './subnet-spec.js';
import { parseIp } from './ip.js';
import type { ReserveOptions } from './family-allocator.js';

export interface AllocateRequest {
  /** User-given IPs: one or both families ("10.0.0.5", "10.0.0.5,fd00::5"); others are allocated. */
  readonly ip?: IpRequest;
  /** User-given MAC; generated (locally administered) when absent and the owner has none. */
  readonly mac?: string;
}

export interface Allocation extends SubnetAllocation {
  readonly mac: string;
  readonly macCreated: boolean;
  readonly releasedMacs: readonly string[];
}

/** One holder's addresses as seen by an external source, for rebuild(). */
export interface RebuildEntry {
  readonly owner: string;
  /** Where the claim was found, for conflict reports: "nicport", "kube-ovn-ip", "nb-lsp", ... */
  readonly source: string;
  readonly subnet?: string;
  /** Any number of addresses (an LSP may list several per family). */
  readonly ips?: string | readonly string[];
  readonly mac?: string;
}

export interface ReportedReservation extends Reservation {
  readonly source: string;
}

export interface RebuildConflict {
  readonly kind: 'ip' | 'mac';
  readonly subnet?: string;
  readonly address: string;
  /** The claim loaded first, which keeps the address. */
  readonly heldBy: string;
  readonly heldBySource: string;
  /** The claim refused. */
  readonly claimedBy: string;
  readonly claimedBySource: string;
}

export interface RebuildRejection {
  readonly owner: string;
  readonly source: string;
  readonly subnet?: string;
  readonly address?: string;
  readonly error: IpamError;
}

export interface RebuildReport {
  /** Addresses and MACs newly reserved. */
  loaded: number;
  conflicts: RebuildConflict[];
  rejected: RebuildRejection[];
  /** Entries waiting for their subnet to be added (applied by upsertSubnet). */
  waitingForSubnet: number;
  /** Loaded although inside excludeIps (Kube-OVN allows static IPs there). */
  insideExclusions: ReportedReservation[];
}

export interface SubnetUpdateReport {
  readonly subnet: string;
  readonly created: boolean;
  /** False when the update changed nothing IPAM cares about (reservations untouched). */
  readonly changed: boolean;
  /** Reservations that the new definition cannot hold (outside the CIDR, now the gateway, ...): dropped. */
  readonly dropped: ReadonlyArray<{ readonly ip: string; readonly owner: string; readonly error: IpamError }>;
  /** Reservations kept although now inside excludeIps. */
  readonly insideExclusions: readonly Reservation[];
  /** Rebuild entries that were waiting for this subnet. */
  readonly applied?: RebuildReport;
  readonly warnings: readonly string[];
}

export interface OwnerHoldings {
  readonly ips: readonly Reservation[];
  readonly macs: readonly string[];
}

export interface IpamRegistryOptions {
  readonly mac?: MacPoolOptions;
}

function emptyReport(): RebuildReport {
  return { loaded: 0, conflicts: [], rejected: [], waitingForSubnet: 0, insideExclusions: [] };
}

function specKey(spec: SubnetSpec): string {
  return JSON.stringify([spec.cidrBlock, spec.gateway, formatExclusions(spec), spec.provider, spec.vpc, spec.protocol]);
}

function ipList(ips: string | readonly string[] | undefined): string[] {
  if (ips === undefined) return [];
  if (typeof ips === 'string') return ips.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [...ips];
}

export class IpamRegistry {
  private readonly subnets = new Map<string, SubnetAllocator>();
  private readonly macs: MacPool;
  /** Rebuild entries whose subnet is not known yet, by subnet name. */
  private readonly waiting = new Map<string, RebuildEntry[]>();
  /** Source of rebuild-loaded claims, by "subnet|ip|owner" or "mac|mac|owner". */
  private readonly sources = new Map<string, string>();

  constructor(options: IpamRegistryOptions = {}) {
    this.macs = new MacPool(options.mac);
  }

  // ---- subnets ---------------------------------------------------------------------------------

  /**
   * Adds a subnet or replaces its definition. On replacement every reservation is carried over
   * if the new definition can hold it; the others are dropped and listed. Rebuild entries that
   * were waiting for this subnet are applied.
   */
  upsertSubnet(spec: SubnetSpec): SubnetUpdateReport {
    const old = this.subnets.get(spec.name);
    if (old && specKey(old.spec) === specKey(spec)) {
      return { subnet: spec.name, created: false, changed: false, dropped: [], insideExclusions: [], warnings: spec.warnings };
    }
    const next = new SubnetAllocator(spec);
    const dropped: Array<{ ip: string; owner: string; error: IpamError }> = [];
    const insideExclusions: Reservation[] = [];
    if (old) {
      for (const { ip, owner } of old.reservations()) {
        try {
          next.reserve(ip, owner, { allowExcluded: true });
          const addr = parseIp(ip);
          if (next.family(addr.family)?.isExcluded(addr.value)) insideExclusions.push({ subnet: spec.name, ip, owner });
        } catch (err) {
          if (!(err instanceof IpamError)) throw err;
          dropped.push({ ip, owner, error: err });
        }
      }
    }
    this.subnets.set(spec.name, next);
    const report: SubnetUpdateReport = {
      subnet: spec.name,
      created: !old,
      changed: true,
      dropped,
      insideExclusions,
      warnings: spec.warnings,
    };
    const waiting = this.waiting.get(spec.name);
    if (!waiting) return report;
    this.waiting.delete(spec.name);
    const applied = emptyReport();
    for (const entry of waiting) this.loadIps(next, entry, applied);
    return { ...report, applied };
  }

  /** Parses a kubeovn.io/v1 Subnet object and upserts it. */
  upsertKubeOvnSubnet(obj: unknown): SubnetUpdateReport {
    return this.upsertSubnet(parseKubeOvnSubnet(obj));
  }

  /** Removes a subnet; returns the reservations it held (they are gone). */
  removeSubnet(name: string): Reservation[] {
    const sub = this.subnets.get(name);
    this.waiting.delete(name);
    if (!sub) return [];
    this.subnets.delete(name);
    return sub.reservations();
  }

  subnet(name: string): SubnetAllocator | undefined {
    return this.subnets.get(name);
  }

  subnetNames(): string[] {
    return [...this.subnets.keys()];
  }

  private require(name: string, owner?: string): SubnetAllocator {
    const sub = this.subnets.get(name);
    if (!sub) {
      throw new IpamError('UnknownSubnet', `subnet ${JSON.stringify(name)} is not known (no such kubeovn.io Subnet)`, {
        subnet: name,
        ...(owner !== undefined ? { owner } : {}),
      });
    }
    return sub;
  }

  // ---- allocation ------------------------------------------------------------------------------

  /**
   * Gives `owner` one address per family of `subnet` and one MAC, atomically: the requested ones
   * (checked) or the owner's current ones or new ones. Idempotent: the same call again returns
   * the same result and changes nothing. If the owner held other addresses/MAC (a changed
   * request), those are released once everything else succeeded.
   */
  allocate(subnet: string, owner: string, request: AllocateRequest = {}): Allocation {
    assertOwner(owner);
    const sub = this.require(subnet, owner);
    const ips = sub.prepare(owner, request.ip);
    let mac;
    try {
      mac = this.macs.prepare(owner, request.mac);
    } catch (err) {
      ips.rollback();
      throw err;
    }
    ips.commit();
    mac.commit();
    return { ...ips.result, mac: mac.result.mac, macCreated: mac.result.created, releasedMacs: mac.result.released };
  }

  /** What allocate() would fail with, or undefined. Changes nothing. */
  check(subnet: string, owner: string, request: AllocateRequest = {}): IpamError | undefined {
    const sub = this.subnets.get(subnet);
    if (!sub) return new IpamError('UnknownSubnet', `subnet ${JSON.stringify(subnet)} is not known (no such kubeovn.io Subnet)`, { subnet, owner });
    const ipProblem = sub.check(owner, request.ip);
    if (ipProblem) return ipProblem;
    if (request.mac !== undefined && request.mac !== '') return this.macs.problem(request.mac, owner);
    return undefined;
  }

  /** Reserves one address for `owner` (e.g. an LSP address or a Kube-OVN IP seen at runtime). */
  reserveIp(subnet: string, ip: string, owner: string, options: ReserveOptions = {}): boolean {
    return this.require(subnet, owner).reserve(ip, owner, options);
  }

  reserveMac(mac: string, owner: string): boolean {
    return this.macs.reserve(mac, owner);
  }

  /** Gives `owner` exactly one MAC (requested, current or generated), without IPs. */
  acquireMac(owner: string, mac?: string): MacAssignment {
    return this.macs.acquire(owner, mac);
  }

  releaseIp(subnet: string, ip: string, owner?: string): boolean {
    const sub = this.subnets.get(subnet);
    return sub ? sub.releaseIp(ip, owner) : false;
  }

  releaseMac(mac: string, owner?: string): boolean {
    return this.macs.release(mac, owner);
  }

  /** Releases the owner's addresses in one subnet (its MAC stays). */
  releaseIn(subnet: string, owner: string): string[] {
    this.dropWaiting(owner, subnet);
    return this.subnets.get(subnet)?.release(owner) ?? [];
  }

  /** Releases everything `owner` holds: addresses in every subnet and its MACs. */
  release(owner: string): OwnerHoldings {
    this.dropWaiting(owner);
    const ips: Reservation[] = [];
    for (const sub of this.subnets.values()) {
      for (const ip of sub.release(owner)) ips.push({ subnet: sub.name, ip, owner });
    }
    return { ips, macs: this.macs.releaseOwner(owner) };
  }

  private dropWaiting(owner: string, subnet?: string): void {
    for (const [name, entries] of this.waiting) {
      if (subnet !== undefined && name !== subnet) continue;
      const kept = entries.filter((e) => e.owner !== owner);
      if (kept.length === 0) this.waiting.delete(name);
      else this.waiting.set(name, kept);
    }
  }

  ownerOfIp(subnet: string, ip: string): string | undefined {
    return this.subnets.get(subnet)?.ownerOf(ip);
  }

  ownerOfMac(mac: string): string | undefined {
    return this.macs.ownerOf(mac);
  }

  holdings(owner: string): OwnerHoldings {
    const ips: Reservation[] = [];
    for (const sub of this.subnets.values()) {
      for (const ip of sub.addressesOf(owner)) ips.push({ subnet: sub.name, ip, owner });
    }
    return { ips, macs: [...this.macs.macsOf(owner)] };
  }

  // ---- rebuild ---------------------------------------------------------------------------------

  /**
   * Replaces every reservation with the claims of `entries` (NicPorts, Kube-OVN IP objects, NB
   * LSP addresses, ...). The first claim of an address keeps it; a later claim by another owner
   * is reported as a conflict, never merged. Claims of the same owner from several sources are
   * one reservation. Entries naming a subnet not added yet wait for upsertSubnet.
   */
  rebuild(entries: Iterable<RebuildEntry>): RebuildReport {
    for (const [name, sub] of this.subnets) this.subnets.set(name, new SubnetAllocator(sub.spec));
    this.macs.clear();
    this.waiting.clear();
    this.sources.clear();
    const report = emptyReport();
    for (const entry of entries) {
      if (typeof entry.owner !== 'string' || entry.owner === '') {
        report.rejected.push({ owner: String(entry.owner), source: entry.source, error: invalidInput('rebuild entry has an empty owner') });
        continue;
      }
      if (entry.mac !== undefined && entry.mac !== '') this.loadMac(entry, entry.mac, report);
      if (ipList(entry.ips).length === 0) continue;
      if (entry.subnet === undefined || entry.subnet === '') {
        report.rejected.push({ owner: entry.owner, source: entry.source, error: invalidInput(`rebuild entry of ${entry.owner} lists IPs but no subnet`) });
        continue;
      }
      const sub = this.subnets.get(entry.subnet);
      if (sub) this.loadIps(sub, entry, report);
      else {
        const list = this.waiting.get(entry.subnet);
        if (list) list.push(entry);
        else this.waiting.set(entry.subnet, [entry]);
        report.waitingForSubnet++;
      }
    }
    return report;
  }

  private loadMac(entry: RebuildEntry, mac: string, report: RebuildReport): void {
    try {
      if (this.macs.reserve(mac, entry.owner)) {
        report.loaded++;
        this.sources.set(`mac|${normalizeMac(mac)}|${entry.owner}`, entry.source);
      }
    } catch (err) {
      if (!(err instanceof IpamError)) throw err;
      if (err.reason === 'InUse' && err.detail.holder !== undefined) {
        const address = err.detail.mac ?? mac;
        report.conflicts.push({
          kind: 'mac',
          address,
          heldBy: err.detail.holder,
          heldBySource: this.sources.get(`mac|${address}|${err.detail.holder}`) ?? 'live',
          claimedBy: entry.owner,
          claimedBySource: entry.source,
        });
      } else report.rejected.push({ owner: entry.owner, source: entry.source, address: mac, error: err });
    }
  }

  private loadIps(sub: SubnetAllocator, entry: RebuildEntry, report: RebuildReport): void {
    for (const text of ipList(entry.ips)) {
      try {
        const addr = parseIp(text);
        const fam = sub.family(addr.family);
        if (!fam) {
          sub.reserve(text, entry.owner); // throws FamilyNotInSubnet
          continue;
        }
        if (!fam.reserve(addr.value, entry.owner, { allowExcluded: true })) continue;
        const ip = fam.format(addr.value);
        report.loaded++;
        this.sources.set(`${sub.name}|${ip}|${entry.owner}`, entry.source);
        if (fam.isExcluded(addr.value)) report.insideExclusions.push({ subnet: sub.name, ip, owner: entry.owner, source: entry.source });
      } catch (err) {
        if (!(err instanceof IpamError)) throw err;
        if (err.reason === 'InUse' && err.detail.holder !== undefined && err.detail.ip !== undefined) {
          report.conflicts.push({
            kind: 'ip',
            subnet: sub.name,
            address: err.detail.ip,
            heldBy: err.detail.holder,
            heldBySource: this.sources.get(`${sub.name}|${err.detail.ip}|${err.detail.holder}`) ?? 'live',
            claimedBy: entry.owner,
            claimedBySource: entry.source,
          });
        } else report.rejected.push({ owner: entry.owner, source: entry.source, subnet: sub.name, address: text, error: err });
      }
    }
  }

  // ---- observation -----------------------------------------------------------------------------

  /** used/free per subnet and family, for gauges. */
  stats(): FamilyStats[] {
    return [...this.subnets.values()].flatMap((s) => s.stats());
  }

  get macCount(): number {
    return this.macs.size;
  }

  reservations(): Reservation[] {
    return [...this.subnets.values()].flatMap((s) => s.reservations());
  }

  macEntries(): Array<{ mac: string; owner: string }> {
    return [...this.macs.entries()].map(([mac, owner]) => ({ mac, owner }));
  }
}
