/**
 * `ovnic daemon`: runs the node daemon until SIGTERM/SIGINT. When serving, prints one JSON line on
 * stdout: {"event":"ready","socket":...,"httpPort":...} (logs go to stderr or OVNIC_LOG_FILE).
 */
import { Daemon, loadKubeConfig, type DaemonOptions } from './daemon.js';
import { DAEMON_USAGE, UsageError, parseDaemonArgs } from './options.js';
import { logger } from '../util/log.js';

export async function main(argv: string[]): Promise<number> {
  let cli;
  try {
    cli = parseDaemonArgs(argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ovnic daemon: ${err.message}\n\n${DAEMON_USAGE}`);
    return 2;
  }
  if (cli.help) {
    process.stdout.write(DAEMON_USAGE);
    return 0;
  }
  const log = logger('daemon');
  const options: DaemonOptions = {
    socket: cli.socket,
    ovsdb: cli.ovsdb,
    gcIntervalMs: cli.gcIntervalMs,
    annotationTimeoutMs: cli.annotationTimeoutMs,
    allowTestFaults: process.env.OVNIC_TEST_FAULTS === '1',
    log,
  };
  try {
    const kc = loadKubeConfig(cli.kubeconfig);
    if (kc) options.kubeConfig = kc;
  } catch (err) {
    process.stderr.write(`ovnic daemon: cannot load Kubernetes access${cli.kubeconfig ? ` from ${cli.kubeconfig}` : ''}: ${(err as Error).message}\n`);
    return 1;
  }
  if (cli.node) options.node = cli.node;
  if (cli.ovsNetns) options.ovsNetns = cli.ovsNetns;
  if (cli.http) options.http = cli.http;

  let daemon: Daemon;
  try {
    daemon = await Daemon.start(options);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'node daemon failed to start');
    process.stderr.write(`ovnic daemon: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ event: 'ready', socket: daemon.socket, httpPort: daemon.httpPort ?? null, pid: process.pid })}\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
