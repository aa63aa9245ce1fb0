/**
 * What kube-apiserver's generic registry does for create/update/patch/delete, on top of ObjectStore:
 * server-owned metadata (uid, creationTimestamp, generation, resourceVersion), optimistic concurrency,
 * the status subresource split, finalizers with deletionTimestamp, CRD schema pruning/defaulting/validation.
 */
import { randomUUID } from 'node:crypto';
import { deepEqual, jsonClone } from './json.js';
import {
  APPLY_PATCH, applyJsonPatch, applyMergePatch, applyStrategicMergePatch, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH,
} from './patch.js';
import type { ResourceRegistry } from './registry.js';
import { pruneAndDefault, validateAgainstSchema } from './schema.js';
import { isLabelValue, isQualifiedName } from './selectors.js';
import {
  alreadyExists, ApiError, badRequest, conflict, invalid, notFound, STALE_OBJECT, type StatusCause, unsupportedMediaType,
} from './status.js';
import type { ObjectStore } from './store.js';
import {
  groupResource, groupVersion, isObject, type JsonObject, type KubeObject, type ResourceDefinition, type WatchEventType,
} from './types.js';

export interface WriteOptions {
  /** API version the client addressed (the object is answered in it). */
  version: string;
  dryRun?: boolean;
  /** 'Strict' turns pruned unknown fields into a 400, as `fieldValidation=Strict` does upstream. */
  fieldValidation?: string;
  /** Filled with upstream-style warnings (unknown fields pruned under `Warn`). */
  warnings?: string[];
}

/** Per-resource behaviour beyond the generic rules (CRD registration, namespace cascade). */
export interface ResourceHooks {
  validate?: (obj: KubeObject) => StatusCause[];
  afterWrite?: (type: WatchEventType, obj: KubeObject) => void;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class Operations {
  readonly hooks = new Map<string, ResourceHooks>();
  enforceNamespaces = false;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly store: ObjectStore,
    private readonly now: () => Date,
  ) {}

  /** The stored object as seen through `version` of its resource. */
  present(def: ResourceDefinition, obj: KubeObject, version: string): KubeObject {
    const apiVersion = groupVersion(def.group, version);
    return obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion };
  }

  get(def: ResourceDefinition, namespace: string | undefined, name: string): KubeObject {
    const obj = this.store.get(groupResource(def), namespace, name);
    if (obj === undefined) throw notFound(def, name);
    return obj;
  }

  create(def: ResourceDefinition, namespace: string | undefined, body: unknown, opts: WriteOptions): KubeObject {
    const obj = this.decode(def, body, opts.version);
    const meta = obj.metadata;
    if (def.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
      this.checkNamespaceExists(namespace as string);
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    if ((meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '') {
      meta.name = this.generateName(def, namespace, meta.generateName);
    }
    const name = meta.name ?? '';
    if (name === '') throw invalid(def, '', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    this.validateMeta(def, obj);
    if (this.store.get(groupResource(def), meta.namespace, name) !== undefined) throw alreadyExists(def, name);

    meta.uid = randomUUID();
    meta.creationTimestamp = formatTime(this.now());
    meta.generation = 1;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (def.statusSubresource) delete obj.status;
    def.prepareForCreate?.(obj);
    def.normalize?.(obj);
    this.applySchema(def, obj, opts);
    this.runValidateHook(def, obj);
    if (opts.dryRun === true) return this.present(def, obj, opts.version);
    return this.present(def, this.commit(def, 'ADDED', obj), opts.version);
  }

  update(def: ResourceDefinition, namespace: string | undefined, name: string, body: unknown, subresource: string | undefined, opts: WriteOptions): KubeObject {
    const incoming = this.decode(def, body, opts.version);
    if (incoming.metadata.name !== undefined && incoming.metadata.name !== name) {
      throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (def.namespaced && incoming.metadata.namespace !== undefined && incoming.metadata.namespace !== '' && incoming.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const existing = this.get(def, namespace, name);
    return this.present(def, this.applyUpdate(def, existing, incoming, subresource, opts), opts.version);
  }

  patch(
    def: ResourceDefinition, namespace: string | undefined, name: string, contentType: string, patch: unknown,
    subresource: string | undefined, opts: WriteOptions,
  ): KubeObject {
    const existing = this.get(def, namespace, name);
    const current = jsonClone(this.present(def, existing, opts.version));
    let patched: unknown;
    switch (contentType) {
      case MERGE_PATCH: patched = applyMergePatch(current, patch); break;
      case JSON_PATCH: patched = applyJsonPatch(current, patch); break;
      case STRATEGIC_MERGE_PATCH:
        if (def.custom) throw unsupportedMediaType(contentType, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]);
        patched = applyStrategicMergePatch(current, patch);
        break;
      default:
        throw unsupportedMediaType(contentType, def.custom ? [JSON_PATCH, MERGE_PATCH] : [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]);
    }
    if (!isObject(patched) || !isObject(patched.metadata)) {
      throw invalid(def, name, [{ reason: 'FieldValueRequired', message: 'Required value: metadata is required', field: 'metadata' }]);
    }
    const meta = patched.metadata as JsonObject;
    if (meta.name !== name || (def.namespaced && meta.namespace !== namespace)) {
      throw invalid(def, name, [{ reason: 'FieldValueInvalid', message: 'Invalid value: field is immutable', field: meta.name !== name ? 'metadata.name' : 'metadata.namespace' }]);
    }
    const incoming = this.decode(def, jsonClone(patched), opts.version);
    return this.present(def, this.applyUpdate(def, existing, incoming, subresource, opts), opts.version);
  }

  /** Returns the object as it is after the call and whether it is gone from storage. */
  delete(def: ResourceDefinition, namespace: string | undefined, name: string, options: unknown, opts: WriteOptions): { object: KubeObject; deleted: boolean } {
    const existing = this.get(def, namespace, name);
    if (options !== undefined && options !== null && !isObject(options)) throw badRequest('DeleteOptions must be a JSON object');
    const pre = isObject(options) && isObject(options.preconditions) ? options.preconditions : undefined;
    if (pre !== undefined) {
      if (typeof pre.uid === 'string' && pre.uid !== existing.metadata.uid) {
        throw conflict(def, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
      }
      if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== existing.metadata.resourceVersion) {
        throw conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ''}`);
      }
    }
    const finalizers = existing.metadata.finalizers ?? [];
    if (finalizers.length > 0) {
      if (existing.metadata.deletionTimestamp !== undefined) return { object: this.present(def, existing, opts.version), deleted: false };
      const next = jsonClone(existing);
      next.metadata.deletionTimestamp = formatTime(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.generation = (next.metadata.generation ?? 0) + 1;
      if (opts.dryRun === true) return { object: this.present(def, next, opts.version), deleted: false };
      return { object: this.present(def, this.commit(def, 'MODIFIED', next), opts.version), deleted: false };
    }
    if (opts.dryRun === true) return { object: this.present(def, existing, opts.version), deleted: true };
    return { object: this.present(def, this.commit(def, 'DELETED', jsonClone(existing)), opts.version), deleted: true };
  }

  /** Stores an object as given (status included), filling server-owned metadata that is missing. */
  seed(def: ResourceDefinition, obj: KubeObject): KubeObject {
    const next = this.decode(def, jsonClone(obj), def.versions[0] as string);
    const meta = next.metadata;
    if (!def.namespaced) delete meta.namespace;
    else if (meta.namespace === undefined || meta.namespace === '') meta.namespace = 'default';
    if (meta.name === undefined || meta.name === '') throw new Error(`seed ${groupResource(def)}: metadata.name is required`);
    const existing = this.store.get(groupResource(def), meta.namespace, meta.name);
    meta.uid ??= existing?.metadata.uid ?? randomUUID();
    meta.creationTimestamp ??= existing?.metadata.creationTimestamp ?? formatTime(this.now());
    meta.generation ??= existing === undefined ? 1 : (existing.metadata.generation ?? 0) + (this.specChanged(def, existing, next) ? 1 : 0);
    delete meta.resourceVersion;
    this.normalizeMeta(next);
    return this.commit(def, existing === undefined ? 'ADDED' : 'MODIFIED', next);
  }

  /** Removes an object at once, finalizers or not. */
  forceRemove(def: ResourceDefinition, namespace: string | undefined, name: string): boolean {
    const existing = this.store.get(groupResource(def), namespace, name);
    if (existing === undefined) return false;
    this.commit(def, 'DELETED', jsonClone(existing));
    return true;
  }

  private applyUpdate(def: ResourceDefinition, existing: KubeObject, incoming: KubeObject, subresource: string | undefined, opts: WriteOptions): KubeObject {
    const name = existing.metadata.name as string;
    const rv = incoming.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== existing.metadata.resourceVersion) throw conflict(def, name, STALE_OBJECT);
    const uid = incoming.metadata.uid;
    if (uid !== undefined && uid !== '' && uid !== existing.metadata.uid) {
      throw conflict(def, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      next = jsonClone(existing);
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
    } else {
      next = incoming;
      if (def.statusSubresource) {
        if (existing.status === undefined) delete next.status;
        else next.status = jsonClone(existing.status);
      }
      const meta = next.metadata;
      const old = existing.metadata;
      meta.name = old.name;
      if (def.namespaced) meta.namespace = old.namespace;
      else delete meta.namespace;
      meta.uid = old.uid;
      meta.creationTimestamp = old.creationTimestamp;
      meta.generation = old.generation;
      if (old.deletionTimestamp === undefined) delete meta.deletionTimestamp;
      else meta.deletionTimestamp = old.deletionTimestamp;
      if (old.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
      else meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      if (old.generateName === undefined) delete meta.generateName;
      else meta.generateName = old.generateName;
      this.validateMeta(def, next);
      if (old.deletionTimestamp !== undefined) {
        const added = (meta.finalizers ?? []).filter((f) => !(old.finalizers ?? []).includes(f));
        if (added.length > 0) {
          throw invalid(def, name, [{
            reason: 'FieldValueForbidden',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            field: 'metadata.finalizers',
          }]);
        }
      }
    }
    def.normalize?.(next);
    this.applySchema(def, next, opts);
    this.runValidateHook(def, next);
    if (subresource !== 'status' && this.specChanged(def, existing, next)) next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (deepEqual(next, existing)) return existing;
    delete next.metadata.resourceVersion;
    if (opts.dryRun === true) return { ...next, metadata: { ...next.metadata, resourceVersion: existing.metadata.resourceVersion } };
    const gone = next.metadata.deletionTimestamp !== undefined && (next.metadata.finalizers ?? []).length === 0;
    return this.commit(def, gone ? 'DELETED' : 'MODIFIED', next);
  }

  private commit(def: ResourceDefinition, type: WatchEventType, obj: KubeObject): KubeObject {
    const stored = this.store.write(groupResource(def), type, obj);
    this.hooks.get(groupResource(def))?.afterWrite?.(type, stored);
    return stored;
  }

  /** Checks the envelope (apiVersion/kind/metadata) and returns a mutable copy in storage form. */
  private decode(def: ResourceDefinition, body: unknown, version: string): KubeObject {
    if (!isObject(body)) throw badRequest('the body of the request must be a JSON object');
    const obj = jsonClone(body) as JsonObject;
    const expected = groupVersion(def.group, version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== '' && obj.apiVersion !== expected) {
      const served = def.versions.map((v) => groupVersion(def.group, v));
      if (!served.includes(obj.apiVersion as string)) {
        throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`);
      }
    }
    if (obj.kind !== undefined && obj.kind !== '' && obj.kind !== def.kind) {
      throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${def.kind})`);
    }
    if (obj.metadata === undefined) obj.metadata = {};
    if (!isObject(obj.metadata)) throw badRequest('json: cannot unmarshal metadata: expected an object');
    obj.apiVersion = groupVersion(def.group, def.versions[0] as string);
    obj.kind = def.kind;
    const kube = obj as KubeObject;
    delete kube.metadata.managedFields;
    this.checkMetaTypes(kube);
    return kube;
  }

  private checkMetaTypes(obj: KubeObject): void {
    const meta = obj.metadata;
    for (const field of ['labels', 'annotations'] as const) {
      const map = meta[field] as unknown;
      if (map === undefined || map === null) { delete meta[field]; continue; }
      if (!isObject(map) || Object.values(map).some((v) => typeof v !== 'string')) {
        throw badRequest(`json: cannot unmarshal into Go struct field ObjectMeta.metadata.${field} of type map[string]string`);
      }
    }
    const finalizers = meta.finalizers as unknown;
    if (finalizers === null) delete meta.finalizers;
    else if (finalizers !== undefined && (!Array.isArray(finalizers) || finalizers.some((f) => typeof f !== 'string'))) {
      throw badRequest('json: cannot unmarshal into Go struct field ObjectMeta.metadata.finalizers of type []string');
    }
    for (const field of ['name', 'generateName', 'namespace', 'resourceVersion', 'uid'] as const) {
      const value = meta[field] as unknown;
      if (value === null) delete meta[field];
      else if (value !== undefined && typeof value !== 'string') throw badRequest(`json: cannot unmarshal into Go struct field ObjectMeta.metadata.${field} of type string`);
    }
    this.normalizeMeta(obj);
  }

  /** Empty maps/lists are omitted on the wire by the real server; keep storage in that form. */
  private normalizeMeta(obj: KubeObject): void {
    const meta = obj.metadata;
    for (const field of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
      const value = meta[field] as unknown;
      if (value === undefined) continue;
      if ((Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0)) delete meta[field];
    }
  }

  private validateMeta(def: ResourceDefinition, obj: KubeObject): void {
    const meta = obj.metadata;
    const name = meta.name ?? '';
    const causes: StatusCause[] = [];
    const isNamespace = def.group === '' && def.plural === 'namespaces';
    const nameOk = isNamespace ? name.length <= 63 && DNS_LABEL.test(name) : name.length <= 253 && DNS_SUBDOMAIN.test(name);
    if (!nameOk) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 ${isNamespace ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-'${isNamespace ? '' : " or '.'"}, and must start and end with an alphanumeric character`,
        field: 'metadata.name',
      });
    }
    for (const [key, value] of Object.entries(meta.labels ?? {})) {
      if (!isQualifiedName(key)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`, field: 'metadata.labels' });
      if (!isLabelValue(value)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`, field: 'metadata.labels' });
    }
    let annotationBytes = 0;
    for (const [key, value] of Object.entries(meta.annotations ?? {})) {
      annotationBytes += key.length + value.length;
      if (!isQualifiedName(key)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`, field: 'metadata.annotations' });
    }
    if (annotationBytes > 262144) causes.push({ reason: 'FieldValueTooLong', message: 'Too long: must have at most 262144 bytes', field: 'metadata.annotations' });
    if (causes.length > 0) throw invalid(def, name, causes);
  }

  private applySchema(def: ResourceDefinition, obj: KubeObject, opts: WriteOptions): void {
    const schema = def.schemas[opts.version] ?? def.schemas[def.versions[0] as string];
    if (schema === undefined) return;
    const before = opts.fieldValidation === 'Strict' || opts.fieldValidation === 'Warn' ? jsonClone(obj) : undefined;
    pruneAndDefault(obj, schema);
    if (before !== undefined) {
      const unknown = prunedPaths(before, obj as JsonObject, '');
      if (unknown.length > 0 && opts.fieldValidation === 'Strict') {
        throw badRequest(`strict decoding error: ${unknown.map((p) => `unknown field "${p}"`).join(', ')}`);
      }
      for (const p of unknown) opts.warnings?.push(`unknown field "${p}"`);
    }
    const causes = validateAgainstSchema(obj as JsonObject, schema);
    if (causes.length > 0) throw invalid(def, obj.metadata.name ?? '', causes);
  }

  private runValidateHook(def: ResourceDefinition, obj: KubeObject): void {
    const causes = this.hooks.get(groupResource(def))?.validate?.(obj) ?? [];
    if (causes.length > 0) throw invalid(def, obj.metadata.name ?? '', causes);
  }

  /** Generation tracks the desired state: everything but metadata, and status when it is a subresource. */
  private specChanged(def: ResourceDefinition, a: KubeObject, b: KubeObject): boolean {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      if (key === 'metadata' || key === 'apiVersion' || key === 'kind') continue;
      if (key === 'status' && def.statusSubresource) continue;
      if (!deepEqual(a[key], b[key])) return true;
    }
    return false;
  }

  private generateName(def: ResourceDefinition, namespace: string | undefined, prefix: string): string {
    const base = prefix.length > 58 ? prefix.slice(0, 58) : prefix;
    for (let attempt = 0; attempt < 8; attempt++) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
      const name = base + suffix;
      if (this.store.get(groupResource(def), def.namespaced ? namespace : undefined, name) === undefined) return name;
    }
    throw alreadyExists(def, `${base}*`);
  }

  private checkNamespaceExists(namespace: string): void {
    if (!this.enforceNamespaces) return;
    const nsDef = this.registry.lookup('', 'v1', 'namespaces');
    if (nsDef === undefined) return;
    if (this.store.get(groupResource(nsDef), undefined, namespace) === undefined) throw notFound(nsDef, namespace);
    if (this.store.get(groupResource(nsDef), undefined, namespace)?.metadata.deletionTimestamp !== undefined) {
      throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }
}

function prunedPaths(before: unknown, after: unknown, path: string): string[] {
  if (!isObject(before)) {
    if (Array.isArray(before) && Array.isArray(after)) return before.flatMap((v, i) => prunedPaths(v, after[i], `${path}[${i}]`));
    return [];
  }
  if (!isObject(after)) return [];
  const out: string[] = [];
  for (const key of Object.keys(before)) {
    const p = path === '' ? key : `${path}.${key}`;
    if (!(key in after)) {
      if (before[key] !== null) out.push(p);
    } else {
      out.push(...prunedPaths(before[key], after[key], p));
    }
  }
  return out;
}
