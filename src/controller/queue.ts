/**
 * A de-duplicating, rate-limited work queue of string keys, with client-go's semantics:
 * - a key is in the queue at most once, however often it is added;
 * - a key is handed to one worker at a time: added again while being processed, it is queued
 *   again when the worker calls done(), so no two workers reconcile the same key at once;
 * - addRateLimited() delays retries per key (exponential) and overall (token bucket);
 *   forget() resets the key's backoff after a success;
 * - addAfter() schedules a key (the earliest schedule wins).
 */

export interface RateLimiter {
  /** Delay (ms) before the next retry of `key`; counts a failure. */
  when(key: string): number;
  forget(key: string): void;
  failures(key: string): number;
}

/** base·2^failures, capped. */
export class ExponentialRateLimiter implements RateLimiter {
  private readonly counts = new Map<string, number>();
  constructor(
    private readonly baseMs = 50,
    private readonly maxMs = 300_000,
  ) {}
  when(key: string): number {
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 30));
  }
  forget(key: string): void {
    this.counts.delete(key);
  }
  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/** Overall retry rate: `ratePerSec` with a burst of `burst`. */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly ratePerSec = 50,
    private readonly burst = 500,
  ) {
    this.tokens = burst;
  }
  when(): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSec) * 1000);
  }
  forget(): void {}
  failures(): number {
    return 0;
  }
}

export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  failures(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.failures(key)));
  }
}

export function defaultRateLimiter(): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialRateLimiter(), new BucketRateLimiter());
}

export class WorkQueue {
  private items: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly limiter: RateLimiter = defaultRateLimiter(),
    private readonly onDepth: (depth: number) => void = () => undefined,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Keys queued, being processed or scheduled. */
  get pending(): number {
    return this.dirty.size + this.processing.size + this.delayed.size;
  }

  get closed(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.items.push(key);
    this.onDepth(this.length);
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.addAfter(key, this.limiter.when(key));
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  failures(key: string): number {
    return this.limiter.failures(key);
  }

  /** Next key to process (call done(key) afterwards), or undefined once shut down. */
  get(): Promise<string | undefined> {
    if (this.length > 0) {
      const key = this.items[this.head] as string;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.onDepth(this.length);
      this.take(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key) || this.shuttingDown) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.items.push(key);
    this.onDepth(this.length);
  }

  /** Stops handing out keys: waiting get() calls resolve undefined; scheduled keys are dropped. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.items = [];
    this.head = 0;
    this.dirty.clear();
    this.onDepth(0);
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
  }
}
