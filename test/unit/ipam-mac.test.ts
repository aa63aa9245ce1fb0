import { describe, expect, it } from 'vitest';
import { IpamError, isLocallyAdministeredMac, isMulticastMac, isValidMac, MacPool, normalizeMac } from '../../src/ipam/index.js';

function failure(fn: () => unknown): IpamError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IpamError);
    return err as IpamError;
  }
  throw new Error('expected an IpamError');
}

/** A random source that replays the given 6-byte MACs in a loop. */
function replay(...macs: number[][]): (buffer: Uint8Array) => void {
  let i = 0;
  return (buffer) => {
    buffer.set(macs[i % macs.length] as number[]);
    i++;
  };
}

describe('MAC parsing', () => {
  it('normalizes to lowercase colon form', () => {
    expect(normalizeMac('0A:58:0A:10:00:05')).toBe('0a:58:0a:10:00:05');
    expect(normalizeMac('0a-58-0a-10-00-05')).toBe('0a:58:0a:10:00:05');
    expect(normalizeMac('00:00:5e:00:53:01')).toBe('00:00:5e:00:53:01');
  });

  it.each([
    ['0a:58:0a:10:00', 'expected six two-digit hex groups'],
    ['0a:58:0a:10:00:05:07', 'expected six two-digit hex groups'],
    ['0a:58-0a:10:00:05', 'expected six two-digit hex groups'], // mixed separators
    ['a:58:0a:10:00:05', 'expected six two-digit hex groups'],
    ['0a580a100005', 'expected six two-digit hex groups'],
    ['0g:58:0a:10:00:05', 'expected six two-digit hex groups'],
    ['01:00:5e:00:00:01', 'multicast/broadcast (group) address'],
    ['ff:ff:ff:ff:ff:ff', 'multicast/broadcast (group) address'],
    ['00:00:00:00:00:00', 'all zeros'],
  ])('rejects %j: %s', (text, why) => {
    const err = failure(() => normalizeMac(text));
    expect(err.reason).toBe('InvalidInput');
    expect(err.message).toContain(JSON.stringify(text));
    expect(err.message).toContain(why);
    expect(isValidMac(text)).toBe(false);
  });

  it('classifies bits', () => {
    expect(isMulticastMac('01:00:5e:00:00:01')).toBe(true);
    expect(isMulticastMac('02:00:00:00:00:01')).toBe(false);
    expect(isLocallyAdministeredMac('02:00:00:00:00:01')).toBe(true);
    expect(isLocallyAdministeredMac('00:00:5e:00:53:01')).toBe(false);
  });
});

describe('MacPool', () => {
  it('generates locally administered unicast MACs that are unique', () => {
    const pool = new MacPool();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const { mac, created } = pool.acquire(`o${i}`);
      expect(created).toBe(true);
      expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(isLocallyAdministeredMac(mac)).toBe(true);
      expect(isMulticastMac(mac)).toBe(false);
      seen.add(mac);
    }
    expect(seen.size).toBe(5000);
    expect(pool.size).toBe(5000);
  });

  it('forces the LA bit and clears the group bit of random bytes, and skips used MACs', () => {
    const pool = new MacPool({
      random: replay([0xff, 1, 2, 3, 4, 5], [0xff, 1, 2, 3, 4, 5], [0x01, 9, 9, 9, 9, 9]),
    });
    expect(pool.acquire('a').mac).toBe('fe:01:02:03:04:05');
    // The second draw collides with a's MAC and is skipped.
    expect(pool.acquire('b').mac).toBe('02:09:09:09:09:09');
  });

  it('gives up with Exhausted when every draw collides, changing nothing', () => {
    const pool = new MacPool({ random: replay([2, 0, 0, 0, 0, 1]), maxAttempts: 5 });
    pool.acquire('a');
    const err = failure(() => pool.acquire('b'));
    expect(err.reason).toBe('Exhausted');
    expect(err.message).toContain('after 5 attempts');
    expect(pool.size).toBe(1);
  });

  it('reserves user-given MACs; InUse names the holder; same owner is idempotent', () => {
    const pool = new MacPool();
    expect(pool.acquire('a', '0A:00:00:00:00:01')).toEqual({ owner: 'a', mac: '0a:00:00:00:00:01', created: true, released: [] });
    expect(pool.acquire('a', '0a:00:00:00:00:01').created).toBe(false);
    expect(pool.acquire('a').mac).toBe('0a:00:00:00:00:01'); // keeps its MAC when none is requested
    const err = failure(() => pool.acquire('b', '0a-00-00-00-00-01'));
    expect(err.reason).toBe('InUse');
    expect(err.message).toBe('MAC 0a:00:00:00:00:01 is already held by a');
    expect(pool.problem('0a:00:00:00:00:01', 'b')?.reason).toBe('InUse');
    expect(pool.problem('0a:00:00:00:00:01', 'a')).toBeUndefined();
    expect(pool.problem('bad', 'a')?.reason).toBe('InvalidInput');
    expect(pool.ownerOf('0A:00:00:00:00:01')).toBe('a');
  });

  it('moves an owner to a new requested MAC on commit, restores on rollback', () => {
    const pool = new MacPool();
    pool.acquire('a', '0a:00:00:00:00:01');
    const p = pool.prepare('a', '0a:00:00:00:00:02');
    expect(p.result.released).toEqual(['0a:00:00:00:00:01']);
    p.rollback();
    expect(pool.macsOf('a')).toEqual(['0a:00:00:00:00:01']);
    expect(pool.ownerOf('0a:00:00:00:00:02')).toBeUndefined();
    pool.acquire('a', '0a:00:00:00:00:02');
    expect(pool.macsOf('a')).toEqual(['0a:00:00:00:00:02']);
    expect(pool.ownerOf('0a:00:00:00:00:01')).toBeUndefined();
  });

  it('release checks the owner', () => {
    const pool = new MacPool();
    pool.reserve('0a:00:00:00:00:01', 'a');
    expect(pool.reserve('0a:00:00:00:00:01', 'a')).toBe(false);
    expect(failure(() => pool.reserve('0a:00:00:00:00:01', 'b')).reason).toBe('InUse');
    expect(failure(() => pool.release('0a:00:00:00:00:01', 'b')).reason).toBe('NotOwner');
    expect(pool.release('0a:00:00:00:00:01', 'a')).toBe(true);
    expect(pool.release('0a:00:00:00:00:01')).toBe(false);
    pool.reserve('0a:00:00:00:00:03', 'c');
    pool.reserve('0a:00:00:00:00:04', 'c');
    expect(pool.releaseOwner('c')).toEqual(['0a:00:00:00:00:03', '0a:00:00:00:00:04']);
    expect(pool.size).toBe(0);
  });
});
