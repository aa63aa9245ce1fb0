/**
 * `ovnic controller`: runs the NicPort controller in a cluster. The /metrics, /healthz and /readyz
 * endpoint starts at once; with leader election (default) only the Lease holder reconciles, standbys
 * report ready. Losing the lease ends the process (exit 1) so a stale leader never keeps writing;
 * SIGTERM/SIGINT stop cleanly (the lease is released) with exit 0.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { logger, type Logger } from '../util/log.js';
import { Registry } from '../util/metrics.js';
import { VmBinder } from './binder.js';
import { CONTROLLER_COMPONENT } from './constants.js';
import { NicPortController } from './controller.js';
import { EventRecorder } from './events.js';
import { OpsServer } from './http.js';
import { PooledKubeConfig } from './kube.js';
import { LeaderElector } from './leader.js';

export interface ControllerRunOptions {
  /** kubeconfig file; default: in-cluster service account when KUBERNETES_SERVICE_HOST is set, else the usual kubeconfig lookup. */
  kubeconfig?: string;
  /** Or a ready KubeConfig (tests). */
  kubeConfig?: KubeConfig;
  /** OVN NB remotes, comma-separated (several for a raft cluster), e.g. "tcp:10.0.0.1:6641,tcp:10.0.0.2:6641". */
  nbRemotes: string;
  /** Port of /metrics, /healthz, /readyz (0 = any free port). Default 8080. */
  metricsPort?: number;
  metricsHost?: string;
  /** Default true. */
  leaderElection?: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  identity?: string;
  leaseDurationSec?: number;
  renewDeadlineSec?: number;
  retryPeriodSec?: number;
  /** Default 300. */
  resyncPeriodSec?: number;
  /** Default 16. */
  workers?: number;
  bindRetrySec?: number;
  /** Stops the controller when aborted. */
  signal?: AbortSignal;
  log?: Logger;
  /** Called once the ops endpoint listens, with its port. */
  onListening?: (port: number) => void;
}

/** Why runController() returned. */
export type RunEnd = 'stopped' | 'lost-leadership' | 'failed';

/** A registry that refreshes the controller's gauges before each scrape. */
class ScrapeRegistry extends Registry {
  controller: NicPortController | undefined;
  override render(): string {
    this.controller?.refreshMetrics();
    return super.render();
  }
}

function loadKubeConfig(opts: ControllerRunOptions): PooledKubeConfig {
  if (opts.kubeConfig) return PooledKubeConfig.from(opts.kubeConfig);
  const kc = new PooledKubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** Runs until the signal aborts (→ 'stopped'), leadership is lost, or start-up fails. */
export async function runController(opts: ControllerRunOptions): Promise<RunEnd> {
  const log = opts.log ?? logger('controller');
  const kc = loadKubeConfig(opts);
  const registry = new ScrapeRegistry();
  const recorder = new EventRecorder(kc, CONTROLLER_COMPONENT, { log });
  const binder = new VmBinder(kc, recorder, log.child({ component: 'binder' }));
  let controller: NicPortController | undefined;
  let leading = false;
  const leaderElection = opts.leaderElection ?? true;

  const ops = new OpsServer({
    port: opts.metricsPort ?? 8080,
    ...(opts.metricsHost !== undefined ? { host: opts.metricsHost } : {}),
    registry,
    health: async () => (controller ? controller.health() : { ok: true, detail: leaderElection && !leading ? 'standby' : 'starting' }),
    ready: async () => {
      if (leaderElection && !leading) return { ok: true, detail: 'standby' };
      if (!controller?.isSynced) return { ok: false, detail: 'caches not synced yet' };
      return controller.health();
    },
  });
  const port = await ops.start();
  opts.onListening?.(port);
  log.info({ port, leaderElection }, 'ops endpoint listening');

  let finish: (end: RunEnd) => void = () => undefined;
  const ended = new Promise<RunEnd>((resolve) => {
    finish = resolve;
  });
  const onAbort = (): void => finish('stopped');
  if (opts.signal?.aborted) finish('stopped');
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const startController = async (): Promise<void> => {
    const c = new NicPortController({
      kubeConfig: kc,
      nb: opts.nbRemotes,
      binder,
      events: recorder,
      registry,
      log,
      workers: opts.workers ?? 16,
      resyncPeriodMs: (opts.resyncPeriodSec ?? 300) * 1000,
      bindRetryMs: (opts.bindRetrySec ?? 5) * 1000,
    });
    controller = c;
    registry.controller = c;
    await c.start();
  };

  let elector: LeaderElector | undefined;
  if (leaderElection) {
    elector = new LeaderElector(kc, {
      namespace: opts.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'kube-system',
      name: opts.leaseName ?? 'ovnic-controller',
      identity: opts.identity ?? process.env.POD_NAME ?? hostname(),
      registry,
      ...(opts.leaseDurationSec !== undefined ? { leaseDurationSec: opts.leaseDurationSec } : {}),
      ...(opts.renewDeadlineSec !== undefined ? { renewDeadlineSec: opts.renewDeadlineSec } : {}),
      ...(opts.retryPeriodSec !== undefined ? { retryPeriodSec: opts.retryPeriodSec } : {}),
    }, log.child({ component: 'leader' }));
    void elector.run(
      async () => {
        leading = true;
        log.info('became leader, starting the NicPort controller');
        try {
          await startController();
        } catch (err) {
          log.error({ err: (err as Error).message }, 'controller failed to start');
          finish('failed');
          throw err;
        }
      },
      () => {
        leading = false;
        finish('lost-leadership');
      },
    ).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'leader election failed');
      finish('failed');
    });
  } else {
    startController().catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'controller failed to start');
      finish('failed');
    });
  }

  const end = await ended;
  opts.signal?.removeEventListener('abort', onAbort);
  log.info({ end }, 'stopping the NicPort controller');
  await controller?.stop().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'controller stop failed'));
  await elector?.stop().catch(() => undefined);
  await ops.close();
  kc.destroyAgent();
  return end;
}

const USAGE = `ovnic controller [options]

  --kubeconfig PATH          kubeconfig file (default: in-cluster, else $KUBECONFIG / ~/.kube/config)
  --nb REMOTES               OVN NB remotes, comma-separated (default $OVN_NB_DB or unix:/run/ovn/ovnnb_db.sock)
  --metrics-port N           /metrics, /healthz, /readyz port (default 8080)
  --metrics-host ADDR        listen address (default 0.0.0.0)
  --leader-elect true|false  lease-based leader election (default true)
  --lease-namespace NS       (default $POD_NAMESPACE or kube-system)
  --lease-name NAME          (default ovnic-controller)
  --identity ID              (default $POD_NAME or the host name)
  --resync-period SECONDS    full resync period (default 300)
  --workers N                concurrent reconciles (default 16)
  --bind-retry SECONDS       retry period while a bind waits for the VM (default 5)
`;

/** Entry of `ovnic controller`. */
export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        nb: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'leader-elect': { type: 'string' },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string' },
        identity: { type: 'string' },
        'resync-period': { type: 'string' },
        workers: { type: 'string' },
        'bind-retry': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`ovnic controller: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const num = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a non-negative number: ${String(v)}`);
    return n;
  };
  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  let opts: ControllerRunOptions;
  try {
    const elect = str('leader-elect');
    if (elect !== undefined && elect !== 'true' && elect !== 'false') throw new Error(`--leader-elect: expected true or false, got ${elect}`);
    const pick = <K extends keyof ControllerRunOptions>(k: K, v: ControllerRunOptions[K] | undefined): Partial<ControllerRunOptions> => (v === undefined ? {} : { [k]: v });
    opts = {
      nbRemotes: str('nb') ?? process.env.OVN_NB_DB ?? 'unix:/run/ovn/ovnnb_db.sock',
      ...pick('kubeconfig', str('kubeconfig')),
      ...pick('metricsPort', num('metrics-port')),
      ...pick('metricsHost', str('metrics-host')),
      leaderElection: elect !== 'false',
      ...pick('leaseNamespace', str('lease-namespace')),
      ...pick('leaseName', str('lease-name')),
      ...pick('identity', str('identity')),
      ...pick('resyncPeriodSec', num('resync-period')),
      ...pick('workers', num('workers')),
      ...pick('bindRetrySec', num('bind-retry')),
    };
  } catch (err) {
    process.stderr.write(`ovnic controller: ${(err as Error).message}\n`);
    return 2;
  }
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const end = await runController({ ...opts, signal: abort.signal });
  return end === 'stopped' ? 0 : 1;
}
