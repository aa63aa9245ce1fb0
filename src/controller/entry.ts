/**
 * Stand-alone entry of the NicPort controller, bundled with its dependencies (minified) into
 * dist/ovnic-controller.mjs by the build: the same as `ovnic controller`, with a smaller footprint
 * (the Kubernetes client tree-shaken instead of loaded whole). Usage: node dist/ovnic-controller.mjs [options]
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ovnic controller: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
