/**
 * Binds a NicPort to a KubeVirt VM and unbinds it (docs/bind-sequence.md).
 *
 * Bind: VM, VMI, running virt-launcher pod and NetworkAttachmentDefinition must exist (else Waiting or
 * Failed, nothing written); then the pod gets the provider-scoped annotations and the Multus attachment in
 * one merge patch, then the VM template gets the bridge interface and Multus network, so KubeVirt hot-plugs
 * the NIC and the CNI finds its addresses already on the pod. Unbind: the interface gets `state: absent`
 * (hot-unplug; removed from the template outright when the VM is stopped or the VMI no longer lists it),
 * and the pod loses the attachment and the annotations.
 *
 * Level-triggered and idempotent: every call reads the current objects and writes only differences, so a
 * repeated call writes nothing. Writes are guarded by resourceVersion; 409s are retried after a fresh read.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import {
  annotationPatch, annotationRemoval, chooseAnnotationScope, findAnnotationScope, providerAnnotationValues,
} from './bind-annotations.js';
import { apiCode, apiMessage, BindCluster, type KubeObject } from './bind-cluster.js';
import {
  InvalidProviderError, nadFromProvider, nadNetworkName, NETWORKS_ANNOTATION, podInterfaceName, vmInterfaceName, type NadRef,
} from './bind-names.js';
import {
  formatNetworksAnnotation, NetworksAnnotationError, parseNetworksAnnotation, removeAttachment, upsertAttachment,
  type NetworkSelectionElement,
} from './bind-networks.js';
import { launcherPods } from './bind-pods.js';
import { attachNic, hasNic, markNicAbsent, nicState, removeNic, templateNics, templatePatch, vmiListsInterface, type TemplateChange, type TemplateNics } from './bind-vm.js';
import type { EventRecorder, EventSubject } from './events.js';

export interface BindTarget {
  namespace: string;
  nicPort: string;
  vmi: string;
  /** Subnet provider, e.g. attachnet1.mec-nets.ovn */
  provider: string;
  subnet: string;
  logicalSwitch: string;
  lspName: string;
  mac: string;
  ipv4?: string;
  ipv6?: string;
  /** "v4cidr,v6cidr" */
  cidr: string;
  /** "gw4,gw6" */
  gateway: string;
  /** Default ovn-cluster. */
  logicalRouter?: string;
  /** The NicPort's uid, for Events. */
  nicPortUid?: string;
  /** `pod_nic_type` annotation; default veth-pair. */
  podNicType?: string;
}

export type BindOutcome =
  | { state: 'Bound'; pod: string }
  | { state: 'Unbound' }
  | { state: 'Waiting'; reason: string; message: string }
  | { state: 'Failed'; reason: string; message: string };

export interface VmBinderOptions {
  /** Attempts of one guarded write before giving up with Waiting/Conflict. Default 5. */
  conflictAttempts?: number;
  /**
   * Also put the addresses into the Multus element (`ips`). Off by default: KubeVirt regenerates the
   * networks annotation from the VMI as {name, namespace, mac, interface} and would strip them again.
   */
  attachmentIps?: boolean;
  /** Write `<provider>.kubernetes.io/port_name` = the LSP name (read by ovnic's node daemon). Default true. */
  portNameAnnotation?: boolean;
  /** Emit Bound/Unbound Events (when a call changed something). Default true; the step Events are always emitted. */
  outcomeEvents?: boolean;
}

/** Reasons in outcomes and Events. */
export const BindReason = {
  VMNotFound: 'VMNotFound',
  VMNotRunning: 'VMNotRunning',
  LauncherPodNotFound: 'LauncherPodNotFound',
  NADNotFound: 'NADNotFound',
  NADProviderMismatch: 'NADProviderMismatch',
  InvalidProvider: 'InvalidProvider',
  InvalidTarget: 'InvalidTarget',
  InvalidNetworksAnnotation: 'InvalidNetworksAnnotation',
  ProviderInUse: 'ProviderInUse',
  PodNotFound: 'PodNotFound',
  VMPatchRejected: 'VMPatchRejected',
  PodPatchRejected: 'PodPatchRejected',
  Conflict: 'Conflict',
  ApiError: 'ApiError',
  AttachmentAdded: 'AttachmentAdded',
  AttachmentRemoved: 'AttachmentRemoved',
  VMPatched: 'VMPatched',
  VMInterfaceAbsent: 'VMInterfaceAbsent',
  VMInterfaceRemoved: 'VMInterfaceRemoved',
  Bound: 'Bound',
  Unbound: 'Unbound',
  BindFailed: 'BindFailed',
  UnbindFailed: 'UnbindFailed',
} as const;

const NICPORT_API_VERSION = 'kubevirt.chinaunicom.com/v1';
const NICPORT_KIND = 'NicPort';

/** A bind step's decision to stop with an outcome (not an error). */
class Stop extends Error {
  constructor(readonly outcome: BindOutcome) {
    super(outcome.state);
  }
}

const waiting = (reason: string, message: string): Stop => new Stop({ state: 'Waiting', reason, message });
const failed = (reason: string, message: string): Stop => new Stop({ state: 'Failed', reason, message });

function isTransient(err: unknown): boolean {
  const code = apiCode(err);
  return code === undefined || code === 409 || code === 429 || code >= 500;
}

/** Whether a bind/unbind call changed anything (its Bound/Unbound Event is emitted only then). */
interface Progress {
  wrote: boolean;
}

interface PodEdit {
  pod: string;
  annotations: Record<string, string | null>;
}

interface Resolved {
  nad: NadRef;
  vmIface: string;
  podIface: string;
}

function resolveNames(t: BindTarget): Resolved {
  const nad = nadFromProvider(t.provider);
  const vmIface = vmInterfaceName(t.nicPort);
  return { nad, vmIface, podIface: podInterfaceName(vmIface) };
}

function annotationsOf(pod: V1Pod | KubeObject): Record<string, string> {
  return pod.metadata?.annotations ?? {};
}

function podKey(pod: V1Pod): { name: string; resourceVersion: string } {
  return { name: pod.metadata?.name ?? '', resourceVersion: pod.metadata?.resourceVersion ?? '' };
}

function nadProvider(nad: KubeObject): string | undefined {
  const config = nad.spec?.config;
  if (typeof config !== 'string') return undefined;
  try {
    const parsed = JSON.parse(config) as Record<string, unknown>;
    const direct = parsed.provider;
    if (typeof direct === 'string') return direct;
    const plugins = Array.isArray(parsed.plugins) ? (parsed.plugins as unknown[]) : [];
    for (const p of plugins) {
      if (typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>).provider === 'string') {
        return (p as Record<string, unknown>).provider as string;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export class VmBinder {
  private readonly cluster: BindCluster;
  private readonly attempts: number;
  private readonly attachmentIps: boolean;
  private readonly portNameAnnotation: boolean;
  private readonly outcomeEvents: boolean;
  /** Last Waiting/Failed outcome reported per NicPort, so a stuck bind does not repeat its Event on every retry. */
  private readonly lastReported = new Map<string, string>();

  constructor(kc: KubeConfig, private readonly recorder: EventRecorder, private readonly log: Logger, options: VmBinderOptions = {}) {
    this.cluster = new BindCluster(kc);
    this.attempts = Math.max(1, options.conflictAttempts ?? 5);
    this.attachmentIps = options.attachmentIps ?? false;
    this.portNameAnnotation = options.portNameAnnotation ?? true;
    this.outcomeEvents = options.outcomeEvents ?? true;
  }

  async bind(t: BindTarget): Promise<BindOutcome> {
    const progress: Progress = { wrote: false };
    const outcome = await this.run(t, () => this.bindSteps(t, progress));
    await this.report(t, outcome, 'bind', progress);
    return outcome;
  }

  async unbind(t: BindTarget): Promise<BindOutcome> {
    const progress: Progress = { wrote: false };
    const outcome = await this.run(t, () => this.unbindSteps(t, progress));
    await this.report(t, outcome, 'unbind', progress);
    return outcome;
  }

  private async run(t: BindTarget, steps: () => Promise<BindOutcome>): Promise<BindOutcome> {
    try {
      return await steps();
    } catch (err) {
      if (err instanceof Stop) return err.outcome;
      if (err instanceof InvalidProviderError) return { state: 'Failed', reason: BindReason.InvalidProvider, message: err.message };
      if (err instanceof NetworksAnnotationError) return { state: 'Failed', reason: BindReason.InvalidNetworksAnnotation, message: err.message };
      const message = apiMessage(err);
      this.log.warn({ err, nicPort: `${t.namespace}/${t.nicPort}`, vmi: t.vmi }, 'bind step failed');
      if (apiCode(err) === 409) return { state: 'Waiting', reason: BindReason.Conflict, message: `still conflicting after ${this.attempts} attempts: ${message}` };
      return { state: 'Waiting', reason: BindReason.ApiError, message };
    }
  }

  // ---- bind --------------------------------------------------------------------------------------------

  private validate(t: BindTarget): void {
    const problems: string[] = [];
    if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(t.mac)) problems.push(`mac "${t.mac}" is not a MAC address`);
    if ((t.ipv4 ?? '') === '' && (t.ipv6 ?? '') === '') problems.push('no address (ipv4/ipv6)');
    if (t.logicalSwitch === '') problems.push('no logical switch');
    if (t.cidr === '') problems.push('no cidr');
    if (t.vmi === '') problems.push('no vmi');
    if (problems.length > 0) throw failed(BindReason.InvalidTarget, problems.join('; '));
  }

  private async bindSteps(t: BindTarget, progress: Progress): Promise<BindOutcome> {
    this.validate(t);
    const names = resolveNames(t);
    if (names.nad.ifName !== undefined && names.nad.ifName !== names.podIface) {
      throw failed(BindReason.InvalidProvider, `provider "${t.provider}" names pod interface "${names.nad.ifName}", but KubeVirt names this NIC's pod interface "${names.podIface}"`);
    }
    const vm = await this.cluster.getVm(t.namespace, t.vmi);
    if (vm === undefined) throw waiting(BindReason.VMNotFound, `VirtualMachine ${t.namespace}/${t.vmi} not found`);
    const vmi = await this.cluster.getVmi(t.namespace, t.vmi);
    const phase = vmi?.status?.phase;
    if (vmi === undefined || phase === 'Succeeded' || phase === 'Failed') {
      throw waiting(BindReason.VMNotRunning, `VirtualMachine ${t.namespace}/${t.vmi} is not running (${vmi === undefined ? 'no VirtualMachineInstance' : `VMI phase ${String(phase)}`})`);
    }
    const pods = launcherPods(await this.cluster.listLauncherPods(t.namespace, vmi.metadata.uid, vmi.metadata.name), vmi);
    if (pods.active === undefined) throw waiting(BindReason.LauncherPodNotFound, `no running virt-launcher pod for VirtualMachineInstance ${t.namespace}/${t.vmi}`);
    await this.checkNad(t, names.nad);

    const edits: PodEdit[] = [];
    try {
      for (const pod of pods.live) {
        const edit = await this.guarded((attempt) => this.attachPod(t, names, pod, attempt > 1));
        if (edit === 'gone' && pod === pods.active) {
          throw waiting(BindReason.LauncherPodNotFound, `virt-launcher pod ${t.namespace}/${pod.metadata?.name ?? ''} of VirtualMachineInstance ${t.namespace}/${t.vmi} is gone`);
        }
        if (edit !== undefined && edit !== 'gone') edits.push(edit);
      }
      progress.wrote = edits.length > 0;
      for (const edit of edits) {
        await this.event(t, 'Normal', BindReason.AttachmentAdded,
          `pod ${t.namespace}/${edit.pod}: ${nadNetworkName(names.nad)} as ${names.podIface}, ${[t.ipv4, t.ipv6].filter(Boolean).join(',')} ${t.mac}`);
      }
      const want = { name: names.vmIface, mac: t.mac, networkName: nadNetworkName(names.nad) };
      const patched = await this.guarded((attempt) => this.patchVmTemplate(t, attempt > 1 ? undefined : vm, (nics) => attachNic(nics, want)));
      if (patched) {
        progress.wrote = true;
        await this.event(t, 'Normal', BindReason.VMPatched, `VirtualMachine ${t.namespace}/${t.vmi}: interface ${names.vmIface} (bridge, ${t.mac}) on network ${nadNetworkName(names.nad)}`);
      }
    } catch (err) {
      if (!(err instanceof Stop) && isTransient(err)) throw err; // the next call carries on from what is there
      // Refused for good (or the VM vanished): take back what this call added to the pods, so nothing stays half-bound.
      for (const edit of edits) await this.guarded(() => this.detachPod(t, names, edit.pod, undefined)).catch(() => undefined);
      const undone = edits.length > 0 ? ` (pod changes taken back: ${edits.map((e) => e.pod).join(', ')})` : '';
      if (err instanceof Stop) {
        const o = err.outcome;
        throw o.state === 'Waiting' || o.state === 'Failed' ? new Stop({ ...o, message: `${o.message}${undone}` }) : err;
      }
      if (apiCode(err) === 404) throw waiting(BindReason.VMNotFound, `VirtualMachine ${t.namespace}/${t.vmi} not found${undone}`);
      throw failed(BindReason.VMPatchRejected, `VirtualMachine ${t.namespace}/${t.vmi}: ${apiMessage(err)}${undone}`);
    }
    return { state: 'Bound', pod: pods.active.metadata?.name ?? '' };
  }

  private async checkNad(t: BindTarget, nad: NadRef): Promise<void> {
    const obj = await this.cluster.getNad(nad.namespace, nad.name);
    if (obj === undefined) {
      throw waiting(BindReason.NADNotFound, `NetworkAttachmentDefinition ${nad.namespace}/${nad.name} (from subnet ${t.subnet} provider ${t.provider}) not found`);
    }
    const provider = nadProvider(obj);
    const bare = t.provider.split('.').slice(0, 3).join('.');
    if (provider !== undefined && provider !== bare && provider !== t.provider) {
      throw failed(BindReason.NADProviderMismatch, `NetworkAttachmentDefinition ${nad.namespace}/${nad.name} has provider "${provider}", subnet ${t.subnet} has "${t.provider}"`);
    }
  }

  /**
   * Adds the attachment and annotations to one pod (as listed, or read again after a conflict); the edit
   * made, undefined when nothing was needed, 'gone' when the pod no longer exists or is terminating.
   */
  private async attachPod(t: BindTarget, names: Resolved, listed: V1Pod, reread: boolean): Promise<PodEdit | 'gone' | undefined> {
    const podName = listed.metadata?.name ?? '';
    const pod = reread ? await this.cluster.getPod(t.namespace, podName) : listed;
    if (pod === undefined || pod.metadata?.deletionTimestamp != null) return 'gone';
    const annotations = annotationsOf(pod);
    const want: NetworkSelectionElement = { name: names.nad.name, namespace: names.nad.namespace, mac: t.mac, interface: names.podIface };
    const ips = [t.ipv4, t.ipv6].filter((ip): ip is string => ip !== undefined && ip !== '');
    if (this.attachmentIps) want.ips = ips;
    const networks = upsertAttachment(parseNetworksAnnotation(annotations[NETWORKS_ANNOTATION]), want, t.namespace);

    const choice = chooseAnnotationScope(annotations, t.provider, names.podIface, t.mac, names.nad.ifName !== undefined);
    if ('conflict' in choice) throw failed(BindReason.ProviderInUse, `pod ${t.namespace}/${podName}: ${choice.conflict}`);
    const patch: Record<string, string | null> = annotationPatch(annotations, choice.scope, providerAnnotationValues(this.portNameAnnotation ? t : { ...t, lspName: undefined }));
    if (networks.changed) patch[NETWORKS_ANNOTATION] = formatNetworksAnnotation(networks.elements);
    if (Object.keys(patch).length === 0) return undefined;
    if (!(await this.writePod(t, pod, patch))) return 'gone';
    this.log.info({ nicPort: `${t.namespace}/${t.nicPort}`, pod: podName, keys: Object.keys(patch) }, 'pod attachment written');
    return { pod: podName, annotations: patch };
  }

  /** Writes a pod's annotation patch; false when the pod is gone. */
  private async writePod(t: BindTarget, pod: V1Pod, patch: Record<string, string | null>): Promise<boolean> {
    const { name, resourceVersion } = podKey(pod);
    try {
      await this.cluster.patchPodAnnotations(t.namespace, name, resourceVersion, patch);
      return true;
    } catch (err) {
      if (apiCode(err) === 404) return false;
      if (isTransient(err)) throw err;
      throw failed(BindReason.PodPatchRejected, `pod ${t.namespace}/${name}: ${apiMessage(err)}`);
    }
  }

  /** Applies `edit` to the VM template (of `known`, else read now); true when it wrote. */
  private async patchVmTemplate(t: BindTarget, known: KubeObject | undefined, edit: (nics: TemplateNics) => TemplateChange): Promise<boolean> {
    const vm = known ?? (await this.cluster.getVm(t.namespace, t.vmi));
    if (vm === undefined) return false;
    const change = edit(templateNics(vm));
    if (!change.changed) return false;
    await this.cluster.patchVm(t.namespace, t.vmi, templatePatch(vm.metadata.resourceVersion ?? '', change));
    return true;
  }

  /** Runs a read-modify-write step again (attempt 2, 3, …: with a fresh read) after a 409, up to the configured attempts. */
  private async guarded<T>(step: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step(attempt);
      } catch (err) {
        if (apiCode(err) !== 409 || attempt >= this.attempts) throw err;
        this.log.debug({ attempt }, 'conflict, retrying with a fresh read');
      }
    }
  }

  // ---- unbind ------------------------------------------------------------------------------------------

  private async unbindSteps(t: BindTarget, progress: Progress): Promise<BindOutcome> {
    const vmIface = vmInterfaceName(t.nicPort);
    const podIface = podInterfaceName(vmIface);
    const vmi = await this.cluster.getVmi(t.namespace, t.vmi);

    const vmStep = await this.guarded(async () => {
      const vm = await this.cluster.getVm(t.namespace, t.vmi);
      if (vm === undefined) return 'none' as const;
      const nics = templateNics(vm);
      if (!hasNic(nics, vmIface)) return 'none' as const;
      let change: TemplateChange;
      let result: 'absent' | 'removed';
      if (vmi === undefined) {
        [change, result] = [removeNic(nics, vmIface), 'removed']; // stopped VM: nothing to unplug
      } else if (nicState(nics, vmIface) === 'present') {
        // Always unplug through KubeVirt while the VM runs: KubeVirt may be mirroring the interface into the VMI right now.
        [change, result] = [markNicAbsent(nics, vmIface), 'absent'];
      } else if (!vmiListsInterface(vmi, vmIface)) {
        [change, result] = [removeNic(nics, vmIface), 'removed']; // unplugged (KubeVirt usually clears it itself)
      } else {
        return 'none' as const; // unplug in progress
      }
      await this.cluster.patchVm(t.namespace, t.vmi, templatePatch(vm.metadata.resourceVersion ?? '', change));
      return result;
    });
    progress.wrote ||= vmStep !== 'none';
    if (vmStep === 'absent') {
      await this.event(t, 'Normal', BindReason.VMInterfaceAbsent, `VirtualMachine ${t.namespace}/${t.vmi}: interface ${vmIface} set to state absent (hot-unplug)`);
    } else if (vmStep === 'removed') {
      await this.event(t, 'Normal', BindReason.VMInterfaceRemoved, `VirtualMachine ${t.namespace}/${t.vmi}: interface ${vmIface} and its network removed`);
    }

    let nad: NadRef | undefined;
    try {
      nad = nadFromProvider(t.provider);
    } catch {
      nad = undefined; // never bound through this provider; the attachment is still found by interface name
    }
    const names: Resolved = { nad: nad ?? { namespace: '', name: '' }, vmIface, podIface };
    const pods = vmi === undefined ? [] : launcherPods(await this.cluster.listLauncherPods(t.namespace, vmi.metadata.uid, vmi.metadata.name), vmi).live;
    for (const pod of pods) {
      const podName = pod.metadata?.name ?? '';
      const edit = await this.guarded((attempt) => this.detachPod(t, names, podName, attempt > 1 ? undefined : pod));
      if (edit !== undefined) {
        progress.wrote = true;
        await this.event(t, 'Normal', BindReason.AttachmentRemoved, `pod ${t.namespace}/${podName}: attachment ${podIface} and ${t.provider} annotations removed`);
      }
    }
    if (progress.wrote) {
      this.log.info({ nicPort: `${t.namespace}/${t.nicPort}`, vmi: t.vmi, vm: vmStep }, 'unbound');
    }
    return { state: 'Unbound' };
  }

  private async detachPod(t: BindTarget, names: Resolved, podName: string, listed: V1Pod | undefined): Promise<PodEdit | undefined> {
    const pod = listed ?? (await this.cluster.getPod(t.namespace, podName));
    if (pod === undefined) return undefined;
    const annotations = annotationsOf(pod);
    const patch: Record<string, string | null> = {};
    const scope = findAnnotationScope(annotations, t.provider, names.podIface, t.mac);
    if (scope !== undefined) Object.assign(patch, annotationRemoval(annotations, scope));
    let elements: NetworkSelectionElement[] = [];
    try {
      elements = parseNetworksAnnotation(annotations[NETWORKS_ANNOTATION]);
    } catch {
      elements = []; // not ours to repair; leave it as it is
    }
    const networks = removeAttachment(elements, { name: names.nad.name, interface: names.podIface }, t.namespace);
    if (networks.changed) patch[NETWORKS_ANNOTATION] = networks.elements.length === 0 ? null : formatNetworksAnnotation(networks.elements);
    if (Object.keys(patch).length === 0 || !(await this.writePod(t, pod, patch))) return undefined;
    return { pod: podName, annotations: patch };
  }

  // ---- events ------------------------------------------------------------------------------------------

  private subject(t: BindTarget): EventSubject {
    const metadata: EventSubject['metadata'] = { name: t.nicPort, namespace: t.namespace };
    if (t.nicPortUid !== undefined) metadata.uid = t.nicPortUid;
    return { apiVersion: NICPORT_API_VERSION, kind: NICPORT_KIND, metadata };
  }

  private event(t: BindTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.recorder.record(this.subject(t), type, reason, message);
  }

  /** Outcome Events: Bound/Unbound when the call changed something, Waiting/Failed once per distinct outcome. */
  private async report(t: BindTarget, outcome: BindOutcome, op: 'bind' | 'unbind', progress: Progress): Promise<void> {
    const key = `${t.namespace}/${t.nicPort}`;
    if (outcome.state === 'Bound' || outcome.state === 'Unbound') {
      this.lastReported.delete(key);
      if (!progress.wrote || !this.outcomeEvents) return;
      const message = outcome.state === 'Bound'
        ? `bound to VirtualMachine ${t.namespace}/${t.vmi} (pod ${outcome.pod})`
        : `unbound from VirtualMachine ${t.namespace}/${t.vmi}`;
      await this.event(t, 'Normal', outcome.state === 'Bound' ? BindReason.Bound : BindReason.Unbound, message);
      return;
    }
    const now = `${op}:${outcome.state}:${outcome.reason}:${outcome.message}`;
    if (this.lastReported.get(key) === now) return;
    this.lastReported.set(key, now);
    if (outcome.state === 'Failed') {
      await this.event(t, 'Warning', op === 'bind' ? BindReason.BindFailed : BindReason.UnbindFailed, `${outcome.reason}: ${outcome.message}`);
    } else {
      await this.event(t, 'Warning', outcome.reason, outcome.message);
    }
  }

  /** Forgets the remembered outcome of a NicPort (call when it is deleted). */
  forget(namespace: string, nicPort: string): void {
    this.lastReported.delete(`${namespace}/${nicPort}`);
  }
}
