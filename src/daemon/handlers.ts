/**
 * The CNI handlers the node daemon runs: the plugin's own command code (src/cni/commands.ts), given
 * the daemon's long-lived OVSDB connection and — for networks without an `ipam` section — the
 * addresses, MAC, NIC type and logical switch port from the pod's provider-scoped annotations.
 *
 *  ADD     with `ipam`: as the standalone plugin. Without: waits (by watch, up to the annotation
 *          timeout) until the pod's annotations are complete, then runs ADD with them.
 *  DEL     as the standalone plugin; the cached pod's pod_nic_type tells the NIC type when OVSDB
 *          cannot.
 *  CHECK   compares against the iface-id and NIC type the pod's annotations give (no wait).
 *  GC      as the standalone plugin.
 *  STATUS  also 50 while the pod cache is not synced (annotation addressing only).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { CniError, CniErrorCode, invalidConfig } from '../cni/errors.js';
import type { AttachmentContext, CniHandlers, IpamSource, NetworkContext } from '../cni/skel.js';
import type { Logger } from '../util/log.js';
import { podNicTypeHint, resolvePodAddressing, type AddressingQuery, type AddressingState, type PodAddressing } from './annotations.js';
import type { DaemonMetrics } from './metrics.js';
import type { OvsdbPool } from './ovsdb-pool.js';
import { PodWaitAbortedError, PodWaitTimeoutError, type PodCache } from './pods.js';
import type { InFlightAttachments, NetworkConfigs } from './state.js';

export interface DaemonServices {
  pool: OvsdbPool;
  /** undefined when the daemon runs without Kubernetes access. */
  pods: PodCache | undefined;
  metrics: DaemonMetrics;
  inFlight: InFlightAttachments;
  networks: NetworkConfigs;
  /** Default wait for a pod's annotations (conf key `annotationTimeoutMs` overrides). */
  annotationTimeoutMs: number;
  node: string | undefined;
  log: Logger;
}

/** Filled in while one request is served (metrics). */
export interface RequestRecord {
  nicType?: string;
  /** Fires when the plugin that sent the request went away. */
  signal?: AbortSignal;
}

/** The network's own wait for annotations: conf key `annotationTimeoutMs` (1..600000), else the daemon's. */
export function annotationTimeoutOf(raw: Record<string, unknown>, fallback: number): number {
  const v = raw.annotationTimeoutMs;
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 600_000) {
    throw invalidConfig('invalid network config: "annotationTimeoutMs" must be an integer in 1..600000', `annotationTimeoutMs=${JSON.stringify(v)}`);
  }
  return v;
}

const NO_IPAM: IpamSource = {
  add: () => Promise.reject(new Error('no IPAM')),
  del: () => Promise.resolve(),
  check: () => Promise.resolve(),
  gc: () => Promise.resolve(true),
  status: () => Promise.resolve(true),
};

/** The pod's annotated addresses as the IPAM result ADD works with. */
function annotationSource(addressing: PodAddressing): IpamSource {
  return {
    ...NO_IPAM,
    add: () => Promise.resolve({ interfaces: [], ips: addressing.ips.map((ip) => ({ ...ip })), routes: addressing.routes.map((r) => ({ ...r })), dns: {} }),
  };
}

function withAddressing(ctx: AttachmentContext, addressing: PodAddressing): AttachmentContext {
  return {
    ...ctx,
    conf: { ...ctx.conf, nicType: addressing.nicType },
    identity: { ...ctx.identity, provider: addressing.scope, ifaceId: addressing.ifaceId },
    requested: { ips: [], mac: addressing.mac },
    ipam: () => annotationSource(addressing),
  };
}

function addressingQuery(ctx: AttachmentContext): AddressingQuery {
  return {
    provider: ctx.conf.provider,
    ifname: ctx.env.ifname,
    confNicType: ctx.conf.nicType,
    podName: ctx.identity.podName ?? '',
    podNamespace: ctx.identity.podNamespace ?? '',
  };
}

export function daemonHandlers(svc: DaemonServices, shared: CniHandlers, record: RequestRecord): CniHandlers {
  const connectOvs = (remote: string, timeoutMs?: number) => svc.pool.ports(remote, timeoutMs ?? 5000);

  const remember = (ctx: AttachmentContext | NetworkContext): void => {
    svc.networks.remember({ conf: ctx.conf, rawConfig: ctx.rawConfig, cniPath: ctx.env.path, env: { CNI_PATH: ctx.rawEnv.CNI_PATH } });
  };

  const requirePods = (ctx: AttachmentContext): PodCache => {
    if (ctx.identity.source !== 'kubernetes') {
      throw invalidConfig(
        'addresses from pod annotations need K8S_POD_NAME and K8S_POD_NAMESPACE in CNI_ARGS',
        `network "${ctx.conf.name}" has no "ipam" section, so the node daemon takes the addresses from the pod's annotations; ` +
          'runtimes other than Kubernetes need an "ipam" section',
      );
    }
    if (!svc.pods) {
      throw invalidConfig(
        'the ovnic node daemon has no Kubernetes access, so it cannot read pod annotations',
        `network "${ctx.conf.name}" has no "ipam" section; start the daemon with --kubeconfig, or in a pod with a service account`,
      );
    }
    return svc.pods;
  };

  const timeoutError = (ctx: AttachmentContext, pods: PodCache, waitedMs: number, pod: V1Pod | undefined, state: AddressingState | undefined): CniError => {
    const { podName, podNamespace, podUid } = ctx.identity;
    const who = `pod ${podNamespace}/${podName}`;
    const msg = `timed out after ${waitedMs} ms waiting for the addresses of ${who} (provider "${ctx.conf.provider}", interface ${ctx.env.ifname})`;
    let details: string;
    if (!pod) {
      details = `${who} is not in the node daemon's pod cache${svc.node ? ` (pods of node ${svc.node})` : ''}`;
      if (!pods.synced) details += `; the cache has not synced with the API server yet${pods.error ? ` (${pods.error})` : ''}`;
    } else if (podUid && pod.metadata?.uid !== podUid) {
      details = `the cached ${who} has uid ${pod.metadata?.uid ?? '?'}, the runtime asked for uid ${podUid} (the pod was re-created?)`;
    } else if (state && !state.ready) {
      const parts: string[] = [];
      if (state.missing.length > 0) parts.push(`missing ${state.missing.join(', ')}`);
      if (state.problems.length > 0) parts.push(state.problems.join('; '));
      details =
        `${parts.join('; ')}. These annotations are written by the controller that allocates the addresses ` +
        "(Kube-OVN's kube-ovn-controller, or ovnic's NicPort controller for a bound NicPort): check its logs and that a Subnet serves " +
        `provider "${ctx.conf.provider}"`;
    } else {
      details = 'the annotations were not evaluated';
    }
    return new CniError(CniErrorCode.TryAgainLater, msg, details);
  };

  const waitForAddressing = async (ctx: AttachmentContext): Promise<PodAddressing> => {
    const pods = requirePods(ctx);
    const timeoutMs = annotationTimeoutOf(ctx.conf.raw, svc.annotationTimeoutMs);
    const query = addressingQuery(ctx);
    const { podUid } = ctx.identity;
    let lastPod: V1Pod | undefined;
    let lastState: AddressingState | undefined;
    const observe = svc.metrics.annotationWait.startTimer();
    const started = Date.now();
    try {
      const addressing = await pods.waitFor(
        query.podNamespace,
        query.podName,
        (pod) => {
          lastPod = pod;
          lastState = undefined;
          if (!pod || (podUid && pod.metadata?.uid !== podUid)) return undefined;
          lastState = resolvePodAddressing(pod.metadata?.annotations, query);
          return lastState.ready ? lastState.addressing : undefined;
        },
        record.signal ? { timeoutMs, signal: record.signal } : { timeoutMs },
      );
      observe({ outcome: 'ready' });
      const waitedMs = Date.now() - started;
      if (waitedMs > 5) ctx.log.info({ waitedMs, scope: addressing.scope }, 'pod annotations ready');
      return addressing;
    } catch (err) {
      if (err instanceof PodWaitTimeoutError) {
        observe({ outcome: 'timeout' });
        throw timeoutError(ctx, pods, err.waitedMs, lastPod, lastState);
      }
      if (err instanceof PodWaitAbortedError) {
        observe({ outcome: 'aborted' });
        throw new CniError(CniErrorCode.TryAgainLater, 'ADD abandoned: the CNI plugin process went away while waiting for the pod annotations');
      }
      observe({ outcome: 'error' });
      throw err;
    }
  };

  /** The pod's annotations as they are now (CHECK, DEL): undefined when not usable. */
  const cachedPod = (ctx: AttachmentContext): V1Pod | undefined => {
    if (ctx.conf.ipam || !svc.pods || ctx.identity.source !== 'kubernetes') return undefined;
    const pod = svc.pods.get(ctx.identity.podNamespace ?? '', ctx.identity.podName ?? '');
    if (pod && ctx.identity.podUid && pod.metadata?.uid !== ctx.identity.podUid) return undefined;
    return pod;
  };

  return {
    async add(ctx) {
      record.nicType = ctx.conf.nicType;
      remember(ctx);
      const base: AttachmentContext = { ...ctx, connectOvs };
      if (ctx.conf.ipam) {
        const end = svc.inFlight.begin(ctx.env.containerId, ctx.env.ifname);
        try {
          return await shared.add(base);
        } finally {
          end();
        }
      }
      const addressing = await waitForAddressing(ctx);
      record.nicType = addressing.nicType;
      const end = svc.inFlight.begin(ctx.env.containerId, ctx.env.ifname);
      try {
        return await shared.add(withAddressing(base, addressing));
      } finally {
        end();
      }
    },

    async del(ctx) {
      record.nicType = ctx.conf.nicType;
      remember(ctx);
      const pod = cachedPod(ctx);
      const base: AttachmentContext = { ...ctx, connectOvs };
      if (pod) {
        const nicType = podNicTypeHint(pod.metadata?.annotations, ctx.conf.provider, ctx.env.ifname, ctx.conf.nicType);
        base.conf = { ...ctx.conf, nicType };
        record.nicType = nicType;
      }
      const end = svc.inFlight.begin(ctx.env.containerId, ctx.env.ifname);
      try {
        await shared.del(base);
      } finally {
        end();
      }
    },

    async check(ctx) {
      record.nicType = ctx.conf.nicType;
      let base: AttachmentContext = { ...ctx, connectOvs };
      const pod = cachedPod(ctx);
      if (!ctx.conf.ipam) {
        const state = pod ? resolvePodAddressing(pod.metadata?.annotations, addressingQuery(ctx)) : undefined;
        if (state?.ready) {
          base = withAddressing(base, state.addressing);
          record.nicType = state.addressing.nicType;
        }
      }
      const end = svc.inFlight.begin(ctx.env.containerId, ctx.env.ifname);
      try {
        await shared.check(base);
      } finally {
        end();
      }
    },

    async gc(ctx) {
      record.nicType = ctx.conf.nicType;
      remember(ctx);
      await shared.gc({ ...ctx, connectOvs });
    },

    async status(ctx) {
      record.nicType = ctx.conf.nicType;
      if (!ctx.conf.ipam) {
        if (!svc.pods) {
          throw new CniError(CniErrorCode.NotAvailable, 'the ovnic node daemon has no Kubernetes access', `network "${ctx.conf.name}" takes its addresses from pod annotations`);
        }
        if (!svc.pods.synced) {
          throw new CniError(CniErrorCode.NotAvailable, 'the ovnic node daemon has not synced pods with the API server yet', svc.pods.error ?? '');
        }
        if (!svc.pods.healthy) {
          throw new CniError(CniErrorCode.NotAvailable, 'the ovnic node daemon lost its pod watch and is restarting it', svc.pods.error ?? '');
        }
      }
      await shared.status({ ...ctx, connectOvs });
    },
  };
}
