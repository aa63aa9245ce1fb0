/**
 * Loader and typed binding of the `setns` N-API addon (native/setns.c → build/setns.node).
 * The addon is found by walking up from this module to the directory holding package.json,
 * so it loads the same way from src/ (tsx, vitest), dist/ and the bundled dist/ovnic.mjs.
 * It is loaded on first use: code paths that never switch namespaces never load it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SetnsAddon {
  /** Runs `fn` synchronously with the calling thread in netns `fd`; always switches back. */
  runInNetns<T>(fd: number, fn: () => T): T;
  /** NS_GET_NSTYPE of a namespace fd (a CLONE_NEW* value). */
  nsType(fd: number): number;
  /** fd of a detached read-only sysfs mount of the thread's current netns. */
  mountSysfs(): number;
  mknodChar(path: string, mode: number, major: number, minor: number): void;
  ethtoolGet(ifname: string, cmd: number): number;
  ethtoolSet(ifname: string, cmd: number, data: number): void;
  readonly CLONE_NEWNET: number;
}

const ADDON_FILE = join('build', 'setns.node');

let addon: SetnsAddon | undefined;

/** The directory holding package.json above `startDir`, or undefined. */
export function findPackageRoot(startDir: string): string | undefined {
  for (let dir = startDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export function setnsAddon(): SetnsAddon {
  if (addon) return addon;
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findPackageRoot(here);
  const path = root ? join(root, ADDON_FILE) : undefined;
  if (!path || !existsSync(path)) {
    throw new Error(
      `native addon ${ADDON_FILE} not found above ${here}: run \`npm run build\` (it compiles native/setns.c with gcc)`,
    );
  }
  addon = createRequire(import.meta.url)(path) as SetnsAddon;
  return addon;
}
