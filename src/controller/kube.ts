/**
 * The controller's Kubernetes writes: NicPort finalizers (resourceVersion-guarded merge patches) and
 * status (status subresource), kubeovn.io IP objects. Every write is counted by kind. Reads come from
 * the informer caches, never from here.
 */
import http from 'node:http';
import https from 'node:https';
import {
  ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesListObject, type KubernetesObject,
  type RequestContext,
} from '@kubernetes/client-node';
import { FINALIZER, KUBEOVN_IP, NICPORT, SUBNET } from './constants.js';
import type { KubeOvnIp } from './ip-object.js';
import type { NicPort } from './nicport.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function apiCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

export function apiErrorText(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: unknown };
      if (typeof body?.message === 'string') return `HTTP ${err.code as number}: ${body.message}`;
    } catch {
      // not a Status body
    }
    return `HTTP ${err.code as number}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The object changed since it was read (409): the informer will bring the new version. */
export class StaleObjectError extends Error {
  constructor(what: string) {
    super(`${what} changed since it was read; retrying with the new version`);
    this.name = 'StaleObjectError';
  }
}

/**
 * A KubeConfig whose API calls share one keep-alive agent instead of client-node's new agent per
 * request (a TCP connection per call limits a controller writing thousands of objects).
 */
export class PooledKubeConfig extends KubeConfig {
  private pooled: http.Agent | undefined;

  static from(kc: KubeConfig): PooledKubeConfig {
    const p = new PooledKubeConfig();
    p.loadFromString(kc.exportConfig());
    return p;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    if (!agent || (agent.constructor !== http.Agent && agent.constructor !== https.Agent)) return;
    if (!this.pooled) {
      const options = (agent as http.Agent & { options: https.AgentOptions }).options;
      this.pooled = agent instanceof https.Agent
        ? new https.Agent({ ...options, keepAlive: true, maxSockets: 32 })
        : new http.Agent({ ...options, keepAlive: true, maxSockets: 32 });
    }
    context.setAgent(this.pooled);
  }

  destroyAgent(): void {
    this.pooled?.destroy();
    this.pooled = undefined;
  }
}

export type WriteKind = 'finalizer' | 'status' | 'ip-create' | 'ip-patch' | 'ip-delete';

function continueOf(list: KubernetesListObject<KubernetesObject>): string | undefined {
  const meta = list.metadata as { continue?: string; _continue?: string } | undefined;
  const c = meta?._continue ?? meta?.continue;
  return c === undefined || c === '' ? undefined : c;
}

export class KubeWriter {
  readonly api: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly onWrite: (kind: WriteKind, ok: boolean) => void = () => undefined,
    private readonly pageSize = 500,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  listNicPorts(): Promise<KubernetesListObject<NicPort>> {
    return this.listAll(NICPORT);
  }

  listSubnets(): Promise<KubernetesListObject<KubernetesObject>> {
    return this.listAll(SUBNET);
  }

  listIps(): Promise<KubernetesListObject<KubeOvnIp>> {
    return this.listAll(KUBEOVN_IP);
  }

  /**
   * Lists in pages (bounded response buffers with thousands of objects). The first page's
   * resourceVersion is the list's: a watch from there replays whatever changed while paging.
   */
  private async listAll<T extends KubernetesObject>(r: { group: string; version: string; plural: string }): Promise<KubernetesListObject<T>> {
    const page = (cont: string | undefined): Promise<KubernetesListObject<T>> => this.api.listClusterCustomObject({
      group: r.group, version: r.version, plural: r.plural, limit: this.pageSize, ...(cont ? { _continue: cont } : {}),
    }) as Promise<KubernetesListObject<T>>;
    const first = await page(undefined);
    let cont = continueOf(first);
    while (cont) {
      const next = await page(cont);
      for (const item of next.items) first.items.push(item);
      cont = continueOf(next);
    }
    return first;
  }

  /**
   * Adds or removes ovnic's finalizer, failing with StaleObjectError if the NicPort changed meanwhile.
   * Undefined when the NicPort is gone.
   */
  async setFinalizer(np: NicPort, present: boolean): Promise<NicPort | undefined> {
    const current = np.metadata?.finalizers ?? [];
    const finalizers = present ? [...current.filter((f) => f !== FINALIZER), FINALIZER] : current.filter((f) => f !== FINALIZER);
    return this.write('finalizer', async () => {
      try {
        return (await this.api.patchNamespacedCustomObject({
          group: NICPORT.group, version: NICPORT.version, plural: NICPORT.plural,
          namespace: np.metadata?.namespace ?? '', name: np.metadata?.name ?? '',
          body: { metadata: { finalizers, resourceVersion: np.metadata?.resourceVersion } },
        }, mergePatch)) as NicPort;
      } catch (err) {
        if (apiCode(err) === 409) throw new StaleObjectError(`NicPort ${np.metadata?.namespace}/${np.metadata?.name}`);
        if (apiCode(err) === 404) return undefined;
        throw err;
      }
    });
  }

  /** Writes the status subresource; a NicPort already gone is not an error (undefined). */
  async patchStatus(np: NicPort, patch: { status: Record<string, unknown> }): Promise<NicPort | undefined> {
    return this.write('status', async () => {
      try {
        return (await this.api.patchNamespacedCustomObjectStatus({
          group: NICPORT.group, version: NICPORT.version, plural: NICPORT.plural,
          namespace: np.metadata?.namespace ?? '', name: np.metadata?.name ?? '', body: patch,
        }, mergePatch)) as NicPort;
      } catch (err) {
        if (apiCode(err) === 404) return undefined;
        throw err;
      }
    });
  }

  /** Creates the IP object; if it exists already (cache lag), returns undefined so the caller re-reads. */
  async createIp(body: KubeOvnIp): Promise<KubeOvnIp | undefined> {
    return this.write('ip-create', async () => {
      try {
        return (await this.api.createClusterCustomObject({ group: KUBEOVN_IP.group, version: KUBEOVN_IP.version, plural: KUBEOVN_IP.plural, body })) as KubeOvnIp;
      } catch (err) {
        if (apiCode(err) === 409) return undefined;
        throw err;
      }
    });
  }

  async patchIp(name: string, body: Record<string, unknown>): Promise<KubeOvnIp | undefined> {
    return this.write('ip-patch', async () => {
      try {
        return (await this.api.patchClusterCustomObject({ group: KUBEOVN_IP.group, version: KUBEOVN_IP.version, plural: KUBEOVN_IP.plural, name, body }, mergePatch)) as KubeOvnIp;
      } catch (err) {
        if (apiCode(err) === 404) return undefined;
        throw err;
      }
    });
  }

  async getIp(name: string): Promise<KubeOvnIp | undefined> {
    try {
      return (await this.api.getClusterCustomObject({ group: KUBEOVN_IP.group, version: KUBEOVN_IP.version, plural: KUBEOVN_IP.plural, name })) as KubeOvnIp;
    } catch (err) {
      if (apiCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Deletes the IP object; already gone is fine. */
  async deleteIp(name: string): Promise<void> {
    await this.write('ip-delete', async () => {
      try {
        await this.api.deleteClusterCustomObject({ group: KUBEOVN_IP.group, version: KUBEOVN_IP.version, plural: KUBEOVN_IP.plural, name });
      } catch (err) {
        if (apiCode(err) !== 404) throw err;
      }
    });
  }

  private async write<T>(kind: WriteKind, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.onWrite(kind, true);
      return r;
    } catch (err) {
      this.onWrite(kind, false);
      throw err;
    }
  }
}
