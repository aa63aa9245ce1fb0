#!/usr/bin/env node
// Builds dist/ovnic-sea: the ovnic CNI plugin as a Node.js single executable application (the
// node binary running this script + the plugin bundle), so a host needs no Node.js installation.
//
// Native code cannot be loaded from inside an executable, so the native parts (build/setns.node,
// the `netlink` package with its prebuilt addon, node-gyp-build) travel as one SEA asset that the
// executable unpacks on first start into $OVNIC_SEA_DIR/<content hash>/ (default
// /var/lib/ovnic/sea; must be on a filesystem that allows exec, so not a noexec /run or /tmp) and
// loads from there; later starts only check that the directory is complete.
//
// The executable serves the CNI plugin and `ovnic version`. `ovnic daemon` and `ovnic controller`
// run from the container image with node and dist/ (@kubernetes/client-node is not bundled).
//
// Needs `npm run build` first (build/setns.node). Usage: node scripts/build-sea.mjs [--out FILE]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? process.argv[outArg + 1] : join(root, 'dist', 'ovnic-sea');
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** [path inside the runtime directory, content, mode] of every file the executable unpacks. */
function runtimeFiles() {
  const files = [];
  const add = (path, source) => files.push([path, readFileSync(source), statSync(source).mode & 0o777]);
  const addTree = (dir, into, keep) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const source = join(dir, entry.name);
      if (entry.isDirectory()) addTree(source, join(into, entry.name), keep);
      else if (keep(source)) add(join(into, entry.name), source);
    }
  };
  // the directory native.ts recognises as the package root (it holds build/setns.node)
  files.push(['package.json', Buffer.from('{ "name": "ovnic-sea-runtime", "private": true, "type": "commonjs" }\n'), 0o644]);
  const setns = join(root, 'build', 'setns.node');
  if (!existsSync(setns)) throw new Error(`${setns} is missing: run \`npm run build\` first`);
  add('build/setns.node', setns);

  const netlink = dirname(require.resolve('netlink/package.json'));
  add('node_modules/netlink/package.json', join(netlink, 'package.json'));
  addTree(join(netlink, 'dist'), 'node_modules/netlink/dist', (f) => f.endsWith('.js'));
  const prebuilds = join(netlink, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(prebuilds)) throw new Error(`netlink has no prebuilt addon for ${process.platform}-${process.arch} (${prebuilds})`);
  addTree(prebuilds, `node_modules/netlink/prebuilds/${process.platform}-${process.arch}`, (f) => f.endsWith('.node'));
  const gypBuild = dirname(require.resolve('node-gyp-build/package.json', { paths: [netlink] }));
  addTree(gypBuild, 'node_modules/node-gyp-build', (f) => f.endsWith('.js') || f.endsWith('package.json'));
  return files;
}

/** One asset: u32le header length, JSON header [{path, size, mode}], then the contents in order. */
function pack(files) {
  const header = Buffer.from(JSON.stringify(files.map(([path, data, mode]) => ({ path, size: data.length, mode }))));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, ...files.map(([, data]) => data)]);
}

/**
 * Runs first in the executable: unpacks the runtime asset once per content hash, atomically
 * (a private temp dir renamed into place; a concurrent first start that loses the rename uses
 * the winner's copy), and points import.meta.url of the bundle into it.
 */
function banner(hash) {
  return `if (process.argv[2] === 'daemon' || process.argv[2] === 'controller') {
  process.stderr.write('ovnic: this single executable is the CNI plugin; run "ovnic ' + process.argv[2] + '" with node and dist/ovnic.mjs (the container image does)\\n');
  process.exit(2);
}
const __ovnicSeaRoot = (function () {
  const fs = require('node:fs');
  const path = require('node:path');
  const sea = require('node:sea');
  if (!sea.isSea()) throw new Error('this bundle only runs as the ovnic single executable');
  const dir = path.join(process.env.OVNIC_SEA_DIR || '/var/lib/ovnic/sea', '${hash}');
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return dir;
  const data = Buffer.from(sea.getRawAsset('runtime'));
  const headerLength = data.readUInt32LE(0);
  const files = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8'));
  const tmp = dir + '.' + process.pid + '.tmp';
  fs.rmSync(tmp, { recursive: true, force: true });
  let offset = 4 + headerLength;
  for (const f of files) {
    const target = path.join(tmp, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, data.subarray(offset, offset + f.size), { mode: f.mode });
    offset += f.size;
  }
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(done)) throw err;
  }
  return dir;
})();
const __ovnicImportMetaDirname = __ovnicSeaRoot + '/dist';
const __ovnicImportMetaFilename = __ovnicImportMetaDirname + '/ovnic.cjs';
const __ovnicImportMetaUrl = 'file://' + __ovnicImportMetaFilename.split('/').map(encodeURIComponent).join('/');`;
}

/** Runs a command; its output is shown only when it fails. */
function quiet(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw err;
  }
}

const work = mkdtempSync(join(tmpdir(), 'ovnic-sea-'));
try {
  const runtime = pack(runtimeFiles());
  const hash = createHash('sha256').update(runtime).digest('hex').slice(0, 16);
  writeFileSync(join(work, 'runtime.bin'), runtime);

  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile: join(work, 'ovnic-sea.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifyWhitespace: true,
    // as in scripts/build.mjs: import() lowered to require(), so the bundle also runs from a
    // V8 code cache (where a dynamic import() fails)
    supported: { 'dynamic-import': false },
    // netlink is loaded at run time with createRequire from the unpacked runtime directory
    external: ['netlink', 'netlink/*', '*.node', '@kubernetes/client-node'],
    define: { 'import.meta.url': '__ovnicImportMetaUrl', 'import.meta.dirname': '__ovnicImportMetaDirname', 'import.meta.filename': '__ovnicImportMetaFilename' },
    banner: { js: banner(hash) },
    logLevel: 'warning',
  });

  writeFileSync(
    join(work, 'sea-config.json'),
    JSON.stringify({
      main: join(work, 'ovnic-sea.cjs'),
      output: join(work, 'sea.blob'),
      disableExperimentalSEAWarning: true,
      // measured: no faster start (VERSION ~60 ms either way), so the simpler blob
      useCodeCache: false,
      assets: { runtime: join(work, 'runtime.bin') },
    }),
  );
  quiet(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')]);

  mkdirSync(dirname(out), { recursive: true });
  const staged = `${out}.${process.pid}.tmp`;
  copyFileSync(process.execPath, staged);
  chmodSync(staged, 0o755);
  // postject's ELF writer prints harmless section-name warnings: show its output only on failure
  const postject = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
  quiet(process.execPath, [postject, staged, 'NODE_SEA_BLOB', join(work, 'sea.blob'), '--sentinel-fuse', SENTINEL_FUSE]);
  execFileSync('mv', ['-f', staged, out]);
  const size = statSync(out).size;
  process.stdout.write(`${relative(process.cwd(), out) || out}: ${(size / 1e6).toFixed(1)} MB, node ${process.version}, runtime ${hash} (${(runtime.length / 1e3).toFixed(0)} kB unpacked into $OVNIC_SEA_DIR/${hash})\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
