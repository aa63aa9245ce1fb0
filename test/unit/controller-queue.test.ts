import { describe, expect, it } from 'vitest';
import { BucketRateLimiter, ExponentialRateLimiter, MaxOfRateLimiter, WorkQueue } from '../../src/controller/queue.js';

const noDelay = { when: () => 0, forget: () => undefined, failures: () => 0 };

describe('WorkQueue', () => {
  it('hands out keys in order and de-duplicates queued keys', async () => {
    const q = new WorkQueue(noDelay);
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
  });

  it('never gives one key to two workers: a key added while processed comes back after done()', async () => {
    const q = new WorkQueue(noDelay);
    q.add('k');
    const k = await q.get();
    q.add('k');
    q.add('k');
    expect(q.length).toBe(0); // held back while processing
    let second: string | undefined;
    void q.get().then((v) => {
      second = v;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(k as string);
    await Promise.resolve();
    expect(second).toBe('k');
    q.done('k');
    expect(q.pending).toBe(0);
  });

  it('a waiting worker gets a key as soon as it is added', async () => {
    const q = new WorkQueue(noDelay);
    const got = q.get();
    q.add('x');
    expect(await got).toBe('x');
  });

  it('addAfter keeps the earliest schedule', async () => {
    const q = new WorkQueue(noDelay);
    q.addAfter('late', 30);
    q.addAfter('late', 5_000);
    q.addAfter('soon', 10);
    await new Promise((r) => setTimeout(r, 60));
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('soon');
    expect(await q.get()).toBe('late');
  });

  it('addRateLimited backs off per key; forget resets', async () => {
    const limiter = new ExponentialRateLimiter(10, 1000);
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a'), limiter.when('b')]).toEqual([10, 20, 40, 10]);
    expect(limiter.failures('a')).toBe(3);
    limiter.forget('a');
    expect(limiter.when('a')).toBe(10);
    for (let i = 0; i < 20; i++) limiter.when('c');
    expect(limiter.when('c')).toBe(1000);
  });

  it('the bucket limits the overall retry rate after its burst', () => {
    const bucket = new BucketRateLimiter(10, 2);
    expect([bucket.when(), bucket.when()]).toEqual([0, 0]);
    expect(bucket.when()).toBeGreaterThan(0);
    const max = new MaxOfRateLimiter(new ExponentialRateLimiter(5, 100), new BucketRateLimiter(1000, 1000));
    expect(max.when('k')).toBe(5);
    expect(max.failures('k')).toBe(1);
  });

  it('shutdown releases waiting workers and drops queued and scheduled keys', async () => {
    const q = new WorkQueue(noDelay);
    q.add('a');
    q.addAfter('b', 10_000);
    await q.get();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    expect(await q.get()).toBeUndefined();
    q.add('c');
    expect(q.length).toBe(0);
  });

  it('reports its depth', async () => {
    const depths: number[] = [];
    const q = new WorkQueue(noDelay, (d) => depths.push(d));
    q.add('a');
    q.add('b');
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
  });
});
