/**
 * Runs the API server double as its own process, e.g. for benchmarks that measure a controller's memory apart
 * from the server's:
 *   npx tsx test/apiserver/main.ts [--port N] [--kubeconfig PATH] [--crd FILE]... [--history N]
 * Prints one JSON line {"url": "...", "kubeconfig": "..."} on stdout once listening; stops on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startApiServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    kubeconfig: { type: 'string' },
    crd: { type: 'string', multiple: true, default: [] },
    history: { type: 'string' },
  },
});

const api = await startApiServer({
  port: Number(values.port),
  crdFiles: values.crd ?? [],
  ...(values.history === undefined ? {} : { historySize: Number(values.history) }),
});
if (values.kubeconfig !== undefined) api.writeKubeconfig(values.kubeconfig);
process.stdout.write(`${JSON.stringify({ url: api.url, kubeconfig: values.kubeconfig ?? null })}\n`);

const stop = (): void => {
  void api.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
