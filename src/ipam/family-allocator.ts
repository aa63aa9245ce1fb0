/**
 * Address bookkeeping for one family of one subnet.
 *
 * The free set (usable range minus gateway, exclusions and reservations) is a RangeSet, so
 * allocation takes the lowest free address in O(log n) and exclusions are never expanded.
 * Allocation is deterministic, lowest free first, as Kube-OVN does.
 */
import { IpamError, type IpamErrorReason } from './errors.js';
import { type IpFamily, cidrContainsValue, familyName, formatCidr, formatIpRange, formatIpValue, rangeContainsValue, rangeSize } from './ip.js';
import { RangeSet, StaticRanges } from './range-set.js';
import type { FamilySpec } from './subnet-spec.js';

export interface ReserveOptions {
  /**
   * Accept an address inside excludeIps. For rebuilding from sources that may hold one (Kube-OVN
   * lets a static IP sit in excludeIps): the address must count as used either way.
   */
  readonly allowExcluded?: boolean;
}

export class FamilyAllocator {
  private readonly free: RangeSet;
  private readonly excluded: StaticRanges;
  private readonly owners = new Map<bigint, string>();
  private readonly byOwner = new Map<string, bigint[]>();
  private readonly assignableTotal: bigint;

  constructor(
    readonly subnet: string,
    readonly spec: FamilySpec,
  ) {
    this.excluded = new StaticRanges(spec.exclusions.map((r) => [r.first, r.last] as const));
    const holes = new StaticRanges([...this.excluded.ranges(), [spec.gateway, spec.gateway]]);
    const free: Array<[bigint, bigint]> = [];
    let cursor = spec.usable.first;
    for (const [start, end] of holes.ranges()) {
      if (end < cursor) continue;
      if (start > spec.usable.last) break;
      if (start > cursor) free.push([cursor, start - 1n]);
      cursor = end + 1n;
    }
    if (cursor <= spec.usable.last) free.push([cursor, spec.usable.last]);
    this.free = RangeSet.fromSortedRanges(free);
    this.assignableTotal = this.free.size;
  }

  get family(): IpFamily {
    return this.spec.family;
  }

  format(value: bigint): string {
    return formatIpValue(this.spec.family, value);
  }

  /**
   * Why `owner` may not hold `value`, or undefined if it may (free, or already its own).
   * Order: OutOfRange, NotAssignable, IsGateway, Excluded, InUse.
   */
  problem(value: bigint, owner: string, options: ReserveOptions = {}): IpamError | undefined {
    const structural = this.structuralProblem(value, owner, options);
    if (structural) return structural;
    const holder = this.owners.get(value);
    if (holder !== undefined && holder !== owner) {
      return new IpamError('InUse', `${this.format(value)} in subnet ${this.subnet} is already held by ${holder}`, {
        subnet: this.subnet,
        ip: this.format(value),
        owner,
        holder,
      });
    }
    return undefined;
  }

  private structuralProblem(value: bigint, owner: string, options: ReserveOptions): IpamError | undefined {
    const { cidr, usable, gateway } = this.spec;
    const fail = (reason: IpamErrorReason, what: string): IpamError => {
      const ip = this.format(value);
      return new IpamError(reason, `${ip} ${what} subnet ${this.subnet} (${formatCidr(cidr)})`, { subnet: this.subnet, ip, owner });
    };
    if (!cidrContainsValue(cidr, value)) return fail('OutOfRange', 'is outside');
    if (!rangeContainsValue(usable, value)) {
      const role =
        value === cidr.network
          ? this.family === 4
            ? 'the network address'
            : 'the subnet-router anycast address'
          : this.family === 4
            ? 'the broadcast address'
            : 'the last address, which Kube-OVN never assigns,';
      return fail('NotAssignable', `cannot be assigned: it is ${role} of`);
    }
    if (value === gateway) return fail('IsGateway', 'is the gateway of');
    if (!options.allowExcluded) {
      const range = this.excluded.find(value);
      if (range) {
        const text = formatIpRange({ family: this.family, first: range[0], last: range[1] });
        return fail('Excluded', `is in excludeIps (${text}) of`);
      }
    }
    return undefined;
  }

  /**
   * Reserves `value` for `owner`. Returns true if newly reserved, false if the owner already held
   * it (idempotent). Throws IpamError (OutOfRange, NotAssignable, IsGateway, Excluded, InUse).
   */
  reserve(value: bigint, owner: string, options: ReserveOptions = {}): boolean {
    const err = this.problem(value, owner, options);
    if (err) throw err;
    if (this.owners.has(value)) return false;
    this.free.delete(value);
    this.record(value, owner);
    return true;
  }

  /** Reserves the lowest free address for `owner`; throws Exhausted when none is left. */
  allocate(owner: string): bigint {
    const value = this.free.takeMin();
    if (value === undefined) {
      throw new IpamError(
        'Exhausted',
        `no free ${familyName(this.family)} address left in subnet ${this.subnet} (${formatCidr(this.spec.cidr)}: ` +
          `${this.assignableTotal} assignable, ${this.owners.size} in use)`,
        { subnet: this.subnet, owner },
      );
    }
    this.record(value, owner);
    return value;
  }

  /**
   * Releases `value`. Returns false if nobody held it. With `owner`, throws NotOwner if someone
   * else holds it (and changes nothing).
   */
  release(value: bigint, owner?: string): boolean {
    const holder = this.owners.get(value);
    if (holder === undefined) return false;
    if (owner !== undefined && holder !== owner) {
      throw new IpamError('NotOwner', `${this.format(value)} in subnet ${this.subnet} is held by ${holder}, not ${owner}`, {
        subnet: this.subnet,
        ip: this.format(value),
        owner,
        holder,
      });
    }
    this.owners.delete(value);
    const list = this.byOwner.get(holder) as bigint[];
    list.splice(list.indexOf(value), 1);
    if (list.length === 0) this.byOwner.delete(holder);
    if (this.isAssignable(value)) this.free.add(value);
    return true;
  }

  /** Releases everything `owner` holds; returns the released values. */
  releaseOwner(owner: string): bigint[] {
    const held = [...(this.byOwner.get(owner) ?? [])];
    for (const v of held) this.release(v, owner);
    return held;
  }

  private record(value: bigint, owner: string): void {
    this.owners.set(value, owner);
    const list = this.byOwner.get(owner);
    if (list) list.push(value);
    else this.byOwner.set(owner, [value]);
  }

  /** In the usable range, not the gateway, not excluded. */
  isAssignable(value: bigint): boolean {
    return rangeContainsValue(this.spec.usable, value) && value !== this.spec.gateway && !this.excluded.has(value);
  }

  isExcluded(value: bigint): boolean {
    return this.excluded.has(value);
  }

  isFree(value: bigint): boolean {
    return this.free.has(value);
  }

  ownerOf(value: bigint): string | undefined {
    return this.owners.get(value);
  }

  /** Addresses held by `owner`, in reservation order. */
  addressesOf(owner: string): readonly bigint[] {
    return this.byOwner.get(owner) ?? [];
  }

  hasOwner(owner: string): boolean {
    return this.byOwner.has(owner);
  }

  /** All reservations (value, owner), in no particular order. */
  entries(): IterableIterator<[bigint, string]> {
    return this.owners.entries();
  }

  /** Owners holding at least one address. */
  ownerKeys(): IterableIterator<string> {
    return this.byOwner.keys();
  }

  /** Reservations held (including any inside excludeIps loaded by rebuild). */
  get usedCount(): number {
    return this.owners.size;
  }

  /** Addresses that allocate() may still hand out. */
  get freeCount(): bigint {
    return this.free.size;
  }

  /** Addresses in the usable range (network/broadcast left out), before gateway and exclusions. */
  get usableCount(): bigint {
    return rangeSize(this.spec.usable);
  }

  /** Addresses of the usable range that are never handed out: gateway plus exclusions. */
  get reservedCount(): bigint {
    return rangeSize(this.spec.usable) - this.assignableTotal;
  }

  /** Number of free intervals (fragmentation), for benchmarks and diagnostics. */
  get freeIntervals(): number {
    return this.free.intervalCount;
  }
}
