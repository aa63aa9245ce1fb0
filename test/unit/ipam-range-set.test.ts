import { describe, expect, it } from 'vitest';
import { RangeSet, StaticRanges } from '../../src/ipam/index.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function model(set: RangeSet): bigint[] {
  const out: bigint[] = [];
  for (const [a, b] of set.ranges()) for (let v = a; v <= b; v++) out.push(v);
  return out;
}

describe('RangeSet', () => {
  it('agrees with a naive set under random adds, deletes and takeMin', () => {
    const rnd = lcg(7);
    const set = RangeSet.fromSortedRanges([[10n, 200n]]);
    const naive = new Set<bigint>();
    for (let v = 10n; v <= 200n; v++) naive.add(v);
    for (let i = 0; i < 20_000; i++) {
      const v = BigInt(rnd() % 260);
      const op = rnd() % 5;
      if (op < 2) expect(set.add(v)).toBe(!naive.has(v) && (naive.add(v), true));
      else if (op < 4) expect(set.delete(v)).toBe(naive.delete(v));
      else {
        const sorted = [...naive].sort((a, b) => (a < b ? -1 : 1));
        const min = set.takeMin();
        expect(min).toBe(sorted[0]);
        if (min !== undefined) naive.delete(min);
      }
      if (i % 997 === 0) {
        const sorted = [...naive].sort((a, b) => (a < b ? -1 : 1));
        expect(model(set)).toEqual(sorted);
        expect(set.size).toBe(BigInt(naive.size));
        expect(set.min()).toBe(sorted[0]);
      }
      expect(set.has(v)).toBe(naive.has(v));
    }
  });

  it('keeps intervals coalesced and non-adjacent', () => {
    const set = new RangeSet();
    set.add(5n);
    set.add(7n);
    expect([...set.ranges()]).toEqual([
      [5n, 5n],
      [7n, 7n],
    ]);
    set.add(6n); // bridges both neighbours
    expect([...set.ranges()]).toEqual([[5n, 7n]]);
    expect(set.intervalCount).toBe(1);
    set.delete(6n); // splits
    expect([...set.ranges()]).toEqual([
      [5n, 5n],
      [7n, 7n],
    ]);
    expect(set.add(5n)).toBe(false);
    expect(set.delete(6n)).toBe(false);
    expect(set.ceiling(6n)).toBe(7n);
    expect(set.ceiling(5n)).toBe(5n);
    expect(set.ceiling(8n)).toBeUndefined();
  });

  it('stays balanced with many fragments (depth ~ log n)', () => {
    const set = RangeSet.fromSortedRanges([[0n, 1_000_000n]]);
    for (let v = 1n; v < 200_000n; v += 2n) set.delete(v); // 100,001 intervals, inserted in ascending order
    expect(set.intervalCount).toBe(100_001);
    expect(set.depth).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(100_001 + 2)));
    expect(set.takeMin()).toBe(0n);
    expect(set.min()).toBe(2n);
  });

  it('holds huge ranges without expanding them', () => {
    const big = (1n << 64n) - 2n;
    const set = RangeSet.fromSortedRanges([[1n, big]]);
    expect(set.size).toBe(big);
    expect(set.delete(1n << 40n)).toBe(true);
    expect(set.size).toBe(big - 1n);
    expect(set.intervalCount).toBe(2);
  });

  it('validates fromSortedRanges input', () => {
    expect(() => RangeSet.fromSortedRanges([[5n, 1n]])).toThrow('after end');
    expect(() =>
      RangeSet.fromSortedRanges([
        [1n, 5n],
        [6n, 9n],
      ]),
    ).toThrow('non-adjacent');
    expect(() =>
      RangeSet.fromSortedRanges([
        [7n, 9n],
        [1n, 5n],
      ]),
    ).toThrow('sorted');
    const empty = RangeSet.fromSortedRanges([]);
    expect(empty.takeMin()).toBeUndefined();
    expect(empty.size).toBe(0n);
  });
});

describe('StaticRanges', () => {
  it('merges overlapping and adjacent ranges and finds members', () => {
    const r = new StaticRanges([
      [20n, 30n],
      [1n, 5n],
      [6n, 8n],
      [25n, 40n],
      [100n, 100n],
    ]);
    expect([...r.ranges()]).toEqual([
      [1n, 8n],
      [20n, 40n],
      [100n, 100n],
    ]);
    expect(r.size).toBe(8n + 21n + 1n);
    expect(r.find(7n)).toEqual([1n, 8n]);
    expect(r.has(9n)).toBe(false);
    expect(r.has(100n)).toBe(true);
    expect(r.has(101n)).toBe(false);
    expect(r.has(0n)).toBe(false);
  });
});
