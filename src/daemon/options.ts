/**
 * `ovnic daemon` command line: flags (--name value or --name=value), with environment fallbacks
 * for what a DaemonSet passes through the downward API and its ConfigMap.
 */

export const DAEMON_USAGE = `Usage: ovnic daemon [options]

Serves the CNI requests of the ovnic plugin on this node (network configurations with
"serverSocket") with long-lived OVSDB and Kubernetes connections.

  --socket PATH              unix socket to serve on (default /run/ovnic/daemon.sock)
  --kubeconfig FILE          Kubernetes access (default: $KUBECONFIG, else in-cluster when run in a
                             pod, else none: only networks with an "ipam" section work)
  --node NAME                watch only the pods of this node (default: $NODE_NAME)
  --ovsdb REMOTE             the node's Open_vSwitch database (default: $OVNIC_OVSDB, else
                             unix:/run/openvswitch/db.sock)
  --ovs-netns PATH           netns of ovs-vswitchd, for the periodic GC of networks no request has
                             shown since start (default: the daemon's own)
  --metrics-port N           HTTP port of /metrics, /healthz, /readyz (default 9471; 0: any free
                             port; -1: no HTTP server)
  --http-addr [HOST]:PORT    the same with a listen address (default :9471)
  --gc-interval DURATION     periodic GC of ports whose pods are gone (default 60s; 0 disables)
  --annotation-timeout DURATION
                             how long ADD waits for the pod's annotations (default 30s; the network
                             configuration's "annotationTimeoutMs" overrides)
  --help                     this text

DURATION: 500ms, 30s, 2m, or a number of seconds.
`;

export interface DaemonCliOptions {
  socket: string;
  kubeconfig?: string;
  node?: string;
  ovsdb: string;
  ovsNetns?: string;
  /** undefined: no HTTP server. */
  http?: { host: string; port: number };
  gcIntervalMs: number;
  annotationTimeoutMs: number;
  help: boolean;
}

export const DAEMON_DEFAULTS = {
  socket: '/run/ovnic/daemon.sock',
  ovsdb: 'unix:/run/openvswitch/db.sock',
  httpPort: 9471,
  gcIntervalMs: 60_000,
  annotationTimeoutMs: 30_000,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** "500ms", "30s", "2m", "1h" or a plain number of seconds → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: "${text}" is not a duration (e.g. 500ms, 30s, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

function parsePort(text: string, flag: string, allowNone: boolean): number | undefined {
  if (allowNone && text === '-1') return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`${flag}: "${text}" is not a port number`);
  return Number(text);
}

const FLAGS = new Set(['socket', 'kubeconfig', 'node', 'ovsdb', 'ovs-netns', 'metrics-port', 'http-addr', 'gc-interval', 'annotation-timeout']);

export function parseDaemonArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): DaemonCliOptions {
  const values = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    values.set(name, value);
  }

  const socket = values.get('socket') ?? DAEMON_DEFAULTS.socket;
  if (!socket.startsWith('/')) throw new UsageError(`--socket: "${socket}" must be an absolute path`);
  if (Buffer.byteLength(socket) > 107) throw new UsageError(`--socket: "${socket}" is longer than a unix socket path may be (107 bytes)`);

  const ovsdb = values.get('ovsdb') ?? (env.OVNIC_OVSDB || DAEMON_DEFAULTS.ovsdb);
  if (!/^(unix:\/.+|tcp:.+:\d+|ssl:.+:\d+)$/.test(ovsdb)) throw new UsageError(`--ovsdb: "${ovsdb}" is not an OVSDB remote (unix:/path, tcp:host:port, ssl:host:port)`);

  let http: DaemonCliOptions['http'] = { host: '0.0.0.0', port: DAEMON_DEFAULTS.httpPort };
  const addr = values.get('http-addr');
  if (addr !== undefined) {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw new UsageError(`--http-addr: "${addr}" must be [HOST]:PORT`);
    const host = addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = parsePort(addr.slice(colon + 1), '--http-addr', false) as number;
    http = { host: host === '' ? '0.0.0.0' : host, port };
  }
  const metricsPort = values.get('metrics-port');
  if (metricsPort !== undefined) {
    const port = parsePort(metricsPort, '--metrics-port', true);
    http = port === undefined ? undefined : { host: http?.host ?? '0.0.0.0', port };
  }

  const options: DaemonCliOptions = {
    socket,
    ovsdb,
    gcIntervalMs: parseDuration(values.get('gc-interval') ?? '60s', '--gc-interval'),
    annotationTimeoutMs: parseDuration(values.get('annotation-timeout') ?? '30s', '--annotation-timeout'),
    help,
  };
  if (options.annotationTimeoutMs < 1) throw new UsageError('--annotation-timeout must be more than 0');
  if (http) options.http = http;
  const kubeconfig = values.get('kubeconfig') ?? (env.KUBECONFIG || undefined);
  if (kubeconfig !== undefined) options.kubeconfig = kubeconfig;
  const node = values.get('node') ?? (env.NODE_NAME || undefined);
  if (node !== undefined) options.node = node;
  const ovsNetns = values.get('ovs-netns');
  if (ovsNetns !== undefined) {
    if (!ovsNetns.startsWith('/')) throw new UsageError(`--ovs-netns: "${ovsNetns}" must be an absolute path`);
    options.ovsNetns = ovsNetns;
  }
  return options;
}
