/**
 * reconcile(ns/name): converges one NicPort — finalizer, IPAM reservation, published kubeovn.io IP
 * object, NB logical switch port, VM binding, status — from what the caches hold now. It is
 * level-triggered and idempotent: it compares before every write, so a converged NicPort costs no
 * write at all, and it can be interrupted at any point and run again.
 */
import type { BindOutcome, BindTarget } from './binder.js';
import { isIpamError, ownerKey, type IpamError, type IpamRegistry, type SubnetSpec } from '../ipam/index.js';
import type { Logger } from '../util/log.js';
import type { ExternalClaims } from './claims.js';
import { EventQueue } from './event-queue.js';
import { EXT_OWNER, EXT_VENDOR, FINALIZER, NICPORT, VENDOR } from './constants.js';
import { desiredIpObject, ipObjectPatch, ownerOfIp, type KubeOvnIp } from './ip-object.js';
import { StaleObjectError, type KubeWriter } from './kube.js';
import { deletePortOps, desiredPort, planPort, type PortDrift } from './lsp.js';
import { lspName } from './naming.js';
import type { Lsp, NbState } from './nb-state.js';
import type { NbWriter } from './nb-writer.js';
import {
  desiredVmi, hasFinalizer, isDeleting, splitKey, validateSpec, type NicPort, type NicPortStatus,
} from './nicport.js';
import { CONDITION, PHASE, REASON, condition, removeCondition, setConditions, statusPatch, type ConditionInput } from './status.js';

export interface Binder {
  bind(target: BindTarget): Promise<BindOutcome>;
  unbind(target: BindTarget): Promise<BindOutcome>;
}

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

export interface EventSink {
  record(obj: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** Read access to the cached objects, with the controller's own latest writes taken into account. */
export interface ReconcileCaches {
  nicPort(namespace: string, name: string): NicPort | undefined;
  ip(name: string): KubeOvnIp | undefined;
  ipsOwnedBy(key: string): KubeOvnIp[];
  /** Remembers an object this controller just wrote, until the informer delivers it. */
  wroteNicPort(np: NicPort): void;
  wroteIp(ip: KubeOvnIp): void;
  forgetIp(name: string): void;
}

export interface ReconcilerDeps {
  caches: ReconcileCaches;
  ipam: IpamRegistry;
  claims: ExternalClaims;
  nb: NbState;
  nbWriter: NbWriter;
  kube: KubeWriter;
  binder: Binder;
  events: EventSink;
  log: Logger;
  /** NicPort key → LSP name it wants, for mapping NB events back (maintained here). */
  portNames: Map<string, string>;
  /** NicPorts held up by an IPAM conflict or exhaustion; re-queued when addresses are released. */
  blocked: Set<string>;
  /** Called after addresses were released. */
  released: () => void;
  now?: () => Date;
  /** Delay before asking the binder again while it waits (ms). */
  bindRetryMs?: number;
}

const IPAM_REASON: Record<IpamError['reason'], string> = {
  InvalidInput: REASON.InvalidSpec,
  InvalidSubnet: REASON.InvalidSubnet,
  UnknownSubnet: REASON.UnknownSubnet,
  FamilyNotInSubnet: REASON.IPOutOfRange,
  OutOfRange: REASON.IPOutOfRange,
  NotAssignable: 'IPNotAssignable',
  IsGateway: 'IPNotAssignable',
  Excluded: 'IPNotAssignable',
  InUse: REASON.IPConflict,
  Exhausted: REASON.SubnetExhausted,
  NotOwner: REASON.IPConflict,
};

interface Problem {
  reason: string;
  message: string;
  phase?: string;
  /** Which condition carries the problem besides Ready. */
  condition?: string;
}

export class Reconciler {
  private readonly now: () => Date;
  private readonly bindRetryMs: number;
  private readonly events: EventQueue;

  constructor(private readonly d: ReconcilerDeps) {
    this.now = d.now ?? (() => new Date());
    this.bindRetryMs = d.bindRetryMs ?? 5000;
    this.events = new EventQueue(d.events);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const np = this.d.caches.nicPort(namespace, name);
    if (!np) {
      await this.removeEverything(key);
      return {};
    }
    if (isDeleting(np)) return this.finalize(np, key);
    return this.converge(np, key);
  }

  /** Resolves when the events recorded so far were sent. */
  async flushEvents(): Promise<void> {
    await this.events.flush();
  }

  // ---- deletion -------------------------------------------------------------------------------

  private async finalize(np: NicPort, key: string): Promise<ReconcileResult> {
    if (!hasFinalizer(np, FINALIZER)) return {};
    const want = desiredVmi(np);
    const bound = np.status?.boundVmi;
    if (want !== undefined) {
      const vm = bound ?? want;
      const message = `NicPort is bound to VM ${vm}: unbind first (clear spec.vmi); deletion waits`;
      await this.writeStatus(np, {
        ...np.status,
        phase: PHASE.Terminating,
        observedGeneration: np.metadata?.generation,
        conditions: setConditions(np.status?.conditions, [
          { type: CONDITION.Terminating, status: 'True', reason: REASON.BoundToVM, message },
        ], np.metadata?.generation, this.stamp),
      }, { type: 'Warning', reason: 'DeletionRefused', message });
      return {};
    }
    if (bound !== undefined) {
      const target = this.targetFromStatus(np, bound);
      const outcome = target ? await this.callBinder('unbind', target) : ({ state: 'Unbound' } as const);
      if (outcome.state !== 'Unbound') return this.bindNotDone(np, outcome, PHASE.Unbinding);
    }
    await this.removeEverything(key);
    const written = await this.d.kube.setFinalizer(np, false);
    if (written) this.d.caches.wroteNicPort(written);
    this.d.log.info({ nicport: key }, 'NicPort released');
    return {};
  }

  /** Deletes every LSP and IP object the NicPort owns and releases its addresses. */
  private async removeEverything(key: string): Promise<void> {
    await this.removeOwned(key);
    const { namespace, name } = splitKey(key);
    const released = this.d.ipam.release(ownerKey.nicPort(namespace, name));
    this.d.portNames.delete(key);
    this.d.blocked.delete(key);
    if (released.ips.length > 0 || released.macs.length > 0) this.d.released();
  }

  /** Deletes the LSPs and IP objects owned by `key`, except the ones named `keep`. */
  private async removeOwned(key: string, keep?: string): Promise<void> {
    const ops = this.d.nb.portsOwnedBy(key)
      .filter((p) => p.name !== keep)
      .flatMap((p) => deletePortOps(p, this.d.nb.switchOf(p)));
    if (ops.length > 0) await this.d.nbWriter.submit(ops);
    for (const ip of this.d.caches.ipsOwnedBy(key)) {
      const n = ip.metadata?.name;
      if (n === undefined || n === keep) continue;
      await this.d.kube.deleteIp(n);
      this.d.caches.forgetIp(n);
    }
  }

  // ---- convergence ----------------------------------------------------------------------------

  private async converge(np: NicPort, key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const owner = ownerKey.nicPort(namespace, name);
    const spec = validateSpec(np);
    if (!spec.ok) return this.problem(np, { reason: spec.reason, message: spec.message, phase: PHASE.Failed });
    const subnet = this.d.ipam.subnet(spec.subnet)?.spec;
    if (!subnet) {
      return this.problem(np, {
        reason: REASON.UnknownSubnet,
        message: `subnet ${JSON.stringify(spec.subnet)} does not exist (no kubeovn.io Subnet with that name)`,
        phase: PHASE.Pending,
      });
    }
    const portName = lspName(name, namespace, subnet.provider);
    const clash = this.nameClash(key, portName);
    if (clash) return this.problem(np, { reason: REASON.PortNameConflict, message: clash, phase: PHASE.Failed, condition: CONDITION.PortReady });

    let current = np;
    if (!hasFinalizer(np, FINALIZER)) {
      const written = await this.d.kube.setFinalizer(np, true);
      if (!written) return {};
      current = written;
      this.d.caches.wroteNicPort(current);
    }

    let alloc;
    try {
      alloc = this.d.ipam.allocate(spec.subnet, owner, {
        ...(spec.ip !== undefined ? { ip: spec.ip } : {}),
        ...(spec.mac !== undefined ? { mac: spec.mac } : {}),
      });
    } catch (err) {
      if (!isIpamError(err)) throw err;
      const reason = err.reason === 'InUse' && err.detail.mac !== undefined && err.detail.ip === undefined ? REASON.MACConflict : IPAM_REASON[err.reason];
      if (err.reason === 'InUse' || err.reason === 'Exhausted') this.d.blocked.add(key);
      return this.problem(current, { reason, message: err.message, phase: PHASE.Failed, condition: CONDITION.Allocated });
    }
    this.d.blocked.delete(key);
    if (alloc.released.length > 0 || alloc.releasedMacs.length > 0) this.d.released();
    this.d.portNames.set(key, portName);

    // Publish the reservation before the port appears in NB.
    await this.ensureIpObject(key, { namespace, name }, portName, spec.subnet, alloc.v4, alloc.v6, alloc.mac);

    const port = await this.ensurePort(key, portName, spec.subnet, alloc.mac, alloc.ips);
    await this.removeOwned(key, portName);
    // Addresses in a subnet the NicPort left go once its port moved.
    let releasedOld = false;
    for (const r of this.d.ipam.holdings(owner).ips) {
      if (r.subnet !== spec.subnet) releasedOld = this.d.ipam.releaseIp(r.subnet, r.ip, owner) || releasedOld;
    }
    if (releasedOld) this.d.released();

    const conditions: ConditionInput[] = [
      { type: CONDITION.Allocated, status: 'True', reason: REASON.Allocated, message: 'addresses and MAC reserved and published' },
    ];
    const status: NicPortStatus = {
      ip: alloc.ips.join(','),
      ...(alloc.v4 !== undefined ? { ipv4: alloc.v4 } : {}),
      ...(alloc.v6 !== undefined ? { ipv6: alloc.v6 } : {}),
      mac: alloc.mac,
      subnet: spec.subnet,
      provider: subnet.provider,
      logicalSwitch: spec.subnet,
      logicalSwitchPort: portName,
      dhcp_advertising_ip: alloc.v4 ?? alloc.v6 ?? '',
    };
    if (!port.ready) {
      conditions.push(
        { type: CONDITION.PortReady, status: 'False', reason: port.reason, message: port.message },
        { type: CONDITION.Ready, status: 'False', reason: port.reason, message: port.message },
      );
      // Keep whatever binding state there was; nothing is bound to a port that is not there.
      return this.finish(current, { ...status, ...boundFields(current.status), phase: PHASE.Pending }, conditions, undefined, port.repairs);
    }
    conditions.push({ type: CONDITION.PortReady, status: 'True', reason: REASON.PortReady, message: 'logical switch port in place' });

    const binding = await this.convergeBinding(current, subnet, status);
    conditions.push(binding.condition);
    const ready = binding.ok;
    conditions.push(ready
      ? { type: CONDITION.Ready, status: 'True', reason: REASON.Ready, message: binding.boundVmi === undefined ? 'allocated, unbound' : `bound to VM ${binding.boundVmi}` }
      : { type: CONDITION.Ready, status: 'False', reason: binding.condition.reason, message: binding.condition.message });
    const next: NicPortStatus = {
      ...status,
      ...(binding.boundVmi !== undefined ? { stat: 'phase1' as const, boundVmi: binding.boundVmi } : { stat: 'phase0.1' as const }),
      ...(binding.boundPod !== undefined ? { boundPod: binding.boundPod } : {}),
      phase: binding.phase,
    };
    return this.finish(current, next, conditions, binding.requeueAfterMs, port.repairs);
  }

  /** A reason the NicPort cannot use `portName`, if an LSP or IP object of that name belongs to someone else. */
  private nameClash(key: string, portName: string): string | undefined {
    const lsp = this.d.nb.port(portName);
    if (lsp && !portIsMine(lsp, key)) {
      const by = lsp.external_ids[EXT_OWNER] ?? lsp.external_ids[EXT_VENDOR] ?? 'another tool';
      return `logical switch port ${portName} already exists in NB and belongs to ${by}`;
    }
    const ip = this.d.caches.ip(portName);
    if (ip && ownerOfIp(ip) !== key) {
      return `kubeovn.io IP object ${portName} already exists and is not ovnic's (podName ${ip.spec?.podName ?? '?'}, namespace ${ip.spec?.namespace ?? '?'})`;
    }
    return undefined;
  }

  private async ensureIpObject(
    key: string, owner: { namespace: string; name: string }, name: string, subnet: string, v4: string | undefined, v6: string | undefined, mac: string,
  ): Promise<void> {
    const want = desiredIpObject({ owner, name, subnet, ...(v4 !== undefined ? { v4 } : {}), ...(v6 !== undefined ? { v6 } : {}), mac });
    let current = this.d.caches.ip(name);
    if (!current) {
      const created = await this.d.kube.createIp(want);
      if (created) {
        this.d.caches.wroteIp(created);
        return;
      }
      current = await this.d.kube.getIp(name);
      if (!current) throw new Error(`kubeovn.io IP ${name}: create conflicted but the object is gone; retrying`);
      if (ownerOfIp(current) !== key) throw new Error(`kubeovn.io IP ${name} was created by someone else meanwhile`);
    }
    const patch = ipObjectPatch(want, current);
    if (!patch) return;
    const patched = await this.d.kube.patchIp(name, patch);
    if (patched) this.d.caches.wroteIp(patched);
  }

  private async ensurePort(
    key: string, portName: string, switchName: string, mac: string, ips: readonly string[],
  ): Promise<{ ready: true; repairs: PortDrift[] } | { ready: false; reason: string; message: string; repairs: PortDrift[] }> {
    const ls = this.d.nb.switchByName(switchName);
    if (!ls) {
      return {
        ready: false,
        reason: REASON.LogicalSwitchMissing,
        message: `logical switch ${switchName} does not exist in OVN NB yet (Kube-OVN creates it for the Subnet)`,
        repairs: [],
      };
    }
    const want = desiredPort(key, portName, switchName, mac, ips);
    const lsp = this.d.nb.port(portName);
    const plan = planPort(want, lsp, lsp ? this.d.nb.switchOf(lsp) : undefined, ls, () => this.d.nbWriter.uuidName('lsp'));
    if (plan.ops.length === 0) return { ready: true, repairs: [] };
    const results = await this.d.nbWriter.submit(plan.ops);
    if (!lsp && (results[1] as number) !== 1) throw new Error(`logical switch ${switchName} vanished while adding port ${portName}`);
    if (lsp) this.d.log.info({ nicport: key, lsp: portName, drift: plan.drift }, 'logical switch port repaired');
    return { ready: true, repairs: lsp ? plan.drift : [] };
  }

  // ---- binding --------------------------------------------------------------------------------

  private async convergeBinding(np: NicPort, subnet: SubnetSpec, st: NicPortStatus): Promise<{
    ok: boolean; condition: ConditionInput; phase: string; boundVmi?: string; boundPod?: string; requeueAfterMs?: number;
  }> {
    const want = desiredVmi(np);
    let bound = np.status?.boundVmi;
    if (bound !== undefined && bound !== want) {
      const target = this.targetFromStatus(np, bound) ?? this.target(np, subnet, st, bound);
      const out = await this.callBinder('unbind', target);
      if (out.state !== 'Unbound') return { ...this.pendingBinding(out, PHASE.Unbinding), boundVmi: bound, ...(np.status?.boundPod ? { boundPod: np.status.boundPod } : {}) };
      this.record(np, 'Normal', 'Unbound', `unplugged from VM ${bound}`);
      bound = undefined;
    }
    if (want === undefined) {
      return {
        ok: true,
        condition: { type: CONDITION.Bound, status: 'False', reason: REASON.Unbound, message: 'not bound to a VM (spec.vmi is empty)' },
        phase: PHASE.Allocated,
      };
    }
    const out = await this.callBinder('bind', this.target(np, subnet, st, want));
    if (out.state === 'Bound') {
      if (bound !== want) this.record(np, 'Normal', 'Bound', `plugged into VM ${want} (pod ${out.pod})`);
      return {
        ok: true,
        condition: { type: CONDITION.Bound, status: 'True', reason: REASON.Bound, message: `bound to VM ${want} (pod ${out.pod})` },
        phase: PHASE.Bound,
        boundVmi: want,
        boundPod: out.pod,
      };
    }
    const pending = this.pendingBinding(out, PHASE.Binding);
    // A failed or waiting bind keeps a previous binding to the same VM on record.
    return bound === want ? { ...pending, boundVmi: want } : pending;
  }

  private pendingBinding(out: BindOutcome, phase: string): { ok: false; condition: ConditionInput; phase: string; requeueAfterMs: number } {
    if (out.state === 'Waiting' || out.state === 'Failed') {
      return {
        ok: false,
        condition: { type: CONDITION.Bound, status: 'False', reason: out.reason, message: out.message },
        phase: out.state === 'Failed' ? PHASE.Failed : phase,
        requeueAfterMs: this.bindRetryMs,
      };
    }
    const what = out.state === 'Bound' ? `still bound (pod ${out.pod})` : 'unbound';
    return {
      ok: false,
      condition: { type: CONDITION.Bound, status: 'False', reason: 'BinderMismatch', message: `binder answered ${what}` },
      phase,
      requeueAfterMs: this.bindRetryMs,
    };
  }

  private async bindNotDone(np: NicPort, out: BindOutcome, phase: string): Promise<ReconcileResult> {
    const p = this.pendingBinding(out, phase);
    return this.finish(np, { ...np.status, phase: p.phase }, [p.condition, { type: CONDITION.Ready, status: 'False', reason: p.condition.reason, message: p.condition.message }], p.requeueAfterMs, []);
  }

  private async callBinder(op: 'bind' | 'unbind', target: BindTarget): Promise<BindOutcome> {
    try {
      return await this.d.binder[op](target);
    } catch (err) {
      this.d.log.warn({ nicport: `${target.namespace}/${target.nicPort}`, op, err: (err as Error).message }, 'binder failed');
      return { state: 'Failed', reason: op === 'bind' ? 'BindError' : 'UnbindError', message: (err as Error).message };
    }
  }

  private target(np: NicPort, subnet: SubnetSpec, st: NicPortStatus, vmi: string): BindTarget {
    return {
      namespace: np.metadata?.namespace ?? '',
      nicPort: np.metadata?.name ?? '',
      ...(np.metadata?.uid ? { nicPortUid: np.metadata.uid } : {}),
      vmi,
      provider: subnet.provider,
      subnet: subnet.name,
      logicalSwitch: st.logicalSwitch ?? subnet.name,
      lspName: st.logicalSwitchPort ?? '',
      mac: st.mac ?? '',
      ...(st.ipv4 !== undefined ? { ipv4: st.ipv4 } : {}),
      ...(st.ipv6 !== undefined ? { ipv6: st.ipv6 } : {}),
      cidr: subnet.cidrBlock,
      gateway: subnet.gateway,
      logicalRouter: subnet.vpc,
    };
  }

  /** The target as it was bound, from the recorded status (the subnet or addresses may have changed since). */
  private targetFromStatus(np: NicPort, vmi: string): BindTarget | undefined {
    const st = np.status;
    if (!st?.subnet || !st.logicalSwitchPort || !st.mac) return undefined;
    const sub = this.d.ipam.subnet(st.subnet)?.spec;
    return {
      namespace: np.metadata?.namespace ?? '',
      nicPort: np.metadata?.name ?? '',
      ...(np.metadata?.uid ? { nicPortUid: np.metadata.uid } : {}),
      vmi,
      provider: st.provider ?? sub?.provider ?? 'ovn',
      subnet: st.subnet,
      logicalSwitch: st.logicalSwitch ?? st.subnet,
      lspName: st.logicalSwitchPort,
      mac: st.mac,
      ...(st.ipv4 ? { ipv4: st.ipv4 } : {}),
      ...(st.ipv6 ? { ipv6: st.ipv6 } : {}),
      cidr: sub?.cidrBlock ?? '',
      gateway: sub?.gateway ?? '',
      ...(sub?.vpc ? { logicalRouter: sub.vpc } : {}),
    };
  }

  // ---- status ---------------------------------------------------------------------------------

  /** Reports a problem that stops convergence: conditions only; NB, IPAM and the binding stay as they are. */
  private async problem(np: NicPort, p: Problem): Promise<ReconcileResult> {
    const conds: ConditionInput[] = [];
    if (p.condition !== undefined && p.condition !== CONDITION.Allocated) conds.push({ type: p.condition, status: 'False', reason: p.reason, message: p.message });
    if (p.condition === undefined || p.condition === CONDITION.Allocated) conds.push({ type: CONDITION.Allocated, status: 'False', reason: p.reason, message: p.message });
    conds.push({ type: CONDITION.Ready, status: 'False', reason: p.reason, message: p.message });
    return this.finish(np, { ...np.status, phase: p.phase ?? PHASE.Failed }, conds, undefined, []);
  }

  private async finish(
    np: NicPort, fields: NicPortStatus, conds: ConditionInput[], requeueAfterMs: number | undefined, repairs: PortDrift[],
  ): Promise<ReconcileResult> {
    const generation = np.metadata?.generation;
    const prev = np.status;
    const conditions = removeCondition(setConditions(prev?.conditions, conds, generation, this.stamp), CONDITION.Terminating);
    const next: NicPortStatus = { ...fields, observedGeneration: generation, conditions };
    const wasReady = condition(prev, CONDITION.Ready);
    const ready = conditions.find((c) => c.type === CONDITION.Ready);
    let event: { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined;
    if (ready && (wasReady?.status !== ready.status || wasReady.reason !== ready.reason || wasReady.message !== ready.message)) {
      event = ready.status === 'True' ? { type: 'Normal', reason: 'Ready', message: readyEvent(next) } : { type: 'Warning', reason: ready.reason, message: ready.message };
    }
    if (repairs.length > 0) this.record(np, 'Warning', 'PortRepaired', `logical switch port ${next.logicalSwitchPort ?? ''} restored (${repairs.join(', ')} had drifted)`);
    await this.writeStatus(np, next, event);
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  private async writeStatus(np: NicPort, next: NicPortStatus, event?: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void> {
    const patch = statusPatch(np.status, next);
    if (!patch) return;
    const written = await this.d.kube.patchStatus(np, patch);
    if (written) this.d.caches.wroteNicPort(written);
    if (event) this.record(np, event.type, event.reason, event.message);
  }

  private record(np: NicPort, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({
      apiVersion: `${NICPORT.group}/${NICPORT.version}`,
      kind: NICPORT.kind,
      metadata: {
        name: np.metadata?.name ?? '',
        ...(np.metadata?.namespace !== undefined ? { namespace: np.metadata.namespace } : {}),
        ...(np.metadata?.uid !== undefined ? { uid: np.metadata.uid } : {}),
      },
    }, type, reason, message);
  }

  private readonly stamp = (): string => new Date(Math.floor(this.now().getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function portIsMine(lsp: Lsp, key: string): boolean {
  const vendor = lsp.external_ids[EXT_VENDOR];
  const owner = lsp.external_ids[EXT_OWNER];
  if (vendor !== undefined && vendor !== VENDOR) return false;
  return owner === undefined || owner === key;
}

function boundFields(st: NicPortStatus | undefined): NicPortStatus {
  if (!st?.boundVmi) return {};
  return { stat: 'phase1', boundVmi: st.boundVmi, ...(st.boundPod ? { boundPod: st.boundPod } : {}) };
}

/** Event text for a NicPort that became ready: what it got, where. */
function readyEvent(st: NicPortStatus): string {
  const where = `port ${st.logicalSwitchPort ?? ''} on ${st.logicalSwitch ?? ''}: ${st.ip ?? ''} ${st.mac ?? ''}`;
  return st.boundVmi === undefined ? `allocated, unbound; ${where}` : `bound to VM ${st.boundVmi}; ${where}`;
}

export { StaleObjectError };
