/**
 * A list+watch cache over @kubernetes/client-node's informer that keeps running: client-node 1.4.0
 * re-lists on 410 Gone by itself but stops on any other error (dropped connection, 5xx, list
 * failure), so this wrapper restarts it with exponential backoff. `start()` resolves after the first
 * successful list (the cache is synced); handlers see every add/update/delete, including the
 * differences found by a re-list.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';

export interface InformerHandlers<T extends KubernetesObject> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface ResilientInformerOptions<T extends KubernetesObject = KubernetesObject> {
  backoffMinMs?: number;
  backoffMaxMs?: number;
  labelSelector?: string;
  /** e.g. `spec.nodeName=node1`; the list function must apply the same selector. */
  fieldSelector?: string;
  log: Logger;
  /** Called on each restart after an error (metrics). */
  onRestart?: (error: string) => void;
  /** Applied to every object before it is cached (e.g. slimming); may modify it in place. */
  transform?: (obj: T) => T;
}

/** A Watch handing objects through `transform` before the informer caches them. */
class TransformingWatch<T extends KubernetesObject> extends Watch {
  constructor(kc: KubeConfig, private readonly transform: (obj: T) => T) {
    super(kc);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, obj, raw) => {
      const o = obj as T | undefined;
      callback(phase, phase !== 'ERROR' && phase !== 'BOOKMARK' && o?.metadata ? this.transform(o) : obj, raw);
    }, done);
  }
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly inner: ListWatch<T>;
  private stopped = true;
  private synced = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private readonly min: number;
  private readonly max: number;
  private lastError: string | undefined;
  private running = false;

  constructor(
    kc: KubeConfig,
    readonly path: string,
    list: () => Promise<KubernetesListObject<T>>,
    handlers: InformerHandlers<T>,
    private readonly opts: ResilientInformerOptions<T>,
  ) {
    this.min = opts.backoffMinMs ?? 200;
    this.max = opts.backoffMaxMs ?? 10_000;
    this.delay = this.min;
    // ListWatch directly (not makeInformer): it takes the field selector, and our Watch may transform objects.
    const transform = opts.transform;
    const watch = transform ? new TransformingWatch<T>(kc, transform) : new Watch(kc);
    const listFn = transform
      ? async (): Promise<KubernetesListObject<T>> => {
        const l = await list();
        l.items = l.items.map(transform);
        return l;
      }
      : list;
    this.inner = new ListWatch<T>(path, watch, listFn, false, opts.labelSelector, opts.fieldSelector);
    if (handlers.add) this.inner.on('add', handlers.add);
    if (handlers.update) this.inner.on('update', handlers.update);
    if (handlers.delete) this.inner.on('delete', handlers.delete);
    this.inner.on('error', (err: unknown) => this.onError(err));
    this.inner.on('connect', () => {
      this.running = true;
    });
  }

  /** Lists and starts watching; resolves once the cache holds a full list (retrying until then). */
  async start(): Promise<void> {
    this.stopped = false;
    for (;;) {
      try {
        this.lastError = undefined;
        await this.inner.start();
        // start() resolves after the list (and the watch request) unless the list failed: then the
        // error handler ran and scheduled a restart.
        if (this.lastError === undefined) {
          this.synced = true;
          this.delay = this.min;
          return;
        }
      } catch (err) {
        this.lastError = errorText(err);
      }
      if (this.stopped) return;
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      await sleep(this.nextDelay());
      if (this.stopped) return;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.inner.stop();
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** False while restarting after an error. */
  get healthy(): boolean {
    return !this.stopped && this.synced && this.lastError === undefined && this.running;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  private onError(err: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which reports an error
    this.running = false;
    this.lastError = errorText(err);
    this.opts.onRestart?.(this.lastError);
    if (!this.synced) return; // start() retries itself
    if (this.restartTimer) return;
    const delay = this.nextDelay();
    this.opts.log.warn({ path: this.path, err: this.lastError, retryMs: delay }, 'informer stopped, restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.lastError = undefined;
      this.inner.start().then(
        () => {
          if (this.lastError === undefined) this.delay = this.min;
        },
        (e: unknown) => this.onError(e),
      );
    }, delay);
  }

  private nextDelay(): number {
    const d = this.delay;
    this.delay = Math.min(this.max, this.delay * 2);
    // jitter: ±20 %
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    return `${String(e.message ?? 'error')} (${String(e.code ?? e.statusCode ?? '')})`;
  }
  return String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
