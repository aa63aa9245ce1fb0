/**
 * The ovnic node daemon: serves the CNI requests the plugin forwards (src/cni/forward.ts) with the
 * plugin's own dispatcher and command code, sharing across requests a long-lived OVSDB connection
 * and a pod cache; runs the periodic GC of ports whose pods are gone; exposes /metrics, /healthz
 * and /readyz.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { handlers as sharedHandlers } from '../cni/commands.js';
import { PROTOCOL_VERSION, type DaemonRequest, type DaemonResponse } from '../cni/forward.js';
import { runCni } from '../cni/skel.js';
import { OpsServer, type ProbeResult } from '../controller/http.js';
import { logger, type Logger } from '../util/log.js';
import { Registry } from '../util/metrics.js';
import { PortGc, type GcPass } from './gc.js';
import { daemonHandlers, type DaemonServices, type RequestRecord } from './handlers.js';
import { createDaemonMetrics, type DaemonMetrics } from './metrics.js';
import { OvsdbPool } from './ovsdb-pool.js';
import { PodCache } from './pods.js';
import { CniSocketServer } from './server.js';
import { InFlightAttachments, NetworkConfigs } from './state.js';

export interface DaemonOptions {
  socket: string;
  /** Kubernetes access; undefined: none (only networks with an `ipam` section work). */
  kubeConfig?: KubeConfig;
  node?: string;
  ovsdb: string;
  ovsNetns?: string;
  /** undefined: no HTTP server; port 0: any free port (see httpPort). */
  http?: { host: string; port: number };
  gcIntervalMs: number;
  annotationTimeoutMs: number;
  /** Honour OVNIC_TEST_FAULTS/OVNIC_FAULT_INJECT in requests (tests only). Default false. */
  allowTestFaults?: boolean;
  log?: Logger;
}

const FAULT_VARIABLES = ['OVNIC_TEST_FAULTS', 'OVNIC_FAULT_INJECT'];
const COMMANDS = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION']);

/** A Registry that refreshes the state gauges right before it is rendered. */
class LiveRegistry extends Registry {
  constructor(private readonly refresh: () => void) {
    super();
  }

  override render(): string {
    this.refresh();
    return super.render();
  }
}

/** The code of a CNI error printed on stdout; 999 when it cannot be read. */
function errorCodeOf(stdout: string): number {
  try {
    const code = (JSON.parse(stdout) as { code?: unknown }).code;
    return typeof code === 'number' ? code : 999;
  } catch {
    return 999;
  }
}

export class Daemon {
  readonly metrics: DaemonMetrics;
  readonly pool: OvsdbPool;
  readonly pods: PodCache | undefined;
  readonly gc: PortGc | undefined;
  private readonly services: DaemonServices;
  private readonly server: CniSocketServer;
  private ops: OpsServer | undefined;
  private port: number | undefined;
  private readonly log: Logger;
  private stopped = false;

  private constructor(private readonly options: DaemonOptions) {
    this.log = options.log ?? logger('daemon');
    this.metrics = createDaemonMetrics(new LiveRegistry(() => this.refreshGauges()));
    this.pool = new OvsdbPool({
      log: this.log.child({ subsystem: 'ovsdb' }),
      onState: (remote, connected) => this.metrics.ovsdbConnected.set({ remote }, connected ? 1 : 0),
    });
    this.pool.ensure(options.ovsdb);
    if (options.kubeConfig) {
      const podOptions: ConstructorParameters<typeof PodCache>[0] = {
        kubeConfig: options.kubeConfig,
        log: this.log.child({ subsystem: 'pods' }),
        onRestart: () => this.metrics.podInformerRestarts.inc(),
      };
      if (options.node) podOptions.node = options.node;
      this.pods = new PodCache(podOptions);
    }
    this.services = {
      pool: this.pool,
      pods: this.pods,
      metrics: this.metrics,
      inFlight: new InFlightAttachments(),
      networks: new NetworkConfigs(),
      annotationTimeoutMs: options.annotationTimeoutMs,
      node: options.node,
      log: this.log,
    };
    if (this.pods) {
      const gcOptions: ConstructorParameters<typeof PortGc>[0] = {
        pool: this.pool,
        pods: this.pods,
        remote: options.ovsdb,
        intervalMs: options.gcIntervalMs,
        inFlight: this.services.inFlight,
        networks: this.services.networks,
        metrics: this.metrics,
        log: this.log.child({ subsystem: 'gc' }),
      };
      if (options.ovsNetns) gcOptions.ovsNetns = options.ovsNetns;
      this.gc = new PortGc(gcOptions);
    }
    this.server = new CniSocketServer(options.socket, (request, signal) => this.handle(request, signal), this.log);
  }

  /** Listens on the socket (and the HTTP port), starts the pod cache and the GC timer. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    try {
      await daemon.server.listen();
      if (options.http) {
        daemon.ops = new OpsServer({
          port: options.http.port,
          host: options.http.host,
          registry: daemon.metrics.registry,
          health: () => daemon.health(),
          ready: () => daemon.readiness(),
        });
        daemon.port = await daemon.ops.start();
      }
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    if (daemon.pods) {
      const pods = daemon.pods;
      void pods.start().then(
        () => daemon.log.info({ pods: pods.list().length, node: options.node ?? '(all nodes)' }, 'pod cache synced'),
        (err: unknown) => daemon.log.error({ err: (err as Error).message }, 'pod cache failed to start'),
      );
    }
    daemon.gc?.start();
    daemon.log.info({ socket: options.socket, ovsdb: options.ovsdb, node: options.node, http: daemon.port, kubernetes: Boolean(daemon.pods) }, 'node daemon serving');
    return daemon;
  }

  /** The bound HTTP port (undefined without HTTP server). */
  get httpPort(): number | undefined {
    return this.port;
  }

  get socket(): string {
    return this.options.socket;
  }

  /** Serves one forwarded invocation. */
  async handle(request: DaemonRequest, signal?: AbortSignal): Promise<DaemonResponse> {
    const env: Record<string, string> = { ...request.env };
    if (!this.options.allowTestFaults) for (const v of FAULT_VARIABLES) delete env[v];
    // delegated IPAM plugins get the environment the plugin received; it forwards no PATH
    if (env.PATH === undefined && process.env.PATH !== undefined) env.PATH = process.env.PATH;
    const command = COMMANDS.has(env.CNI_COMMAND ?? '') ? (env.CNI_COMMAND as string) : 'invalid';
    const record: RequestRecord = signal ? { signal } : {};
    this.metrics.inFlight.inc({ command });
    const started = process.hrtime.bigint();
    try {
      const outcome = await runCni(env, request.stdin, { handlers: daemonHandlers(this.services, sharedHandlers, record) });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (command !== 'VERSION' && command !== 'invalid') this.metrics.opDuration.observe({ command, nic_type: record.nicType ?? 'none' }, seconds);
      if (outcome.exitCode !== 0) this.metrics.errors.inc({ command, code: String(errorCodeOf(outcome.stdout)) });
      return { v: PROTOCOL_VERSION, stdout: outcome.stdout, exitCode: outcome.exitCode };
    } finally {
      this.metrics.inFlight.dec({ command });
    }
  }

  /** One GC pass now (tests, operators); undefined without Kubernetes access. */
  runGc(): Promise<GcPass> | undefined {
    return this.gc?.runOnce();
  }

  async health(): Promise<ProbeResult> {
    return this.server.listening ? { ok: true } : { ok: false, detail: `not serving ${this.options.socket}` };
  }

  /** Ready: the OVSDB connected and (with Kubernetes access) the pod cache synced and watching. */
  async readiness(): Promise<ProbeResult> {
    const problems: string[] = [];
    const ovs = this.pool.stateOf(this.options.ovsdb);
    if (!ovs?.connected) problems.push(`OVSDB ${this.options.ovsdb} not connected${ovs?.error ? `: ${ovs.error}` : ''}`);
    if (this.pods && !this.pods.synced) problems.push(`pod cache not synced${this.pods.error ? `: ${this.pods.error}` : ''}`);
    else if (this.pods && !this.pods.healthy) problems.push(`pod watch restarting${this.pods.error ? `: ${this.pods.error}` : ''}`);
    return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join('; ') };
  }

  /** Stops accepting requests, waits for those being served (up to graceMs), closes every connection. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.gc?.stop();
    await this.server.close(graceMs);
    await this.ops?.close();
    await this.pods?.stop().catch(() => undefined);
    this.pool.close();
    this.log.info('node daemon stopped');
  }

  private refreshGauges(): void {
    for (const s of this.pool.state()) this.metrics.ovsdbConnected.set({ remote: s.remote }, s.connected ? 1 : 0);
    this.metrics.podsSynced.set({}, this.pods?.healthy ? 1 : 0);
  }
}

/** Kubernetes access from a kubeconfig file, else in-cluster when running in a pod, else none. */
export function loadKubeConfig(file: string | undefined): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (file) {
    kc.loadFromFile(file);
    return kc;
  }
  if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}
