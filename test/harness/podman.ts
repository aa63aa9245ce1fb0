/**
 * podman 4.3 (CNI backend) as a real CNI runtime for ovnic: a private containers.conf (never
 * /etc/containers) whose network_config_dir is a temp dir holding the test's conflists and whose
 * cni_plugin_dirs start with a private build of the plugin, so podman runs ovnic exactly as it
 * runs any CNI plugin (VERSION validation, ADD from `podman run`, DEL from the cleanup process).
 *
 * Needs what scripts/setup-podman.sh installs (podman, runc, host-local, the image localhost/bb).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT, SYSTEM_CNI_DIR } from '../../src/sandbox/plugin.js';
import { buildPrivatePlugin } from '../../src/sandbox/private-build.js';

export const BUSYBOX_IMAGE = 'localhost/bb';
const PODMAN_TIMEOUT_MS = 120_000;

/** Why the podman test cannot run here, or undefined when it can. */
export function podmanProblem(): string | undefined {
  for (const tool of ['podman', 'runc']) {
    if (spawnSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' }).status !== 0) {
      return `${tool} is not installed: run \`bash scripts/setup-podman.sh\``;
    }
  }
  if (!existsSync(join(SYSTEM_CNI_DIR, 'host-local'))) return `${SYSTEM_CNI_DIR}/host-local is missing: run \`bash scripts/setup-podman.sh\``;
  if (!existsSync(join(REPO_ROOT, 'build', 'setns.node'))) return 'build/setns.node is missing: run `npm run build`';
  return undefined;
}

export interface PodmanResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A failed podman command, with its output. */
export class PodmanError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: PodmanResult,
  ) {
    super(`podman ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'PodmanError';
  }
}

export interface RunOptions {
  name: string;
  network: string;
  /** --ip (podman passes one address as CNI_ARGS IP=). */
  ip?: string;
  /** --mac-address (CNI_ARGS MAC=). */
  mac?: string;
  capAdd?: readonly string[];
  /** The command (default: sleep). */
  command?: readonly string[];
}

/** A private copy of the plugin; `binDir` (holding `ovnic`) goes into cni_plugin_dirs. */
export interface PluginBuild {
  dir: string;
  binDir: string;
  remove(): void;
}

/**
 * `bundle`: bin/ovnic + the CommonJS bundle, as `npm run build` lays them out (node on the host),
 * built privately (src/sandbox/private-build.ts) so a concurrent build of dist/ cannot change it;
 * `sea`: the single executable of scripts/build-sea.mjs installed as bin/ovnic (no node needed).
 */
export type PluginKind = 'bundle' | 'sea';

export async function buildPlugin(kind: PluginKind = 'bundle'): Promise<PluginBuild> {
  if (kind === 'bundle') {
    const build = await buildPrivatePlugin();
    return { dir: build.dir, binDir: dirname(build.bin), remove: build.remove };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ovnic-plugin-'));
  const created: string[] = [dir];
  const remove = (): void => created.forEach((path) => rmSync(path, { recursive: true, force: true }));
  try {
    // the executable unpacks into the default directory (DEL runs with podman's minimal cleanup
    // environment, so no OVNIC_SEA_DIR): remove that copy afterwards unless it was there
    const runtimeDir = buildSeaInto(dir);
    if (!existsSync(runtimeDir)) created.push(runtimeDir);
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, binDir: join(dir, 'bin'), remove };
}

/** Default directory the single executable unpacks into (scripts/build-sea.mjs). */
export const SEA_RUNTIME_BASE = '/var/lib/ovnic/sea';

/** Builds the single executable as <dir>/bin/ovnic; returns the directory it will unpack into. */
function buildSeaInto(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-sea.mjs'), '--out', join(dir, 'bin', 'ovnic')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-sea.mjs failed: ${r.stderr || r.stdout}`);
  const hash = /runtime ([0-9a-f]{16})/.exec(r.stdout)?.[1];
  if (!hash) throw new Error(`scripts/build-sea.mjs did not print the runtime hash: ${r.stdout}`);
  return join(SEA_RUNTIME_BASE, hash);
}

/** One private podman configuration; `close()` removes every container it started and its files. */
export class PodmanEnv {
  readonly containersConf: string;
  readonly netDir: string;
  private readonly started = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly pluginDirs: readonly string[],
  ) {
    this.containersConf = join(dir, 'containers.conf');
    this.netDir = join(dir, 'net.d');
  }

  /** `pluginDirs` are searched first, then /usr/lib/cni (host-local). */
  static create(pluginDirs: readonly string[], dir = mkdtempSync(join(tmpdir(), 'ovnic-podman-'))): PodmanEnv {
    const env = new PodmanEnv(dir, [...pluginDirs, SYSTEM_CNI_DIR]);
    mkdirSync(env.netDir, { recursive: true });
    writeFileSync(env.containersConf, env.renderContainersConf());
    return env;
  }

  /**
   * The same workarounds scripts/setup-podman.sh writes: rlimits within the hard limits (podman's
   * rootful 1048576 default fails with EPERM without CAP_SYS_RESOURCE, and podman clamps nproc
   * to pid_max) and runc (crun rejects hybrid cgroup layouts).
   */
  private renderContainersConf(): string {
    const limits = hardLimits();
    const list = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
    return [
      '[containers]',
      `default_ulimits = ${list([`nofile=${limits.nofile}:${limits.nofile}`, `nproc=${limits.nproc}:${limits.nproc}`])}`,
      '',
      '[engine]',
      'runtime = "runc"',
      '',
      '[network]',
      'network_backend = "cni"',
      `network_config_dir = ${JSON.stringify(this.netDir)}`,
      `cni_plugin_dirs = ${list(this.pluginDirs)}`,
      '',
    ].join('\n');
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, CONTAINERS_CONF: this.containersConf };
  }

  /** Writes `<netDir>/<name>.conflist`; returns its path. */
  writeConflist(conflist: { name: string } & Record<string, unknown>): string {
    const path = join(this.netDir, `${conflist.name}.conflist`);
    writeFileSync(path, `${JSON.stringify(conflist, null, 2)}\n`);
    return path;
  }

  /** Runs podman; never throws (see `podmanOk`). */
  podman(args: readonly string[], timeoutMs = PODMAN_TIMEOUT_MS): Promise<PodmanResult> {
    const start = performance.now();
    return new Promise((resolve) => {
      execFile('podman', [...args], { env: this.env(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, durationMs: performance.now() - start });
      });
    });
  }

  /** Runs podman; a non-zero exit throws PodmanError. */
  async podmanOk(args: readonly string[], timeoutMs?: number): Promise<PodmanResult> {
    const r = await this.podman(args, timeoutMs);
    if (r.code !== 0) throw new PodmanError(args, r);
    return r;
  }

  /** `podman run -d` on `network`; resolves with the full container ID. */
  async runDetached(opts: RunOptions): Promise<{ id: string; durationMs: number }> {
    const args = ['run', '-d', '--name', opts.name, '--network', opts.network];
    if (opts.ip) args.push('--ip', opts.ip);
    if (opts.mac) args.push('--mac-address', opts.mac);
    for (const cap of opts.capAdd ?? []) args.push('--cap-add', cap);
    args.push(BUSYBOX_IMAGE, ...(opts.command ?? ['sleep', '3600']));
    this.started.add(opts.name);
    const r = await this.podmanOk(args);
    return { id: r.stdout.trim(), durationMs: r.durationMs };
  }

  exec(name: string, command: readonly string[]): Promise<PodmanResult> {
    return this.podman(['exec', name, ...command]);
  }

  /** `podman rm -f` (stops the container; the CNI DEL runs before it returns). */
  async remove(name: string): Promise<PodmanResult> {
    const r = await this.podmanOk(['rm', '-f', '-t', '0', name]);
    this.started.delete(name);
    return r;
  }

  /** Removes the containers still known and the private directory; never throws. */
  async close(): Promise<void> {
    for (const name of [...this.started]) {
      await this.podman(['rm', '-f', '-t', '0', name]);
      this.started.delete(name);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A random suffix for container and network names. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

function hardLimits(): { nofile: number; nproc: number } {
  const read = (flag: string): number | undefined => {
    const r = spawnSync('bash', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' });
    const n = Number.parseInt(r.stdout.trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  };
  const pidMax = Number.parseInt(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim(), 10) || 32768;
  const nproc = Math.min(pidMax, read('u') ?? pidMax);
  return { nofile: read('n') ?? 1048576, nproc };
}
