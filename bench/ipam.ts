/**
 * IPAM latency: allocate (lowest free) and reserve (a given free address) in
 *  - an IPv4 /16 with 60,000 addresses used,
 *  - an IPv6 /64 with 60,000 addresses used,
 * each with the used addresses spread at random (worst case: fragmented free set) and packed
 * from the bottom (what lowest-free allocation produces). Target: p99 <= 50 µs.
 * Also a dual-stack registry allocate (IPv4 + IPv6 + MAC) for reference.
 * Final line: one JSON object.
 */
import { IpamRegistry, SubnetAllocator, formatIpValue, parseSubnetSpec } from '../src/ipam/index.js';

const TARGET_P99_US = 50;
const USED = 60_000;
const ROUNDS = 10;
const PER_ROUND = 2_000;

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] as number;
}

interface Figures {
  p50_us: number;
  p99_us: number;
  max_us: number;
  samples: number;
}

function summarize(ns: number[]): Figures {
  const sorted = [...ns].sort((a, b) => a - b);
  const us = (v: number) => Math.round(v / 10) / 100;
  return { p50_us: us(percentile(sorted, 50)), p99_us: us(percentile(sorted, 99)), max_us: us(sorted[sorted.length - 1] ?? 0), samples: ns.length };
}

function now(): bigint {
  return process.hrtime.bigint();
}

/** Fills `sub` (single family) with USED reservations, random or packed. */
function fill(sub: SubnetAllocator, layout: 'random' | 'packed', rnd: () => number): void {
  const fam = sub.families()[0];
  if (!fam) throw new Error('empty subnet');
  if (layout === 'packed') {
    for (let i = 0; i < USED; i++) fam.allocate(`fill/${i}`);
    return;
  }
  const { first, last } = fam.spec.usable;
  const span = last - first + 1n;
  let placed = 0;
  while (placed < USED) {
    const r = (BigInt(rnd()) << 32n) | BigInt(rnd());
    const v = first + (r % span);
    if (!fam.isFree(v)) continue;
    fam.reserve(v, `fill/${placed}`);
    placed++;
  }
}

function benchAllocate(sub: SubnetAllocator): Figures {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const owners: string[] = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const owner = `bench/${round}/${i}`;
      const t0 = now();
      sub.allocate(owner);
      const t1 = now();
      if (round > 0) times.push(Number(t1 - t0)); // round 0 warms up the JIT
      owners.push(owner);
    }
    for (const o of owners) sub.release(o);
  }
  return summarize(times);
}

function benchReserve(sub: SubnetAllocator, rnd: () => number): Figures {
  const fam = sub.families()[0];
  if (!fam) throw new Error('empty subnet');
  const { first, last } = fam.spec.usable;
  const span = last - first + 1n;
  const times: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const picked: string[] = [];
    while (picked.length < PER_ROUND) {
      const v = first + (((BigInt(rnd()) << 32n) | BigInt(rnd())) % span);
      if (fam.isFree(v)) {
        const text = formatIpValue(fam.family, v);
        if (!picked.includes(text)) picked.push(text);
      }
    }
    const owners: string[] = [];
    for (let i = 0; i < picked.length; i++) {
      const owner = `bench/${round}/${i}`;
      const ip = picked[i] as string;
      const t0 = now();
      sub.allocate(owner, ip);
      const t1 = now();
      if (round > 0) times.push(Number(t1 - t0));
      owners.push(owner);
    }
    for (const o of owners) sub.release(o);
  }
  return summarize(times);
}

interface Scenario {
  allocate: Figures;
  reserve: Figures;
  free_intervals: number;
  fill_ms: number;
}

function scenario(cidrBlock: string, layout: 'random' | 'packed', seed: number): Scenario {
  const rnd = xorshift(seed);
  const sub = new SubnetAllocator(parseSubnetSpec({ name: 'bench', cidrBlock }));
  const t0 = now();
  fill(sub, layout, rnd);
  const fillMs = Number(now() - t0) / 1e6;
  const fam = sub.families()[0];
  const result = { allocate: benchAllocate(sub), reserve: benchReserve(sub, rnd), free_intervals: fam?.freeIntervals ?? 0, fill_ms: Math.round(fillMs) };
  if (fam?.usedCount !== USED) throw new Error(`bench left ${fam?.usedCount} used, expected ${USED}`);
  return result;
}

function dualStackRegistry(): Figures {
  const reg = new IpamRegistry();
  reg.upsertSubnet(parseSubnetSpec({ name: 'dual', cidrBlock: '10.0.0.0/16,fd00:1::/64' }));
  for (let i = 0; i < USED; i++) reg.allocate('dual', `fill/${i}`);
  const times: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const owners: string[] = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const owner = `bench/${round}/${i}`;
      const t0 = now();
      reg.allocate('dual', owner);
      const t1 = now();
      if (round > 0) times.push(Number(t1 - t0));
      owners.push(owner);
    }
    for (const o of owners) reg.release(o);
  }
  return summarize(times);
}

const results = {
  v4_16_random: scenario('10.0.0.0/16', 'random', 0x1234),
  v4_16_packed: scenario('10.0.0.0/16', 'packed', 0x2345),
  v6_64_random: scenario('fd00:1::/64', 'random', 0x3456),
  v6_64_packed: scenario('fd00:1::/64', 'packed', 0x4567),
};
const dual = dualStackRegistry();

for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(14)} used=${USED} free-intervals=${String(r.free_intervals).padStart(6)} fill=${r.fill_ms}ms  ` +
      `allocate p50=${r.allocate.p50_us}µs p99=${r.allocate.p99_us}µs max=${r.allocate.max_us}µs  ` +
      `reserve p50=${r.reserve.p50_us}µs p99=${r.reserve.p99_us}µs max=${r.reserve.max_us}µs`,
  );
}
console.log(`dual-stack registry allocate (v4 /16 + v6 /64 + MAC, ${USED} used): p50=${dual.p50_us}µs p99=${dual.p99_us}µs max=${dual.max_us}µs`);

const worstP99 = Math.max(...Object.values(results).flatMap((r) => [r.allocate.p99_us, r.reserve.p99_us]));
console.log(
  JSON.stringify({
    bench: 'ipam',
    used: USED,
    target_p99_us: TARGET_P99_US,
    ...Object.fromEntries(
      Object.entries(results).map(([k, r]) => [
        k,
        { allocate_p50_us: r.allocate.p50_us, allocate_p99_us: r.allocate.p99_us, reserve_p50_us: r.reserve.p50_us, reserve_p99_us: r.reserve.p99_us, free_intervals: r.free_intervals },
      ]),
    ),
    dual_stack_registry_allocate: { p50_us: dual.p50_us, p99_us: dual.p99_us },
    worst_p99_us: worstP99,
    met: worstP99 <= TARGET_P99_US,
  }),
);
