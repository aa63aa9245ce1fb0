/**
 * The Kubernetes reads and writes of a bind: KubeVirt VM/VMI, virt-launcher pods, NetworkAttachmentDefinitions,
 * and resourceVersion-guarded merge patches (a stale object → 409, which callers retry after a fresh read).
 */
import {
  ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod,
} from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [other: string]: unknown;
}

const VM = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' };
const VMI = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' };
const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };

export const LAUNCHER_LABEL = 'kubevirt.io';
export const LAUNCHER_VALUE = 'virt-launcher';
export const CREATED_BY_LABEL = 'kubevirt.io/created-by';
export const VM_NAME_LABEL = 'vm.kubevirt.io/name';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function apiCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

/** The Status message of an API error, else the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: unknown };
      if (typeof body?.message === 'string') return `${body.message} (HTTP ${err.code as number})`;
    } catch {
      // not a Status body
    }
    return `HTTP ${err.code as number}`;
  }
  return err instanceof Error ? err.message : String(err);
}

async function orUndefinedOn404<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (apiCode(err) === 404) return undefined;
    throw err;
  }
}

export class BindCluster {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  getVm(namespace: string, name: string): Promise<KubeObject | undefined> {
    return orUndefinedOn404(this.custom.getNamespacedCustomObject({ ...VM, namespace, name }) as Promise<KubeObject>);
  }

  getVmi(namespace: string, name: string): Promise<KubeObject | undefined> {
    return orUndefinedOn404(this.custom.getNamespacedCustomObject({ ...VMI, namespace, name }) as Promise<KubeObject>);
  }

  getNad(namespace: string, name: string): Promise<KubeObject | undefined> {
    return orUndefinedOn404(this.custom.getNamespacedCustomObject({ ...NAD, namespace, name }) as Promise<KubeObject>);
  }

  /**
   * The virt-launcher pods of a VMI: selected by `kubevirt.io/created-by=<uid>` (set by KubeVirt on every
   * launcher pod), else by `vm.kubevirt.io/name=<name>`.
   */
  async listLauncherPods(namespace: string, vmiUid: string | undefined, vmiName: string): Promise<V1Pod[]> {
    const base = `${LAUNCHER_LABEL}=${LAUNCHER_VALUE}`;
    if (vmiUid !== undefined && vmiUid !== '') {
      const byUid = await this.core.listNamespacedPod({ namespace, labelSelector: `${base},${CREATED_BY_LABEL}=${vmiUid}` });
      if (byUid.items.length > 0) return byUid.items;
    }
    const byName = await this.core.listNamespacedPod({ namespace, labelSelector: `${base},${VM_NAME_LABEL}=${vmiName}` });
    return byName.items;
  }

  getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return orUndefinedOn404(this.core.readNamespacedPod({ namespace, name }));
  }

  /** Merge patch of pod annotations (null deletes) guarded by resourceVersion. */
  async patchPodAnnotations(namespace: string, name: string, resourceVersion: string, annotations: Record<string, string | null>): Promise<V1Pod> {
    return this.core.patchNamespacedPod({ namespace, name, body: { metadata: { resourceVersion, annotations } } }, mergePatch);
  }

  /** Merge patch of a VirtualMachine (the body carries metadata.resourceVersion). */
  async patchVm(namespace: string, name: string, body: Record<string, unknown>): Promise<KubeObject> {
    return (await this.custom.patchNamespacedCustomObject({ ...VM, namespace, name, body }, mergePatch)) as KubeObject;
  }
}
