/** The set of served resources and the discovery documents describing them. */
import { groupResource, groupVersion, type ResourceDefinition, type ResourceSpec } from './types.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

export function defineResource(spec: ResourceSpec): ResourceDefinition {
  const versions = spec.versions ?? (spec.version !== undefined ? [spec.version] : []);
  if (versions.length === 0) throw new Error(`resource ${spec.plural}: a version is required`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(spec.plural)) throw new Error(`resource plural "${spec.plural}" is not a lowercase DNS label`);
  const schemas: ResourceDefinition['schemas'] = {};
  for (const v of versions) schemas[v] = spec.schema;
  const def: ResourceDefinition = {
    group: spec.group,
    versions,
    plural: spec.plural,
    singular: spec.singular ?? spec.kind.toLowerCase(),
    kind: spec.kind,
    listKind: spec.listKind ?? `${spec.kind}List`,
    namespaced: spec.namespaced ?? true,
    statusSubresource: spec.statusSubresource ?? false,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    custom: spec.custom ?? (spec.group.includes('.') && !spec.group.endsWith('.k8s.io')),
    returnDeletedObject: spec.returnDeletedObject ?? false,
    fieldLabels: spec.fieldLabels ?? {},
    schemas,
  };
  if (spec.prepareForCreate !== undefined) def.prepareForCreate = spec.prepareForCreate;
  if (spec.normalize !== undefined) def.normalize = spec.normalize;
  return def;
}

export class ResourceRegistry {
  private readonly resources = new Map<string, ResourceDefinition>();

  add(def: ResourceDefinition): ResourceDefinition {
    this.resources.set(groupResource(def), def);
    return def;
  }

  remove(group: string, plural: string): ResourceDefinition | undefined {
    const key = groupResource({ group, plural });
    const def = this.resources.get(key);
    this.resources.delete(key);
    return def;
  }

  all(): ResourceDefinition[] {
    return [...this.resources.values()];
  }

  /** The resource served at /api(s)/<group>/<version>/<plural>, if that version is served. */
  lookup(group: string, version: string, plural: string): ResourceDefinition | undefined {
    const def = this.resources.get(groupResource({ group, plural }));
    return def !== undefined && def.versions.includes(version) ? def : undefined;
  }

  byKind(apiVersion: string, kind: string): ResourceDefinition | undefined {
    const slash = apiVersion.indexOf('/');
    const group = slash === -1 ? '' : apiVersion.slice(0, slash);
    const version = slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
    return this.all().find((d) => d.group === group && d.kind === kind && d.versions.includes(version));
  }

  /**
   * Resolves a caller's name for a resource: `pods`, `nicports.kubevirt.chinaunicom.com`,
   * `kubevirt.chinaunicom.com/v1/nicports`, `v1/pods`, a short name (`np`) or a kind (`NicPort`).
   */
  resolve(name: string): ResourceDefinition {
    const parts = name.split('/');
    if (parts.length === 3 || parts.length === 2) {
      const plural = parts[parts.length - 1] as string;
      const version = parts[parts.length - 2] as string;
      const group = parts.length === 3 ? (parts[0] as string) : '';
      const def = this.lookup(group, version, plural);
      if (def === undefined) throw new Error(`unknown resource "${name}"`);
      return def;
    }
    const exact = this.resources.get(name);
    if (exact !== undefined) return exact;
    const lower = name.toLowerCase();
    const matches = this.all().filter(
      (d) => d.plural === lower || d.singular === lower || d.kind.toLowerCase() === lower || d.shortNames.includes(lower),
    );
    const core = matches.filter((d) => d.group === '');
    const chosen = matches.length === 1 ? matches : core.length === 1 ? core : matches;
    if (chosen.length !== 1) {
      throw new Error(matches.length === 0 ? `unknown resource "${name}"` : `ambiguous resource "${name}": use one of ${matches.map(groupResource).join(', ')}`);
    }
    return chosen[0] as ResourceDefinition;
  }

  /** GET /api */
  coreVersions(): object {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
  }

  private groupInfo(group: string): object | undefined {
    const versions = new Set<string>();
    for (const def of this.all()) if (def.group === group) for (const v of def.versions) versions.add(v);
    if (versions.size === 0) return undefined;
    const list = [...versions].map((version) => ({ groupVersion: groupVersion(group, version), version }));
    return { name: group, versions: list, preferredVersion: list[0] };
  }

  /** GET /apis */
  groupList(): object {
    const groups = [...new Set(this.all().map((d) => d.group).filter((g) => g !== ''))].sort();
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => this.groupInfo(g)) };
  }

  /** GET /apis/<group> */
  group(group: string): object | undefined {
    const info = this.groupInfo(group);
    return info === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...info };
  }

  /** GET /api/v1 or /apis/<group>/<version> */
  resourceList(group: string, version: string): object | undefined {
    const defs = this.all().filter((d) => d.group === group && d.versions.includes(version));
    if (defs.length === 0) return undefined;
    const resources: object[] = [];
    for (const d of defs.sort((a, b) => a.plural.localeCompare(b.plural))) {
      const main: Record<string, unknown> = { name: d.plural, singularName: d.singular, namespaced: d.namespaced, kind: d.kind, verbs: VERBS };
      if (d.shortNames.length > 0) main.shortNames = d.shortNames;
      if (d.categories.length > 0) main.categories = d.categories;
      resources.push(main);
      if (d.statusSubresource) resources.push({ name: `${d.plural}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: STATUS_VERBS });
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
  }
}
