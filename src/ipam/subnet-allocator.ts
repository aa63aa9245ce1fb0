/**
 * One subnet, both families, with atomic dual-stack allocation: either every family of the
 * subnet gets its address, or nothing changes (a v6 failure rolls the v4 reservation back, so a
 * half-allocated dual-stack port cannot exist).
 */
import { IpamError, invalidInput } from './errors.js';
import { FamilyAllocator, type ReserveOptions } from './family-allocator.js';
import { type IpAddress, type IpFamily, familyName, formatIpValue, parseIp } from './ip.js';
import { assertOwner } from './owner.js';
import { oncePending, type Pending } from './pending.js';
import type { SubnetSpec } from './subnet-spec.js';

/** "10.0.0.5", "fd00::5", "10.0.0.5,fd00::5", or the same as a list. Empty/undefined: none. */
export type IpRequest = string | readonly string[] | undefined;

export interface ParsedIpRequest {
  readonly v4?: IpAddress;
  readonly v6?: IpAddress;
}

/** Parses a user-given IP request naming at most one address per family. */
export function parseIpRequest(request: IpRequest): ParsedIpRequest {
  if (request === undefined || request === null) return {};
  const parts: string[] = [];
  if (typeof request === 'string') {
    if (request.trim() === '') return {};
    parts.push(...request.split(',').map((p) => p.trim()));
  } else if (Array.isArray(request)) {
    for (const item of request as readonly unknown[]) {
      if (typeof item !== 'string') throw invalidInput(`IP request ${JSON.stringify(request)}: every element must be a string`);
      parts.push(item.trim());
    }
  } else {
    throw invalidInput(`IP request ${JSON.stringify(request)} is neither a string nor a list of strings`);
  }
  const text = JSON.stringify(typeof request === 'string' ? request : parts.join(','));
  if (parts.length > 2) throw invalidInput(`IP request ${text} names more than two addresses (at most one IPv4 and one IPv6)`);
  const out: { v4?: IpAddress; v6?: IpAddress } = {};
  for (const part of parts) {
    if (part === '') throw invalidInput(`IP request ${text} has an empty element`);
    const ip = parseIp(part);
    const key = ip.family === 4 ? 'v4' : 'v6';
    if (out[key]) throw invalidInput(`IP request ${text} names two ${familyName(ip.family)} addresses`);
    out[key] = ip;
  }
  return out;
}

export interface SubnetAllocation {
  readonly subnet: string;
  readonly owner: string;
  readonly v4?: string;
  readonly v6?: string;
  /** v4 then v6, the form of Kube-OVN's ip_address annotation when joined with ",". */
  readonly ips: readonly string[];
  /** Addresses this call newly reserved. */
  readonly created: readonly string[];
  /** Other addresses the owner held in these families, released on commit (the owner moved). */
  readonly released: readonly string[];
}

export interface FamilyStats {
  readonly subnet: string;
  readonly family: IpFamily;
  readonly cidr: string;
  /** Reservations held. */
  readonly used: number;
  /** Addresses still assignable. */
  readonly free: bigint;
  /** Usable range size (network/broadcast left out). */
  readonly size: bigint;
  /** Gateway plus excluded addresses of the usable range. */
  readonly reserved: bigint;
}

export interface Reservation {
  readonly subnet: string;
  readonly ip: string;
  readonly owner: string;
}

export class SubnetAllocator {
  readonly v4?: FamilyAllocator;
  readonly v6?: FamilyAllocator;

  constructor(readonly spec: SubnetSpec) {
    if (spec.v4) this.v4 = new FamilyAllocator(spec.name, spec.v4);
    if (spec.v6) this.v6 = new FamilyAllocator(spec.name, spec.v6);
  }

  get name(): string {
    return this.spec.name;
  }

  family(family: IpFamily): FamilyAllocator | undefined {
    return family === 4 ? this.v4 : this.v6;
  }

  families(): FamilyAllocator[] {
    return [this.v4, this.v6].filter((f): f is FamilyAllocator => f !== undefined);
  }

  private familyFor(ip: IpAddress, owner?: string): FamilyAllocator {
    const fam = this.family(ip.family);
    if (!fam) {
      const text = formatIpValue(ip.family, ip.value);
      throw new IpamError(
        'FamilyNotInSubnet',
        `${text} is ${familyName(ip.family)} but subnet ${this.name} (${this.spec.cidrBlock}) has no ${familyName(ip.family)} CIDR`,
        { subnet: this.name, ip: text, ...(owner !== undefined ? { owner } : {}) },
      );
    }
    return fam;
  }

  private parseRequest(owner: string, request: IpRequest): Map<FamilyAllocator, bigint> {
    const parsed = parseIpRequest(request);
    const targets = new Map<FamilyAllocator, bigint>();
    for (const ip of [parsed.v4, parsed.v6]) {
      if (ip) targets.set(this.familyFor(ip, owner), ip.value);
    }
    return targets;
  }

  /**
   * Gives `owner` one address in every family of the subnet: the requested one where the request
   * names it (checked), else the owner's current one, else the lowest free. Nothing is changed
   * until commit(); on any error nothing is changed at all.
   */
  prepare(owner: string, request?: IpRequest): Pending<SubnetAllocation> {
    assertOwner(owner);
    const requested = this.parseRequest(owner, request);
    const created: Array<[FamilyAllocator, bigint]> = [];
    const chosen: Array<[FamilyAllocator, bigint]> = [];
    try {
      for (const fam of this.families()) {
        const want = requested.get(fam);
        if (want !== undefined) {
          if (fam.reserve(want, owner)) created.push([fam, want]);
          chosen.push([fam, want]);
          continue;
        }
        const current = fam.addressesOf(owner)[0];
        if (current !== undefined) {
          chosen.push([fam, current]);
          continue;
        }
        const value = fam.allocate(owner);
        created.push([fam, value]);
        chosen.push([fam, value]);
      }
    } catch (err) {
      for (const [fam, value] of created) fam.release(value, owner);
      throw err;
    }
    const stale: Array<[FamilyAllocator, bigint]> = [];
    for (const [fam, value] of chosen) {
      for (const held of fam.addressesOf(owner)) if (held !== value) stale.push([fam, held]);
    }
    const ips: string[] = [];
    let v4: string | undefined;
    let v6: string | undefined;
    for (const [fam, value] of chosen) {
      const text = fam.format(value);
      ips.push(text);
      if (fam.family === 4) v4 = text;
      else v6 = text;
    }
    const result: SubnetAllocation = {
      subnet: this.name,
      owner,
      ...(v4 !== undefined ? { v4 } : {}),
      ...(v6 !== undefined ? { v6 } : {}),
      ips,
      created: created.map(([f, v]) => f.format(v)),
      released: stale.map(([f, v]) => f.format(v)),
    };
    return oncePending(
      result,
      () => {
        for (const [fam, value] of stale) fam.release(value, owner);
      },
      () => {
        for (const [fam, value] of created) fam.release(value, owner);
      },
    );
  }

  /** prepare() + commit(). */
  allocate(owner: string, request?: IpRequest): SubnetAllocation {
    const pending = this.prepare(owner, request);
    pending.commit();
    return pending.result;
  }

  /**
   * What allocate(owner, request) would fail with, or undefined if it would succeed. Changes
   * nothing.
   */
  check(owner: string, request?: IpRequest): IpamError | undefined {
    try {
      assertOwner(owner);
      const requested = this.parseRequest(owner, request);
      for (const fam of this.families()) {
        const want = requested.get(fam);
        if (want !== undefined) {
          const err = fam.problem(want, owner);
          if (err) return err;
        } else if (!fam.hasOwner(owner) && fam.freeCount === 0n) {
          return new IpamError('Exhausted', `no free ${familyName(fam.family)} address left in subnet ${this.name}`, {
            subnet: this.name,
            owner,
          });
        }
      }
      return undefined;
    } catch (err) {
      if (err instanceof IpamError) return err;
      throw err;
    }
  }

  /**
   * Reserves one given address for `owner` without touching the owner's other addresses (an LSP
   * or a Kube-OVN IP object may hold several). Returns true if newly reserved.
   */
  reserve(ip: string, owner: string, options: ReserveOptions = {}): boolean {
    assertOwner(owner);
    const addr = parseIp(ip);
    return this.familyFor(addr, owner).reserve(addr.value, owner, options);
  }

  /** Releases one address; see FamilyAllocator.release. */
  releaseIp(ip: string, owner?: string): boolean {
    const addr = parseIp(ip);
    const fam = this.family(addr.family);
    return fam ? fam.release(addr.value, owner) : false;
  }

  /** Releases every address of `owner` in this subnet; returns them. */
  release(owner: string): string[] {
    return this.families().flatMap((fam) => fam.releaseOwner(owner).map((v) => fam.format(v)));
  }

  ownerOf(ip: string): string | undefined {
    const addr = parseIp(ip);
    return this.family(addr.family)?.ownerOf(addr.value);
  }

  isUsed(ip: string): boolean {
    return this.ownerOf(ip) !== undefined;
  }

  /** Addresses held by `owner` (v4 first, each family in reservation order). */
  addressesOf(owner: string): string[] {
    return this.families().flatMap((fam) => fam.addressesOf(owner).map((v) => fam.format(v)));
  }

  hasOwner(owner: string): boolean {
    return this.families().some((fam) => fam.hasOwner(owner));
  }

  reservations(): Reservation[] {
    const out: Reservation[] = [];
    for (const fam of this.families()) {
      for (const [value, owner] of fam.entries()) out.push({ subnet: this.name, ip: fam.format(value), owner });
    }
    return out;
  }

  owners(): Set<string> {
    const out = new Set<string>();
    for (const fam of this.families()) for (const o of fam.ownerKeys()) out.add(o);
    return out;
  }

  stats(): FamilyStats[] {
    return this.families().map((fam) => ({
      subnet: this.name,
      family: fam.family,
      cidr: `${formatIpValue(fam.family, fam.spec.cidr.network)}/${fam.spec.cidr.prefix}`,
      used: fam.usedCount,
      free: fam.freeCount,
      size: fam.usableCount,
      reserved: fam.reservedCount,
    }));
  }
}
