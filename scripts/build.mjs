#!/usr/bin/env node
// Build: native addons (native/*.c → build/*.node), TypeScript (src → dist), and the
// single-file CNI/daemon bundle (dist/ovnic.mjs, and dist/ovnic.cjs that bin/ovnic loads for
// subcommands), and the CNI-only bundle dist/ovnic-cni.cjs that bin/ovnic runs as the plugin.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

function nodeIncludeDir() {
  for (const dir of ['/usr/include/node', join(process.execPath, '..', '..', 'include', 'node')]) {
    if (existsSync(join(dir, 'node_api.h'))) return dir;
  }
  throw new Error('node_api.h not found: install the Node.js headers (Debian: libnode-dev or nodejs headers)');
}

mkdirSync(join(root, 'build'), { recursive: true });
const addons = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.c'));
if (addons.length > 0) {
  const include = nodeIncludeDir();
  for (const file of addons) {
    const out = join('build', file.replace(/\.c$/, '.node'));
    run('gcc', ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', out, join('native', file)]);
  }
}

run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);

if (existsSync(join(root, 'src', 'main.ts'))) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile: join(root, 'dist', 'ovnic.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    // native code and the heavy Kubernetes client stay outside the CNI fast path bundle
    external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
    banner: { js: "import { createRequire as __ovnicCreateRequire } from 'node:module'; const require = __ovnicCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // The same bundle as CommonJS for bin/ovnic: a runtime starts the CNI plugin for every
  // ADD/DEL/VERSION, and the CJS loader starts ~5 ms faster than the ESM loader.
  // (No top-level await anywhere under src/: esbuild cannot emit it as CJS.)
  await esbuild.build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile: join(root, 'dist', 'ovnic.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
    define: { 'import.meta.url': '__ovnicImportMetaUrl', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
    banner: { js: "const __ovnicImportMetaUrl = 'file://' + __filename.split('/').map(encodeURIComponent).join('/');" },
    // import() of node: builtins becomes require(): bin/ovnic compiles the bundle with
    // vm.Script, where a dynamic import() fails once the code comes from V8's code cache
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  // The CNI plugin alone (src/cni-plugin-main.ts), which bin/ovnic runs without a subcommand: the
  // same settings, no daemon/controller code to load on every CNI invocation.
  await esbuild.build({
    entryPoints: [join(root, 'src', 'cni-plugin-main.ts')],
    outfile: join(root, 'dist', 'ovnic-cni.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
    define: { 'import.meta.url': '__ovnicImportMetaUrl', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
    banner: { js: "const __ovnicImportMetaUrl = 'file://' + __filename.split('/').map(encodeURIComponent).join('/');" },
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  // The NicPort controller on its own, dependencies inlined (node dist/ovnic-controller.mjs).
  const { controllerBundleOptions } = await import('./controller-bundle.mjs');
  await esbuild.build(controllerBundleOptions(join(root, 'src', 'controller', 'entry.ts'), join(root, 'dist', 'ovnic-controller.mjs')));
  // V8 code cache of the previous bundle (bin/ovnic)
  rmSync(join(root, 'dist', '.v8-cache'), { recursive: true, force: true });
}
