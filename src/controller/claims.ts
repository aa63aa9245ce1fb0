/**
 * Addresses held by others than NicPorts — Kube-OVN IP objects and NB logical switch ports that ovnic
 * does not own — kept reserved in IPAM so no NicPort is ever given one of them. Each holder (owner key)
 * may be reported by several sources (its IP object and its LSP); IPAM holds the union. A claim that
 * cannot be applied (the address is held by someone else) is remembered and retried when addresses
 * are released or subnets appear.
 */
import { isIpamError, isValidMac, normalizeMac, tryParseIp, formatIp, type IpamRegistry, type RebuildEntry } from '../ipam/index.js';
import type { Logger } from '../util/log.js';

export interface ClaimConflict {
  owner: string;
  subnet?: string;
  address: string;
  holder?: string;
  reason: string;
}

export class ExternalClaims {
  /** owner → source → entries. */
  private readonly claims = new Map<string, Map<string, RebuildEntry[]>>();
  /** Owners with at least one claim not applied. */
  private readonly unapplied = new Set<string>();

  constructor(
    private readonly ipam: IpamRegistry,
    private readonly log: Logger,
    private readonly onConflict: (c: ClaimConflict) => void = () => undefined,
  ) {}

  /** Records claims without touching IPAM (after rebuild() loaded them). */
  record(owner: string, source: string, entries: readonly RebuildEntry[]): void {
    this.put(owner, source, entries);
  }

  /** Replaces what `source` reports for `owner` and brings IPAM in line. */
  set(owner: string, source: string, entries: readonly RebuildEntry[]): void {
    this.put(owner, source, entries);
    this.sync(owner);
  }

  clear(owner: string, source: string): void {
    const bySource = this.claims.get(owner);
    if (!bySource?.delete(source)) return;
    if (bySource.size === 0) this.claims.delete(owner);
    this.sync(owner);
  }

  has(owner: string): boolean {
    return this.claims.has(owner);
  }

  owners(): IterableIterator<string> {
    return this.claims.keys();
  }

  /** Applies every owner's claims again (after rebuild, or to retry conflicts). */
  syncAll(): void {
    for (const owner of [...this.claims.keys()]) this.sync(owner);
  }

  /** Retries claims that could not be applied (call after addresses were released or subnets added). */
  retry(): void {
    for (const owner of [...this.unapplied]) this.sync(owner);
  }

  get pendingConflicts(): number {
    return this.unapplied.size;
  }

  private put(owner: string, source: string, entries: readonly RebuildEntry[]): void {
    let bySource = this.claims.get(owner);
    if (entries.length === 0) {
      bySource?.delete(source);
      if (bySource?.size === 0) this.claims.delete(owner);
      return;
    }
    if (!bySource) this.claims.set(owner, (bySource = new Map()));
    bySource.set(source, [...entries]);
  }

  /** Makes IPAM hold exactly the union of `owner`'s claims (as far as possible). */
  private sync(owner: string): void {
    const wantIps = new Map<string, { subnet: string; ip: string }>();
    const wantMacs = new Set<string>();
    for (const entries of this.claims.get(owner)?.values() ?? []) {
      for (const e of entries) {
        if (e.mac && isValidMac(e.mac)) wantMacs.add(normalizeMac(e.mac));
        const ips = typeof e.ips === 'string' ? e.ips.split(',') : (e.ips ?? []);
        for (const text of ips) {
          const ip = canonical(text);
          if (e.subnet && ip !== '') wantIps.set(`${e.subnet}|${ip}`, { subnet: e.subnet, ip });
        }
      }
    }
    const held = this.ipam.holdings(owner);
    const heldIps = new Set(held.ips.map((r) => `${r.subnet}|${r.ip}`));
    // Release what is no longer claimed.
    for (const r of held.ips) if (!wantIps.has(`${r.subnet}|${r.ip}`)) this.ipam.releaseIp(r.subnet, r.ip, owner);
    for (const m of held.macs) if (!wantMacs.has(m)) this.ipam.releaseMac(m, owner);
    const quiet = this.unapplied.has(owner);
    let missing = false;
    for (const { subnet, ip } of wantIps.values()) {
      if (heldIps.has(`${subnet}|${ip}`)) continue;
      try {
        this.ipam.reserveIp(subnet, ip, owner, { allowExcluded: true });
      } catch (err) {
        if (!isIpamError(err)) throw err;
        if (err.reason === 'UnknownSubnet') {
          missing = true;
          continue;
        }
        if (err.reason === 'InUse') missing = true;
        if (!quiet) this.report({ owner, subnet, address: ip, ...(err.detail.holder ? { holder: err.detail.holder } : {}), reason: err.message });
      }
    }
    for (const mac of wantMacs) {
      if (held.macs.includes(mac)) continue;
      try {
        this.ipam.reserveMac(mac, owner);
      } catch (err) {
        if (!isIpamError(err)) throw err;
        if (err.reason === 'InUse') missing = true;
        if (!quiet) this.report({ owner, address: mac, ...(err.detail.holder ? { holder: err.detail.holder } : {}), reason: err.message });
      }
    }
    if (missing) this.unapplied.add(owner);
    else this.unapplied.delete(owner);
  }

  private report(c: ClaimConflict): void {
    this.log.warn(c, 'address held outside ovnic could not be reserved');
    this.onConflict(c);
  }
}

function canonical(text: string): string {
  const t = text.trim();
  const ip = tryParseIp(t);
  return ip ? formatIp(ip) : t;
}
