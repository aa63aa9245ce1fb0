/**
 * A private copy of the built plugin for tests: the CommonJS bundles built with the same esbuild
 * settings as scripts/build.mjs into a temp directory laid out like the repository
 * (bin/ovnic, dist/ovnic.cjs + dist/ovnic-cni.cjs, package.json, build/ and node_modules/ linked), so a test runs the
 * plugin exactly as a runtime would without racing a concurrent `npm run build` of dist/.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './plugin.js';

export interface PrivateBuild {
  /** bin/ovnic of the private copy. */
  bin: string;
  dir: string;
  remove(): void;
}

export async function buildPrivatePlugin(): Promise<PrivateBuild> {
  const addon = join(REPO_ROOT, 'build', 'setns.node');
  if (!existsSync(addon)) throw new Error(`${addon} is missing: run \`npm run build\` (compiles native/setns.c)`);
  const dir = mkdtempSync(join(tmpdir(), 'ovnic-plugin-'));
  try {
    mkdirSync(join(dir, 'bin'));
    const esbuild = await import('esbuild');
    for (const [entry, out] of [
      ['main.ts', 'ovnic.cjs'],
      ['cni-plugin-main.ts', 'ovnic-cni.cjs'],
    ] as const) {
      await esbuild.build({
        entryPoints: [join(REPO_ROOT, 'src', entry)],
        outfile: join(dir, 'dist', out),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
        define: { 'import.meta.url': '__ovnicImportMetaUrl', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
        banner: { js: "const __ovnicImportMetaUrl = 'file://' + __filename.split('/').map(encodeURIComponent).join('/');" },
        supported: { 'dynamic-import': false },
        logLevel: 'warning',
      });
    }
    copyFileSync(join(REPO_ROOT, 'bin', 'ovnic'), join(dir, 'bin', 'ovnic'));
    copyFileSync(join(REPO_ROOT, 'bin', 'package.json'), join(dir, 'bin', 'package.json'));
    copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'build'), join(dir, 'build'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { bin: join(dir, 'bin', 'ovnic'), dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
