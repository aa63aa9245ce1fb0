/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
 * - a candidate takes the Lease when it does not exist, has no holder, or its record has not changed for
 *   leaseDuration as measured on the candidate's own clock (no trust in other hosts' clocks);
 * - every write is a create or an update carrying the resourceVersion read, so of two racing candidates
 *   one gets 409 and stays a follower;
 * - the leader renews every retryPeriod; when no renewal succeeds within renewDeadline (or another holder
 *   shows up in the Lease) it stops leading;
 * - on stop() (or when its leader work fails) the leader releases the Lease (empty holder), so a follower
 *   takes over at its next retry instead of waiting for expiry.
 */
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import type { Counter, Gauge, Registry } from '../util/metrics.js';

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  /** This candidate's identity (e.g. the pod name); must be unique among candidates. */
  identity: string;
  /** How long a Lease stays valid after its last change. Default 15. */
  leaseDurationSec?: number;
  /** How long the leader keeps retrying a failing renewal before it stops leading. Default 10. */
  renewDeadlineSec?: number;
  /** Interval between acquire attempts and between renewals. Default 2. */
  retryPeriodSec?: number;
  /** Clear the holder on stop() so another candidate takes over at once. Default true. */
  releaseOnStop?: boolean;
  /** Exposes `ovnic_leader_is_leader{lease}` and `ovnic_leader_transitions_total{lease}`. */
  registry?: Registry;
}

/** client-go's JitterFactor for the acquire loop. */
const JITTER = 1.2;

function apiCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The parts of a Lease record whose change restarts the expiry clock. */
function recordKey(spec: V1LeaseSpec | undefined): string {
  const s = spec ?? {};
  return JSON.stringify([s.holderIdentity ?? '', String(s.renewTime ?? ''), String(s.acquireTime ?? ''), s.leaseTransitions ?? 0, s.leaseDurationSeconds ?? 0]);
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly leaseSeconds: number;
  private readonly releaseOnStop: boolean;
  private readonly leaderGauge: Gauge | undefined;
  private readonly transitions: Counter | undefined;
  private readonly labels: Record<string, string>;

  private leading = false;
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeSleepers: Array<() => void> = [];
  private observedKey = '';
  private observedAt = 0;
  private lostReason: string | undefined;
  private gaveUp = false;

  constructor(kc: KubeConfig, private readonly opts: LeaderElectorOptions, private readonly log: Logger) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    const lease = opts.leaseDurationSec ?? 15;
    const renew = opts.renewDeadlineSec ?? 10;
    const retry = opts.retryPeriodSec ?? 2;
    if (!(lease > renew)) throw new Error(`leaseDurationSec (${lease}) must be greater than renewDeadlineSec (${renew})`);
    if (!(renew > retry * JITTER)) throw new Error(`renewDeadlineSec (${renew}) must be greater than ${JITTER} × retryPeriodSec (${retry})`);
    if (!(retry > 0)) throw new Error('retryPeriodSec must be positive');
    if (opts.identity === '') throw new Error('identity must not be empty');
    this.leaseMs = lease * 1000;
    this.renewDeadlineMs = renew * 1000;
    this.retryMs = retry * 1000;
    this.leaseSeconds = Math.max(1, Math.ceil(lease));
    this.releaseOnStop = opts.releaseOnStop ?? true;
    this.labels = { lease: `${opts.namespace}/${opts.name}` };
    this.leaderGauge = opts.registry?.gauge('ovnic_leader_is_leader', '1 while this instance holds the leader Lease');
    this.leaderGauge?.set(this.labels, 0);
    this.transitions = opts.registry?.counter('ovnic_leader_transitions_total', 'Times this instance became leader');
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this instance leads, then calls onStartedLeading (not awaited: it may run for as long as
   * the leadership lasts) and renews. Resolves after leadership ends (lost, onStartedLeading rejected, or
   * stop()); onStoppedLeading is called then, once, and only if this instance led.
   */
  run(onStartedLeading: () => Promise<void>, onStoppedLeading: () => void): Promise<void> {
    if (this.running !== undefined) throw new Error('LeaderElector.run() is already running');
    this.stopping = false;
    this.running = this.campaign(onStartedLeading, onStoppedLeading).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops campaigning or leading; a leader releases the Lease (unless releaseOnStop is false). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.running?.catch(() => undefined);
  }

  private async campaign(onStartedLeading: () => Promise<void>, onStoppedLeading: () => void): Promise<void> {
    const lease = `${this.opts.namespace}/${this.opts.name}`;
    this.log.info({ lease, identity: this.opts.identity }, 'campaigning for leadership');
    let acquired = false;
    while (!this.stopping && !(acquired = await this.tryAcquireOrRenew())) {
      await this.sleep(this.retryMs * (1 + Math.random() * (JITTER - 1)));
    }
    if (this.stopping) {
      // stop() arrived while the winning write was in flight: hand the Lease straight back.
      if (acquired && this.releaseOnStop) await this.release();
      return;
    }

    this.leading = true;
    this.lostReason = undefined;
    this.gaveUp = false;
    this.leaderGauge?.set(this.labels, 1);
    this.transitions?.inc(this.labels);
    this.log.info({ lease, identity: this.opts.identity }, 'became leader');
    void Promise.resolve()
      .then(onStartedLeading)
      .catch((err: unknown) => {
        this.log.error({ err, lease }, 'leader work failed; giving up leadership');
        this.lostReason = 'onStartedLeading failed';
        this.gaveUp = true;
        this.wake();
      });

    try {
      await this.renewLoop();
    } finally {
      // Giving up on purpose (stop, failed leader work) hands over at once; a lost Lease is not ours to release.
      const voluntary = this.stopping || this.gaveUp;
      const released = voluntary && this.releaseOnStop ? await this.release() : false;
      this.leading = false;
      this.leaderGauge?.set(this.labels, 0);
      this.log.info({ lease, identity: this.opts.identity, reason: this.stopping ? 'stopped' : this.lostReason, released }, 'stopped leading');
      try {
        onStoppedLeading();
      } catch (err) {
        this.log.error({ err }, 'onStoppedLeading threw');
      }
    }
  }

  /** Renews every retryPeriod until stopped, or until renewal keeps failing for renewDeadline. */
  private async renewLoop(): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopping && this.lostReason === undefined) {
      await this.sleep(this.retryMs);
      if (this.stopping || this.lostReason !== undefined) return;
      while (!(await this.tryAcquireOrRenew(lastRenew + this.renewDeadlineMs))) {
        if (!this.leading || this.lostReason !== undefined) return;
        if (Date.now() + this.retryMs >= lastRenew + this.renewDeadlineMs) {
          this.lostReason = `no renewal for ${this.renewDeadlineMs} ms`;
          return;
        }
        await this.sleep(this.retryMs);
        if (this.stopping) return;
      }
      lastRenew = Date.now();
    }
  }

  /** One attempt; true when this instance holds the Lease afterwards. */
  private async tryAcquireOrRenew(deadline?: number): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const timeoutMs = Math.max(1, Math.min(this.renewDeadlineMs, (deadline ?? Number.POSITIVE_INFINITY) - Date.now()));
    let current: V1Lease;
    try {
      current = await withTimeout(this.api.readNamespacedLease({ namespace, name }), timeoutMs, 'reading the Lease');
    } catch (err) {
      if (apiCode(err) !== 404) {
        this.log.warn({ err: (err as Error).message, lease: `${namespace}/${name}` }, 'cannot read the Lease');
        return false;
      }
      return this.create(timeoutMs);
    }

    const now = Date.now();
    const record = current.spec ?? {};
    const key = recordKey(record);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = now;
    }
    const holder = record.holderIdentity ?? '';
    const durationMs = (record.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
    if (holder !== '' && holder !== identity) {
      if (this.leading) {
        this.lostReason = `the Lease is now held by ${holder}`;
        return false;
      }
      if (this.observedAt + Math.max(durationMs, this.leaseMs) > now) return false;
    }

    const ours = holder === identity;
    const stamp = new V1MicroTime(now);
    const spec: V1LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseSeconds,
      acquireTime: ours && record.acquireTime !== undefined ? record.acquireTime : stamp,
      renewTime: stamp,
      leaseTransitions: ours ? (record.leaseTransitions ?? 0) : (record.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = await withTimeout(
        this.api.replaceNamespacedLease({ namespace, name, body: { ...current, spec } }),
        timeoutMs, 'updating the Lease',
      );
      this.observe(updated);
      return true;
    } catch (err) {
      if (apiCode(err) === 409) this.log.debug({ lease: `${namespace}/${name}` }, 'Lease changed under us (409)');
      else this.log.warn({ err: (err as Error).message, lease: `${namespace}/${name}` }, 'cannot update the Lease');
      return false;
    }
  }

  private async create(timeoutMs: number): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const stamp = new V1MicroTime(Date.now());
    try {
      const created = await withTimeout(this.api.createNamespacedLease({
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
        },
      }), timeoutMs, 'creating the Lease');
      this.observe(created);
      return true;
    } catch (err) {
      if (apiCode(err) !== 409) this.log.warn({ err: (err as Error).message, lease: `${namespace}/${name}` }, 'cannot create the Lease');
      return false;
    }
  }

  private observe(lease: V1Lease): void {
    this.observedKey = recordKey(lease.spec);
    this.observedAt = Date.now();
  }

  /** Clears the holder if it is still us; true when released. */
  private async release(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    try {
      const current = await withTimeout(this.api.readNamespacedLease({ namespace, name }), this.renewDeadlineMs, 'reading the Lease');
      if (current.spec?.holderIdentity !== identity) return false;
      const stamp = new V1MicroTime(Date.now());
      await withTimeout(this.api.replaceNamespacedLease({
        namespace,
        name,
        body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp } },
      }), this.renewDeadlineMs, 'releasing the Lease');
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, lease: `${namespace}/${name}` }, 'cannot release the Lease');
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleepers = this.wakeSleepers.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleepers.push(done);
    });
  }

  private wake(): void {
    for (const w of [...this.wakeSleepers]) w();
  }
}
