/** Built-in (non-CRD) resources the double serves from the start, with their upstream field selectors. */
import { readPath } from './query.js';
import { isObject, type FieldReader, type KubeObject, type ResourceSpec } from './types.js';

function fields(...paths: string[]): Record<string, FieldReader> {
  const out: Record<string, FieldReader> = {};
  for (const p of paths) out[p] = (obj) => readPath(obj, p);
  return out;
}

/** metav1.Time is second precision, metav1.MicroTime microsecond precision, both RFC 3339 in UTC. */
function reencodeTimes(obj: KubeObject, paths: string[], micro: boolean): void {
  for (const path of paths) {
    const parts = path.split('.');
    let parent: unknown = obj;
    for (const part of parts.slice(0, -1)) parent = isObject(parent) ? parent[part] : undefined;
    const last = parts[parts.length - 1] as string;
    if (!isObject(parent) || typeof parent[last] !== 'string') continue;
    const ms = Date.parse(parent[last] as string);
    if (Number.isNaN(ms)) continue;
    const fraction = /\.(\d+)/.exec(parent[last] as string)?.[1] ?? '';
    const base = new Date(ms).toISOString().slice(0, 19);
    parent[last] = micro ? `${base}.${fraction.padEnd(6, '0').slice(0, 6)}Z` : `${base}Z`;
  }
}

function ensureStatus(obj: KubeObject): Record<string, unknown> {
  if (!isObject(obj.status)) obj.status = {};
  return obj.status as Record<string, unknown>;
}

export const BUILTIN_RESOURCES: ResourceSpec[] = [
  {
    group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true, shortNames: ['po'],
    categories: ['all'], returnDeletedObject: true,
    fieldLabels: {
      ...fields('spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'),
      'spec.hostNetwork': (obj) => String(readPath(obj, 'spec.hostNetwork') === 'true'),
    },
    prepareForCreate: (obj) => {
      const status = ensureStatus(obj);
      status.phase = 'Pending';
      status.qosClass = 'BestEffort';
    },
  },
  {
    group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'],
    normalize: (obj) => {
      reencodeTimes(obj, ['firstTimestamp', 'lastTimestamp', 'series.lastObservedTime'], false);
      reencodeTimes(obj, ['eventTime'], true);
    },
    fieldLabels: fields(
      'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion',
      'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type',
    ),
  },
  {
    group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true, shortNames: ['ns'],
    fieldLabels: fields('status.phase'),
    prepareForCreate: (obj) => {
      obj.spec = { finalizers: ['kubernetes'] };
      ensureStatus(obj).phase = 'Active';
    },
  },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true, shortNames: ['no'], fieldLabels: fields('spec.unschedulable') },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] },
  {
    group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true,
    normalize: (obj) => reencodeTimes(obj, ['spec.acquireTime', 'spec.renewTime'], true),
  },
  {
    group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'],
    normalize: (obj) => {
      reencodeTimes(obj, ['eventTime', 'series.lastObservedTime'], true);
      reencodeTimes(obj, ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp'], false);
    },
    fieldLabels: fields('regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'reportingController', 'type'),
  },
  {
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition',
    namespaced: false, statusSubresource: true, shortNames: ['crd', 'crds'], categories: ['api-extensions'],
  },
];

export const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
