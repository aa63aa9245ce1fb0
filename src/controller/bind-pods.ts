/**
 * Which virt-launcher pods belong to a VMI, and which one is active. During a live migration a VMI has two
 * live launcher pods (source and target); both carry the NIC's annotations so the target's CNI ADD finds
 * them, and the active one is the pod on the VMI's current node.
 */
import { CREATED_BY_LABEL, VM_NAME_LABEL } from './bind-cluster.js';

export interface PodLike {
  metadata?: { name?: string; uid?: string; labels?: Record<string, string>; deletionTimestamp?: unknown; creationTimestamp?: unknown };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export interface VmiLike {
  metadata: { name: string; uid?: string };
  status?: Record<string, unknown>;
}

export interface LauncherPods<P extends PodLike> {
  /** Live pods of the VMI (not terminating, not finished), oldest first. */
  live: P[];
  /** The Running pod serving the VMI now, if any. */
  active: P | undefined;
}

function belongsTo(pod: PodLike, vmi: VmiLike): boolean {
  const labels = pod.metadata?.labels ?? {};
  const createdBy = labels[CREATED_BY_LABEL];
  if (createdBy !== undefined) return vmi.metadata.uid !== undefined && createdBy === vmi.metadata.uid;
  return labels[VM_NAME_LABEL] === vmi.metadata.name;
}

function isLive(pod: PodLike): boolean {
  const phase = pod.status?.phase;
  return (pod.metadata?.deletionTimestamp === undefined || pod.metadata.deletionTimestamp === null) && phase !== 'Succeeded' && phase !== 'Failed';
}

function created(pod: PodLike): number {
  const t = pod.metadata?.creationTimestamp;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

export function launcherPods<P extends PodLike>(pods: readonly P[], vmi: VmiLike): LauncherPods<P> {
  const live = pods.filter((p) => belongsTo(p, vmi) && isLive(p)).sort((a, b) => created(a) - created(b));
  const running = live.filter((p) => p.status?.phase === 'Running');
  const status = vmi.status ?? {};
  const nodeName = typeof status.nodeName === 'string' ? status.nodeName : undefined;
  const activePods = typeof status.activePods === 'object' && status.activePods !== null ? (status.activePods as Record<string, unknown>) : {};
  const onNode = (p: P): boolean => nodeName !== undefined && p.spec?.nodeName === nodeName;
  const listed = (p: P): boolean => p.metadata?.uid !== undefined && p.metadata.uid in activePods;
  const active = running.find((p) => onNode(p) && listed(p)) ?? running.find(onNode) ?? running.find(listed) ?? running[0];
  return { live, active };
}
