/**
 * Entry of dist/ovnic-cni.cjs, which bin/ovnic runs when called without a subcommand (as every
 * runtime calls it): the CNI plugin alone, without the daemon and controller code the full
 * bundle carries, so each invocation has less to load.
 */
import { runCniPlugin } from './cni-plugin.js';

runCniPlugin().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ovnic: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
