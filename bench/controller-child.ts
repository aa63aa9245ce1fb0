/**
 * The controller process of `npm run bench:controller`: runController() without leader election,
 * configured by environment (BENCH_KUBECONFIG, BENCH_NB, BENCH_WORKERS). Prints {"port":N} on stdout
 * once the ops endpoint listens; stops on SIGTERM.
 */
import { runController } from '../src/controller/main.js';
import { silentLogger } from '../src/util/log.js';

const abort = new AbortController();
process.once('SIGTERM', () => abort.abort());
process.once('SIGINT', () => abort.abort());

const end = await runController({
  kubeconfig: process.env.BENCH_KUBECONFIG as string,
  nbRemotes: process.env.BENCH_NB as string,
  metricsPort: 0,
  metricsHost: '127.0.0.1',
  leaderElection: false,
  workers: Number(process.env.BENCH_WORKERS ?? 16),
  resyncPeriodSec: 0,
  signal: abort.signal,
  log: silentLogger,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
});
process.exit(end === 'stopped' ? 0 : 1);
