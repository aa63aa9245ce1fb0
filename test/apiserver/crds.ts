/**
 * CustomResourceDefinitions: turning one into a served resource, checking it as the apiextensions server
 * does (the subset below), and the CRDs a cluster running Kube-OVN, KubeVirt and Multus has installed
 * (permissive schemas, real names/scopes/subresources).
 */
import type { StatusCause } from './status.js';
import { isObject, type JsonObject, type KubeObject, type ResourceSpec, type SchemaProps } from './types.js';

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: SchemaProps;
  status: boolean;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function strList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function versionsOf(spec: JsonObject): CrdVersion[] {
  const raw = Array.isArray(spec.versions) ? spec.versions : [];
  return raw.filter(isObject).map((v) => {
    const schema = isObject(v.schema) && isObject(v.schema.openAPIV3Schema) ? (v.schema.openAPIV3Schema as SchemaProps) : undefined;
    const out: CrdVersion = {
      name: String(v.name ?? ''),
      served: v.served !== false,
      storage: v.storage === true,
      status: isObject(v.subresources) && isObject(v.subresources.status),
    };
    if (schema !== undefined) out.schema = schema;
    return out;
  });
}

/** Upstream-style validation of the parts of a CRD this server relies on. */
export function validateCrd(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const group = str(spec.group);
  const plural = str(names.plural);
  const kind = str(names.kind);
  if (group === undefined) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.group' });
  else if (!group.includes('.')) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${group}": should be a domain with at least one dot`, field: 'spec.group' });
  if (plural === undefined) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.names.plural' });
  else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plural)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${plural}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`, field: 'spec.names.plural' });
  if (kind === undefined) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.names.kind' });
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`, field: 'spec.scope' });
  }
  if (group !== undefined && plural !== undefined && crd.metadata.name !== `${plural}.${group}`) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${crd.metadata.name ?? ''}": must be spec.names.plural+"."+spec.group`, field: 'metadata.name' });
  }
  const versions = versionsOf(spec);
  if (versions.length === 0) causes.push({ reason: 'FieldValueRequired', message: 'Required value: must have at least one version', field: 'spec.versions' });
  const storage = versions.filter((v) => v.storage).length;
  if (versions.length > 0 && storage !== 1) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(versions)}: must have exactly one version marked as storage version`, field: 'spec.versions' });
  return causes;
}

/** The resource a (valid) CRD serves; its storage version is listed first. */
export function crdToSpec(crd: KubeObject): ResourceSpec {
  const spec = crd.spec as JsonObject;
  const names = spec.names as JsonObject;
  const versions = versionsOf(spec).filter((v) => v.served || v.storage);
  versions.sort((a, b) => Number(b.storage) - Number(a.storage));
  const out: ResourceSpec = {
    group: spec.group as string,
    versions: versions.map((v) => v.name),
    plural: names.plural as string,
    kind: names.kind as string,
    namespaced: spec.scope === 'Namespaced',
    statusSubresource: versions.some((v) => v.status),
    shortNames: strList(names.shortNames),
    categories: strList(names.categories),
    custom: true,
  };
  const singular = str(names.singular);
  if (singular !== undefined) out.singular = singular;
  const listKind = str(names.listKind);
  if (listKind !== undefined) out.listKind = listKind;
  const schema = versions[0]?.schema;
  if (schema !== undefined) out.schema = schema;
  return out;
}

export function crdSchemasByVersion(crd: KubeObject): Record<string, SchemaProps | undefined> {
  const out: Record<string, SchemaProps | undefined> = {};
  for (const v of versionsOf(crd.spec as JsonObject)) out[v.name] = v.schema;
  return out;
}

/** What the apiextensions controller writes into status once it serves the CRD. */
export function establishedStatus(crd: KubeObject, now: string): JsonObject {
  const spec = crd.spec as JsonObject;
  const storageVersion = versionsOf(spec).find((v) => v.storage)?.name;
  const condition = (type: string, reason: string, message: string): JsonObject => ({ type, status: 'True', lastTransitionTime: now, reason, message });
  return {
    conditions: [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    acceptedNames: spec.names,
    storedVersions: storageVersion === undefined ? [] : [storageVersion],
  };
}

export function isEstablished(crd: KubeObject): boolean {
  const status = isObject(crd.status) ? crd.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  return conditions.some((c) => isObject(c) && c.type === 'Established' && c.status === 'True');
}

interface CrdShape {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  status: boolean;
  shortNames?: string[];
  categories?: string[];
}

const PERMISSIVE: SchemaProps = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function crdManifest(c: CrdShape): KubeObject {
  const version: JsonObject = { name: c.version, served: true, storage: true, schema: { openAPIV3Schema: PERMISSIVE } };
  if (c.status) version.subresources = { status: {} };
  const names: JsonObject = { plural: c.plural, singular: c.singular, kind: c.kind, listKind: `${c.kind}List` };
  if (c.shortNames !== undefined) names.shortNames = c.shortNames;
  if (c.categories !== undefined) names.categories = c.categories;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${c.group}` },
    spec: { group: c.group, scope: c.namespaced ? 'Namespaced' : 'Cluster', names, versions: [version] },
  };
}

/**
 * CRDs present on the clusters ovnic runs on. Schemas are permissive here; to check objects against
 * ovnic's own NicPort schema, install deploy/crds/nicports.kubevirt.chinaunicom.com.yaml over it.
 */
export function clusterCrds(): KubeObject[] {
  return [
    crdManifest({ group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports', singular: 'nicport', kind: 'NicPort', namespaced: true, status: true, shortNames: ['np', 'nicp'], categories: ['ovnic'] }),
    crdManifest({ group: 'kubeovn.io', version: 'v1', plural: 'subnets', singular: 'subnet', kind: 'Subnet', namespaced: false, status: true, shortNames: ['subnet'] }),
    crdManifest({ group: 'kubeovn.io', version: 'v1', plural: 'ips', singular: 'ip', kind: 'IP', namespaced: false, status: false, shortNames: ['ip'] }),
    crdManifest({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines', singular: 'virtualmachine', kind: 'VirtualMachine', namespaced: true, status: true, shortNames: ['vm', 'vms'], categories: ['all'] }),
    crdManifest({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', singular: 'virtualmachineinstance', kind: 'VirtualMachineInstance', namespaced: true, status: false, shortNames: ['vmi', 'vmis'], categories: ['all'] }),
    crdManifest({ group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition', namespaced: true, status: false, shortNames: ['net-attach-def'] }),
  ];
}
