/**
 * The single ovnic entry point (bundled to dist/ovnic.mjs, run by bin/ovnic).
 *
 *   ovnic <subcommand> [args]   daemon, controller, version, --help
 *   ovnic                       (no argument) the CNI plugin: CNI_* env + stdin, as runtimes call it
 *
 * Everything beyond the CNI dispatcher is imported lazily so a CNI invocation loads only what it needs.
 */
import { runCniPlugin } from './cni-plugin.js';
import { SUPPORTED_VERSIONS } from './cni/version.js';
import { CNI_ABOUT as ABOUT, OVNIC_VERSION } from './about.js';

export { OVNIC_VERSION };

/** What a subcommand module exports. */
export interface SubcommandModule {
  main(argv: string[]): Promise<number | void>;
}

/**
 * Subcommand registry. `undefined` means "not in this build"; fill an entry with a lazy import,
 * e.g. `daemon: () => import('./daemon/main.js')`.
 */
const SUBCOMMANDS: Record<string, (() => Promise<SubcommandModule>) | undefined> = {
  daemon: () => import('./daemon/main.js'),
  controller: () => import('./controller/main.js'),
};

const USAGE = `${ABOUT}

Usage:
  ovnic                     run as a CNI plugin (CNI_COMMAND and the other CNI_* variables in the
                            environment, the network configuration on stdin)
  ovnic daemon [options]    node daemon
  ovnic controller [opts]   NicPort controller
  ovnic version             print versions
  ovnic --help              this text

CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}
`;

async function runSubcommand(name: string, argv: string[]): Promise<number> {
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (name === 'version' || name === '--version') {
    process.stdout.write(`${JSON.stringify({ ovnic: OVNIC_VERSION, cniVersions: [...SUPPORTED_VERSIONS], node: process.version })}\n`);
    return 0;
  }
  if (!(name in SUBCOMMANDS)) {
    process.stderr.write(`ovnic: unknown subcommand "${name}"\n\n${USAGE}`);
    return 2;
  }
  const load = SUBCOMMANDS[name];
  if (!load) {
    process.stderr.write(`ovnic: "${name}" is not available in this build\n`);
    return 2;
  }
  const code = await (await load()).main(argv);
  return typeof code === 'number' ? code : 0;
}

async function main(): Promise<void> {
  const sub = process.argv[2];
  if (sub !== undefined) {
    const code = await runSubcommand(sub, process.argv.slice(3));
    // long-running subcommands resolve main() only when they are done
    process.exit(code);
  }
  const code = await runCniPlugin();
  process.exit(code);
}

main().catch((err: unknown) => {
  process.stderr.write(`ovnic: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
