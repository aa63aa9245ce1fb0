/** Shapes shared by the API server test double's modules. */

export type JsonObject = Record<string, unknown>;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: JsonObject[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** OpenAPI v3 schema as found in a CRD's `openAPIV3Schema` (only the keywords the validator reads are typed). */
export interface SchemaProps {
  type?: string;
  properties?: Record<string, SchemaProps>;
  additionalProperties?: boolean | SchemaProps;
  items?: SchemaProps;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
}

/** Reads one selectable field of an object for field selectors; undefined when absent. */
export type FieldReader = (obj: KubeObject) => string | undefined;

export interface ResourceDefinition {
  /** '' for the core group. */
  group: string;
  /** Served versions; the first one is the preferred version. All share one storage. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  statusSubresource: boolean;
  shortNames: string[];
  categories: string[];
  /** Served like a CustomResource: no strategic merge patch (415), list items carry kind/apiVersion. */
  custom: boolean;
  /** DELETE answers the deleted object (as pods do) instead of a Success Status. */
  returnDeletedObject: boolean;
  /** Field selector labels beyond metadata.name / metadata.namespace. */
  fieldLabels: Record<string, FieldReader>;
  /** Structural schema per version (from a CRD); absent = no pruning or validation. */
  schemas: Record<string, SchemaProps | undefined>;
  /** Server-side defaults applied on create (e.g. Pod status phase). */
  prepareForCreate?: (obj: KubeObject) => void;
  /** Re-encodes typed fields on every write as the Go types would (e.g. MicroTime to microseconds). */
  normalize?: (obj: KubeObject) => void;
}

/** What a caller gives to register a resource; everything but group/version/plural/kind has a default. */
export interface ResourceSpec {
  group: string;
  version?: string;
  versions?: string[];
  plural: string;
  kind: string;
  singular?: string;
  listKind?: string;
  namespaced?: boolean;
  statusSubresource?: boolean;
  shortNames?: string[];
  categories?: string[];
  custom?: boolean;
  returnDeletedObject?: boolean;
  fieldLabels?: Record<string, FieldReader>;
  schema?: SchemaProps;
  prepareForCreate?: (obj: KubeObject) => void;
  normalize?: (obj: KubeObject) => void;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as kept in a resource's event history. Objects are frozen snapshots. */
export interface StoredEvent {
  type: WatchEventType;
  rv: number;
  object: KubeObject;
  /** The object before this write (MODIFIED/DELETED), to compute selector transitions. */
  previous?: KubeObject;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function groupVersion(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** Storage key of a resource: `plural` for core, `plural.group` otherwise (as `kubectl` names them). */
export function groupResource(def: Pick<ResourceDefinition, 'group' | 'plural'>): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}
