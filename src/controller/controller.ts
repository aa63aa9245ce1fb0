/**
 * The NicPort controller: list/watch caches of NicPorts, Kube-OVN Subnets and IP objects, a monitor of
 * NB logical switches and ports, and a work queue of NicPort keys fed by all of them (NB changes map back
 * to NicPorts through the ports' external_ids) plus a periodic resync. Workers run the Reconciler.
 *
 * Start-up order: NB monitor → caches synced → IPAM rebuilt from NicPort status, IP objects and NB ports
 * → every NicPort queued → workers → orphan sweep. Nothing is deleted before the caches are synced.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import {
  IpamRegistry, ownerKey, rebuildEntriesFromKubeOvnIp, rebuildEntriesFromLsp, type RebuildEntry,
} from '../ipam/index.js';
import { OvsdbClient } from '../ovs/index.js';
import { logger, type Logger } from '../util/log.js';
import { Registry } from '../util/metrics.js';
import { ExternalClaims } from './claims.js';
import { EXT_LS, EXT_VENDOR, KUBEOVN_IP, NICPORT, SUBNET, VENDOR } from './constants.js';
import { ResilientInformer } from './informer.js';
import { isOvnicIp, ownerOfIp, type KubeOvnIp } from './ip-object.js';
import { KubeWriter, PooledKubeConfig, StaleObjectError, apiErrorText } from './kube.js';
import { deletePortOps } from './lsp.js';
import { controllerMetrics, updateIpamGauges, type ControllerMetrics } from './metrics.js';
import { NbState, isOvnicPort, ownerOfPort, type Ls, type Lsp, type PortsDiff } from './nb-state.js';
import { NbWriter } from './nb-writer.js';
import { keyOf, nicPortKey, splitKey, type NicPort } from './nicport.js';
import { Reconciler, type Binder, type EventSink, type ReconcileCaches } from './reconciler.js';
import { StringPool, slim } from './slim.js';
import { WorkQueue, defaultRateLimiter, type RateLimiter } from './queue.js';

export interface NicPortControllerOptions {
  kubeConfig: KubeConfig;
  /** Connected NB client (the controller does not close it), or remotes to connect to. */
  nb: OvsdbClient | string;
  binder: Binder;
  events?: EventSink;
  registry?: Registry;
  log?: Logger;
  /** Concurrent reconciles (default 16). */
  workers?: number;
  /** Every NicPort is reconciled again this often (default 5 min; 0 disables). */
  resyncPeriodMs?: number;
  rateLimiter?: RateLimiter;
  bindRetryMs?: number;
  /** NB operations per transaction at most (default 400). */
  nbBatchOps?: number;
}

const NOOP_EVENTS: EventSink = { record: async () => undefined };

export class NicPortController {
  readonly metrics: ControllerMetrics;
  readonly registry: Registry;
  readonly ipam = new IpamRegistry();
  private readonly log: Logger;
  private readonly kc: PooledKubeConfig;
  private readonly ownsKc: boolean;
  private readonly kube: KubeWriter;
  private readonly queue: WorkQueue;
  private readonly claims: ExternalClaims;
  private readonly nicports: ResilientInformer<NicPort>;
  private readonly subnets: ResilientInformer<KubernetesObject>;
  private readonly ips: ResilientInformer<KubeOvnIp>;
  private nbClient: OvsdbClient | undefined;
  private ownsNbClient = false;
  private nbState: NbState | undefined;
  private nbWriter: NbWriter | undefined;
  private reconciler: Reconciler | undefined;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private synced = false;
  /** Objects this controller wrote, until the informer cache catches up. */
  private readonly wroteNicPorts = new Map<string, NicPort>();
  private readonly wroteIps = new Map<string, KubeOvnIp>();
  private readonly ipsByOwner = new Map<string, Set<string>>();
  private readonly ipOwner = new Map<string, string>();
  private readonly keysBySubnet = new Map<string, Set<string>>();
  private readonly portNames = new Map<string, string>();
  private readonly keyByPortName = new Map<string, string>();
  private readonly blocked = new Set<string>();
  private inFlight = 0;
  private readonly pool = new StringPool();

  constructor(private readonly opts: NicPortControllerOptions) {
    this.log = opts.log ?? logger('controller');
    this.registry = opts.registry ?? new Registry();
    this.metrics = controllerMetrics(this.registry);
    this.ownsKc = !(opts.kubeConfig instanceof PooledKubeConfig);
    this.kc = opts.kubeConfig instanceof PooledKubeConfig ? opts.kubeConfig : PooledKubeConfig.from(opts.kubeConfig);
    this.kube = new KubeWriter(this.kc, (kind, ok) => this.metrics.kubeWrites.inc({ kind, result: ok ? 'ok' : 'error' }));
    this.queue = new WorkQueue(opts.rateLimiter ?? defaultRateLimiter(), (d) => this.metrics.queueDepth.set({}, d));
    this.claims = new ExternalClaims(this.ipam, this.log, () => this.metrics.externalConflicts.inc());
    const restart = (resource: string) => (): void => this.metrics.informerRestarts.inc({ resource });
    this.nicports = new ResilientInformer<NicPort>(
      this.kc, `/apis/${NICPORT.group}/${NICPORT.version}/${NICPORT.plural}`, () => this.kube.listNicPorts(),
      { add: (o) => this.onNicPort(o), update: (o) => this.onNicPort(o), delete: (o) => this.onNicPortDeleted(o) },
      { log: this.log, onRestart: restart('nicports'), transform: (o) => slim(o, this.pool) },
    );
    this.subnets = new ResilientInformer<KubernetesObject>(
      this.kc, `/apis/${SUBNET.group}/${SUBNET.version}/${SUBNET.plural}`, () => this.kube.listSubnets(),
      { add: (o) => this.onSubnet(o, true), update: (o) => this.onSubnet(o, false), delete: (o) => this.onSubnetDeleted(o) },
      { log: this.log, onRestart: restart('subnets'), transform: (o) => slim(o, this.pool) },
    );
    this.ips = new ResilientInformer<KubeOvnIp>(
      this.kc, `/apis/${KUBEOVN_IP.group}/${KUBEOVN_IP.version}/${KUBEOVN_IP.plural}`, () => this.kube.listIps(),
      { add: (o) => this.onIp(o), update: (o) => this.onIp(o), delete: (o) => this.onIpDeleted(o) },
      { log: this.log, onRestart: restart('ips'), transform: (o) => slim(o, this.pool) },
    );
  }

  /** Connects, syncs the caches, rebuilds IPAM and starts the workers. Resolves when all NicPorts were queued. */
  async start(): Promise<void> {
    if (this.started) throw new Error('controller already started');
    this.started = true;
    if (typeof this.opts.nb === 'string') {
      this.nbClient = await this.connectNb(this.opts.nb);
      this.ownsNbClient = true;
      if (this.stopping) {
        this.nbClient.close();
        return;
      }
    } else this.nbClient = this.opts.nb;
    this.nbWriter = new NbWriter(this.nbClient, {
      maxOps: this.opts.nbBatchOps ?? 400,
      onTransaction: (result) => this.metrics.nbTransactions.inc({ result }),
    });
    this.nbState = await NbState.start(this.nbClient, {
      port: (o, n) => this.onPort(o, n),
      switch: (o, n, d) => this.onSwitch(o, n, d),
    });
    // One after the other: the initial lists are the largest allocations the controller makes.
    for (const inf of [this.subnets, this.ips, this.nicports] as ResilientInformer<KubernetesObject>[]) {
      await inf.start();
      if (this.stopping) return;
    }
    if (this.stopping) return;
    this.rebuild();
    this.reconciler = new Reconciler({
      caches: this.caches(),
      ipam: this.ipam,
      claims: this.claims,
      nb: this.nbState,
      nbWriter: this.nbWriter,
      kube: this.kube,
      binder: this.opts.binder,
      events: this.opts.events ?? NOOP_EVENTS,
      log: this.log,
      portNames: this.portNames,
      blocked: this.blocked,
      released: () => this.onReleased(),
      ...(this.opts.bindRetryMs !== undefined ? { bindRetryMs: this.opts.bindRetryMs } : {}),
    });
    this.synced = true;
    for (const np of this.nicports.list()) this.queue.add(keyOf(np));
    const n = this.opts.workers ?? 16;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
    this.sweepOrphans();
    const period = this.opts.resyncPeriodMs ?? 300_000;
    if (period > 0) {
      this.resyncTimer = setInterval(() => this.resync(), period);
      this.resyncTimer.unref();
    }
    this.log.info({ nicports: this.nicports.list().length, subnets: this.subnets.list().length, workers: n }, 'controller started');
  }

  /** Connects to NB, retrying (with backoff) until it answers or the controller is stopped. */
  private async connectNb(remotes: string): Promise<OvsdbClient> {
    let delay = 500;
    for (;;) {
      try {
        return await OvsdbClient.connect(remotes, { log: this.log.child({ component: 'ovsdb' }), requestTimeoutMs: 30_000 });
      } catch (err) {
        if (this.stopping) throw err;
        this.log.warn({ nb: remotes, err: (err as Error).message, retryMs: delay }, 'OVN NB not reachable, retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.sweepTimer);
    this.queue.shutdown();
    await Promise.all(this.workers);
    await this.reconciler?.flushEvents();
    await Promise.all([this.nicports.stop(), this.subnets.stop(), this.ips.stop()]);
    await this.nbState?.stop();
    if (this.ownsNbClient) this.nbClient?.close();
    if (this.ownsKc) this.kc.destroyAgent();
  }

  /** Caches synced and workers running. */
  get isSynced(): boolean {
    return this.synced;
  }

  health(): { ok: boolean; detail?: string } {
    const problems: string[] = [];
    if (this.nbClient && !this.nbClient.connected) problems.push('OVN NB not connected');
    for (const [name, inf] of [['nicports', this.nicports], ['subnets', this.subnets], ['ips', this.ips]] as const) {
      if (this.started && inf.hasSynced && inf.error !== undefined) problems.push(`${name} watch: ${inf.error}`);
    }
    return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join('; ') };
  }

  /** Keys queued or being reconciled. */
  get busy(): number {
    return this.queue.pending + this.inFlight;
  }

  /** Queues one NicPort (tests, tools). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Refreshes gauges; call before rendering the registry. */
  refreshMetrics(): void {
    updateIpamGauges(this.metrics, this.ipam);
    this.metrics.nicports.set({}, this.nicports.list().length);
  }

  // ---- workers --------------------------------------------------------------------------------

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.inFlight++;
      const timer = this.metrics.reconcileSeconds.startTimer();
      try {
        const r = await (this.reconciler as Reconciler).reconcile(key);
        this.queue.forget(key);
        if (r.requeueAfterMs !== undefined) this.queue.addAfter(key, r.requeueAfterMs);
        timer({ result: r.requeueAfterMs === undefined ? 'ok' : 'requeue' });
      } catch (err) {
        timer({ result: 'error' });
        const stale = err instanceof StaleObjectError;
        this.metrics.reconcileErrors.inc({ reason: stale ? 'stale' : errorKind(err) });
        const failures = this.queue.failures(key);
        const level = stale || failures < 3 ? 'debug' : 'warn';
        this.log[level]({ nicport: key, err: apiErrorText(err), failures }, 'reconcile failed, retrying');
        this.queue.addRateLimited(key);
      } finally {
        this.inFlight--;
        this.queue.done(key);
      }
    }
  }

  private resync(): void {
    for (const np of this.nicports.list()) this.queue.add(keyOf(np));
    this.sweepOrphans();
    this.claims.retry();
  }

  /**
   * Ports and IP objects marked as ovnic's whose NicPort does not exist: their owner key is queued (the
   * reconcile of an absent NicPort removes what it owns); an ovnic port naming no owner is removed
   * here unless a NicPort wants a port of that name.
   */
  private sweepOrphans(): void {
    if (!this.synced || this.stopping || !this.nbState) return;
    const ops = [];
    for (const lsp of this.nbState.ports()) {
      if (!isOvnicPort(lsp)) continue;
      const owner = ownerOfPort(lsp);
      if (owner !== undefined) {
        if (!this.nicPortExists(owner)) this.queue.add(owner);
      } else if (!this.keyByPortName.has(lsp.name)) {
        this.log.info({ lsp: lsp.name }, 'removing ovnic logical switch port without owner');
        ops.push(...deletePortOps(lsp, this.nbState.switchOf(lsp)));
      }
    }
    if (ops.length > 0) {
      (this.nbWriter as NbWriter).submit(ops).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'orphan port removal failed'));
    }
    for (const ip of this.ips.list()) {
      if (!isOvnicIp(ip)) continue;
      const owner = ownerOfIp(ip);
      if (owner !== undefined && !this.nicPortExists(owner)) this.queue.add(owner);
    }
  }

  private scheduleSweep(): void {
    if (!this.synced || this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweepOrphans();
    }, 200);
    this.sweepTimer.unref();
  }

  private nicPortExists(key: string): boolean {
    const { namespace, name } = splitKey(key);
    return this.nicports.get(name, namespace) !== undefined;
  }

  // ---- IPAM rebuild ---------------------------------------------------------------------------

  /**
   * Loads every reservation, in order of authority: NicPort status (oldest NicPort first), then
   * ovnic IP objects and ports of NicPorts whose status has no addresses yet (written before a
   * crash), then addresses held outside ovnic (Kube-OVN IP objects, other NB ports, ovnic ports
   * without a NicPort). The first claim of an address keeps it.
   */
  private rebuild(): void {
    for (const s of this.subnets.list()) this.upsertSubnet(s);
    const entries: RebuildEntry[] = [];
    const withStatus = new Set<string>();
    const nps = [...this.nicports.list()].sort(byAge);
    for (const np of nps) {
      const st = np.status;
      const subnet = st?.subnet ?? np.spec?.subnet;
      const ips = [st?.ipv4, st?.ipv6].filter((x): x is string => typeof x === 'string' && x !== '');
      if (!subnet || (ips.length === 0 && !st?.mac)) continue;
      withStatus.add(keyOf(np));
      entries.push({ owner: ownerKey.nicPort(np.metadata?.namespace ?? '', np.metadata?.name ?? ''), source: 'nicport-status', subnet, ips, ...(st?.mac ? { mac: st.mac } : {}) });
    }
    const external: Array<{ owner: string; source: string; entries: RebuildEntry[] }> = [];
    for (const ip of this.ips.list()) {
      const owner = ownerOfIp(ip);
      if (owner !== undefined) {
        if (this.nicPortExists(owner) && !withStatus.has(owner)) {
          const { namespace, name } = splitKey(owner);
          entries.push(...rebuildEntriesFromKubeOvnIp(ip, ownerKey.nicPort(namespace, name), 'ovnic-ip'));
        }
        continue;
      }
      if (isOvnicIp(ip)) continue;
      const name = ip.metadata?.name ?? '';
      external.push({ owner: ownerKey.kubeOvn(name), source: 'ip', entries: rebuildEntriesFromKubeOvnIp(ip, ownerKey.kubeOvn(name)) });
    }
    const state = this.nbState as NbState;
    for (const lsp of state.ports()) {
      const ls = state.switchOf(lsp);
      if (!ls || !this.ipam.subnet(ls.name)) continue;
      const owner = ownerOfPort(lsp);
      if (isOvnicPort(lsp) && owner !== undefined && this.nicPortExists(owner)) {
        if (!withStatus.has(owner)) {
          const { namespace, name } = splitKey(owner);
          entries.push(...rebuildEntriesFromLsp(lsp, ls.name, ownerKey.nicPort(namespace, name), 'ovnic-lsp'));
        }
        continue;
      }
      const claim = this.portClaim(lsp, ls);
      if (claim) external.push(claim);
    }
    for (const e of external) entries.push(...e.entries);
    const report = this.ipam.rebuild(entries);
    for (const e of external) this.claims.record(e.owner, e.source, e.entries);
    this.claims.syncAll();
    if (report.conflicts.length > 0 || report.rejected.length > 0) {
      this.log.warn({ conflicts: report.conflicts.slice(0, 20), rejected: report.rejected.slice(0, 20).map((r) => ({ owner: r.owner, address: r.address, error: r.error.message })) }, 'IPAM rebuild found conflicting claims; the first claim kept each address');
    }
    this.log.info({ loaded: report.loaded, conflicts: report.conflicts.length, rejected: report.rejected.length, waiting: report.waitingForSubnet }, 'IPAM rebuilt');
  }

  /** What a port ovnic does not manage holds: owner key and rebuild entries, if on a known subnet. */
  private portClaim(lsp: Lsp, ls: Ls | undefined): { owner: string; source: string; entries: RebuildEntry[] } | undefined {
    if (!ls || !this.ipam.subnet(ls.name)) return undefined;
    const owner = lsp.external_ids[EXT_VENDOR] === 'kube-ovn' ? ownerKey.kubeOvn(lsp.name) : ownerKey.lsp(lsp.name);
    return { owner, source: 'nb', entries: rebuildEntriesFromLsp(lsp, ls.name, owner) };
  }

  // ---- event handlers -------------------------------------------------------------------------

  private caches(): ReconcileCaches {
    return {
      nicPort: (namespace, name) => newest(this.nicports.get(name, namespace), this.wroteNicPorts.get(nicPortKey(namespace, name))),
      ip: (name) => newest(this.ips.get(name), this.wroteIps.get(name)),
      ipsOwnedBy: (key) => {
        const out: KubeOvnIp[] = [];
        const names = new Set([...(this.ipsByOwner.get(key) ?? [])]);
        for (const [n, ip] of this.wroteIps) if (ownerOfIp(ip) === key) names.add(n);
        for (const n of names) {
          const ip = newest(this.ips.get(n), this.wroteIps.get(n));
          if (ip) out.push(ip);
        }
        return out;
      },
      wroteNicPort: (np) => {
        // Not once the informer saw it go (a late reply must not bring a deleted NicPort back), nor when
        // the informer already delivered this version (the watch event can beat the reply).
        const cached = this.nicports.get(np.metadata?.name ?? '', np.metadata?.namespace);
        if (cached !== undefined && isNewer(np, cached)) this.wroteNicPorts.set(keyOf(np), np);
      },
      wroteIp: (ip) => {
        const name = ip.metadata?.name ?? '';
        const cached = this.ips.get(name);
        if (cached === undefined || isNewer(ip, cached)) this.wroteIps.set(name, ip);
      },
      forgetIp: (name) => this.wroteIps.delete(name),
    };
  }

  private onNicPort(np: NicPort): void {
    const key = keyOf(np);
    const wrote = this.wroteNicPorts.get(key);
    if (wrote && !isNewer(wrote, np)) this.wroteNicPorts.delete(key);
    for (const s of [np.spec?.subnet, np.status?.subnet]) if (s) addTo(this.keysBySubnet, s, key);
    const port = np.status?.logicalSwitchPort;
    if (port) this.keyByPortName.set(port, key);
    this.queue.add(key);
  }

  private onNicPortDeleted(np: NicPort): void {
    const key = keyOf(np);
    this.wroteNicPorts.delete(key);
    for (const s of [np.spec?.subnet, np.status?.subnet]) if (s) this.keysBySubnet.get(s)?.delete(key);
    const port = np.status?.logicalSwitchPort;
    if (port && this.keyByPortName.get(port) === key) this.keyByPortName.delete(port);
    this.queue.add(key);
  }

  private upsertSubnet(obj: KubernetesObject): boolean {
    try {
      const report = this.ipam.upsertKubeOvnSubnet(obj);
      if (report.dropped.length > 0) this.log.warn({ subnet: report.subnet, dropped: report.dropped.map((d) => `${d.ip} (${d.owner})`) }, 'subnet change dropped reservations');
      return report.created;
    } catch (err) {
      this.log.warn({ subnet: obj.metadata?.name, err: (err as Error).message }, 'invalid kubeovn.io Subnet ignored');
      return false;
    }
  }

  private onSubnet(obj: KubernetesObject, added: boolean): void {
    if (!this.synced) return; // rebuild() reads the cache
    const created = this.upsertSubnet(obj);
    const name = obj.metadata?.name ?? '';
    if (created || added) this.restoreFromStatus(name);
    this.claims.retry();
    this.enqueueSubnet(name);
  }

  private onSubnetDeleted(obj: KubernetesObject): void {
    if (!this.synced) return;
    const name = obj.metadata?.name ?? '';
    this.ipam.removeSubnet(name);
    this.enqueueSubnet(name);
  }

  /** A subnet (re)appeared: NicPorts that recorded addresses in it get them back first. */
  private restoreFromStatus(subnet: string): void {
    const nps = [...(this.keysBySubnet.get(subnet) ?? [])]
      .map((k) => { const { namespace, name } = splitKey(k); return this.nicports.get(name, namespace); })
      .filter((np): np is NicPort => np !== undefined && (np.status?.subnet ?? np.spec?.subnet) === subnet)
      .sort(byAge);
    for (const np of nps) {
      const owner = ownerKey.nicPort(np.metadata?.namespace ?? '', np.metadata?.name ?? '');
      for (const ip of [np.status?.ipv4, np.status?.ipv6]) {
        if (!ip) continue;
        try {
          this.ipam.reserveIp(subnet, ip, owner, { allowExcluded: true });
        } catch {
          // taken meanwhile: the reconcile allocates another address and reports it
        }
      }
    }
  }

  private enqueueSubnet(subnet: string): void {
    for (const k of this.keysBySubnet.get(subnet) ?? []) this.queue.add(k);
  }

  private onIp(ip: KubeOvnIp): void {
    const name = ip.metadata?.name ?? '';
    const wrote = this.wroteIps.get(name);
    if (wrote && !isNewer(wrote, ip)) this.wroteIps.delete(name);
    const owner = ownerOfIp(ip);
    const previous = this.ipOwner.get(name);
    if (previous !== undefined && previous !== owner) this.dropIpOwner(name, previous);
    if (owner !== undefined) {
      this.ipOwner.set(name, owner);
      addTo(this.ipsByOwner, owner, name);
      this.claims.clear(ownerKey.kubeOvn(name), 'ip');
      this.queue.add(owner);
      return;
    }
    if (!this.synced) return;
    if (isOvnicIp(ip)) {
      this.scheduleSweep();
      return;
    }
    this.claims.set(ownerKey.kubeOvn(name), 'ip', rebuildEntriesFromKubeOvnIp(ip, ownerKey.kubeOvn(name)));
    const wanting = this.keyByPortName.get(name);
    if (wanting) this.queue.add(wanting);
  }

  private onIpDeleted(ip: KubeOvnIp): void {
    const name = ip.metadata?.name ?? '';
    this.wroteIps.delete(name);
    const owner = ownerOfIp(ip);
    const previous = this.ipOwner.get(name);
    if (previous !== undefined) this.dropIpOwner(name, previous);
    if (owner !== undefined) {
      this.queue.add(owner);
      return;
    }
    if (!this.synced) return;
    this.claims.clear(ownerKey.kubeOvn(name), 'ip');
    this.onReleased();
  }

  private dropIpOwner(name: string, owner: string): void {
    this.ipOwner.delete(name);
    const set = this.ipsByOwner.get(owner);
    set?.delete(name);
    if (set?.size === 0) this.ipsByOwner.delete(owner);
  }

  private onPort(old: Lsp | undefined, now: Lsp | undefined): void {
    for (const row of [old, now]) {
      if (!row) continue;
      const owner = ownerOfPort(row);
      if (owner !== undefined && isOvnicPort(row)) this.queue.add(owner);
      const wanting = this.keyByPortName.get(row.name);
      if (wanting !== undefined && wanting !== owner) this.queue.add(wanting);
    }
    if (!this.synced) return;
    this.updatePortClaim(old, now);
    if (now && isOvnicPort(now) && (ownerOfPort(now) === undefined || !this.nicPortExists(ownerOfPort(now) as string))) this.scheduleSweep();
  }

  private updatePortClaim(old: Lsp | undefined, now: Lsp | undefined): void {
    const state = this.nbState as NbState;
    const claimOf = (row: Lsp): { owner: string; source: string; entries: RebuildEntry[] } | undefined =>
      isOvnicPort(row) ? undefined : this.portClaim(row, state.switchOf(row));
    const before = old && !isOvnicPort(old) ? (old.external_ids[EXT_VENDOR] === 'kube-ovn' ? ownerKey.kubeOvn(old.name) : ownerKey.lsp(old.name)) : undefined;
    const claim = now ? claimOf(now) : undefined;
    if (before !== undefined && before !== claim?.owner) {
      this.claims.clear(before, 'nb');
      this.onReleased();
    }
    if (claim) this.claims.set(claim.owner, claim.source, claim.entries);
  }

  private onSwitch(old: Ls | undefined, now: Ls | undefined, diff: PortsDiff): void {
    const name = now?.name ?? old?.name ?? '';
    if (!old || !now || old.name !== now.name) {
      this.enqueueSubnet(name);
      if (old && (!now || old.name !== now.name)) this.enqueueSubnet(old.name);
    }
    if (!this.synced) return;
    // Ports joining or leaving a switch: their addresses count in another subnet, and an ovnic port
    // moved by hand goes back.
    const state = this.nbState as NbState;
    for (const [uuid, added] of [...diff.removed.map((u) => [u, false] as const), ...diff.added.map((u) => [u, true] as const)]) {
      const lsp = state.portByUuid(uuid);
      if (!lsp) continue;
      if (!isOvnicPort(lsp)) this.updatePortClaim(lsp, lsp);
      // A port added where its external_ids say it belongs is a create, not a move.
      if (added && lsp.external_ids[EXT_LS] === now?.name) continue;
      const owner = ownerOfPort(lsp) ?? this.keyByPortName.get(lsp.name);
      if (owner !== undefined) this.queue.add(owner);
    }
  }

  /** Addresses were released somewhere: NicPorts waiting for one try again, as do blocked claims. */
  private onReleased(): void {
    this.claims.retry();
    for (const k of this.blocked) this.queue.add(k);
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function byAge(a: KubernetesObject, b: KubernetesObject): number {
  const ta = String(a.metadata?.creationTimestamp ?? '');
  const tb = String(b.metadata?.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
}

function rvOf(o: KubernetesObject | undefined): bigint | undefined {
  const rv = o?.metadata?.resourceVersion;
  return rv !== undefined && /^\d+$/.test(rv) ? BigInt(rv) : undefined;
}

/** True if `a` is a later version than `b` (resourceVersions compared as numbers, as the API server issues them). */
function isNewer(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = rvOf(a);
  const rb = rvOf(b);
  return ra !== undefined && rb !== undefined && ra > rb;
}

function newest<T extends KubernetesObject>(cached: T | undefined, written: T | undefined): T | undefined {
  if (!written) return cached;
  if (!cached) return written;
  return isNewer(written, cached) ? written : cached;
}

function errorKind(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') return `http_${(err as { code: number }).code}`;
  if (err instanceof Error) return err.name;
  return 'unknown';
}

export { VENDOR };
