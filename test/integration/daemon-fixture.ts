/**
 * A test bed for the node daemon: the CNI fixture (private OVS+OVN stack, private build of the
 * plugin, a dual-stack logical switch, pods as netns with their LSPs), the Kubernetes API server
 * double, and `ovnic daemon` started from the private build as a DaemonSet would run it
 * (`node dist/ovnic.mjs daemon ...`). The plugin (bin/ovnic of the build) forwards to it as a
 * runtime calls it. Pods are created, annotated and deleted through the real client-node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { CniFixture, V4, V6, type FixturePod } from '../../src/sandbox/cni-fixture.js';
import { REPO_ROOT, runPlugin, type CniCall, type PluginRun } from '../../src/sandbox/plugin.js';

export const NODE = 'node1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface DaemonProcess {
  child: ChildProcess;
  socket: string;
  httpPort: number;
  /** stderr so far (pino JSON lines). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface DaemonFixtureOptions {
  name: string;
  gcInterval?: string;
  annotationTimeout?: string;
}

/** The ESM bundle next to the private build's CommonJS one (scripts/build.mjs settings). */
async function buildEsmBundle(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(dir, 'dist', 'ovnic.mjs');
  await esbuild.build({
    entryPoints: [join(REPO_ROOT, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['netlink', '*.node', '@kubernetes/client-node', 'pino', 'pino-*', 'thread-stream'],
    banner: { js: "import { createRequire as __ovnicCreateRequire } from 'node:module'; const require = __ovnicCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return outfile;
}

export class DaemonFixture {
  daemon: DaemonProcess | undefined;
  readonly core: CoreV1Api;
  private readonly uids = new Map<string, string>();

  private constructor(
    readonly fx: CniFixture,
    readonly api: ApiServer,
    readonly dir: string,
    readonly bundle: string,
    readonly kubeconfig: string,
    readonly socket: string,
    private readonly options: DaemonFixtureOptions,
  ) {
    this.core = api.kubeConfig().makeApiClient(CoreV1Api);
  }

  static async start(options: DaemonFixtureOptions): Promise<DaemonFixture> {
    const fx = await CniFixture.start({ name: options.name, ipam: 'none', network: `ovnic-${options.name}` });
    let api: ApiServer | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'ovnic-daemon-'));
    try {
      api = await startApiServer();
      const kubeconfig = join(dir, 'kubeconfig');
      api.writeKubeconfig(kubeconfig);
      const bundle = await buildEsmBundle(fx.build.dir);
      const f = new DaemonFixture(fx, api, dir, bundle, kubeconfig, join(dir, 'daemon.sock'), options);
      f.daemon = await f.startDaemon();
      return f;
    } catch (err) {
      await api?.close();
      await fx.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get bin(): string {
    return this.fx.bin;
  }

  /** Starts `ovnic daemon` (the fixture keeps one; stop the previous one first). */
  async startDaemon(extraArgs: string[] = []): Promise<DaemonProcess> {
    const args = [
      this.bundle, 'daemon',
      '--socket', this.socket,
      '--kubeconfig', this.kubeconfig,
      '--node', NODE,
      '--ovsdb', this.fx.stack.ovsdbRemote,
      '--ovs-netns', this.fx.stack.netnsPath,
      '--metrics-port', '0',
      '--gc-interval', this.options.gcInterval ?? '0',
      '--annotation-timeout', this.options.annotationTimeout ?? '20s',
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OVNIC_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = await new Promise<{ httpPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon not ready within 20 s:\n${stderr}`)), 20_000);
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as { httpPort: number });
        } catch (err) {
          reject(err);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited with ${code}:\n${stderr}`));
      });
    });
    const daemon: DaemonProcess = {
      child,
      socket: this.socket,
      httpPort: ready.httpPort,
      stderr: () => stderr,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      },
    };
    this.daemon = daemon;
    return daemon;
  }

  /** The network configuration a runtime passes: daemon mode (serverSocket), no ipam. */
  conf(over: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...this.fx.config(undefined), serverSocket: this.socket, ...over };
  }

  /** CNI_* of a kubelet call for `pod` (with K8S_POD_UID once the pod exists in the API server). */
  call(command: CniCall['command'], pod: FixturePod | undefined, over: Partial<CniCall> = {}): CniCall {
    const base = this.fx.call(command, pod);
    const uid = pod ? this.uids.get(pod.name) : undefined;
    if (pod && base.args !== undefined && uid) base.args = `${base.args};K8S_POD_UID=${uid}`;
    return { ...base, ...over };
  }

  run(command: CniCall['command'], pod: FixturePod | undefined, conf: Record<string, unknown> = {}, call: Partial<CniCall> = {}): Promise<PluginRun> {
    return runPlugin(this.bin, this.call(command, pod, call), this.conf(conf));
  }

  /** Kube-OVN's annotations for `pod` on the fixture's switch. */
  kubeOvnAnnotations(pod: FixturePod, provider = 'ovn', extra: Record<string, string> = {}): Record<string, string> {
    const values: Record<string, string> = {
      allocated: 'true',
      cidr: `${V4.subnet},${V6.subnet}`,
      gateway: `${V4.gateway},${V6.gateway}`,
      ip_address: `${pod.ipv4},${pod.ipv6}`,
      logical_router: 'ovn-cluster',
      logical_switch: this.fx.logicalSwitch,
      mac_address: pod.mac,
      pod_nic_type: 'veth-pair',
      routed: 'true',
      ...extra,
    };
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${provider}.kubernetes.io/${k}`, v]));
  }

  /** Creates the pod object (scheduled to `node`), returns its uid. */
  async createPod(pod: FixturePod, annotations: Record<string, string> = {}, node = NODE): Promise<string> {
    const body: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.name, namespace: pod.namespace, annotations },
      spec: { nodeName: node, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    };
    const created = await this.core.createNamespacedPod({ namespace: pod.namespace, body });
    const uid = created.metadata?.uid ?? '';
    this.uids.set(pod.name, uid);
    return uid;
  }

  async annotate(pod: FixturePod, annotations: Record<string, string | null>): Promise<void> {
    await this.core.patchNamespacedPod({ namespace: pod.namespace, name: pod.name, body: { metadata: { annotations } } }, mergePatch);
  }

  async deletePod(pod: FixturePod): Promise<void> {
    await this.core.deleteNamespacedPod({ namespace: pod.namespace, name: pod.name });
  }

  /** GET on the daemon's HTTP port. */
  async http(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.daemon?.httpPort ?? 0}${path}`);
    return { status: res.status, body: await res.text() };
  }

  /** The value of one sample line of /metrics (undefined when absent). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const { body } = await this.http('/metrics');
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of body.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = (m[2] ?? '').split(',').filter(Boolean);
      if (want.every((w) => have.includes(w))) return Number(m[3]);
    }
    return undefined;
  }

  /** Resolves once `predicate` holds (checked every 50 ms), or throws after `timeoutMs`. */
  async until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the daemon, the API server and the CNI fixture; removes the temp dir. Never throws. */
  async stop(): Promise<void> {
    await this.daemon?.stop().catch(() => undefined);
    await this.api.close().catch(() => undefined);
    await this.fx.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
