// esbuild options of the controller bundle (dist/ovnic-controller.mjs), shared by the build and
// `npm run bench:controller`: dependencies inlined and minified — the Kubernetes client tree-shaken
// costs about half the memory of loading the whole package; pino and native code stay outside.
export function controllerBundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    external: ['netlink', '*.node', 'pino', 'pino-*', 'thread-stream'],
    banner: { js: "import { createRequire as __ovnicCreateRequire } from 'node:module'; const require = __ovnicCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  };
}
