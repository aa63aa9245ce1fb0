/**
 * Test bed for the NicPort controller: a private OVN stack (real NB), the Kubernetes API server double
 * with the NicPort CRD, helpers to create Kube-OVN Subnets (object + logical switch, as Kube-OVN would),
 * NicPorts, read NB ports, and to run controllers against them.
 */
import { readFileSync } from 'node:fs';
import { CustomObjectsApi, PatchStrategy, loadAllYaml, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from '../apiserver/index.js';
import { NicPortController, type NicPortControllerOptions } from '../../src/controller/controller.js';
import type { NicPort } from '../../src/controller/nicport.js';
import type { Binder } from '../../src/controller/reconciler.js';
import type { BindOutcome, BindTarget } from '../../src/controller/binder.js';
import { NB, OvsdbClient, nbOps, type Nb } from '../../src/ovs/index.js';
import { OvnStack } from '../../src/sandbox/stack.js';
import { silentLogger } from '../../src/util/log.js';

export const CRD_FILE = 'deploy/crds/nicports.kubevirt.chinaunicom.com.yaml';
export const NP = { group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports' };
export const IPS = { group: 'kubeovn.io', version: 'v1', plural: 'ips' };
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A binder that records calls and answers as told (default: Bound on pod `virt-launcher-<vmi>`). */
export class FakeBinder implements Binder {
  readonly calls: Array<{ op: 'bind' | 'unbind'; target: BindTarget }> = [];
  answer: (op: 'bind' | 'unbind', t: BindTarget) => BindOutcome = (op, t) =>
    op === 'bind' ? { state: 'Bound', pod: `virt-launcher-${t.vmi}` } : { state: 'Unbound' };
  async bind(target: BindTarget): Promise<BindOutcome> {
    this.calls.push({ op: 'bind', target });
    return this.answer('bind', target);
  }
  async unbind(target: BindTarget): Promise<BindOutcome> {
    this.calls.push({ op: 'unbind', target });
    return this.answer('unbind', target);
  }
}

export interface SubnetInput {
  name: string;
  cidrBlock: string;
  provider?: string;
  gateway?: string;
  excludeIps?: string[];
  /** Create the logical switch too (default true). */
  logicalSwitch?: boolean;
}

export class ControllerBed {
  readonly co: CustomObjectsApi;
  private readonly controllers: NicPortController[] = [];

  private constructor(
    readonly stack: OvnStack,
    readonly api: ApiServer,
    readonly nb: OvsdbClient,
  ) {
    this.co = api.kubeConfig().makeApiClient(CustomObjectsApi);
  }

  static async start(name: string): Promise<ControllerBed> {
    const stack = await OvnStack.start({ name });
    let api: ApiServer | undefined;
    try {
      api = await startApiServer({ crdFiles: [CRD_FILE] });
      const nb = await OvsdbClient.connect(stack.nbRemote, { log: silentLogger });
      return new ControllerBed(stack, api, nb);
    } catch (err) {
      await api?.close();
      await stack.stop();
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const c of this.controllers.splice(0)) await c.stop().catch(() => undefined);
    this.nb.close();
    await this.api.close().catch(() => undefined);
    await this.stack.stop();
  }

  /** Starts a controller (stopped by close() if not before). */
  async controller(binder: Binder = new FakeBinder(), extra: Partial<NicPortControllerOptions> = {}): Promise<NicPortController> {
    const c = new NicPortController({
      kubeConfig: this.api.kubeConfig(),
      nb: this.stack.nbRemote,
      binder,
      log: silentLogger,
      resyncPeriodMs: 0,
      ...extra,
    });
    this.controllers.push(c);
    await c.start();
    return c;
  }

  async stopController(c: NicPortController): Promise<void> {
    const i = this.controllers.indexOf(c);
    if (i >= 0) this.controllers.splice(i, 1);
    await c.stop();
  }

  async subnet(s: SubnetInput): Promise<void> {
    this.api.seed({
      apiVersion: 'kubeovn.io/v1',
      kind: 'Subnet',
      metadata: { name: s.name },
      spec: {
        cidrBlock: s.cidrBlock,
        provider: s.provider ?? 'ovn',
        ...(s.gateway ? { gateway: s.gateway } : {}),
        ...(s.excludeIps ? { excludeIps: s.excludeIps } : {}),
        vpc: 'ovn-cluster',
      },
    });
    if (s.logicalSwitch !== false) await this.nb.transact(NB, [nbOps.insert('Logical_Switch', { name: s.name, other_config: { subnet: s.cidrBlock.split(',')[0] ?? '' } })]);
  }

  async createNicPort(namespace: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Promise<NicPort> {
    return (await this.co.createNamespacedCustomObject({
      ...NP, namespace, body: { apiVersion: 'kubevirt.chinaunicom.com/v1', kind: 'NicPort', metadata: { name, ...(labels ? { labels } : {}) }, spec },
    })) as NicPort;
  }

  /** Creates the objects of a YAML file (e.g. deploy/examples/nicport1.yaml) through the API. */
  async applyFile(path: string): Promise<KubernetesObject[]> {
    const out: KubernetesObject[] = [];
    for (const doc of loadAllYaml(readFileSync(path, 'utf8')) as KubernetesObject[]) {
      const [group, version] = (doc.apiVersion ?? '').split('/') as [string, string];
      if (doc.kind === 'NicPort') {
        out.push((await this.co.createNamespacedCustomObject({ ...NP, namespace: doc.metadata?.namespace ?? 'default', body: doc })) as KubernetesObject);
      } else if (doc.kind === 'Subnet') {
        out.push((await this.co.createClusterCustomObject({ group, version, plural: 'subnets', body: doc })) as KubernetesObject);
        await this.nb.transact(NB, [nbOps.insert('Logical_Switch', { name: doc.metadata?.name ?? '' })]);
      } else throw new Error(`applyFile: unsupported kind ${String(doc.kind)}`);
    }
    return out;
  }

  async patchNicPort(namespace: string, name: string, body: unknown): Promise<NicPort> {
    return (await this.co.patchNamespacedCustomObject({ ...NP, namespace, name, body }, mergePatch)) as NicPort;
  }

  async deleteNicPort(namespace: string, name: string): Promise<void> {
    await this.co.deleteNamespacedCustomObject({ ...NP, namespace, name });
  }

  nicPort(namespace: string, name: string): NicPort | undefined {
    return this.api.get('nicports', namespace, name) as NicPort | undefined;
  }

  ipObject(name: string): KubernetesObject & { spec?: Record<string, unknown> } | undefined {
    return this.api.get('ips.kubeovn.io', undefined, name) as (KubernetesObject & { spec?: Record<string, unknown> }) | undefined;
  }

  async lsp(name: string): Promise<Nb.LogicalSwitchPort | undefined> {
    const [rows] = await this.nb.transact(NB, [nbOps.select('Logical_Switch_Port', [['name', '==', name]])]);
    return rows[0];
  }

  async lsps(): Promise<Nb.LogicalSwitchPort[]> {
    const [rows] = await this.nb.transact(NB, [nbOps.select('Logical_Switch_Port', [])]);
    return rows;
  }

  /** Names of the ports listed by logical switch `ls`. */
  async switchPorts(ls: string): Promise<string[]> {
    const [switches, ports] = await this.nb.transact(NB, [
      nbOps.select('Logical_Switch', [['name', '==', ls]], ['ports']),
      nbOps.select('Logical_Switch_Port', [], ['_uuid', 'name']),
    ]);
    const byUuid = new Map(ports.map((p) => [p._uuid, p.name]));
    return (switches[0]?.ports ?? []).map((u) => byUuid.get(u) ?? u).sort();
  }
}

/** Polls `check` until it returns a value other than undefined/false (throws its last error on timeout). */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      if (last instanceof Error) throw last;
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the controller has nothing queued or running for `quietMs`. */
export async function settled(c: NicPortController, quietMs = 300, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let idleSince = Date.now();
  while (Date.now() < deadline) {
    if (c.busy > 0) idleSince = Date.now();
    else if (Date.now() - idleSince >= quietMs) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('controller did not settle');
}

export function condition(np: NicPort | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return np?.status?.conditions?.find((c) => c.type === type);
}
