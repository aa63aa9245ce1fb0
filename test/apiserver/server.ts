/**
 * The Kubernetes API server test double: an HTTP server on 127.0.0.1 that the real @kubernetes/client-node
 * talks to, plus direct helpers for tests (seed/get/list objects, inject failures, break watches, read the
 * request log).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { BUILTIN_RESOURCES, INITIAL_NAMESPACES } from './builtins.js';
import { clusterCrds, crdSchemasByVersion, crdToSpec, establishedStatus, isEstablished, validateCrd } from './crds.js';
import { HttpFrontend } from './handlers.js';
import { jsonClone } from './json.js';
import { formatTime, Operations } from './operations.js';
import { defineResource, ResourceRegistry } from './registry.js';
import { matchesRequest, WRITE_VERBS, type Failure, type RequestMatcher, type RequestRecord } from './requests.js';
import { ApiError } from './status.js';
import { ObjectStore } from './store.js';
import { groupResource, type KubeObject, type ResourceDefinition, type ResourceSpec } from './types.js';
import { WatchHub, type ExpiredWatchMode } from './watch.js';

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Writes kept per resource for watches to resume from (older → 410 Gone). Default 10000. */
  historySize?: number;
  /** Period of BOOKMARK events on watches that allow them; 0 = only on sendBookmarks(). Default 1000. */
  bookmarkIntervalMs?: number;
  /** How a watch from a too-old resourceVersion is refused: 'event' (200 + ERROR 410, as upstream) or 'http' (HTTP 410). */
  expiredWatch?: ExpiredWatchMode;
  /** Refuse creating objects in a namespace that does not exist (404), as upstream. Default false. */
  enforceNamespaces?: boolean;
  /** Install the Kube-OVN/KubeVirt/Multus/NicPort CRDs (permissive schemas) at start. Default true. */
  clusterCrds?: boolean;
  /** YAML files whose CustomResourceDefinitions are applied at start (after clusterCrds, so they replace them). */
  crdFiles?: string[];
}

interface PendingFailure {
  match: RequestMatcher;
  resourceKey: string | undefined;
  failure: Failure;
  remaining: number;
}

const CONTEXT = 'ovnic-test';

export class ApiServer {
  /** Every request received, oldest first. */
  readonly requests: RequestRecord[] = [];
  private readonly registry = new ResourceRegistry();
  private readonly store: ObjectStore;
  private readonly ops: Operations;
  private readonly hub: WatchHub;
  private readonly failures: PendingFailure[] = [];
  private clock: () => Date = () => new Date();
  private server: Server | undefined;
  private baseUrl = '';

  constructor(options: ApiServerOptions = {}) {
    this.store = new ObjectStore(options.historySize ?? 10_000);
    this.ops = new Operations(this.registry, this.store, () => this.clock());
    this.hub = new WatchHub(this.store, options.bookmarkIntervalMs ?? 1000, options.expiredWatch ?? 'event');
    for (const spec of BUILTIN_RESOURCES) this.registerResource(spec);
    this.installHooks();
    for (const ns of INITIAL_NAMESPACES) this.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    if (options.clusterCrds !== false) for (const crd of clusterCrds()) this.applyCrd(crd);
    for (const file of options.crdFiles ?? []) this.applyCrdFile(file);
    this.ops.enforceNamespaces = options.enforceNamespaces ?? false;
  }

  /** Starts listening; startApiServer() does this for you. */
  async listen(host = '127.0.0.1', port = 0): Promise<void> {
    const frontend = new HttpFrontend({
      registry: this.registry,
      ops: this.ops,
      store: this.store,
      hub: this.hub,
      record: (entry) => this.requests.push(entry),
      takeFailure: (entry) => this.takeFailure(entry),
    });
    const server = createServer(frontend.handle);
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${addr.port}`;
  }

  /** http://127.0.0.1:<port> */
  get url(): string {
    return this.baseUrl;
  }

  get port(): number {
    return Number(new URL(this.baseUrl).port);
  }

  /** A KubeConfig for the real client: this server, no auth, namespace "default". */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: CONTEXT, server: this.baseUrl, skipTLSVerify: true }],
      users: [{ name: CONTEXT }],
      contexts: [{ name: CONTEXT, cluster: CONTEXT, user: CONTEXT, namespace: 'default' }],
      currentContext: CONTEXT,
    });
    return kc;
  }

  /** The same configuration as a kubeconfig file, for programs started as child processes. */
  writeKubeconfig(path: string): void {
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: ${CONTEXT}, cluster: {server: "${this.baseUrl}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: ${CONTEXT}, user: {}}]`,
      `contexts: [{name: ${CONTEXT}, context: {cluster: ${CONTEXT}, user: ${CONTEXT}, namespace: default}}]`,
      `current-context: ${CONTEXT}`,
      '',
    ].join('\n');
    writeFileSync(path, yaml, { mode: 0o600 });
  }

  /** Ends open watches, drops connections and stops listening. */
  async close(): Promise<void> {
    this.hub.closeAll();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- resources -------------------------------------------------------------------------------------------

  /** Serves one more resource (storage, discovery, CRUD, watch). Replaces a registration with the same group/plural. */
  registerResource(spec: ResourceSpec): ResourceDefinition {
    return this.registry.add(defineResource(spec));
  }

  resource(name: string): ResourceDefinition {
    return this.registry.resolve(name);
  }

  /** Creates or replaces a CustomResourceDefinition (validated as the server would) and serves its resource. */
  applyCrd(crd: KubeObject): KubeObject {
    const crdDef = this.registry.resolve('customresourcedefinitions.apiextensions.k8s.io');
    const name = crd.metadata.name ?? '';
    const existing = this.store.get(groupResource(crdDef), undefined, name);
    if (existing === undefined) return this.ops.create(crdDef, undefined, crd, { version: 'v1' });
    const body = jsonClone(crd);
    body.metadata.resourceVersion = existing.metadata.resourceVersion;
    return this.ops.update(crdDef, undefined, name, body, undefined, { version: 'v1' });
  }

  /** Applies every CustomResourceDefinition document of a YAML file (other documents are ignored). */
  applyCrdFile(path: string): KubeObject[] {
    const docs = loadAllYaml(readFileSync(path, 'utf8')) as unknown[];
    return docs
      .filter((d): d is KubeObject => typeof d === 'object' && d !== null && (d as KubeObject).kind === 'CustomResourceDefinition')
      // loadAllYaml gives model objects (`_enum`, `xKubernetesPreserveUnknownFields`); back to wire JSON.
      .map((d) => this.applyCrd(ObjectSerializer.serialize(d, 'V1CustomResourceDefinition', '') as KubeObject));
  }

  private installHooks(): void {
    const crdKey = 'customresourcedefinitions.apiextensions.k8s.io';
    this.ops.hooks.set(crdKey, {
      validate: validateCrd,
      afterWrite: (type, crd) => {
        const spec = crdToSpec(crd);
        if (type === 'DELETED') {
          const def = this.registry.lookup(spec.group, spec.versions?.[0] ?? '', spec.plural);
          if (def === undefined) return;
          for (const obj of this.store.list(groupResource(def))) this.ops.forceRemove(def, obj.metadata.namespace, obj.metadata.name as string);
          this.hub.breakAll(groupResource(def), true);
          this.registry.remove(spec.group, spec.plural);
          return;
        }
        const def = defineResource(spec);
        def.schemas = crdSchemasByVersion(crd);
        this.registry.add(def);
        if (!isEstablished(crd)) {
          const crdDef = this.registry.resolve(crdKey);
          const body = { ...jsonClone(crd), status: establishedStatus(crd, formatTime(this.clock())) };
          this.ops.update(crdDef, undefined, crd.metadata.name as string, body, 'status', { version: 'v1' });
        }
      },
    });
    this.ops.hooks.set('namespaces', {
      afterWrite: (type, ns) => {
        if (type !== 'DELETED') return;
        for (const def of this.registry.all()) {
          if (!def.namespaced) continue;
          for (const obj of this.store.list(groupResource(def), ns.metadata.name)) {
            try {
              this.ops.delete(def, obj.metadata.namespace, obj.metadata.name as string, undefined, { version: def.versions[0] as string });
            } catch (err) {
              if (!(err instanceof ApiError && err.code === 404)) throw err;
            }
          }
        }
      },
    });
  }

  // ---- objects ---------------------------------------------------------------------------------------------

  /**
   * Stores objects as given, bypassing HTTP, admission and the status split (status is kept). The resource
   * comes from apiVersion+kind; missing uid/creationTimestamp/generation are filled; resourceVersion is
   * assigned; watchers see ADDED or MODIFIED. Namespaced objects without a namespace go to "default".
   */
  seed(...objects: KubeObject[]): KubeObject[] {
    return objects.map((obj) => {
      const def = this.registry.byKind(obj.apiVersion ?? '', obj.kind ?? '');
      if (def === undefined) throw new Error(`seed: no resource serves ${obj.apiVersion ?? '?'} ${obj.kind ?? '?'}`);
      return jsonClone(this.ops.seed(def, obj));
    });
  }

  /** A copy of a stored object, or undefined. `namespace` is ignored for cluster-scoped resources. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const def = this.registry.resolve(resource);
    const obj = this.store.get(groupResource(def), def.namespaced ? namespace : undefined, name);
    return obj === undefined ? undefined : jsonClone(obj);
  }

  /** Copies of the stored objects of a resource (optionally of one namespace), in storage order. */
  list(resource: string, namespace?: string): KubeObject[] {
    const def = this.registry.resolve(resource);
    return this.store.list(groupResource(def), def.namespaced ? namespace : undefined).map((o) => jsonClone(o));
  }

  /** Removes an object at once, ignoring finalizers (watchers see DELETED). Returns whether it existed. */
  remove(resource: string, namespace: string | undefined, name: string): boolean {
    const def = this.registry.resolve(resource);
    return this.ops.forceRemove(def, def.namespaced ? namespace : undefined, name);
  }

  /** The current global resourceVersion. */
  resourceVersion(): string {
    return String(this.store.currentRV());
  }

  /** Fixes the server's clock (creationTimestamp, deletionTimestamp); undefined restores the real clock. */
  setNow(now: Date | (() => Date) | undefined): void {
    if (now === undefined) this.clock = () => new Date();
    else if (now instanceof Date) this.clock = () => new Date(now.getTime());
    else this.clock = now;
  }

  // ---- watches ---------------------------------------------------------------------------------------------

  /**
   * Compacts the watch history (of one resource, or all): every resourceVersion clients hold becomes too old,
   * so their next watch gets 410 and informers re-list. Open watches also get an ERROR 410 event and are ended,
   * as after an etcd compaction, unless `keepOpenWatches`.
   */
  expireHistory(options: { resource?: string; keepOpenWatches?: boolean } = {}): void {
    const key = options.resource === undefined ? undefined : groupResource(this.registry.resolve(options.resource));
    this.store.expire(key === undefined ? this.registry.all().map(groupResource) : [key]);
    if (options.keepOpenWatches !== true) this.hub.expireAll(key);
  }

  /**
   * Closes open watch streams (of one resource, or all). By default the connection is dropped mid-stream (the
   * client sees an error: client-node 1.4 informers emit 'error' and stop); `graceful` ends the body cleanly
   * (informers re-watch from their last resourceVersion). Returns how many were closed.
   */
  breakWatches(options: { resource?: string; graceful?: boolean } = {}): number {
    const key = options.resource === undefined ? undefined : groupResource(this.registry.resolve(options.resource));
    return this.hub.breakAll(key, options.graceful === true);
  }

  /** Number of open watch streams (of one resource, or all). */
  openWatches(resource?: string): number {
    return this.hub.count(resource === undefined ? undefined : groupResource(this.registry.resolve(resource)));
  }

  /** Resolves once at least `count` watches (of one resource, or all) are open. */
  async waitForWatches(count: number, resource?: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.openWatches(resource) < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} open watch(es) on ${resource ?? 'any resource'}: ${this.openWatches(resource)} open`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends a BOOKMARK now on every watch that allows them. */
  sendBookmarks(): void {
    this.hub.bookmarkAll();
  }

  // ---- failures and the request log ------------------------------------------------------------------------

  /**
   * Answers the next `times` requests matching `match` with `failure` (an HTTP code with a proper Status body,
   * or 'reset' to drop the connection) instead of serving them.
   */
  failNext(match: RequestMatcher, failure: Failure = 500, times = 1): void {
    const resourceKey = typeof match === 'function' || match.resource === undefined ? undefined : groupResource(this.registry.resolve(match.resource));
    this.failures.push({ match, resourceKey, failure, remaining: times });
  }

  clearFailures(): void {
    this.failures.length = 0;
  }

  /** Failures armed with failNext() that have not fired yet. */
  pendingFailures(): number {
    return this.failures.reduce((n, f) => n + f.remaining, 0);
  }

  private matches(match: RequestMatcher, resourceKey: string | undefined, record: RequestRecord): boolean {
    return typeof match === 'function' ? match(record) : matchesRequest(match, resourceKey, record);
  }

  private takeFailure(record: RequestRecord): Failure | undefined {
    const idx = this.failures.findIndex((f) => this.matches(f.match, f.resourceKey, record));
    if (idx === -1) return undefined;
    const f = this.failures[idx] as PendingFailure;
    f.remaining -= 1;
    if (f.remaining <= 0) this.failures.splice(idx, 1);
    return f.failure;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Logged requests matching `match` (all when omitted). */
  requestsMatching(match?: RequestMatcher): RequestRecord[] {
    if (match === undefined) return [...this.requests];
    const key = typeof match === 'function' || match.resource === undefined ? undefined : groupResource(this.registry.resolve(match.resource));
    return this.requests.filter((r) => this.matches(match, key, r));
  }

  countRequests(match?: RequestMatcher): number {
    return this.requestsMatching(match).length;
  }

  /** Logged create/update/patch/delete/deletecollection requests (optionally also matching `match`). */
  writeRequests(match?: RequestMatcher): RequestRecord[] {
    return this.requestsMatching(match).filter((r) => WRITE_VERBS.includes(r.verb));
  }
}

/** Starts a fresh API server double on 127.0.0.1 and an ephemeral port. */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const api = new ApiServer(options);
  await api.listen(options.host, options.port);
  return api;
}
