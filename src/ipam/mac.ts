/**
 * MAC addresses: strict parsing, canonical form (lowercase, colon separated), and a pool that
 * keeps MACs unique per owner and generates random locally administered unicast MACs.
 */
import { randomFillSync } from 'node:crypto';
import { IpamError, invalidInput } from './errors.js';
import { assertOwner } from './owner.js';
import { oncePending, type Pending } from './pending.js';

const MAC_TEXT = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (any case) to 48 bits; syntax only. */
function parseMacBytes(text: string): number[] {
  if (typeof text !== 'string' || !MAC_TEXT.test(text)) {
    throw invalidInput(`invalid MAC address ${JSON.stringify(text)}: expected six two-digit hex groups separated by ":" (or "-")`, {
      mac: String(text),
    });
  }
  return text.split(/[:-]/).map((g) => Number.parseInt(g, 16));
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function formatBytes(bytes: ArrayLike<number>): string {
  let out = HEX_BYTE[bytes[0] as number] as string;
  for (let i = 1; i < 6; i++) out += `:${HEX_BYTE[bytes[i] as number] as string}`;
  return out;
}

export function isMulticastMac(mac: string): boolean {
  return ((parseMacBytes(mac)[0] as number) & 0x01) !== 0;
}

export function isLocallyAdministeredMac(mac: string): boolean {
  return ((parseMacBytes(mac)[0] as number) & 0x02) !== 0;
}

/**
 * Validates a MAC for a NIC and returns it canonical. Refuses group (multicast/broadcast) and
 * all-zero addresses: a port cannot use them as its own address.
 */
export function normalizeMac(text: string): string {
  const bytes = parseMacBytes(text);
  if (((bytes[0] as number) & 0x01) !== 0) {
    throw invalidInput(`invalid MAC address ${JSON.stringify(text)}: it is a multicast/broadcast (group) address; a NIC needs a unicast MAC`, {
      mac: text,
    });
  }
  if (bytes.every((b) => b === 0)) throw invalidInput(`invalid MAC address ${JSON.stringify(text)}: all zeros`, { mac: text });
  return formatBytes(bytes);
}

export function isValidMac(text: string): boolean {
  try {
    normalizeMac(text);
    return true;
  } catch {
    return false;
  }
}

/** Crypto-random bytes drawn from a refilled 4 KiB buffer: one syscall per ~680 MACs. */
function bufferedRandom(): (buffer: Uint8Array) => void {
  const pool = new Uint8Array(4096);
  let offset = pool.length;
  return (buffer) => {
    if (offset + buffer.length > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    buffer.set(pool.subarray(offset, offset + buffer.length));
    offset += buffer.length;
  };
}

export interface MacPoolOptions {
  /** Fills the buffer with random bytes; crypto-random by default (injectable for tests). */
  readonly random?: (buffer: Uint8Array) => void;
  /** Attempts before giving up when generated MACs collide. Default 64. */
  readonly maxAttempts?: number;
}

export interface MacAssignment {
  readonly owner: string;
  readonly mac: string;
  /** True if this call reserved or generated the MAC. */
  readonly created: boolean;
  /** Other MACs the owner held, released on commit. */
  readonly released: readonly string[];
}

export class MacPool {
  private readonly owners = new Map<string, string>();
  private readonly byOwner = new Map<string, string[]>();
  private readonly random: (buffer: Uint8Array) => void;
  private readonly maxAttempts: number;

  constructor(options: MacPoolOptions = {}) {
    this.random = options.random ?? bufferedRandom();
    this.maxAttempts = options.maxAttempts ?? 64;
  }

  /** A random locally administered unicast MAC not in use (not reserved). */
  private fresh(owner: string): string {
    const bytes = new Uint8Array(6);
    for (let i = 0; i < this.maxAttempts; i++) {
      this.random(bytes);
      bytes[0] = ((bytes[0] as number) & 0xfc) | 0x02;
      const mac = formatBytes(bytes);
      if (!this.owners.has(mac)) return mac;
    }
    throw new IpamError('Exhausted', `could not generate an unused MAC after ${this.maxAttempts} attempts`, { owner });
  }

  /**
   * Gives `owner` exactly one MAC: `requested` (validated, must not be someone else's), else the
   * owner's current MAC, else a new random one. Nothing changes until commit().
   */
  prepare(owner: string, requested?: string): Pending<MacAssignment> {
    assertOwner(owner);
    let mac: string;
    let created = false;
    if (requested !== undefined && requested !== '') {
      mac = normalizeMac(requested);
      const holder = this.owners.get(mac);
      if (holder !== undefined && holder !== owner) {
        throw new IpamError('InUse', `MAC ${mac} is already held by ${holder}`, { mac, owner, holder });
      }
      if (holder === undefined) {
        this.record(mac, owner);
        created = true;
      }
    } else {
      const current = this.byOwner.get(owner)?.[0];
      if (current !== undefined) mac = current;
      else {
        mac = this.fresh(owner);
        this.record(mac, owner);
        created = true;
      }
    }
    const stale = (this.byOwner.get(owner) ?? []).filter((m) => m !== mac);
    return oncePending<MacAssignment>(
      { owner, mac, created, released: stale },
      () => {
        for (const m of stale) this.release(m, owner);
      },
      () => {
        if (created) this.release(mac, owner);
      },
    );
  }

  acquire(owner: string, requested?: string): MacAssignment {
    const pending = this.prepare(owner, requested);
    pending.commit();
    return pending.result;
  }

  /** Reserves a given MAC for `owner` without touching its others. True if newly reserved. */
  reserve(mac: string, owner: string): boolean {
    assertOwner(owner);
    const canonical = normalizeMac(mac);
    const holder = this.owners.get(canonical);
    if (holder === owner) return false;
    if (holder !== undefined) throw new IpamError('InUse', `MAC ${canonical} is already held by ${holder}`, { mac: canonical, owner, holder });
    this.record(canonical, owner);
    return true;
  }

  /** Why `owner` may not use `mac`, or undefined. Changes nothing. */
  problem(mac: string, owner: string): IpamError | undefined {
    let canonical: string;
    try {
      canonical = normalizeMac(mac);
    } catch (err) {
      return err as IpamError;
    }
    const holder = this.owners.get(canonical);
    if (holder !== undefined && holder !== owner) {
      return new IpamError('InUse', `MAC ${canonical} is already held by ${holder}`, { mac: canonical, owner, holder });
    }
    return undefined;
  }

  /** Releases a MAC; false if nobody held it; NotOwner if `owner` is given and differs. */
  release(mac: string, owner?: string): boolean {
    const canonical = normalizeMac(mac);
    const holder = this.owners.get(canonical);
    if (holder === undefined) return false;
    if (owner !== undefined && holder !== owner) {
      throw new IpamError('NotOwner', `MAC ${canonical} is held by ${holder}, not ${owner}`, { mac: canonical, owner, holder });
    }
    this.owners.delete(canonical);
    const list = this.byOwner.get(holder) as string[];
    list.splice(list.indexOf(canonical), 1);
    if (list.length === 0) this.byOwner.delete(holder);
    return true;
  }

  releaseOwner(owner: string): string[] {
    const held = [...(this.byOwner.get(owner) ?? [])];
    for (const m of held) this.release(m, owner);
    return held;
  }

  private record(mac: string, owner: string): void {
    this.owners.set(mac, owner);
    const list = this.byOwner.get(owner);
    if (list) list.push(mac);
    else this.byOwner.set(owner, [mac]);
  }

  ownerOf(mac: string): string | undefined {
    return this.owners.get(normalizeMac(mac));
  }

  macsOf(owner: string): readonly string[] {
    return this.byOwner.get(owner) ?? [];
  }

  entries(): IterableIterator<[string, string]> {
    return this.owners.entries();
  }

  get size(): number {
    return this.owners.size;
  }

  clear(): void {
    this.owners.clear();
    this.byOwner.clear();
  }
}
