/**
 * How ovnic runs as a CNI plugin: the dispatcher with ovnic's handlers and the node-daemon
 * forward hook. Used by `src/main.ts` (no subcommand) and by `src/cni-plugin-main.ts`, the entry
 * of dist/ovnic-cni.cjs that bin/ovnic runs as the plugin.
 */
import { CNI_ABOUT } from './about.js';
import { cniMain, type RunCniOptions } from './cni/skel.js';

export const cniPluginOptions: RunCniOptions = {
  about: CNI_ABOUT,
  handlers: async () => (await import('./cni/commands.js')).handlers,
  // conf with "serverSocket": the node daemon runs the command
  forward: async (request) => (await import('./cni/forward.js')).forward(request),
};

/** One CNI invocation of this process; resolves with the exit code. */
export function runCniPlugin(): Promise<number> {
  return cniMain(cniPluginOptions);
}
