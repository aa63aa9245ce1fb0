/**
 * A test bed for the CNI plugin: a private OVS+OVN stack, a private build of the plugin, a
 * dual-stack logical switch, and pods (network namespaces) with matching logical switch ports.
 * Every helper runs the plugin as a runtime does (env + stdin). stop() removes everything.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvnStack } from './stack.js';
import { SYSTEM_CNI_DIR, runPlugin, type CniCall, type PluginRun } from './plugin.js';
import { PodNetns, randomSuffix } from './pods.js';
import { buildPrivatePlugin, type PrivateBuild } from './private-build.js';

export const V4 = { subnet: '10.16.0.0/24', prefix: '10.16.0.', len: 24, gateway: '10.16.0.1' };
export const V6 = { subnet: 'fd00:10:16::/64', prefix: 'fd00:10:16::', len: 64, gateway: 'fd00:10:16::1' };

export type IpamKind = 'static' | 'host-local' | 'none';

export interface PodOptions {
  /** Create the logical switch port (default true). */
  lsp?: boolean;
  /** Set port_security to the pod's MAC and addresses (default true). */
  portSecurity?: boolean;
  /** Create the netns (default true). */
  netns?: boolean;
}

export interface FixturePod {
  name: string;
  namespace: string;
  /** Logical switch port name = the iface-id ovnic derives (`<pod>.<ns>`). */
  lsp: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  containerId: string;
  ifname: string;
  netns: PodNetns | undefined;
}

export interface FixtureOptions {
  name?: string;
  ipam?: IpamKind;
  /** Network config `name` (default "ovnic-test"). */
  network?: string;
}

export class CniFixture {
  readonly pods: FixturePod[] = [];
  private podSeq = 0;
  private readonly extraNetns: PodNetns[] = [];

  private constructor(
    readonly stack: OvnStack,
    readonly build: PrivateBuild,
    readonly ipam: IpamKind,
    readonly network: string,
    /** host-local's dataDir (allocations are files named after the address). */
    readonly ipamDataDir: string,
    readonly logicalSwitch: string,
  ) {}

  static async start(options: FixtureOptions = {}): Promise<CniFixture> {
    const build = await buildPrivatePlugin();
    let stack: OvnStack | undefined;
    try {
      stack = await OvnStack.start({ name: options.name ?? 'cni' });
      const ls = 'ls-test';
      await stack.nbctl('ls-add', ls);
      const dataDir = mkdtempSync(join(tmpdir(), 'ovnic-ipam-'));
      return new CniFixture(stack, build, options.ipam ?? 'static', options.network ?? 'ovnic-test', dataDir, ls);
    } catch (err) {
      await stack?.stop();
      build.remove();
      throw err;
    }
  }

  get bin(): string {
    return this.build.bin;
  }

  /** A new pod: addresses 10.16.0.(10+n) / fd00:10:16::(10+n), its LSP and its netns. */
  async addPod(name = `pod${this.podSeq + 1}`, options: PodOptions = {}): Promise<FixturePod> {
    const n = 10 + this.podSeq++;
    const pod: FixturePod = {
      name,
      namespace: 'default',
      lsp: `${name}.default`,
      mac: `0a:00:00:10:16:${n.toString(16).padStart(2, '0')}`,
      ipv4: `${V4.prefix}${n}`,
      ipv6: `${V6.prefix}${n.toString(16)}`,
      containerId: `${randomSuffix(6)}${randomSuffix(6)}`,
      ifname: 'eth0',
      netns: undefined,
    };
    if (options.lsp ?? true) await this.addLsp(pod, options.portSecurity ?? true);
    if (options.netns ?? true) pod.netns = await PodNetns.create('ovnic-t');
    this.pods.push(pod);
    return pod;
  }

  async addLsp(pod: FixturePod, portSecurity = true, addresses = `${pod.mac} ${pod.ipv4} ${pod.ipv6}`): Promise<void> {
    const args = ['--may-exist', 'lsp-add', this.logicalSwitch, pod.lsp, '--', 'lsp-set-addresses', pod.lsp, addresses];
    if (portSecurity) args.push('--', 'lsp-set-port-security', pod.lsp, addresses);
    await this.stack.nbctl(...args);
  }

  /** An extra netns (removed by stop()). */
  async netns(): Promise<PodNetns> {
    const ns = await PodNetns.create('ovnic-t');
    this.extraNetns.push(ns);
    return ns;
  }

  /** The network configuration a runtime passes for `pod`, with `over` merged on top. */
  config(pod: FixturePod | undefined, over: Record<string, unknown> = {}): Record<string, unknown> {
    const conf: Record<string, unknown> = {
      cniVersion: '1.1.0',
      name: this.network,
      type: 'ovnic',
      bridge: 'br-int',
      ovsdb: this.stack.ovsdbRemote,
      ovsNetns: this.stack.netnsPath,
      ovnWait: { enabled: true, timeoutMs: 10_000 },
    };
    if (this.ipam === 'static') {
      conf.ipam = { type: 'static', routes: [{ dst: '0.0.0.0/0', gw: V4.gateway }, { dst: '::/0', gw: V6.gateway }] };
    } else if (this.ipam === 'host-local') {
      conf.ipam = {
        type: 'host-local',
        dataDir: this.ipamDataDir,
        ranges: [[{ subnet: V4.subnet, gateway: V4.gateway, rangeStart: `${V4.prefix}100`, rangeEnd: `${V4.prefix}200` }], [{ subnet: V6.subnet, gateway: V6.gateway }]],
        routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
      };
    }
    if (pod) {
      const runtimeConfig: Record<string, unknown> = { mac: pod.mac };
      if (this.ipam !== 'host-local') runtimeConfig.ips = [`${pod.ipv4}/${V4.len}`, `${pod.ipv6}/${V6.len}`];
      conf.runtimeConfig = runtimeConfig;
    }
    return { ...conf, ...over };
  }

  call(command: CniCall['command'], pod: FixturePod | undefined, over: Partial<CniCall> = {}): CniCall {
    const base: CniCall = { command, path: [SYSTEM_CNI_DIR] };
    if (pod && command !== 'GC' && command !== 'STATUS') {
      base.containerId = pod.containerId;
      base.ifname = pod.ifname;
      base.netns = pod.netns?.path ?? '';
      base.args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}`;
    }
    return { ...base, ...over };
  }

  /** Runs the plugin for `pod` with the fixture's config (`conf` merged on top). */
  run(command: CniCall['command'], pod: FixturePod | undefined, conf: Record<string, unknown> = {}, call: Partial<CniCall> = {}): Promise<PluginRun> {
    return runPlugin(this.bin, this.call(command, pod, call), this.config(pod, conf));
  }

  /** Names of the OVS interfaces ovnic owns (external_ids:vendor=ovnic). */
  async ovnicPorts(): Promise<string[]> {
    const out = await this.stack.vsctl('--data=bare', '--no-headings', '--columns=name', 'find', 'Interface', 'external_ids:vendor=ovnic');
    return out.split('\n').map((s) => s.trim()).filter(Boolean).sort();
  }

  /** external_ids of Interface `name`. */
  async externalIds(name: string): Promise<Record<string, string>> {
    const out = await this.stack.vsctl('--format=json', '--columns=external_ids', 'list', 'Interface', name);
    const parsed = JSON.parse(out) as { data: [[string, [string, string][]]][] };
    return Object.fromEntries(parsed.data[0]?.[0]?.[1] ?? []);
  }

  /** veth links in the OVS netns (host ends). */
  async hostVeths(): Promise<string[]> {
    const out = await this.stack.inNetns('ip', ['-j', 'link', 'show', 'type', 'veth']);
    return (JSON.parse(out || '[]') as { ifname: string }[]).map((l) => l.ifname).sort();
  }

  /** Addresses host-local holds for this network (files in its dataDir). */
  ipamAllocations(): string[] {
    try {
      return readdirSync(join(this.ipamDataDir, this.network)).filter((f) => /^[0-9a-f.:]+$/i.test(f) && (f.includes('.') || f.includes(':'))).sort();
    } catch {
      return [];
    }
  }

  /** Stops the stack, removes every netns and the private build. Never throws. */
  async stop(): Promise<void> {
    for (const pod of this.pods) await pod.netns?.remove();
    for (const ns of this.extraNetns) await ns.remove();
    await this.stack.stop();
    rmSync(this.ipamDataDir, { recursive: true, force: true });
    this.build.remove();
  }
}
