/**
 * The node daemon's view of pods: one list+watch cache (only this node's pods when the node name
 * is known), and waits on it that wake up on watch events — no polling — for ADD, which waits for
 * the controller to annotate the pod.
 */
import { CoreV1Api, type KubeConfig, type KubernetesListObject, type V1Pod } from '@kubernetes/client-node';
import { ResilientInformer } from '../controller/informer.js';
import type { Logger } from '../util/log.js';

export interface PodCacheOptions {
  kubeConfig: KubeConfig;
  /** Watch only pods with spec.nodeName = node. */
  node?: string;
  log: Logger;
  onRestart?: (error: string) => void;
}

/** A waitFor() that timed out; the caller reads the last state for its message. */
export class PodWaitTimeoutError extends Error {
  override name = 'PodWaitTimeoutError';
  constructor(readonly waitedMs: number) {
    super(`timed out after ${waitedMs} ms`);
  }
}

/** A waitFor() given up because its AbortSignal fired (the plugin went away). */
export class PodWaitAbortedError extends Error {
  override name = 'PodWaitAbortedError';
  constructor() {
    super('wait aborted');
  }
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export class PodCache {
  private readonly informer: ResilientInformer<V1Pod>;
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(readonly options: PodCacheOptions) {
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = options.node ? `spec.nodeName=${options.node}` : undefined;
    const list = (): Promise<KubernetesListObject<V1Pod>> =>
      core.listPodForAllNamespaces(fieldSelector ? { fieldSelector } : {}) as Promise<KubernetesListObject<V1Pod>>;
    const changed = (pod: V1Pod): void => this.notify(pod);
    const informerOptions: ConstructorParameters<typeof ResilientInformer<V1Pod>>[4] = { log: options.log };
    if (fieldSelector) informerOptions.fieldSelector = fieldSelector;
    if (options.onRestart) informerOptions.onRestart = options.onRestart;
    this.informer = new ResilientInformer<V1Pod>(options.kubeConfig, '/api/v1/pods', list, { add: changed, update: changed, delete: changed }, informerOptions);
  }

  /** Lists and watches; resolves once the cache holds a full list (retrying until then or stop()). */
  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  /** The initial list is in (GC must never run before). */
  get synced(): boolean {
    return this.informer.hasSynced;
  }

  /** Synced and watching (not restarting after an error). */
  get healthy(): boolean {
    return this.informer.healthy;
  }

  get error(): string | undefined {
    return this.informer.error;
  }

  get(namespace: string, name: string): V1Pod | undefined {
    return this.informer.get(name, namespace);
  }

  list(): readonly V1Pod[] {
    return this.informer.list();
  }

  /**
   * Resolves with the first value `evaluate` returns for the pod as cached now or after a later watch
   * event on it (undefined = not yet; the pod argument is undefined while it is not in the cache).
   * `evaluate` throwing ends the wait with that error. Rejects with PodWaitTimeoutError after
   * `timeoutMs` and with PodWaitAbortedError when `signal` fires.
   */
  waitFor<T>(namespace: string, name: string, evaluate: (pod: V1Pod | undefined) => T | undefined, options: WaitOptions): Promise<T> {
    const key = podKey(namespace, name);
    const started = Date.now();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined = undefined;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const set = this.listeners.get(key);
        set?.delete(check);
        if (set?.size === 0) this.listeners.delete(key);
        fn();
      };
      const check = (): void => {
        let value: T | undefined;
        try {
          value = evaluate(this.get(namespace, name));
        } catch (err) {
          settle(() => reject(err));
          return;
        }
        if (value !== undefined) settle(() => resolve(value));
      };
      const onAbort = (): void => settle(() => reject(new PodWaitAbortedError()));
      if (options.signal?.aborted) {
        reject(new PodWaitAbortedError());
        return;
      }
      check();
      if (settled) return;
      let set = this.listeners.get(key);
      if (!set) {
        set = new Set();
        this.listeners.set(key, set);
      }
      set.add(check);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => settle(() => reject(new PodWaitTimeoutError(Date.now() - started))), options.timeoutMs);
    });
  }

  private notify(pod: V1Pod): void {
    const ns = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!ns || !name) return;
    const set = this.listeners.get(podKey(ns, name));
    if (!set) return;
    for (const check of [...set]) check();
  }
}
